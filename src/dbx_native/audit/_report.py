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
        file: Path relative to the audited root (a notebook cell reads ``nb.ipynb[cell 3]``).
        line: 1-based line.
        snippet: The line, trimmed.
        confidence: ``high`` (a call, resource or statement), ``medium`` (an import, a weaker sign) or ``low``.
        kind: ``code``, ``sql``, ``notebook``, ``bundle`` or ``dependency``.
    """

    file: str
    line: int
    snippet: str
    confidence: Literal["high", "medium", "low"]
    kind: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


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
    """

    key: str
    name: str
    used: bool
    confidence: Level
    evidence: tuple[Evidence, ...] = ()
    evidence_count: int = 0


@dataclass(frozen=True)
class AuditReport:
    """A project's Databricks-native score.

    Attributes:
        root: The audited directory.
        score: Components used out of ``total``.
        total: How many components count (12).
        components: The counted components, in checklist order.
        extras: Also reported, not counted: prompts in Unity Catalog, guardrails.
        files_scanned: How many files were read.
        bundles: Bundle root files found (relative paths).
        problems: Files that could not be read or bundles that did not load (evidence from them may be missing).
    """

    root: str
    score: int
    total: int
    components: tuple[ComponentResult, ...]
    extras: tuple[ComponentResult, ...] = ()
    files_scanned: int = 0
    bundles: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

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
    mark = "x" if result.used else " "
    best = result.evidence[0] if result.evidence else None
    where = f"{best} {best.snippet}" if best else "no evidence"
    if md:
        where = f"`{best}` `{best.snippet.replace('`', '')}`" if best else "no evidence"
        return f"| [{mark}] | {result.name} | {result.confidence} | {result.evidence_count} | {where} |"
    return f"[{mark}] {result.name:<30} {result.confidence:<7} {where}"


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
    lines += ["", f"{report.files_scanned} files scanned; bundles: {', '.join(report.bundles) or 'none'}"]
    lines += [f"warning: {p}" for p in report.problems]
    return "\n".join(lines)
