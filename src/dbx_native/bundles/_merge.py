"""Merging configuration the way the Databricks CLI does.

- Maps deep-merge; lists concatenate; any other value is replaced by the override.
- Afterwards, lists whose elements carry an identifying key are merged by that key (``tasks`` by
  ``task_key``, ``job_clusters`` by ``job_cluster_key``, pipeline ``clusters`` by ``label``, ...): a target
  that lists ``task_key: ingest`` again changes that task instead of adding a second one.
- ``mode: development`` and ``presets`` then adjust resources (name prefix, paused schedules, ...).

Values are never changed in place: a merge copies the maps it changes and shares the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["KEYED_LISTS", "apply_presets", "deep_merge", "merge_keyed_lists", "mode_presets"]


def deep_merge(base: Any, override: Any) -> Any:
    """Merge ``override`` into ``base`` (maps recursively, lists appended, scalars replaced)."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = deep_merge(out[key], value) if key in out else value
        return out
    if isinstance(base, list) and isinstance(override, list):
        return base + override
    if override is None:  # `key:` with nothing after it in an override does not erase the base value
        return base
    return override


def _lower_label(element: dict[str, Any]) -> str:
    label = element.get("label")
    return label.lower() if isinstance(label, str) else "default"


def _key_of(field: str) -> Callable[[dict[str, Any]], str]:
    def key(element: dict[str, Any]) -> str:
        value = element.get(field)
        return value if isinstance(value, str) else ""

    return key


# resource type -> (list field, key field, key function); following the CLI's merge mutators.
KEYED_LISTS: dict[str, tuple[tuple[str, str, Callable[[dict[str, Any]], str]], ...]] = {
    "jobs": (
        ("tasks", "task_key", _key_of("task_key")),
        ("job_clusters", "job_cluster_key", _key_of("job_cluster_key")),
        ("parameters", "name", _key_of("name")),
        ("environments", "environment_key", _key_of("environment_key")),
    ),
    # Pipeline clusters without a label are the `default` cluster; labels compare case-insensitively.
    "pipelines": (("clusters", "label", _lower_label),),
    "apps": (("resources", "name", _key_of("name")),),
}


def _merge_by_key(elements: list[Any], key_field: str, key_fn: Callable[[dict[str, Any]], str]) -> list[Any]:
    order: list[str] = []
    merged: dict[str, Any] = {}
    loose: list[tuple[int, Any]] = []
    for element in elements:
        if not isinstance(element, dict):
            loose.append((len(order), element))
            continue
        key = key_fn(element)
        if key == "" and key_field != "label":
            loose.append((len(order), element))  # no key: nothing to merge it with
            continue
        if key in merged:
            merged[key] = deep_merge(merged[key], element)
        else:
            order.append(key)
            merged[key] = element
    out = [merged[key] for key in order]
    if key_field == "label":
        out = [{**element, "label": key} for element, key in zip(out, order, strict=True)]
    for position, element in reversed(loose):
        out.insert(position, element)
    return out


def _needs_merge(elements: list[Any], key_fn: Callable[[dict[str, Any]], str]) -> bool:
    seen: set[str] = set()
    for element in elements:
        if not isinstance(element, dict):
            return False
        key = key_fn(element)
        if key in seen:
            return True
        seen.add(key)
    return False


def merge_keyed_lists(resources: dict[str, Any]) -> dict[str, Any]:
    """Merge the keyed lists of every resource (see ``KEYED_LISTS``); returns a new ``resources`` map."""
    out = dict(resources)
    for resource_type, fields in KEYED_LISTS.items():
        items = resources.get(resource_type)
        if not isinstance(items, dict):
            continue
        new_items = None
        for name, config in items.items():
            if not isinstance(config, dict):
                continue
            new_config = config
            for list_field, key_field, key_fn in fields:
                elements = config.get(list_field)
                # Most lists have unique keys already: check that cheaply before building anything.
                if isinstance(elements, list) and (key_field == "label" or _needs_merge(elements, key_fn)):
                    if new_config is config:
                        new_config = dict(config)
                    new_config[list_field] = _merge_by_key(elements, key_field, key_fn)
            if new_config is not config:
                if new_items is None:
                    new_items = dict(items)
                new_items[name] = new_config
        if new_items is not None:
            out[resource_type] = new_items
    return out


_SHORT_NAME = "${workspace.current_user.short_name}"


def mode_presets(mode: str | None, explicit: dict[str, Any]) -> dict[str, Any]:
    """The presets in force: those ``mode: development`` implies, overridden by the explicit ``presets``."""
    presets: dict[str, Any] = {}
    if mode == "development":
        presets = {
            "name_prefix": f"[dev {_SHORT_NAME}] ",
            "pipelines_development": True,
            "trigger_pause_status": "PAUSED",
            "jobs_max_concurrent_runs": 4,
            "tags": {"dev": _SHORT_NAME},
        }
    for key, value in explicit.items():
        if key == "tags" and isinstance(value, dict):
            presets["tags"] = {**presets.get("tags", {}), **value}
        else:
            presets[key] = value
    return presets


# Resource types whose `name` takes the name prefix (others, e.g. apps, cannot be renamed freely).
_PREFIXED = ("jobs", "pipelines", "clusters", "dashboards", "models", "experiments", "sql_warehouses")
_PREFIXED_UC = ("registered_models", "schemas", "volumes")
_TRIGGERS = ("schedule", "trigger", "continuous")


def _normalized_prefix(prefix: str) -> str:
    # Unity Catalog and serving endpoint names allow no spaces or brackets: the CLI normalizes the prefix
    # ("[dev jane] " -> "dev_jane_").
    return re.sub(r"\s+", "_", prefix.replace("[", "").replace("]", "").strip()).lower() + "_"


def _apply_to_job(config: dict[str, Any], presets: dict[str, Any]) -> dict[str, Any]:
    job = dict(config)
    pause = presets.get("trigger_pause_status")
    if pause:
        for trigger in _TRIGGERS:
            block = job.get(trigger)
            if isinstance(block, dict) and not block.get("pause_status"):  # an explicit status wins
                job[trigger] = {**block, "pause_status": pause}
    runs = presets.get("jobs_max_concurrent_runs")
    if runs and not job.get("max_concurrent_runs"):
        job["max_concurrent_runs"] = runs
    tags = presets.get("tags")
    if isinstance(tags, dict) and tags:
        job["tags"] = {**tags, **(job.get("tags") or {})}
    return job


def apply_presets(resources: dict[str, Any], presets: dict[str, Any]) -> dict[str, Any]:
    """Apply presets (name prefix, pause status, development pipelines, tags) to a copy of ``resources``."""
    if not presets:
        return resources
    out = dict(resources)
    prefix = presets.get("name_prefix") or ""
    for resource_type, items in resources.items():
        if not isinstance(items, dict):
            continue
        new_items: dict[str, Any] = {}
        for key, config in items.items():
            if not isinstance(config, dict):
                new_items[key] = config
                continue
            new = dict(config)
            if resource_type == "jobs":
                new = _apply_to_job(new, presets)
            if resource_type == "pipelines" and presets.get("pipelines_development") and "development" not in new:
                new["development"] = True
            if prefix and isinstance(new.get("name"), str):
                if resource_type in _PREFIXED:
                    new["name"] = prefix + new["name"]
                elif resource_type in _PREFIXED_UC or resource_type == "model_serving_endpoints":
                    new["name"] = _normalized_prefix(prefix) + new["name"]
            new_items[key] = new
        out[resource_type] = new_items
    return out
