"""Wire helpers of the local prompt registry: names, aliases, tags, the search filter, paging, timestamps."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from dbx_native.local._wire import LocalApiError, LocalRequest

__all__ = [
    "accept",
    "check_alias",
    "drop_tag",
    "name_filter",
    "page",
    "split_name",
    "tag_arg",
    "tags_of",
    "timestamp",
]

_PART = re.compile(r"^[A-Za-z0-9_-]+$")
# MLflow's alias rule for registered models: word characters and '-', at most 255; `latest` and `v<digits>` reserved.
_ALIAS = re.compile(r"^[\w-]{1,255}$")
_VERSION_LIKE = re.compile(r"^[vV]\d+$")
_FILTER = re.compile(r"^\s*name\s*(=|LIKE|ILIKE)\s*'([^']*)'\s*$", re.IGNORECASE)
_DEFAULT_PAGE = 100
_MAX_PAGE = 1000


def accept(request: LocalRequest) -> dict[str, Any]:
    request.json()  # a malformed body is still a 400
    return {}


def split_name(name: str) -> tuple[str, str, str]:
    parts = name.split(".")
    if len(parts) != 3 or not all(_PART.match(p) for p in parts):
        raise LocalApiError(
            400, f"Invalid prompt name '{name}': use catalog.schema.prompt (letters, digits, '_' and '-')."
        )
    return parts[0], parts[1], parts[2]


def check_alias(alias: str) -> str:
    if not _ALIAS.match(alias):
        raise LocalApiError(400, f"Invalid alias '{alias}': use letters, digits, '_' and '-' (at most 255).")
    if alias.lower() == "latest" or _VERSION_LIKE.match(alias):
        raise LocalApiError(400, f"Alias '{alias}' is reserved.")
    return alias


def tags_of(raw: Any) -> dict[str, str]:
    return {str(t["key"]): str(t.get("value") or "") for t in raw or [] if isinstance(t, dict) and t.get("key")}


def tag_arg(request: LocalRequest) -> tuple[str, str]:
    body = request.json()
    key = body.get("key")
    if not key:
        raise LocalApiError(400, "key is required.")
    return str(key), str(body.get("value") or "")


def drop_tag(tags: dict[str, str], key: str) -> None:
    if tags.pop(key, None) is None:
        raise LocalApiError(404, f"No tag '{key}'.")


def name_filter(raw: Any) -> Callable[[str], bool]:
    """A predicate on prompt names for the `filter` of SearchPrompts (`name = '...'`, `name LIKE '%...%'`)."""
    if not raw:
        return lambda name: True
    m = _FILTER.match(str(raw))
    if m is None:
        raise LocalApiError(400, f"Unsupported filter {raw!r}: use name = '...' or name LIKE '%...%'.")
    op, value = m.group(1).upper(), m.group(2)
    if op == "=":
        return lambda name: name == value or name.rsplit(".", 1)[-1] == value
    regex = re.compile(
        "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in value),
        re.IGNORECASE if op == "ILIKE" else 0,
    )
    return lambda name: regex.fullmatch(name.rsplit(".", 1)[-1]) is not None


def page(items: list[Any], body: dict[str, Any]) -> tuple[list[Any], str | None]:
    """One page of `items` for `max_results` / `page_token` (opaque: base64 of the offset)."""
    try:
        limit = int(body.get("max_results") or _DEFAULT_PAGE)
    except (TypeError, ValueError):
        raise LocalApiError(400, f"max_results must be an integer, not {body.get('max_results')!r}.") from None
    if not 1 <= limit <= _MAX_PAGE:
        raise LocalApiError(400, f"max_results must be between 1 and {_MAX_PAGE}, not {limit}.")
    offset = 0
    token = body.get("page_token")
    if token:
        try:
            offset = int(base64.urlsafe_b64decode(str(token).encode()).decode().removeprefix("offset:"))
        except ValueError:
            raise LocalApiError(400, f"Invalid page_token {token!r}.") from None
    end = offset + limit
    next_token = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode() if end < len(items) else None
    return items[offset:end], next_token


def timestamp(ms: int) -> str:
    """The JSON mapping of `google.protobuf.Timestamp`: RFC 3339 in UTC, `Z`-suffixed."""
    moment = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
