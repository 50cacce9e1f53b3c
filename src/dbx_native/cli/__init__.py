"""The `dbx-native` command.

Each sub-command lives in its own private module with a `register(subparsers)` function that adds
its parser and sets `func` (a callable taking the parsed `argparse.Namespace` and returning the
exit code). Heavy imports happen inside `func`, so `dbx-native --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from dbx_native._version import __version__

__all__ = ["main"]

# Sub-command modules, in the order `--help` lists them.
_COMMANDS = (
    "dbx_native.cli._demo",
    "dbx_native.cli._doctor",
    "dbx_native.cli._local",
    "dbx_native.cli._bundle",
    "dbx_native.cli._audit",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dbx-native", description="Databricks-native adapters for agent code: demo, doctor, local workspace."
    )
    parser.add_argument("--version", action="version", version=f"dbx-native {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            continue  # a command not built yet
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `dbx-native ... | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
