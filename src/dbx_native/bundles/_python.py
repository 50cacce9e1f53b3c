"""Python-defined resources (the ``python:`` section), loaded with ``databricks-bundles`` when it is installed.

The CLI runs ``python -m databricks.bundles.build --phase load_resources`` in the bundle root with the
configuration as JSON and reads back the configuration with the Python resources added. We do the same,
with the project's ``venv_path`` interpreter when it has one. This runs the project's own code, as
``databricks bundle validate`` does; callers that must not (e.g. the audit) turn it off.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["load_python_resources"]

logger = logging.getLogger("dbx_native.bundles")

_TIMEOUT_SECONDS = 120


def _interpreter(root: Path, section: Mapping[str, Any]) -> str:
    venv = section.get("venv_path")
    if isinstance(venv, str) and venv:
        for candidate in ("bin/python", "Scripts/python.exe"):
            path = root / venv / candidate
            if path.is_file():
                return str(path)
    return sys.executable


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
    payload = {
        **{k: v for k, v in config.items() if k != "variables"},
        "variables": {name: {"value": value} for name, value in variables.items()},
        "python": dict(section),
    }
    with tempfile.TemporaryDirectory(prefix="dbx-native-bundle-") as tmp:
        files = {name: os.path.join(tmp, name) for name in ("input.json", "output.json", "diagnostics.jsonl")}
        Path(files["input.json"]).write_text(json.dumps(payload, default=str), encoding="utf-8")
        command = [
            _interpreter(root, section),
            "-m",
            "databricks.bundles.build",
            "--phase",
            "load_resources",
            "--input",
            files["input.json"],
            "--output",
            files["output.json"],
            "--diagnostics",
            files["diagnostics.jsonl"],
        ]
        try:
            done = subprocess.run(
                command, cwd=root, capture_output=True, text=True, timeout=_TIMEOUT_SECONDS, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            return {}, f"python resources not loaded: {err}"
        if "No module named databricks.bundles" in done.stderr.replace("'", ""):
            return {}, "python resources not loaded: databricks-bundles is not installed"
        if done.returncode != 0 or not os.path.exists(files["output.json"]):
            diagnostics = (
                Path(files["diagnostics.jsonl"]).read_text(encoding="utf-8")
                if os.path.exists(files["diagnostics.jsonl"])
                else done.stderr[-500:]
            )
            return {}, f"python resources not loaded: {diagnostics.strip()[:500]}"
        output = json.loads(Path(files["output.json"]).read_text(encoding="utf-8"))
    before = config.get("resources") or {}
    added: dict[str, dict[str, Any]] = {}
    for resource_type, items in (output.get("resources") or {}).items():
        for key, value in (items or {}).items():
            if key not in (before.get(resource_type) or {}):
                added.setdefault(resource_type, {})[key] = value
    logger.debug("loaded %d python resource type(s) from %s", len(added), root)
    return added, "loaded"
