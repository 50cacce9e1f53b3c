"""Walking a project and finding evidence in code, SQL, notebooks and dependency files.

Not counted: commented-out code (``#`` in Python, ``--`` and ``/* */`` in SQL, Markdown cells),
unrendered templates (``.tmpl``/``.j2`` files, paths with ``{{``, files with template tags) and vendored
or generated trees (``.venv``, ``site-packages``, ``node_modules``, ``vendor``, ``build``, ...).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from dbx_native.audit._report import Evidence
from dbx_native.audit._rules import Rule, code_rules, dependency_rules, sql_rules

__all__ = ["Collector", "iter_files", "scan_file"]

_SKIP_DIRS = frozenset(
    {
        "node_modules",
        "site-packages",
        "dist-packages",
        "vendor",
        "vendored",
        "_vendor",
        "third_party",
        "third-party",
        "venv",
        "env",
        "build",
        "dist",
        "__pycache__",
        "target",
    }
)
_TEMPLATE_SUFFIXES = (".tmpl", ".j2", ".jinja", ".jinja2", ".template")
_TEMPLATE_TAG = re.compile(r"\{\{\s*\.|\{\{\s*cookiecutter\b|\{%-?\s*(?:if|for|set|raw|include)\b")
_MAX_BYTES = 2 * 1024 * 1024  # larger files are data, not code
_CODE, _SQL, _DEPS = code_rules(), sql_rules(), dependency_rules()
_NOTEBOOK_HEADER = "# Databricks notebook source"
_MAGIC = "# MAGIC "
MAX_EVIDENCE = 5


@dataclass
class Collector:
    """Evidence found so far, per component: the best few kept, all counted."""

    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, component: str, item: Evidence) -> None:
        self.counts[component] = self.counts.get(component, 0) + 1
        kept = self.evidence.setdefault(component, [])
        rank = {"high": 0, "medium": 1, "low": 2}
        if len(kept) < MAX_EVIDENCE or rank[item.confidence] < rank[kept[-1].confidence]:
            kept.append(item)
            kept.sort(key=lambda e: rank[e.confidence])
            del kept[MAX_EVIDENCE:]


def iter_files(root: str) -> Iterator[tuple[str, str]]:
    """Yield ``(absolute path, path relative to root)`` of every file worth reading, in a stable order."""
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS and "{{" not in d)
        for name in sorted(files):
            if name.endswith(_TEMPLATE_SUFFIXES) or "{{" in name:
                continue
            full = os.path.join(current, name)
            yield full, os.path.relpath(full, root).replace(os.sep, "/")


def _in_python_comment(text: str, start: int, pos: int) -> bool:
    quote = ""
    i = start
    while i < pos:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return True
        i += 1
    return False


def _in_sql_comment(text: str, start: int, pos: int) -> bool:
    if "--" in text[start:pos]:
        return True
    opened = text.rfind("/*", 0, pos)
    return opened != -1 and text.rfind("*/", 0, pos) < opened


_TRIPLE = re.compile(r"[rRbBuU]?(\"\"\"|\'\'\')[\s\S]*?\1")


def _docstrings(text: str) -> list[tuple[int, int]]:
    # Triple-quoted strings that stand alone are docstrings (prose); those passed or assigned (after `(`,
    # `=`, `,` ...) are code, e.g. spark.sql("""OPTIMIZE ..."""), and keep counting.
    spans = []
    for match in _TRIPLE.finditer(text):
        before = text[: match.start()].rstrip()
        if not before or before[-1] not in "(=,[+{%":
            spans.append(match.span())
    return spans


def _scan(text: str, rules: list[Rule], label: str, kind: str, sql: bool, out: Collector, offset: int = 0) -> None:
    lower = text.lower()
    prose: list[tuple[int, int]] | None = None
    for rule in rules:
        if rule.needle not in lower:
            continue
        for match in rule.pattern.finditer(text):
            pos = match.start()
            if match.group(0)[:1].isspace():  # multiline patterns may start on the previous line's end
                pos += len(match.group(0)) - len(match.group(0).lstrip())
            start = text.rfind("\n", 0, pos) + 1
            if (_in_sql_comment if sql else _in_python_comment)(text, start, pos):
                continue
            if not sql and kind != "dependency":
                if prose is None:
                    prose = _docstrings(text) if ('"""' in text or "'''" in text) else []
                if any(a <= pos < b for a, b in prose):
                    continue
            end = text.find("\n", pos)
            snippet = text[start : end if end != -1 else len(text)].strip()[:120]
            line = text.count("\n", 0, pos) + 1 + offset
            out.add(rule.component, Evidence(label, line, snippet, rule.confidence, kind))


def _notebook_source(text: str) -> str:
    # Databricks source-format notebooks keep SQL and Markdown cells as `# MAGIC` lines: un-comment SQL and
    # Python cells (keeping every position), blank Markdown ones.
    cells = text.split("# COMMAND ----------")
    out: list[str] = []
    for cell in cells:
        magic = cell.lstrip().startswith(_MAGIC)
        markdown = magic and cell.lstrip()[len(_MAGIC) :].startswith("%md")
        if markdown:
            out.append(re.sub(r"[^\n]", " ", cell))
        elif magic:
            out.append(cell.replace(_MAGIC, " " * len(_MAGIC)))
        else:
            out.append(cell)
    return "# COMMAND ----------".join(out)


def _scan_ipynb(text: str, rel: str, out: Collector) -> None:
    cells = json.loads(text).get("cells", [])
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue  # Markdown and raw cells are prose
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        stripped = source.lstrip()
        if stripped.startswith("%md"):
            continue
        is_sql = stripped.startswith("%sql")
        rules = _SQL if is_sql else _CODE
        _scan(source, rules, f"{rel}[cell {number}]", "notebook", is_sql, out)


def scan_file(path: str, rel: str, out: Collector) -> bool:
    """Scan one file; returns whether it was read as code, SQL, a notebook or a dependency list."""
    name = rel.rsplit("/", 1)[-1]
    is_deps = (name.startswith("requirements") and name.endswith(".txt")) or name in ("pyproject.toml", "setup.py")
    if not (rel.endswith((".py", ".sql", ".ipynb")) or is_deps):
        return False
    try:
        if os.path.getsize(path) > _MAX_BYTES:
            return False
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return False
    if ("{{" in text or "{%" in text) and _TEMPLATE_TAG.search(text):
        return False  # an unrendered template: its code is not the project's yet
    if is_deps:
        _scan(text, _DEPS, rel, "dependency", False, out)
        if name != "setup.py":
            return True
    if rel.endswith(".sql"):
        _scan(text, _SQL, rel, "sql", True, out)
    elif rel.endswith(".ipynb"):
        try:
            _scan_ipynb(text, rel, out)
        except (ValueError, AttributeError):
            return False
    else:
        if text.startswith(_NOTEBOOK_HEADER):
            text = _notebook_source(text)
        _scan(text, _CODE, rel, "code", False, out)
    return True
