"""Selecting a target and resolving the bundle for it (targets, variables, presets, interpolation)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dbx_native.bundles._interp import Resolver, Unresolved, VariableState
from dbx_native.bundles._merge import apply_presets, deep_merge, merge_keyed_lists, mode_presets
from dbx_native.bundles._models import BundleInventory, Variable
from dbx_native.bundles._python import load_python_resources
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
    merged["bundle"] = bundle
    merged["resources"] = merge_keyed_lists(merged.get("resources") or {})
    return merged


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


def resolve_target(
    config: Mapping[str, Any],
    name: str,
    overrides: Mapping[str, Any],
    env: Mapping[str, str],
    *,
    root: Path | None = None,
) -> BundleInventory:
    """Resolve the bundle for one target.

    Args:
        config: The merged configuration of all files.
        name: The target.
        overrides: Variable values given explicitly.
        env: ``BUNDLE_VAR_*`` environment variables.
        root: The bundle root, to load Python-defined resources from; ``None`` to not run Python code.

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
    target_vars = target.get("variables") or {}
    states = _variable_states(declared_variables(config), target_vars, overrides, env)
    python = merged.get("python") or (merged.get("experimental") or {}).get("python")
    python_status = _add_python_resources(merged, python, states, root)
    mode = target.get("mode")
    presets = mode_presets(mode, merged.get("presets") or {})
    merged["resources"] = apply_presets(merged["resources"], presets)
    merged["workspace"] = _workspace_defaults(merged.get("workspace") or {})
    resolver = Resolver(merged, states)
    resolved: dict[str, Any] = {}
    for section in ("bundle", "workspace", "resources", "presets", "run_as", "permissions"):
        if section == "presets":
            resolved[section] = resolver.resolve(presets, ["presets"])
        elif merged.get(section) is not None:
            resolved[section] = resolver.resolve(merged[section], [section])
    variables: dict[str, Any] = {}
    for var_name in states:
        value = resolver.lookup(f"var.{var_name}")
        if isinstance(value, Unresolved):
            if not any(ref.expression == f"${{var.{var_name}}}" for ref in resolver.unresolved):
                resolver.record(f"${{var.{var_name}}}", value.reason, ["variables", var_name])
            value = None
        variables[var_name] = value
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
    )
