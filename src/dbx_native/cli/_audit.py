"""`dbx-native audit PATH`: the project's Databricks-native score, line by line like the checklist."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the `audit` command."""
    parser = subparsers.add_parser("audit", help="score a project on the twelve Databricks components")
    parser.add_argument("path", metavar="PATH", help="the project's root directory")
    parser.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    parser.add_argument(
        "--fail-under",
        type=int,
        metavar="N",
        help="exit 1 when fewer than N components are used (for CI); by default the exit code is 0 whatever the score",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from dbx_native.audit import audit_project, render

    try:
        report = audit_project(args.path)
    except NotADirectoryError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(render(report, args.format))
    if args.fail_under is not None and report.score < args.fail_under:
        print(f"score {report.score}/{report.total} is under {args.fail_under}", file=sys.stderr)
        return 1
    return 0
