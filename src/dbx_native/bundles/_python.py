"""Python code in a bundle (the ``python:`` section), run with ``databricks-bundles`` when it is installed.

The CLI runs ``python -m databricks.bundles.build --phase <phase>`` in the bundle root with the configuration
as JSON and reads the configuration back: the ``load_resources`` phase adds the resources of the
``python.resources`` functions, then the ``apply_mutators`` phase passes every resource through the
``python.mutators`` functions. We do the same, with the project's ``venv_path`` interpreter when it has one.
This runs the project's own code, as ``databricks bundle validate`` does; callers that must not (e.g. the
audit) turn it off. A failure is reported as a status note, never raised: an inventory stays available.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbx_native.bundles._diff import diff_values
from dbx_native.bundles._models import ResourceChange

__all__ = ["MutatorResult", "apply_python_mutators", "load_python_resources"]

logger = logging.getLogger("dbx_native.bundles")

_TIMEOUT_SECONDS = 120
_NOTE_CHARS = 500


def _interpreter(root: Path, section: Mapping[str, Any]) -> str:
    venv = section.get("venv_path")
    if isinstance(venv, str) and venv:
        for candidate in ("bin/python", "Scripts/python.exe"):
            path = root / venv / candidate
            if path.is_file():
                return str(path)
    return sys.executable


def _describe(diagnostic: Mapping[str, Any]) -> str:
    # The detail of a Python failure is a traceback: its last line names the exception.
    text = str(diagnostic.get("summary") or "error")
    lines = [line for line in str(diagnostic.get("detail") or "").splitlines() if line.strip()]
    if lines:
        text += f": {lines[-1].strip()}"
    if diagnostic.get("path"):
        text += f" (at {diagnostic['path']})"
    return text


def _read_diagnostics(path: str) -> list[dict[str, Any]]:
    if not os.path.exists(path):
        return []
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out


def _run_build(
    root: Path, section: Mapping[str, Any], phase: str, payload: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, str, list[str]]:
    """Run one phase; ``(output, why it failed or "", warnings)``."""
    with tempfile.TemporaryDirectory(prefix="dbx-native-bundle-") as tmp:
        files = {name: os.path.join(tmp, name) for name in ("input.json", "output.json", "diagnostics.jsonl")}
        Path(files["input.json"]).write_text(json.dumps(payload, default=str), encoding="utf-8")
        command = [_interpreter(root, section), "-m", "databricks.bundles.build", "--phase", phase]
        for flag, name in (
            ("--input", "input.json"),
            ("--output", "output.json"),
            ("--diagnostics", "diagnostics.jsonl"),
        ):
            command += [flag, files[name]]
        try:
            done = subprocess.run(
                command, cwd=root, capture_output=True, text=True, timeout=_TIMEOUT_SECONDS, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            return None, str(err), []
        if "No module named databricks.bundles" in done.stderr.replace("'", ""):
            return None, "databricks-bundles is not installed", []
        diagnostics = _read_diagnostics(files["diagnostics.jsonl"])
        errors = [d for d in diagnostics if d.get("severity") == "error"]
        warnings = [_describe(d) for d in diagnostics if d.get("severity") == "warning"]
        if errors:
            return None, "; ".join(_describe(d) for d in errors)[:_NOTE_CHARS], warnings
        if done.returncode != 0 or not os.path.exists(files["output.json"]):
            return None, done.stderr.strip()[-_NOTE_CHARS:] or f"exit status {done.returncode}", warnings
        output = json.loads(Path(files["output.json"]).read_text(encoding="utf-8"))
    return (output if isinstance(output, dict) else {}), "", warnings


def _payload(config: Mapping[str, Any], section: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **{k: v for k, v in config.items() if k != "variables"},
        "variables": {name: {"value": value} for name, value in variables.items()},
        "python": dict(section),
    }


def load_python_resources(
    root: Path, config: Mapping[str, Any], section: Mapping[str, Any], variables: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], str]:
    """Run the ``python.resources`` functions and return the resources they add, with a status note.

    Args:
        root: The bundle root (the functions are imported from there).
        config: The merged configuration for the target (its ``bundle.target`` is set).
        section: The ``python`` section.
        variables: Variable values for the target (unresolved ones are ``None``).

    Returns:
        ``(resources, note)``: resource type -> key -> configuration added by Python code (empty when nothing
        was loaded), and ``"loaded"`` or why nothing was.
    """
    if not section.get("resources"):
        return {}, "no python resources to load"
    output, failure, _ = _run_build(root, section, "load_resources", _payload(config, section, variables))
    if output is None:
        return {}, f"python resources not loaded: {failure}"
    before = config.get("resources") or {}
    added: dict[str, dict[str, Any]] = {}
    for resource_type, items in (output.get("resources") or {}).items():
        for key, value in (items or {}).items():
            if key not in (before.get(resource_type) or {}):
                added.setdefault(resource_type, {})[key] = value
    logger.debug("loaded %d python resource type(s) from %s", len(added), root)
    return added, "loaded"


@dataclass(frozen=True)
class MutatorResult:
    """What the ``apply_mutators`` phase did.

    Attributes:
        status: ``"applied"`` or why the mutators were not applied.
        changed: Resource type -> key -> new configuration, only for resources a mutator changed.
        changes: The same changes, field by field.
        warnings: Warnings the Python code reported.
    """

    status: str
    changed: dict[str, dict[str, Any]]
    changes: tuple[ResourceChange, ...] = ()
    warnings: tuple[str, ...] = ()


def _pruned(value: Any) -> Any:
    # databricks-bundles writes resources back through its typed models, which drop empty lists, maps and nulls:
    # those are not changes.
    if isinstance(value, dict):
        items = ((k, _pruned(v)) for k, v in value.items())
        return {k: v for k, v in items if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _compare(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, dict[str, Any]], list[ResourceChange], list[str]]:
    changed: dict[str, dict[str, Any]] = {}
    changes: list[ResourceChange] = []
    refused: list[str] = []
    for resource_type in sorted(set(before) | set(after)):
        left, right = before.get(resource_type) or {}, after.get(resource_type) or {}
        refused += [f"added resources.{resource_type}.{key}" for key in right if key not in left]
        refused += [f"removed resources.{resource_type}.{key}" for key in left if key not in right]
        for key in sorted(set(left) & set(right)):
            old, new = _pruned(left[key]), _pruned(right[key])
            if old != new:
                changed.setdefault(resource_type, {})[key] = right[key]
                changes.append(ResourceChange("changed", resource_type, key, tuple(diff_values(old, new))))
    return changed, changes, refused


def apply_python_mutators(
    root: Path, config: Mapping[str, Any], section: Mapping[str, Any], variables: Mapping[str, Any]
) -> MutatorResult:
    """Run the ``python.mutators`` functions over every resource and return what they changed.

    Args:
        root: The bundle root (the mutators are imported from there).
        config: The configuration as the CLI hands it to mutators: ``bundle`` (with ``target``), ``workspace``
            and ``resources`` after presets, with variables resolved.
        section: The ``python`` section.
        variables: Variable values for the target (unresolved ones are ``None``).

    Returns:
        The status, the changed resources and the changes field by field. Like the CLI, mutators may change
        resources but not add or remove any: output that does is not applied.
    """
    output, failure, warnings = _run_build(root, section, "apply_mutators", _payload(config, section, variables))
    if output is None:
        return MutatorResult(f"python mutators not applied: {failure}", {}, (), tuple(warnings))
    changed, changes, refused = _compare(config.get("resources") or {}, output.get("resources") or {})
    if refused:
        why = f"mutators may only change resources, not add or remove them ({', '.join(refused[:5])})"
        return MutatorResult(f"python mutators not applied: {why}", {}, (), tuple(warnings))
    logger.debug("python mutators changed %d resource(s) in %s", len(changes), root)
    return MutatorResult("applied", changed, tuple(changes), tuple(warnings))
