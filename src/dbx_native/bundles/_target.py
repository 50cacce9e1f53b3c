"""Selecting a target and resolving the bundle for it (targets, variables, presets, interpolation)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbx_native.bundles._interp import Resolver, Unresolved, VariableState
from dbx_native.bundles._merge import (
    apply_artifact_presets,
    apply_presets,
    cloud_of,
    deep_merge,
    merge_keyed_lists,
    mode_presets,
)
from dbx_native.bundles._models import BundleInventory, ResourceChange, Variable
from dbx_native.bundles._python import apply_python_mutators, load_python_resources
from dbx_native.errors import BundleError

__all__ = ["declared_variables", "default_target", "resolve_target", "target_names", "targets_section"]

# Target keys merged into the top-level section of the same name.
_MERGED_SECTIONS = ("bundle", "workspace", "artifacts", "sync", "presets", "resources", "permissions", "experimental")
_DEFAULT_ROOT = "/Workspace/Users/${workspace.current_user.userName}/.bundle/${bundle.name}/${bundle.target}"
_WORKSPACE_PATHS = {
    "file_path": "files",
    "artifact_path": "artifacts",
    "state_path": "state",
    "resource_path": "resources",
}


def targets_section(config: Mapping[str, Any]) -> dict[str, Any]:
    """The targets, with the CLI's implicit ``default`` target when there are none (or ``targets:`` is empty)."""
    targets = config.get("targets")
    if targets is None:
        targets = config.get("environments")  # the section's name before `targets`
    if not targets:
        return {"default": {}}
    if not isinstance(targets, dict):
        raise BundleError("`targets` must be a mapping of target name to its settings")
    return {name: settings or {} for name, settings in targets.items()}


def target_names(config: Mapping[str, Any]) -> list[str]:
    """Target names in the order they are written."""
    return list(targets_section(config))


def default_target(config: Mapping[str, Any]) -> str | None:
    """The target used when none is named: the only one, else the one marked ``default: true``, else ``None``.

    Raises:
        BundleError: More than one target is marked ``default: true``.
    """
    targets = targets_section(config)
    if len(targets) == 1:
        return next(iter(targets))
    marked = [name for name, settings in targets.items() if isinstance(settings, dict) and settings.get("default")]
    if len(marked) > 1:
        raise BundleError(f"more than one target is marked `default: true` ({', '.join(marked)}); keep one")
    return marked[0] if marked else None


def declared_variables(config: Mapping[str, Any]) -> dict[str, Variable]:
    """The variables as declared at the top level."""
    out: dict[str, Variable] = {}
    for name, decl in (config.get("variables") or {}).items():
        if isinstance(decl, dict):
            lookup = decl.get("lookup")
            out[name] = Variable(
                default=decl.get("default"),
                lookup=lookup if isinstance(lookup, dict) else None,
                type=decl.get("type"),
                description=decl.get("description"),
            )
        else:  # shorthand `name: value`
            out[name] = Variable(default=decl)
    return out


def _variable_states(
    declared: Mapping[str, Variable],
    target_vars: Mapping[str, Any],
    overrides: Mapping[str, Any],
    env: Mapping[str, str],
) -> dict[str, VariableState]:
    # Precedence (CLI): explicit value > BUNDLE_VAR_<name> > the target's value > default > lookup.
    states: dict[str, VariableState] = {}
    for name, var in declared.items():
        default, lookup = var.default, var.lookup
        override = target_vars.get(name, None)
        if isinstance(override, dict) and ("default" in override or "lookup" in override):
            default = override.get("default", default)
            lookup = override.get("lookup", lookup)
        elif override is not None:
            default = override
        env_key = f"BUNDLE_VAR_{name}"
        if name in overrides:
            states[name] = VariableState(overrides[name])
        elif env_key in env and var.type != "complex":  # complex values cannot come from the environment
            states[name] = VariableState(env[env_key])
        elif default is not None:
            states[name] = VariableState(default)
        elif lookup:
            states[name] = VariableState(reason="lookup")
        else:
            states[name] = VariableState(reason="unset")
    return states


def _merge_target(config: Mapping[str, Any], name: str, target: Mapping[str, Any]) -> dict[str, Any]:
    merged = {k: v for k, v in config.items() if k not in ("targets", "environments", "include")}
    for section in _MERGED_SECTIONS:
        if section in target:
            merged[section] = deep_merge(merged.get(section), target[section])
    if target.get("run_as") is not None:  # replaced, not merged
        merged["run_as"] = target["run_as"]
    bundle = dict(merged.get("bundle") or {})
    if isinstance(target.get("git"), dict):
        bundle["git"] = deep_merge(bundle.get("git") or {}, target["git"])
    for compute in ("compute_id", "cluster_id"):
        if target.get(compute):
            bundle[compute] = target[compute]
    bundle["target"] = name
    bundle["environment"] = name
    if target.get("mode") == "development":
        _disable_deployment_lock(bundle)
    merged["bundle"] = bundle
    merged["resources"] = merge_keyed_lists(merged.get("resources") or {})
    return merged


def _disable_deployment_lock(bundle: dict[str, Any]) -> None:
    """Development mode turns the deployment lock off unless it is explicitly enabled, as the CLI does."""
    deployment = dict(bundle.get("deployment") or {})
    lock = dict(deployment.get("lock") or {})
    enabled = lock.get("enabled")
    if enabled is True or (isinstance(enabled, str) and "${" in enabled):
        return
    lock["enabled"] = False
    deployment["lock"] = lock
    bundle["deployment"] = deployment


def _workspace_defaults(workspace: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(workspace)
    root = out.get("root_path") or _DEFAULT_ROOT
    if isinstance(root, str) and root.startswith("~"):
        root = "/Workspace/Users/${workspace.current_user.userName}" + root[1:]
    out["root_path"] = root
    for key, leaf in _WORKSPACE_PATHS.items():
        out.setdefault(key, "${workspace.root_path}/" + leaf)
    return out


def _add_python_resources(
    merged: dict[str, Any], python: Any, states: Mapping[str, VariableState], root: Path | None
) -> str | None:
    # The CLI loads Python resources after merging the target and before presets and interpolation.
    if not isinstance(python, dict) or not python.get("resources"):
        return None
    if root is None:
        return "not loaded: running project code was turned off"
    values = {var: state.value for var, state in states.items()}
    added, status = load_python_resources(root, merged, python, values)
    resources = dict(merged["resources"])
    for rtype, items in added.items():
        resources[rtype] = {**(resources.get(rtype) or {}), **items}
    merged["resources"] = merge_keyed_lists(resources)
    return status


def _on_databricks_runtime() -> bool:
    """Whether this process runs on Databricks Runtime (the CLI's ``libs/dbr`` test)."""
    return (
        sys.platform.startswith("linux")
        and bool(os.environ.get("DATABRICKS_RUNTIME_VERSION"))
        and os.path.isdir("/databricks")
    )


def _sync_root(root: Path, sync: Any) -> str:
    # The CLI syncs from the deepest folder that holds the bundle root and every `sync.paths` entry.
    paths = sync.get("paths") if isinstance(sync, dict) else None
    entries = [p for p in paths if isinstance(p, str)] if isinstance(paths, list) and paths else ["."]
    base = os.path.abspath(root)
    return os.path.commonpath([base, *(os.path.normpath(os.path.join(base, entry)) for entry in entries)])


_SOURCE_LINKED = "presets.source_linked_deployment"


def _workspace_sync_root(root: Path | None, merged: Mapping[str, Any]) -> str | None:
    # Source-linked deployment needs the CLI to run inside the workspace, on files under /Workspace/.
    if root is None or not _on_databricks_runtime():
        return None
    sync_root = _sync_root(root, merged.get("sync"))
    return sync_root if sync_root.startswith("/Workspace/") else None


def _source_linked(
    presets: dict[str, Any], mode: Any, merged: Mapping[str, Any], root: Path | None
) -> tuple[str | None, list[str]]:
    """Decide source-linked deployment as the CLI does; return the sync root when it is in force, and notes."""
    explicit = presets.get("source_linked_deployment")
    if explicit is False or (explicit is not True and mode != "development"):
        return None, []
    sync_root = _workspace_sync_root(root, merged)
    if sync_root is None:
        if explicit is not True:
            return None, []
        presets["source_linked_deployment"] = False
        if root is None and _on_databricks_runtime():
            return None, [f"{_SOURCE_LINKED}: not decided (the bundle root is not known here); left off"]
        why = "available only when the CLI runs in a Databricks workspace, on files under /Workspace/"
        return None, [f"{_SOURCE_LINKED}: {why}; turned off, as the CLI does here"]
    notes = []
    if explicit is True and mode != "development":
        notes.append(f"{_SOURCE_LINKED}: deprecated outside `mode: development` (the CLI warns)")
    presets["source_linked_deployment"] = True
    if (merged.get("resources") or {}).get("apps"):
        notes.append(f"{_SOURCE_LINKED}: not supported for apps; the CLI refuses to deploy this target")
    if (merged.get("workspace") or {}).get("file_path"):
        notes.append("workspace.file_path: ignored in a source-linked deployment (the CLI warns)")
    notes.append(f"{_SOURCE_LINKED}: resources use the files in {sync_root}; ${{workspace.file_path}} resolves to it")
    return sync_root, notes


def _preset_notes(
    mode: Any, explicit: Mapping[str, Any], presets: Mapping[str, Any], tags_as_written: bool
) -> list[str]:
    notes = []
    status = presets.get("trigger_pause_status")
    if status and status not in ("PAUSED", "UNPAUSED"):
        notes.append("presets.trigger_pause_status: must be PAUSED or UNPAUSED; the CLI reports an error and pauses")
    if mode == "development" and explicit.get("trigger_pause_status") == "UNPAUSED":
        notes.append("presets.trigger_pause_status: UNPAUSED is refused by the CLI in a `mode: development` target")
    if presets.get("tags") and tags_as_written:
        notes.append(
            "presets.tags: cluster and SQL warehouse tags are normalized for the workspace's cloud, which "
            "workspace.host does not tell; they are kept as written"
        )
    return notes


@dataclass
class _Presets:
    presets: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    file_path: Any = None  # workspace.file_path as configured, when a source-linked deployment replaces it


def _apply_presets(
    merged: dict[str, Any], states: Mapping[str, VariableState], mode: Any, root: Path | None
) -> _Presets:
    # The CLI resolves variables in `presets` before applying them (ResolveVariableReferencesWithoutResources).
    early = Resolver(merged, states)
    explicit = early.resolve(merged.get("presets") or {}, ["presets"])
    explicit = explicit if isinstance(explicit, dict) else {}
    out = _Presets(mode_presets(mode, explicit))
    sync_root, out.notes = _source_linked(out.presets, mode, merged, root)
    cloud = cloud_of(early.resolve((merged.get("workspace") or {}).get("host"), ["workspace", "host"]))
    resources = merged["resources"]
    compute_tags = bool(resources.get("clusters") or resources.get("sql_warehouses"))
    out.notes += _preset_notes(mode, explicit, out.presets, compute_tags and cloud is None)
    experimental = merged.get("experimental")
    skip = isinstance(experimental, dict) and experimental.get("skip_name_prefix_for_schema") is True
    merged["resources"] = apply_presets(resources, out.presets, cloud=cloud, prefix_schemas=not skip)
    if merged.get("artifacts") is not None:
        merged["artifacts"] = apply_artifact_presets(merged["artifacts"], out.presets)
    merged["workspace"] = _workspace_defaults(merged.get("workspace") or {})
    if sync_root is not None:
        # Only references in resources see the sync root; the workspace section keeps its path (as in the CLI).
        out.file_path = merged["workspace"]["file_path"]
        merged["workspace"]["file_path"] = sync_root
    return out


class _KeepResourceReferences(Resolver):
    """Resolves as the CLI has before Python mutators run: ``${resources.*}`` stays as written."""

    def _resource(self, parts: list[str | int]) -> Any:
        return Unresolved("runtime")


def _apply_mutators(
    merged: dict[str, Any], python: Any, states: Mapping[str, VariableState], root: Path | None
) -> tuple[str | None, tuple[ResourceChange, ...], tuple[str, ...]]:
    # The CLI runs mutators last, on resources after presets with variables resolved; they can change
    # resources (YAML and Python ones) but not add or remove any.
    if not isinstance(python, dict) or not python.get("mutators"):
        return None, (), ()
    if root is None:
        return "not applied: running project code was turned off", (), ()
    partial = _KeepResourceReferences(merged, states)
    config = {section: partial.resolve(merged.get(section) or {}, [section]) for section in ("bundle", "workspace")}
    config["resources"] = partial.resolve(merged["resources"], ["resources"])
    values = {}
    for var_name in states:
        value = partial.lookup(f"var.{var_name}")
        values[var_name] = None if isinstance(value, Unresolved) else value
    result = apply_python_mutators(root, config, python, values)
    if result.changed:
        resources = dict(merged["resources"])
        for rtype, items in result.changed.items():
            resources[rtype] = {**resources[rtype], **items}
        merged["resources"] = resources
    return result.status, result.changes, result.warnings


def _resolved_variables(resolver: Resolver, states: Mapping[str, VariableState]) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    for var_name in states:
        value = resolver.lookup(f"var.{var_name}")
        if isinstance(value, Unresolved):
            if not any(ref.expression == f"${{var.{var_name}}}" for ref in resolver.unresolved):
                resolver.record(f"${{var.{var_name}}}", value.reason, ["variables", var_name])
            value = None
        variables[var_name] = value
    return variables


def resolve_target(
    config: Mapping[str, Any],
    name: str,
    overrides: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    root: Path | None = None,
    bundle_root: Path | None = None,
) -> BundleInventory:
    """Resolve the bundle for one target.

    Args:
        config: The merged configuration of all files.
        name: The target.
        overrides: Variable values given explicitly.
        env: ``BUNDLE_VAR_*`` environment variables.
        root: The bundle root, to run Python code (``python.resources``, ``python.mutators``) from; ``None`` to
            not run Python code.
        bundle_root: The bundle root for facts about its files (source-linked deployment); defaults to ``root``.

    Raises:
        BundleError: The target does not exist or references form a cycle.
    """
    targets = targets_section(config)
    if name not in targets:
        raise BundleError(f"no target named {name!r}; the bundle defines: {', '.join(targets)}")
    target = targets[name]
    if not isinstance(target, dict):
        raise BundleError(f"target {name!r} must be a mapping of settings")
    merged = _merge_target(config, name, target)
    states = _variable_states(declared_variables(config), target.get("variables") or {}, overrides, env)
    python = merged.get("python") or (merged.get("experimental") or {}).get("python")
    python_status = _add_python_resources(merged, python, states, root)
    mode = target.get("mode")
    presets = _apply_presets(merged, states, mode, bundle_root or root)
    mutators_status, changes, warnings = _apply_mutators(merged, python, states, root)
    resolver = Resolver(merged, states)
    resolved: dict[str, Any] = {}
    for section in ("bundle", "workspace", "resources", "presets", "run_as", "permissions", "artifacts"):
        value = presets.presets if section == "presets" else merged.get(section)
        if value is not None:
            resolved[section] = resolver.resolve(value, [section])
    if presets.file_path is not None:
        file_path = resolver.resolve(presets.file_path, ["workspace", "file_path"])
        resolved["workspace"] = {**resolved["workspace"], "file_path": file_path}  # resolved values are shared
    variables = _resolved_variables(resolver, states)
    return BundleInventory(
        name=str(resolved["bundle"].get("name") or ""),
        target=name,
        mode=mode,
        resources={t: dict(items) for t, items in (resolved.get("resources") or {}).items() if isinstance(items, dict)},
        variables=variables,
        workspace=resolved["workspace"],
        bundle=resolved["bundle"],
        presets=resolved["presets"],
        run_as=resolved.get("run_as"),
        permissions=list(resolved.get("permissions") or []),
        unresolved=resolver.unresolved,
        python=python if isinstance(python, dict) else None,
        python_status=python_status,
        mutators_status=mutators_status,
        python_changes=changes,
        artifacts=resolved["artifacts"] if isinstance(resolved.get("artifacts"), dict) else {},
        notes=tuple(presets.notes) + tuple(f"python: {warning}" for warning in warnings),
    )
