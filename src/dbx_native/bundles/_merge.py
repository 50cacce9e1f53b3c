"""Merging configuration the way the Databricks CLI does.

- Maps deep-merge; lists concatenate; any other value is replaced by the override.
- Afterwards, lists whose elements carry an identifying key are merged by that key (``tasks`` by
  ``task_key``, ``job_clusters`` by ``job_cluster_key``, pipeline ``clusters`` by ``label``, ...): a target
  that lists ``task_key: ingest`` again changes that task instead of adding a second one.
- ``mode: development`` and ``presets`` then adjust resources (name prefix, paused schedules, tags, ...) and
  artifacts (``dynamic_version``), type by type as the CLI's ``ApplyPresets`` does.

Values are never changed in place: a merge copies the maps it changes and shares the rest.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "KEYED_LISTS",
    "apply_artifact_presets",
    "apply_presets",
    "cloud_of",
    "deep_merge",
    "merge_keyed_lists",
    "mode_presets",
    "normalize_prefix",
    "normalize_tag",
]


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
_DEVELOPMENT_CONCURRENT_RUNS = 4
# Presets are applied before interpolation: normalizing (UC-safe prefixes, cloud tag rules) touches only the
# literal text around `${...}` references, which resolve later.
_REFERENCE_SPLIT = re.compile(r"(\$\{[^}]*\})")


def mode_presets(mode: str | None, explicit: Mapping[str, Any]) -> dict[str, Any]:
    """The presets in force: the explicit ``presets``, completed by ``mode: development`` where they are unset.

    Like the CLI's ``ApplyTargetMode``: name prefix ``[dev <short name>] ``, a ``dev`` tag, 4 concurrent runs,
    paused triggers and development pipelines; an explicit ``pipelines_development: false`` is kept.
    """
    presets = dict(explicit)
    if mode != "development":
        return presets
    if not presets.get("name_prefix"):
        presets["name_prefix"] = f"[dev {_SHORT_NAME}] "
    tags = presets.get("tags")
    tags = dict(tags) if isinstance(tags, dict) else {}
    tags.setdefault("dev", _SHORT_NAME)
    presets["tags"] = tags
    if not presets.get("jobs_max_concurrent_runs"):
        presets["jobs_max_concurrent_runs"] = _DEVELOPMENT_CONCURRENT_RUNS
    if not presets.get("trigger_pause_status"):
        presets["trigger_pause_status"] = "PAUSED"
    if presets.get("pipelines_development") is not False:
        presets["pipelines_development"] = True
    return presets


def _literal_parts(text: str, convert: Callable[[str], str], strip: str) -> str:
    parts = _REFERENCE_SPLIT.split(text)  # even indexes are literal text, odd ones references
    for index in range(0, len(parts), 2):
        parts[index] = convert(parts[index])
    if strip:
        parts[0], parts[-1] = parts[0].lstrip(strip), parts[-1].rstrip(strip)
    return "".join(parts)


def _normalize_string(text: str) -> str:
    # The CLI's textutil.NormalizeString: lowercase, letters and digits kept, runs of anything else -> one `_`.
    def convert(part: str) -> str:
        return re.sub("_+", "_", "".join(c if c.isalpha() or c.isdecimal() else "_" for c in part.lower()))

    return _literal_parts(text, convert, "_")


def normalize_prefix(prefix: str) -> str:
    """The prefix for names that allow no spaces or brackets (UC objects, serving endpoints): ``[dev jane] `` ->
    ``dev_jane_``; a prefix without a closing bracket gets no trailing ``_`` (``test_`` -> ``test``), as in the CLI."""
    text = prefix.replace("[", "").strip(" ")
    return _normalize_string(text) + ("_" if text.endswith("]") else "")


def cloud_of(host: Any) -> str | None:
    """``aws``, ``azure`` or ``gcp`` from a workspace host (as the SDK tells them apart); ``None`` when unknown."""
    if not isinstance(host, str) or not host or "${" in host:
        return None
    host = host.lower()
    if any(suffix in host for suffix in (".azuredatabricks.net", ".databricks.azure.cn", ".databricks.azure.us")):
        return "azure"
    return "gcp" if ".gcp.databricks.com" in host else "aws"


_WHITE_SPACE = frozenset("\t\n\v\f\r \x85\xa0")
_AWS_EXTRA = frozenset("+-=.:/@")
_AZURE_FORBIDDEN = frozenset("<>*&%;\\/+?")
_GCP_INNER = frozenset("-._0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def _aws_tag(text: str, key: bool) -> str:
    def keep(c: str) -> bool:
        return ord(c) <= 0xFF and (c.isalpha() or c.isdecimal() or c in _WHITE_SPACE or c in _AWS_EXTRA)

    return "".join(c if keep(c) else "_" for c in _strip_marks(text))


def _azure_tag(text: str, key: bool) -> str:
    return "".join("_" if ord(c) > 0xFF or (key and c in _AZURE_FORBIDDEN) else c for c in text)


def _gcp_tag(text: str, key: bool) -> str:
    return "".join(c if c in _GCP_INNER else "_" for c in _strip_marks(text))


def normalize_tag(text: str, cloud: str, *, key: bool) -> str:
    """A cluster or warehouse tag key or value made valid for the cloud, the way the CLI's ``libs/tags`` does."""
    if cloud == "aws":
        return _literal_parts(text, lambda part: _aws_tag(part, key), "")
    if cloud == "azure":
        return _literal_parts(text, lambda part: _azure_tag(part, key), "")
    return _literal_parts(text, lambda part: _gcp_tag(part, key), "-._")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass(frozen=True)
class _Presets:
    prefix: str
    uc_prefix: str
    tags: tuple[tuple[str, str], ...]  # sorted by key, as the CLI applies them
    max_runs: Any
    pause: str | None  # what job triggers get: PAUSED for any value but UNPAUSED
    paused: bool  # exactly PAUSED: pipelines stop running continuously, monitors lose their schedule
    pipelines_development: bool
    cloud: str | None
    prefix_schemas: bool

    @classmethod
    def parse(cls, presets: Mapping[str, Any], cloud: str | None, prefix_schemas: bool) -> _Presets:
        prefix = presets.get("name_prefix")
        prefix = prefix if isinstance(prefix, str) else ""
        tags = presets.get("tags")
        pairs = tuple(sorted((str(k), _text(v)) for k, v in tags.items())) if isinstance(tags, dict) else ()
        status = presets.get("trigger_pause_status")
        pause = None if not status else ("UNPAUSED" if status == "UNPAUSED" else "PAUSED")
        runs = presets.get("jobs_max_concurrent_runs") or None
        development = presets.get("pipelines_development") is True
        return cls(
            prefix, normalize_prefix(prefix), pairs, runs, pause, status == "PAUSED", development, cloud, prefix_schemas
        )

    @property
    def inert(self) -> bool:
        return not (self.prefix or self.tags or self.max_runs or self.pause or self.pipelines_development)

    def tag(self, text: str, *, key: bool) -> str:
        return normalize_tag(text, self.cloud, key=key) if self.cloud else text


def _prefixed(value: Any, prefix: str) -> Any:
    # The CLI prefixes even an empty name; a non-string (unlikely) is left alone.
    if value is None:
        return prefix
    return prefix + value if isinstance(value, str) else value


def _with_tag_list(existing: Any, pairs: Iterable[tuple[str, str]]) -> Any:
    # `[{key, value}, ...]` tags (models, experiments, warehouses): a key already there wins.
    if existing is not None and not isinstance(existing, list):
        return existing
    out = list(existing or [])
    keys = {tag.get("key") for tag in out if isinstance(tag, dict)}
    for key, value in pairs:
        if key not in keys:
            out.append({"key": key, "value": value})
            keys.add(key)
    return out


def _job(job: dict[str, Any], p: _Presets) -> dict[str, Any]:
    if p.prefix:
        job["name"] = _prefixed(job.get("name"), p.prefix)
    existing = job.get("tags")
    if p.tags and (existing is None or isinstance(existing, dict)):
        tags = dict(existing or {})
        for key, value in p.tags:
            if not tags.get(key):  # the CLI also fills a tag written with an empty value
                tags[key] = value
        job["tags"] = tags
    if p.max_runs and not job.get("max_concurrent_runs"):
        job["max_concurrent_runs"] = p.max_runs
    if p.pause:
        for trigger in ("schedule", "trigger", "continuous"):
            block = job.get(trigger)
            if isinstance(block, dict) and not block.get("pause_status"):  # an explicit status wins
                job[trigger] = {**block, "pause_status": p.pause}
    return job


def _pipeline(pipeline: dict[str, Any], p: _Presets) -> dict[str, Any]:
    if p.prefix:
        pipeline["name"] = _prefixed(pipeline.get("name"), p.prefix)
    if p.pipelines_development:  # the CLI overrides an explicit `development: false` here
        pipeline["development"] = True
    if p.paused and "continuous" in pipeline:
        pipeline["continuous"] = False
    return pipeline


def _model(model: dict[str, Any], p: _Presets) -> dict[str, Any]:
    if p.prefix:
        model["name"] = _prefixed(model.get("name"), p.prefix)
    if p.tags:
        model["tags"] = _with_tag_list(model.get("tags"), p.tags)
    return model


def _go_base(path: str) -> str:
    path = path.rstrip("/") if path else "."
    return path.rsplit("/", 1)[-1] if path else "/"


def _experiment(experiment: dict[str, Any], p: _Presets) -> dict[str, Any]:
    name = experiment.get("name")
    if p.prefix and (name is None or isinstance(name, str)):
        # Experiment names are workspace paths: the prefix goes on the last part (Go's path.Dir / path.Base).
        path = name or ""
        directory = posixpath.normpath(path[: path.rfind("/") + 1]) if "/" in path else "."
        base = _go_base(path)
        experiment["name"] = p.prefix + base if directory == "." else f"{directory}/{p.prefix}{base}"
    if p.tags:
        experiment["tags"] = _with_tag_list(experiment.get("tags"), p.tags)
    return experiment


def _uc_named(resource: dict[str, Any], p: _Presets) -> dict[str, Any]:
    if p.uc_prefix:
        resource["name"] = _prefixed(resource.get("name"), p.uc_prefix)
    return resource


def _schema(schema: dict[str, Any], p: _Presets) -> dict[str, Any]:
    return _uc_named(schema, p) if p.prefix_schemas else schema


def _monitor(monitor: dict[str, Any], p: _Presets) -> dict[str, Any]:
    schedule = monitor.get("schedule")
    # Monitors cannot be paused: the CLI drops their schedule, unless it is explicitly UNPAUSED.
    unpaused = isinstance(schedule, dict) and schedule.get("pause_status") == "UNPAUSED"
    if p.paused and schedule is not None and not unpaused:
        del monitor["schedule"]
    return monitor


def _cluster(cluster: dict[str, Any], p: _Presets) -> dict[str, Any]:
    if p.prefix:
        cluster["cluster_name"] = _prefixed(cluster.get("cluster_name"), p.prefix)
    existing = cluster.get("custom_tags")
    if p.tags and (existing is None or isinstance(existing, dict)):
        tags = dict(existing or {})
        for key, value in p.tags:
            tags.setdefault(p.tag(key, key=True), p.tag(value, key=False))
        cluster["custom_tags"] = tags
    return cluster


def _dashboard(dashboard: dict[str, Any], p: _Presets) -> dict[str, Any]:
    if p.prefix:
        dashboard["display_name"] = _prefixed(dashboard.get("display_name"), p.prefix)
    return dashboard


def _warehouse(warehouse: dict[str, Any], p: _Presets) -> dict[str, Any]:
    if p.prefix:
        warehouse["name"] = _prefixed(warehouse.get("name"), p.prefix)
    block = warehouse.get("tags")
    if p.tags and (block is None or isinstance(block, dict)):
        pairs = [(p.tag(key, key=True), p.tag(value, key=False)) for key, value in p.tags]
        warehouse["tags"] = {**(block or {}), "custom_tags": _with_tag_list((block or {}).get("custom_tags"), pairs)}
    return warehouse


# Resource type -> what the presets change in it (the CLI's ApplyPresets); apps and the rest: nothing.
_APPLIERS: dict[str, Callable[[dict[str, Any], _Presets], dict[str, Any]]] = {
    "jobs": _job,
    "pipelines": _pipeline,
    "models": _model,
    "experiments": _experiment,
    "model_serving_endpoints": _uc_named,
    "registered_models": _uc_named,
    "quality_monitors": _monitor,
    "schemas": _schema,
    "clusters": _cluster,
    "dashboards": _dashboard,
    "sql_warehouses": _warehouse,
}


def apply_presets(
    resources: dict[str, Any], presets: Mapping[str, Any], *, cloud: str | None = None, prefix_schemas: bool = True
) -> dict[str, Any]:
    """Apply presets to a copy of ``resources``, resource type by resource type, as the CLI does.

    Args:
        resources: Resource type -> key -> configuration (not changed).
        presets: The presets in force (see :func:`mode_presets`).
        cloud: ``aws``, ``azure`` or ``gcp``, to normalize cluster and warehouse tags; ``None`` keeps them as written.
        prefix_schemas: ``False`` when ``experimental.skip_name_prefix_for_schema`` is set.
    """
    parsed = _Presets.parse(presets, cloud, prefix_schemas)
    if parsed.inert:
        return resources
    out = dict(resources)
    for resource_type, apply in _APPLIERS.items():
        items = resources.get(resource_type)
        if isinstance(items, dict) and items:
            out[resource_type] = {
                key: apply(dict(config), parsed) if isinstance(config, dict) else config
                for key, config in items.items()
            }
    return out


def apply_artifact_presets(artifacts: Any, presets: Mapping[str, Any]) -> Any:
    """``artifacts_dynamic_version: true`` sets ``dynamic_version: true`` on every ``whl`` artifact (even one set to
    ``false``, as the CLI does); other artifact types are left alone."""
    if presets.get("artifacts_dynamic_version") is not True or not isinstance(artifacts, dict):
        return artifacts
    return {
        name: {**artifact, "dynamic_version": True}
        if isinstance(artifact, dict) and artifact.get("type") == "whl"
        else artifact
        for name, artifact in artifacts.items()
    }
