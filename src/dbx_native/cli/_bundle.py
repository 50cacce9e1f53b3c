"""`dbx-native bundle inspect|diff|validate`: read a bundle offline, without the Databricks CLI or a login."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbx_native.bundles import BundleDiff, BundleInspector, BundleInventory, Finding

__all__ = ["register"]

_FORMATS = ("table", "json", "markdown")


def register(subparsers: Any) -> None:
    """Add the `bundle` command and its sub-commands."""
    parser = subparsers.add_parser("bundle", help="inspect, diff and validate a bundle offline")
    commands = parser.add_subparsers(dest="bundle_command", metavar="SUBCOMMAND", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("path", metavar="PATH", help="bundle directory or its databricks.yml")
        sub.add_argument("--format", choices=_FORMATS, default="table", help="output format (default: table)")
        sub.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="set a variable")
        sub.add_argument(
            "--no-python", action="store_true", help="do not run the project's Python-defined resources (python:)"
        )

    inspect = commands.add_parser("inspect", help="resources, variables and workspace of a target")
    common(inspect)
    inspect.add_argument("--target", "-t", help="target (default: the bundle's default target)")
    inspect.set_defaults(func=_inspect)

    diff = commands.add_parser("diff", help="what changes between two targets")
    common(diff)
    diff.add_argument("a", metavar="TARGET_A")
    diff.add_argument("b", metavar="TARGET_B")
    diff.set_defaults(func=_diff)

    validate = commands.add_parser("validate", help="findings with file:line; exit 1 when there are errors")
    common(validate)
    validate.add_argument("--target", "-t", help="target (default: the bundle's default target)")
    validate.add_argument("--schema", help="bundle JSON schema (`databricks bundle schema`) to flag unknown keys")
    validate.set_defaults(func=_validate)


def _load(args: argparse.Namespace) -> BundleInspector:
    from dbx_native.bundles import BundleInspector

    variables: dict[str, str] = {}
    for item in args.var:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"dbx-native bundle: --var takes NAME=VALUE, got {item!r}")
        variables[name] = value
    return BundleInspector.load(
        args.path, variables=variables, schema=getattr(args, "schema", None), load_python=not args.no_python
    )


def _run(args: argparse.Namespace, action: Any) -> int:
    from dbx_native.errors import BundleError

    try:
        return int(action(_load(args), args))
    except BundleError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _inspect(args: argparse.Namespace) -> int:
    return _run(args, lambda bi, a: _print_inventory(bi.inventory(a.target), a.format))


def _diff(args: argparse.Namespace) -> int:
    return _run(args, lambda bi, a: _print_diff(bi.diff(a.a, a.b), a.format))


def _validate(args: argparse.Namespace) -> int:
    def action(bi: BundleInspector, a: argparse.Namespace) -> int:
        findings = bi.validate(a.target)
        _print_findings(findings, a.format, bi.inventory(a.target).target)
        return 1 if any(f.severity == "error" for f in findings) else 0

    return _run(args, action)


def _table(rows: list[list[str]], headers: list[str], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _print_inventory(inv: BundleInventory, fmt: str) -> int:
    if fmt == "json":
        print(json.dumps(inv.to_dict(), indent=2, default=str))
        return 0
    md = fmt == "markdown"
    title = f"{'## ' if md else ''}Bundle {inv.name!r}, target {inv.target!r}" + (
        f" (mode {inv.mode})" if inv.mode else ""
    )
    print(title + "\n")
    rows = [
        [rtype, key, _short(config.get("name", "") if isinstance(config, dict) else "")]
        for rtype, items in sorted(inv.resources.items())
        for key, config in sorted(items.items())
    ]
    print(_table(rows, ["type", "key", "name"], md))
    print(f"\n{inv.resource_count} resources")
    if inv.variables:
        print()
        print(_table([[k, _short(v)] for k, v in inv.variables.items()], ["variable", "value"], md))
    if inv.unresolved:
        print()
        rows = [[r.expression, r.reason, ", ".join(r.paths[:2])] for r in inv.unresolved]
        print(_table(rows, ["unresolved", "reason", "used at"], md))
    status = [("python resources", inv.python_status), ("python mutators", inv.mutators_status)]
    lines = [f"{label}: {value}" for label, value in status if value]
    lines += [
        f"python mutators changed {c.resource_type}.{c.key}: " + ", ".join(f.path for f in c.changes)
        for c in inv.python_changes
    ]
    lines += [f"note: {note}" for note in inv.notes]
    if lines:
        print()
        print("\n".join(f"- {line}" if md else line for line in lines))
    return 0


def _print_diff(diff: BundleDiff, fmt: str) -> int:
    if fmt == "json":
        print(json.dumps(diff.to_dict(), indent=2, default=str))
        return 0
    md = fmt == "markdown"
    print(f"{'## ' if md else ''}Differences from {diff.a!r} to {diff.b!r}\n")
    if not diff:
        print("no differences")
        return 0
    rows: list[list[str]] = []
    for change in diff.resources:
        where = f"{change.resource_type}.{change.key}"
        if change.kind != "changed":
            rows.append([change.kind, where, "", ""])
        for field in change.changes:
            rows.append(["changed", f"{where}.{field.path}", _short(field.before, 40), _short(field.after, 40)])
    for section, changes in (("variables", diff.variables), ("workspace", diff.workspace)):
        rows += [["changed", f"{section}.{c.path}", _short(c.before, 40), _short(c.after, 40)] for c in changes]
    print(_table(rows, ["change", "path", diff.a, diff.b], md))
    return 0


def _print_findings(findings: list[Finding], fmt: str, target: str) -> None:
    if fmt == "json":
        print(json.dumps({"target": target, "findings": [f.to_dict() for f in findings]}, indent=2))
        return
    md = fmt == "markdown"
    errors = sum(f.severity == "error" for f in findings)
    print(f"{'## ' if md else ''}Validation of target {target!r}: {errors} error(s), {len(findings)} finding(s)\n")
    rows = [[f.severity, str(f.location or f.path), f.code, f.message] for f in findings]
    if rows:
        print(_table(rows, ["severity", "location", "code", "message"], md))
