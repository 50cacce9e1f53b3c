"""Quirks of Databricks-hosted models, normalised in one place for chat, tools and streaming.

Each rule names the complaint it answers:

- `strict` in tool schemas is rejected by non-OpenAI models (Claude: tidyverse/ellmer#548): removed.
- Tools without `parameters` are rejected (posit-dev/querychat#273): an empty object schema is supplied.
- Empty assistant content on tool-call turns is rejected as an empty text block (databricks-ai-bridge#333):
  it is sent as `null`.
- Some models refuse sampling parameters (`temperature`/`top_p` on reasoning models): dropped with one warning.
- Structured output without `json_schema.name` is refused (databricks-ai-bridge#211): a name is supplied.
- Reasoning models answer with a list of content parts (databricks-ai-bridge#350): flattened to the text parts.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["ModelQuirks", "flatten_content", "quirks_for"]

# Endpoint-name patterns of models that accept OpenAI's `strict` flag on tools.
_ACCEPTS_STRICT = re.compile(r"gpt|openai|(^|[-_])o[1-9]([-_]|$)", re.IGNORECASE)
# Endpoint-name pattern -> parameters the model refuses.
_UNSUPPORTED: list[tuple[re.Pattern[str], frozenset[str]]] = [
    (re.compile(r"(^|[-_])o[1-9]([-_]|$)|gpt-5", re.IGNORECASE), frozenset({"temperature", "top_p"})),
    (re.compile(r"claude.*(thinking|reason)|claude-(opus|sonnet)-4", re.IGNORECASE), frozenset({"top_p"})),
]

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


class ModelQuirks:
    """What to change in a request for one endpoint's model.

    Args:
        strip_strict: Remove `strict` from tool schemas.
        unsupported_params: Top-level parameters to drop (with one warning per endpoint and parameter).
    """

    def __init__(self, *, strip_strict: bool = True, unsupported_params: frozenset[str] = frozenset()) -> None:
        self.strip_strict = strip_strict
        self.unsupported_params = unsupported_params

    def __repr__(self) -> str:
        return f"ModelQuirks(strip_strict={self.strip_strict}, unsupported_params={sorted(self.unsupported_params)})"

    def apply(self, endpoint: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Return `payload` adjusted for `endpoint` (the input is not modified)."""
        out = dict(payload)
        for param in self.unsupported_params & out.keys():
            del out[param]
            _warn_once(endpoint, param)
        if out.get("tools"):
            out["tools"] = [self._fix_tool(t) for t in out["tools"]]
        if "messages" in out:
            out["messages"] = [_fix_message(m) for m in out["messages"]]
        if out.get("response_format"):
            out["response_format"] = _fix_response_format(out["response_format"])
        return out

    def _fix_tool(self, tool: Mapping[str, Any]) -> dict[str, Any]:
        tool = dict(tool)
        function = tool.get("function")
        if isinstance(function, Mapping):
            function = dict(function)
            if self.strip_strict:
                function.pop("strict", None)
            if not function.get("parameters"):
                function["parameters"] = {"type": "object", "properties": {}}
            tool["function"] = function
        return tool


def quirks_for(endpoint: str) -> ModelQuirks:
    """The quirks that apply to an endpoint, judged by its name (`databricks-claude-sonnet-4`, ...)."""
    unsupported: frozenset[str] = frozenset()
    for pattern, params in _UNSUPPORTED:
        if pattern.search(endpoint):
            unsupported |= params
    return ModelQuirks(strip_strict=not _ACCEPTS_STRICT.search(endpoint), unsupported_params=unsupported)


def _fix_message(message: Mapping[str, Any]) -> Mapping[str, Any]:
    if message.get("role") == "assistant" and message.get("tool_calls") and not message.get("content"):
        fixed = dict(message)
        fixed["content"] = None
        return fixed
    return message


def _fix_response_format(fmt: Mapping[str, Any]) -> dict[str, Any]:
    fixed = dict(fmt)
    if fixed.get("type") == "json_schema":
        schema = dict(fixed.get("json_schema") or {})
        if not schema.get("name"):
            title = (schema.get("schema") or {}).get("title") if isinstance(schema.get("schema"), Mapping) else None
            schema["name"] = re.sub(r"[^A-Za-z0-9_-]", "_", str(title or "response"))[:64]
        fixed["json_schema"] = schema
    return fixed


def flatten_content(content: Any) -> str:
    """The text of a message's content: a string as is; a list of parts joined from its text parts.

    Reasoning parts (`{"type": "reasoning", ...}`) are not part of the answer and are left out.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping) and part.get("type") in ("text", "output_text") and part.get("text"):
                texts.append(str(part["text"]))
        return "".join(texts)
    return str(content)


def _warn_once(endpoint: str, param: str) -> None:
    with _warned_lock:
        if (endpoint, param) in _warned:
            return
        _warned.add((endpoint, param))
    warnings.warn(
        f"endpoint {endpoint!r} does not accept {param!r}; it was dropped from the request "
        "(this warning is shown once per endpoint and parameter)",
        UserWarning,
        stacklevel=4,
    )
