"""Checking configuration keys against the bundle JSON schema (``databricks bundle schema``).

Only unknown keys are reported: types and required fields are the CLI's and the API's business, and
most values may legitimately be ``${...}`` references until deploy time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dbx_native.errors import BundleError

__all__ = ["BundleSchema", "load_schema"]

_MAX_DEPTH = 64


def load_schema(schema: str | os.PathLike[str] | Mapping[str, Any]) -> BundleSchema:
    """Accept a path to the JSON schema file or the parsed schema.

    Raises:
        BundleError: The file cannot be read or is not a JSON schema.
    """
    if isinstance(schema, Mapping):
        return BundleSchema(dict(schema))
    path = Path(schema)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BundleError(
            f"{path}: cannot read the bundle JSON schema ({err}); produce it with `databricks bundle schema`"
        ) from None
    if not isinstance(data, dict) or "properties" not in data:
        raise BundleError(f"{path}: not a bundle JSON schema (no top-level `properties`)")
    return BundleSchema(data)


class BundleSchema:
    """A bundle JSON schema, walked alongside configuration to find keys it does not define."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._schema = schema
        self._refs: dict[str, dict[str, Any]] = {}

    def _deref(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while "$ref" in node and seen < 32:
            ref = node["$ref"]
            cached = self._refs.get(ref)
            if cached is None:
                cached = self._schema
                for part in ref.lstrip("#/").split("/"):
                    cached = cached.get(part, {}) if isinstance(cached, dict) else {}
                self._refs[ref] = cached
            node, seen = cached, seen + 1
        return node

    def _branch(self, node: Mapping[str, Any], value: Any) -> Mapping[str, Any] | None:
        node = self._deref(node)
        wanted = "object" if isinstance(value, dict) else "array" if isinstance(value, list) else None
        if wanted is None:
            return None
        for combinator in ("oneOf", "anyOf"):
            for option in node.get(combinator, ()):
                option = self._deref(option)
                if option.get("type") == wanted:
                    return option
        return node if node.get("type") == wanted or ("properties" in node and wanted == "object") else None

    def unknown_keys(
        self, config: Any, path: tuple[str | int, ...] = ()
    ) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Yield ``(path, key)`` for each key that the schema does not allow, from ``path`` down.

        Args:
            config: The configuration (or a part of it) to check.
            path: Where ``config`` sits, from the top (its schema is found by walking the same path).
        """
        node: Mapping[str, Any] | None = self._schema
        for key in path:  # find the schema of `config` when checking a sub-tree
            node = self._child(node, key) if node is not None else None
        yield from self._walk(node, config, path, len(path))

    def _child(self, node: Mapping[str, Any], key: str | int) -> Mapping[str, Any] | None:
        branch = self._branch(node, {} if isinstance(key, str) else [])
        if branch is None:
            return None
        if isinstance(key, int):
            items = branch.get("items")
            return items if isinstance(items, dict) else None
        props = branch.get("properties") or {}
        if key in props:
            return props[key]  # type: ignore[no-any-return]
        extra = branch.get("additionalProperties")
        return extra if isinstance(extra, dict) and extra else None

    def _walk(
        self, node: Mapping[str, Any] | None, value: Any, path: tuple[str | int, ...], depth: int
    ) -> Iterator[tuple[tuple[str | int, ...], str]]:
        if node is None or depth > _MAX_DEPTH or not isinstance(value, (dict, list)):
            return
        branch = self._branch(node, value)
        if branch is None:
            return
        if isinstance(value, list):
            items = branch.get("items")
            if isinstance(items, dict):
                for index, item in enumerate(value):
                    yield from self._walk(items, item, (*path, index), depth + 1)
            return
        props = branch.get("properties") or {}
        extra = branch.get("additionalProperties")
        if depth == 0 and not extra:
            extra = False  # the generated schema leaves the top level open, but the CLI rejects unknown sections
        for key, item in value.items():
            if key in props:
                yield from self._walk(props[key], item, (*path, key), depth + 1)
            elif isinstance(extra, dict) and extra:
                yield from self._walk(extra, item, (*path, key), depth + 1)
            elif extra is False:
                yield path, key
