"""Comparing two resolved targets field by field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dbx_native.bundles._models import BundleDiff, BundleInventory, FieldChange, ResourceChange

__all__ = ["diff_inventories", "diff_values"]

# Lists compared element by element through these keys read better than by position.
_LIST_KEYS = ("task_key", "job_cluster_key", "environment_key", "label", "name", "principal", "served_entity_name")


def _list_key(items: list[Any]) -> str | None:
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in _LIST_KEYS:
        values = [i.get(key) for i in items]
        if key not in items[0]:
            continue
        if all(isinstance(v, str) for v in values) and len(set(values)) == len(values):
            return key
    return None


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def diff_values(before: Any, after: Any, prefix: str = "") -> Iterator[FieldChange]:
    """Yield the changes from ``before`` to ``after``, recursing into maps and lists."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in list(before) + [k for k in after if k not in before]:
            if key not in after:
                yield FieldChange(_join(prefix, key), before[key], None)
            elif key not in before:
                yield FieldChange(_join(prefix, key), None, after[key])
            elif before[key] != after[key]:
                yield from diff_values(before[key], after[key], _join(prefix, key))
        return
    if isinstance(before, list) and isinstance(after, list):
        key = _list_key(before) if before != after else None
        if key is not None and _list_key(after) != key:
            key = None
        if key is not None:
            old = {i[key]: i for i in before}
            new = {i[key]: i for i in after}
            for name in dict.fromkeys([*old, *new]):
                where = f"{prefix}[{name}]"
                if name not in new:
                    yield FieldChange(where, old[name], None)
                elif name not in old:
                    yield FieldChange(where, None, new[name])
                elif old[name] != new[name]:
                    yield from diff_values(old[name], new[name], where)
            return
    if before != after:
        yield FieldChange(prefix, before, after)


def diff_inventories(a: BundleInventory, b: BundleInventory) -> BundleDiff:
    """Compare two inventories: resources added, removed and changed; variables; workspace settings."""
    changes: list[ResourceChange] = []
    for resource_type in sorted(set(a.resources) | set(b.resources)):
        left, right = a.resources.get(resource_type, {}), b.resources.get(resource_type, {})
        for key in sorted(set(left) | set(right)):
            if key not in right:
                changes.append(ResourceChange("removed", resource_type, key))
            elif key not in left:
                changes.append(ResourceChange("added", resource_type, key))
            elif left[key] != right[key]:
                fields = tuple(diff_values(left[key], right[key]))
                changes.append(ResourceChange("changed", resource_type, key, fields))
    workspace = tuple(c for c in diff_values(a.workspace, b.workspace) if not c.path.startswith("current_user"))
    return BundleDiff(
        a=a.target,
        b=b.target,
        resources=tuple(changes),
        variables=tuple(diff_values(a.variables, b.variables)),
        workspace=workspace,
    )
