"""Prompt names, aliases, URIs and templates: checked before anything is sent, and the wire form of a template.

MLflow's Unity Catalog store JSON-encodes the template before sending it (`json.dumps(template)`: a JSON string for a
text prompt, a JSON list of `{role, content}` messages for a chat prompt) and tags the version with
`_mlflow_prompt_type` (`text` or `chat`); we write the same, so either client reads what the other wrote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from dbx_native.errors import InvalidRequestError

__all__ = [
    "Template",
    "check_alias",
    "check_name",
    "check_template",
    "decode_template",
    "encode_template",
    "parse_ref",
    "render",
    "variables_of",
]

Template: TypeAlias = str | list[dict[str, str]]

TYPE_TAG = "_mlflow_prompt_type"
# MLflow's variable rule (`PROMPT_TEMPLATE_VARIABLE_PATTERN`): `{{ name }}` or `{{ a.b }}`, spaces allowed inside.
_VARIABLE = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z_][a-zA-Z0-9_]*)*)\s*\}\}")
_PART = r"[A-Za-z0-9_-]+"
_NAME = re.compile(rf"^{_PART}\.{_PART}\.{_PART}$")
_SCHEMA_PART = re.compile(rf"^{_PART}$")
# MLflow's alias rule for registered models: word characters and '-', at most 255; `latest` and `v<digits>` reserved.
_ALIAS = re.compile(r"^[\w-]{1,255}$")
_VERSION_LIKE = re.compile(r"^[vV]\d+$")
_URI = re.compile(r"^prompts:/([^/@]+)(?:@([^/@]+)|/([^/@]+))?$")


def check_name(name: object) -> str:
    """`name` if it is a three-level Unity Catalog name; `InvalidRequestError` otherwise."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidRequestError(
            f"Invalid prompt name {name!r}: use catalog.schema.prompt (letters, digits, '_' and '-' in each part), "
            "e.g. 'main.agents.triage'."
        )
    return name


def check_part(value: object, what: str) -> str:
    """A catalog or schema name on its own."""
    if not isinstance(value, str) or not _SCHEMA_PART.match(value):
        raise InvalidRequestError(f"Invalid {what} name {value!r}: use letters, digits, '_' and '-'.")
    return value


def check_alias(alias: object, *, reading: bool = False) -> str:
    """`alias` if it can be set; `latest` is accepted only when `reading` (it means the highest version)."""
    if not isinstance(alias, str) or not _ALIAS.match(alias):
        raise InvalidRequestError(
            f"Invalid alias {alias!r}: use letters, digits, '_' and '-' (at most 255 characters), e.g. 'production'."
        )
    if reading:
        return alias
    if alias.lower() == "latest":
        raise InvalidRequestError("The alias 'latest' is reserved (it always means the highest version): pick another.")
    if _VERSION_LIKE.match(alias):
        raise InvalidRequestError(f"The alias {alias!r} is reserved (it reads as a version number): pick another.")
    return alias


def check_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, (int, str)) or not str(version).isdigit():
        raise InvalidRequestError(f"A prompt version is a positive integer, not {version!r}.")
    number = int(version)
    if number < 1:
        raise InvalidRequestError(f"Prompt versions start at 1, not {number}.")
    return number


def parse_ref(name: str, alias: str | None, version: int | str | None) -> tuple[str, str | None, int | None]:
    """`(name, alias, version)` from a name or a `prompts:/c.s.n@alias` / `prompts:/c.s.n/3` URI.

    Neither alias nor version means the latest version (the reserved alias `latest`, as MLflow reads it).
    """
    if alias is not None and version is not None:
        raise InvalidRequestError("Pass alias= or version=, not both.")
    if isinstance(name, str) and name.startswith("prompts:/"):
        m = _URI.match(name)
        if m is None:
            raise InvalidRequestError(
                f"Invalid prompt URI {name!r}: use 'prompts:/catalog.schema.name@alias' or "
                "'prompts:/catalog.schema.name/<version>'."
            )
        if alias is not None or version is not None:
            raise InvalidRequestError(f"The URI {name!r} already says which version: drop alias= and version=.")
        name, alias, raw_version = m.group(1), m.group(2), m.group(3)
        version = raw_version
    check_name(name)
    if version is not None:
        return name, None, check_version(version)
    return name, check_alias(alias if alias is not None else "latest", reading=True), None


def check_template(template: object) -> Template:
    """A text template (non-empty string) or a chat template (non-empty list of `{role, content}` strings)."""
    if isinstance(template, str):
        if not template.strip():
            raise InvalidRequestError("The prompt template is empty: pass the text, or a list of chat messages.")
        return template
    if isinstance(template, Sequence) and not isinstance(template, (bytes, bytearray)) and template:
        messages: list[dict[str, str]] = []
        for i, message in enumerate(template):
            if not isinstance(message, Mapping) or not all(
                isinstance(message.get(k), str) for k in ("role", "content")
            ):
                raise InvalidRequestError(
                    f"Chat message {i} must be a mapping with string 'role' and 'content', not {message!r}."
                )
            messages.append({str(k): str(v) for k, v in message.items()})
        if not any(m["content"].strip() for m in messages):
            raise InvalidRequestError("Every chat message of the template is empty: give at least one some content.")
        return messages
    raise InvalidRequestError(
        "The prompt template must be a non-empty string or a non-empty list of {'role', 'content'} messages, "
        f"not {template!r}."
    )


def variables_of(template: Template) -> tuple[str, ...]:
    """The `{{var}}` names of a template, in order of first appearance, each once."""
    texts = [template] if isinstance(template, str) else [m.get("content", "") for m in template]
    return tuple(dict.fromkeys(v for text in texts for v in _VARIABLE.findall(text)))


def render(template: Template, values: Mapping[str, str]) -> Template:
    """The template with every `{{var}}` replaced in one pass (a value containing `{{x}}` is not expanded)."""

    def sub(text: str) -> str:
        return _VARIABLE.sub(lambda m: values[m.group(1)], text)

    if isinstance(template, str):
        return sub(template)
    return [{**m, "content": sub(m.get("content", ""))} for m in template]


def encode_template(template: Template) -> tuple[str, str]:
    """`(wire template, prompt type)` as MLflow writes them."""
    return json.dumps(template), "text" if isinstance(template, str) else "chat"


def decode_template(raw: Any) -> Template:
    """The template from its wire form; a template not JSON-encoded (written by another tool) is taken as text."""
    if not isinstance(raw, str):
        return "" if raw is None else str(raw)
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        return [{str(k): "" if v is None else str(v) for k, v in m.items()} for m in value]
    return raw
