"""``${...}`` interpolation, resolved offline as far as the configuration allows.

A string that is exactly one reference takes the referenced value with its type (a complex variable
stays a map); references inside a longer string are substituted as text. What cannot be known without
a workspace (resource ids and URLs, the current user, lookups) and what is never set stays as written,
``${...}``, and is reported with a reason. Cycles raise :class:`~dbx_native.errors.BundleError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dbx_native.bundles._models import Reference, ReferenceReason
from dbx_native.errors import BundleError

__all__ = ["REFERENCE", "Resolver", "Unresolved", "VariableState", "split_path"]

# The CLI's reference grammar (libs/dyn/dynvar): dotted keys made of letters, digits, `-` and `_`,
# with optional `[n]` indexes.
REFERENCE = re.compile(
    r"\$\{([a-zA-Z]+(?:[-_]*[a-zA-Z0-9]+)*(?:\.[a-zA-Z]+(?:[-_]*[a-zA-Z0-9]+)*(?:\[[0-9]+\])*)*(?:\[[0-9]+\])*)\}"
)
_PART = re.compile(r"([^.\[\]]+)|\[([0-9]+)\]")

# Fields every deployed resource gets from the workspace; references to them stay symbolic offline.
_RUNTIME_FIELDS = frozenset(
    {
        "id",
        "url",
        "job_id",
        "pipeline_id",
        "endpoint_id",
        "cluster_id",
        "warehouse_id",
        "experiment_id",
        "model_id",
        "dashboard_id",
        "app_id",
        "full_name",
        "uid",
        "modified_status",
        "service_principal_client_id",
        "service_principal_id",
        "effective_budget_policy_id",
        "volume_path",
        "storage_location",
        "endpoint_url",
    }
)
_MAX_PATHS = 5


@dataclass(frozen=True)
class Unresolved:
    """Why a reference has no offline value."""

    reason: ReferenceReason


@dataclass(frozen=True)
class VariableState:
    """A variable's value for one target: ``reason`` is set when there is no offline value."""

    value: Any = None
    reason: ReferenceReason | None = None


def split_path(expression: str) -> list[str | int]:
    """Split ``a.b[0].c`` into ``["a", "b", 0, "c"]``."""
    return [int(index) if index else key for key, index in _PART.findall(expression)]


def _text(value: Any) -> str:
    # Substitution inside a longer string writes values as the CLI does: lowercase booleans, JSON for containers.
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _walk(value: Any, keys: list[str | int]) -> Any:
    for key in keys:
        in_map = isinstance(value, dict) and isinstance(key, str) and key in value
        if in_map or (isinstance(value, list) and isinstance(key, int) and key < len(value)):
            value = value[key]
        else:
            return _MISSING
    return value


_MISSING = object()
_UNCHANGED = object()


class Resolver:
    """Resolves references against one target's merged configuration.

    Args:
        config: The merged configuration (``bundle``, ``workspace``, ``resources``, ...), not yet resolved.
        variables: Variable name -> its state for the target.
    """

    def __init__(self, config: Mapping[str, Any], variables: Mapping[str, VariableState]) -> None:
        self._config = config
        self._variables = variables
        self._cache: dict[str, Any] = {}
        self._active: list[str] = []
        self._unresolved: dict[str, tuple[ReferenceReason, list[str]]] = {}
        self._path: list[str | int] = []
        self._strings: dict[str, tuple[Any, list[tuple[str, ReferenceReason]]]] = {}

    @property
    def unresolved(self) -> tuple[Reference, ...]:
        """References left unresolved so far, one per expression."""
        return tuple(
            Reference(expression=expr, reason=reason, paths=tuple(paths))
            for expr, (reason, paths) in self._unresolved.items()
        )

    def resolve(self, value: Any, path: list[str | int]) -> Any:
        """Return ``value`` with every resolvable reference replaced; ``path`` is where it sits.

        Nothing is changed in place: containers holding a replaced value are copied, and subtrees without one
        are returned as they are (shared with ``value``), so treat the result as read-only.
        """
        saved, self._path = self._path, list(path)
        try:
            return self._tree(value)
        finally:
            self._path = saved

    def _tree(self, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            return self._string(value) if "${" in value else value
        if kind is dict:
            return self._dict(value)
        if kind is list:
            return self._list(value)
        return value

    # Most of a large bundle holds no reference: walk it without building anything, and copy a container only
    # when something inside it changes (copy-on-write), which also spares the garbage collector.
    def _dict(self, value: dict[Any, Any]) -> dict[Any, Any]:
        out: dict[Any, Any] | None = None
        path = self._path
        for key, item in value.items():
            kind = type(item)
            if kind is str:
                if "${" not in item:
                    continue
                path.append(key)
                new = self._string(item)
            elif kind is dict:
                path.append(key)
                new = self._dict(item)
            elif kind is list:
                path.append(key)
                new = self._list(item)
            else:
                continue
            path.pop()
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out

    def _list(self, value: list[Any]) -> list[Any]:
        out: list[Any] | None = None
        path = self._path
        for index, item in enumerate(value):
            kind = type(item)
            if kind is str:
                if "${" not in item:
                    continue
                path.append(index)
                new = self._string(item)
            elif kind is dict:
                path.append(index)
                new = self._dict(item)
            elif kind is list:
                path.append(index)
                new = self._list(item)
            else:
                continue
            path.pop()
            if new is not item:
                if out is None:
                    out = list(value)
                out[index] = new
        return value if out is None else out

    def record(self, expression: str, reason: ReferenceReason, path: list[str | int]) -> None:
        """Report an unresolved reference found outside :meth:`resolve` (e.g. a variable nobody uses)."""
        saved, self._path = self._path, path
        try:
            self._record(expression, reason)
        finally:
            self._path = saved

    def _record(self, expression: str, reason: ReferenceReason) -> None:
        entry = self._unresolved.setdefault(expression, (reason, []))
        if len(entry[1]) < _MAX_PATHS:
            where = format_path(self._path)
            if where not in entry[1]:
                entry[1].append(where)

    def _string(self, text: str) -> Any:
        # The same text resolves to the same value (lookups are cached); only where it is reported differs.
        cached = self._strings.get(text)
        if cached is not None:
            for expression, reason in cached[1]:
                self._record(expression, reason)
            # Equal texts are often distinct objects: give back this one when it stays as written.
            return text if cached[0] is _UNCHANGED else cached[0]
        unresolved: list[tuple[str, ReferenceReason]] = []
        value = self._substitute(text, unresolved)
        self._strings[text] = (_UNCHANGED if value is text else value, unresolved)
        return value

    def _substitute(self, text: str, unresolved: list[tuple[str, ReferenceReason]]) -> Any:
        matches = list(REFERENCE.finditer(text))
        if not matches:
            return text
        if len(matches) == 1 and matches[0].span() == (0, len(text)):
            value = self.lookup(matches[0].group(1))
            if isinstance(value, Unresolved):
                self._record(text, value.reason)
                unresolved.append((text, value.reason))
                return text
            return value
        pieces: list[str] = []
        last, changed = 0, False
        for match in matches:
            pieces.append(text[last : match.start()])
            value = self.lookup(match.group(1))
            if isinstance(value, Unresolved):
                self._record(match.group(0), value.reason)
                unresolved.append((match.group(0), value.reason))
                pieces.append(match.group(0))
            else:
                pieces.append(_text(value))
                changed = True
            last = match.end()
        pieces.append(text[last:])
        return "".join(pieces) if changed else text  # the same object: its containers need no copy

    def lookup(self, expression: str) -> Any:
        """Resolve one reference body (``var.x``, ``resources.jobs.a.name``); an :class:`Unresolved` if unknown.

        Raises:
            BundleError: The reference is part of a cycle.
        """
        cached = self._cache.get(expression, _MISSING)
        if cached is not _MISSING:
            return cached
        if expression in self._active:
            chain = " -> ".join([*self._active[self._active.index(expression) :], expression])
            raise BundleError(f"references form a cycle: {chain}; break it by giving one of them a literal value")
        self._active.append(expression)
        saved_path = self._path
        try:
            value = self._lookup(split_path(expression))
        finally:
            self._active.pop()
            self._path = saved_path
        self._cache[expression] = value
        return value

    def _lookup(self, parts: list[str | int]) -> Any:
        head = parts[0]
        if head == "var":
            return self._variable(parts)
        if head == "resources":
            return self._resource(parts)
        raw = _walk(self._config, parts)
        if raw is _MISSING:
            return Unresolved(self._missing_reason(parts))
        return self.resolve(raw, parts)

    def _variable(self, parts: list[str | int]) -> Any:
        if len(parts) < 2 or parts[1] not in self._variables:
            return Unresolved("undefined")
        state = self._variables[str(parts[1])]
        if state.reason is not None:
            return Unresolved(state.reason)
        value = self.resolve(state.value, ["variables", parts[1], "value"])
        found = _walk(value, parts[2:])
        return Unresolved("undefined") if found is _MISSING else found

    def _resource(self, parts: list[str | int]) -> Any:
        if len(parts) < 3:
            return Unresolved("undefined")
        config = _walk(self._config, parts[:3])
        if config is _MISSING:
            return Unresolved("undefined")
        raw = _walk(config, parts[3:])
        if raw is _MISSING:
            runtime = len(parts) == 4 and parts[3] in _RUNTIME_FIELDS
            return Unresolved("runtime" if runtime else "undefined")
        return self.resolve(raw, parts)

    @staticmethod
    def _missing_reason(parts: list[str | int]) -> ReferenceReason:
        head = parts[0]
        second = parts[1] if len(parts) > 1 else None
        if head == "workspace" and second in ("current_user", "host", "profile"):
            return "runtime"
        if head == "bundle" and second in ("git", "uuid", "cluster_id", "compute_id"):
            return "runtime"
        return "undefined"


def format_path(path: list[str | int] | tuple[str | int, ...]) -> str:
    """Format a path as ``resources.jobs.a.tasks[0].task_key``."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        else:
            out.append(f".{part}" if out else part)
    return "".join(out)
