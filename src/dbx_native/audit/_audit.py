"""``audit_project``: score a project on the checklist's twelve Databricks components."""

from __future__ import annotations

import logging
import os
from typing import Any

from dbx_native.audit._report import AuditReport, ComponentResult, Evidence
from dbx_native.audit._rules import COMPONENTS, EXTRAS, RESOURCE_RULES, Component
from dbx_native.audit._scan import Collector, iter_files, scan_file

__all__ = ["audit_project"]

logger = logging.getLogger("dbx_native.audit")

_BUNDLE_FILES = ("databricks.yml", "databricks.yaml")


class _Lines:
    """Source lines of bundle files, read once, for evidence snippets."""

    def __init__(self) -> None:
        self._files: dict[str, list[str]] = {}

    def get(self, path: str, line: int) -> str:
        lines = self._files.get(path)
        if lines is None:
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    lines = handle.read().splitlines()
            except OSError:
                lines = []
            self._files[path] = lines
        return lines[line - 1].strip()[:120] if 0 < line <= len(lines) else ""


def _resource_evidence(resource_type: str, key: str, config: Any) -> list[tuple[str, str]]:
    """(component, confidence) pairs a resource shows, beyond its type."""
    found = [(component, str(conf)) for component, conf in RESOURCE_RULES.get(resource_type, ())]
    if not isinstance(config, dict):
        return found
    if resource_type == "model_serving_endpoints":
        gateway = config.get("ai_gateway")
        if isinstance(gateway, dict):
            found.append(("ai_gateway", "high"))
            if gateway.get("guardrails"):
                found.append(("guardrails", "high"))
        served = (config.get("config") or {}).get("served_entities") or []
        # A feature spec is served without a version (it is a UC function); models always have one.
        if any(isinstance(e, dict) and e.get("entity_name") and not e.get("entity_version") for e in served):
            found.append(("feature_serving", "high"))
        if any(isinstance(e, dict) and str(e.get("entity_name", "")).count(".") == 2 for e in served):
            found.append(("unity_catalog", "high"))
    if resource_type == "pipelines" and config.get("catalog"):
        found.append(("unity_catalog", "high"))
    return found


def _scan_bundle(root: str, rel: str, out: Collector, lines: _Lines, problems: list[str]) -> None:
    from dbx_native.bundles import BundleInspector
    from dbx_native.errors import BundleError

    bundle_dir = os.path.dirname(rel)
    prefix = f"{bundle_dir}/" if bundle_dir else ""
    try:
        bi = BundleInspector.load(os.path.join(root, rel), load_python=False)  # never run the audited code
        target = bi.default_target or bi.targets[0]
        resources = bi.inventory(target).resources
    except BundleError as err:
        problems.append(f"bundle {rel} did not load: {err}")
        out.add("bundles", Evidence(rel, 1, "bundle configuration (did not load)", "medium", "bundle"))
        return
    where = bi.location(["bundle", "name"])
    line = where.line if where else 1
    out.add("bundles", Evidence(rel, line, lines.get(os.path.join(root, rel), line), "high", "bundle"))
    for resource_type, items in resources.items():
        for key, config in items.items():
            location = bi.location(["resources", resource_type, key], target=target)
            file = prefix + location.file if location else rel
            line = location.line if location else 1
            snippet = lines.get(os.path.normpath(os.path.join(root, file)), line) or f"{resource_type}.{key}"
            for component, confidence in _resource_evidence(resource_type, key, config):
                out.add(component, Evidence(os.path.normpath(file), line, snippet, confidence, "bundle"))  # type: ignore[arg-type]


def _result(component: Component, out: Collector) -> ComponentResult:
    evidence = tuple(out.evidence.get(component.key, ()))
    confidence = evidence[0].confidence if evidence else "none"
    return ComponentResult(
        key=component.key,
        name=component.name,
        used=confidence in ("high", "medium"),
        confidence=confidence,
        evidence=evidence,
        evidence_count=out.counts.get(component.key, 0),
    )


def audit_project(path: str | os.PathLike[str]) -> AuditReport:
    """Score a project directory on the twelve Databricks components of the checklist.

    Evidence comes from Python code and notebooks (``.py``, ``.ipynb``), SQL files, dependency lists and
    bundle resources; commented-out code, unrendered templates and vendored trees do not count.

    Args:
        path: The project's root directory.

    Returns:
        The score (components used out of 12) and, per component, whether it is used, how confidently,
        and the evidence (``file:line`` and the line itself).

    Raises:
        NotADirectoryError: ``path`` is not a directory.
    """
    root = os.fspath(path)
    if not os.path.isdir(root):
        raise NotADirectoryError(f"{root}: not a directory; pass the project's root folder")
    out = Collector()
    lines = _Lines()
    problems: list[str] = []
    bundles: list[str] = []
    scanned = 0
    for full, rel in iter_files(root):
        if rel.rsplit("/", 1)[-1] in _BUNDLE_FILES:
            bundles.append(rel)
            _scan_bundle(root, rel, out, lines, problems)
            scanned += 1
        elif scan_file(full, rel, out):
            scanned += 1
    components = tuple(_result(c, out) for c in COMPONENTS)
    return AuditReport(
        root=root,
        score=sum(c.used for c in components),
        total=len(components),
        components=components,
        extras=tuple(_result(c, out) for c in EXTRAS),
        files_scanned=scanned,
        bundles=tuple(bundles),
        problems=tuple(problems),
    )
