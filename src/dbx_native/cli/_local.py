"""`dbx-native local serve`: run the embedded workspace on a loopback HTTP server until Ctrl-C."""

from __future__ import annotations

import argparse
import ipaddress
import sys
import threading
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the `local` command and its `serve` sub-command."""
    local = subparsers.add_parser("local", help="run the embedded local Databricks workspace")
    actions = local.add_subparsers(dest="local_command", metavar="ACTION")
    serve = actions.add_parser(
        "serve",
        help="serve the local workspace over HTTP until Ctrl-C",
        description="Serve the local workspace over HTTP until Ctrl-C. Point DATABRICKS_HOST and "
        "DATABRICKS_TOKEN at it (printed on start) to use it from any client.",
    )
    serve.add_argument("--port", type=int, default=8765, help="TCP port (0 picks a free one; default 8765)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--root", default=None, help="directory for persisted tables (default: in memory)")
    serve.add_argument("--token", default=None, help="accept only this token (default: any bearer token)")
    serve.set_defaults(func=_serve)
    local.set_defaults(func=lambda _args: _usage(local))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _serve(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    from dbx_native.local import LocalWorkspace

    if not _is_loopback(args.host):
        print(
            f"warning: serving on {args.host}, which is not a loopback address: anyone who can reach it can use "
            "the workspace, whatever token they send unless --token is given",
            file=sys.stderr,
        )
    workspace = LocalWorkspace(root=args.root, token=args.token)
    try:
        server = workspace.serve(port=args.port, host=args.host)
    except OSError as err:
        print(f"error: cannot listen on {args.host}:{args.port}: {err.strerror or err}; try --port 0", file=sys.stderr)
        return 1
    print(f"Local Databricks workspace serving on {server.host}", flush=True)
    print(f"  export DATABRICKS_HOST={server.host}", flush=True)
    print(f"  export DATABRICKS_TOKEN={server.token}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        # Event.wait() with a timeout stays interruptible by Ctrl-C on every platform.
        waiter = stop if stop is not None else threading.Event()
        while not waiter.wait(0.5):
            pass
    except KeyboardInterrupt:
        print("Stopping.", flush=True)
    finally:
        server.stop()
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
