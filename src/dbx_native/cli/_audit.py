"""`dbx-native audit [PATH] [--workspace]`: the Databricks-native score, line by line like the checklist."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbx_native.audit import AuditReport

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the `audit` command."""
    parser = subparsers.add_parser(
        "audit", help="score a project (and/or a live workspace) on the twelve Databricks components"
    )
    parser.add_argument(
        "path", metavar="PATH", nargs="?", help="the project's root directory (optional with --workspace)"
    )
    parser.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    parser.add_argument(
        "--fail-under",
        type=int,
        metavar="N",
        help="exit 1 when fewer than N components are used (for CI); by default the exit code is 0 whatever the score",
    )
    parser.add_argument(
        "--workspace",
        action="store_true",
        help="also audit the live workspace (DATABRICKS_HOST and credentials, or --profile): what is deployed counts",
    )
    parser.add_argument("--profile", metavar="NAME", help="a ~/.databrickscfg profile for --workspace")
    parser.add_argument(
        "--timeout", type=float, default=15.0, metavar="SECONDS", help="time limit of each workspace probe"
    )
    parser.set_defaults(func=_run)


def _live(args: argparse.Namespace) -> AuditReport | None:
    from dbx_native.audit import audit_workspace
    from dbx_native.config import DbxConfig
    from dbx_native.errors import DbxNativeError

    try:
        config = DbxConfig(profile=args.profile) if args.profile else None
        return audit_workspace(config, timeout=args.timeout)
    except DbxNativeError as err:  # messages never carry a credential
        print(f"error: the workspace could not be audited: {err}", file=sys.stderr)
        return None


def _run(args: argparse.Namespace) -> int:
    from dbx_native.audit import audit_project, merge_reports, render

    if args.path is None and not args.workspace:
        print("error: give a project PATH, --workspace, or both", file=sys.stderr)
        return 2
    report = None
    if args.path is not None:
        try:
            report = audit_project(args.path)
        except NotADirectoryError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    if args.workspace:
        live = _live(args)
        if live is None:
            return 2
        report = live if report is None else merge_reports(report, live)
    if report is None:  # unreachable: PATH or --workspace was given
        return 2
    print(render(report, args.format))
    if args.fail_under is not None and report.score < args.fail_under:
        print(f"score {report.score}/{report.total} is under {args.fail_under}", file=sys.stderr)
        return 1
    return 0
