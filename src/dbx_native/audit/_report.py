"""The audit's result and how it is printed (the checklist's score line, then a line per component)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["AuditReport", "ComponentResult", "Evidence", "render"]

Level = Literal["high", "medium", "low", "none"]


@dataclass(frozen=True)
class Evidence:
    """One sign of use.

    Attributes:
        file: Path relative to the audited root (a notebook cell reads ``nb.ipynb[cell 3]``); ``workspace``
            for what a live workspace showed.
        line: 1-based line (0 for workspace evidence).
        snippet: The line, trimmed; for workspace evidence, what was found (``serving endpoint fraud-llm``).
        confidence: ``high`` (a call, resource or statement), ``medium`` (an import, a weaker sign) or ``low``.
        kind: ``code``, ``sql``, ``notebook``, ``bundle``, ``dependency`` or ``workspace``.
    """

    file: str
    line: int
    snippet: str
    confidence: Literal["high", "medium", "low"]
    kind: str

    def __str__(self) -> str:
        return self.file if self.kind == "workspace" else f"{self.file}:{self.line}"


@dataclass(frozen=True)
class ComponentResult:
    """One component of the checklist.

    Attributes:
        key: Stable identifier (``delta_lake``, ``ai_gateway``, ...).
        name: The checklist's name.
        used: Whether there is evidence of ``medium`` confidence or better.
        confidence: The best evidence's confidence, ``none`` without evidence.
        evidence: The strongest pieces of evidence (a few), best first.
        evidence_count: How many pieces were found in all.
        unknown: Why the component could not be checked (a live probe was refused, timed out or is not
            answered by the workspace); ``None`` when it was checked. Only set on components not ``used``.
    """

    key: str
    name: str
    used: bool
    confidence: Level
    evidence: tuple[Evidence, ...] = ()
    evidence_count: int = 0
    unknown: str | None = None


@dataclass(frozen=True)
class AuditReport:
    """A project's (or a live workspace's) Databricks-native score.

    Attributes:
        root: The audited directory (empty when only a workspace was audited).
        score: Components used out of ``total``.
        total: How many components count (12).
        components: The counted components, in checklist order.
        extras: Also reported, not counted: prompts in Unity Catalog, guardrails.
        files_scanned: How many files were read.
        bundles: Bundle root files found (relative paths).
        problems: Files that could not be read or bundles that did not load (evidence from them may be missing).
        workspace: The host of the live workspace audited (``audit_workspace``), empty when none was.
    """

    root: str
    score: int
    total: int
    components: tuple[ComponentResult, ...]
    extras: tuple[ComponentResult, ...] = ()
    files_scanned: int = 0
    bundles: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    workspace: str = ""

    @property
    def percent(self) -> int:
        """The score as a whole percentage."""
        return round(100 * self.score / self.total) if self.total else 0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        data = asdict(self)
        data["percent"] = self.percent
        return data


def _line(result: ComponentResult, md: bool) -> str:
    unknown = result.unknown is not None and not result.used
    mark = "x" if result.used else "?" if unknown else " "
    confidence = "unknown" if unknown else result.confidence
    best = result.evidence[0] if result.evidence else None
    where = f"{best} {best.snippet}" if best else f"({result.unknown})" if unknown else "no evidence"
    if md and best:
        where = f"`{best}` `{best.snippet.replace('`', '')}`"
    if unknown and best:
        where += f" ({result.unknown})"
    if md:
        return f"| [{mark}] | {result.name} | {confidence} | {result.evidence_count} | {where} |"
    return f"[{mark}] {result.name:<30} {confidence:<7} {where}"


def _footer(report: AuditReport) -> list[str]:
    lines = []
    if report.root:
        lines.append(f"{report.files_scanned} files scanned; bundles: {', '.join(report.bundles) or 'none'}")
    if report.workspace:
        unknown = sum(1 for c in report.components if c.unknown is not None and not c.used)
        lines.append(f"workspace {report.workspace}: checked live; {unknown} component(s) unknown")
    return lines


def render(report: AuditReport, fmt: str) -> str:
    """Render a report as ``table``, ``json`` or ``markdown`` text."""
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2)
    md = fmt == "markdown"
    head = f"Databricks-Native Score: {report.percent}% ({report.score}/{report.total})"
    lines = [f"## {head}" if md else head, ""]
    if md:
        lines += ["| used | component | confidence | evidence | first evidence |", "|---|---|---|---|---|"]
    lines += [_line(r, md) for r in report.components]
    lines += ["", "Also checked (not scored):" if not md else "**Also checked (not scored):**", ""]
    if md:
        lines += ["| used | component | confidence | evidence | first evidence |", "|---|---|---|---|---|"]
    lines += [_line(r, md) for r in report.extras]
    lines += ["", *_footer(report)]
    lines += [f"warning: {p}" for p in report.problems]
    return "\n".join(lines)
