"""`dbx-native doctor`: which config, which auth method, which host, and can we reach it. Never the secret."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check configuration, authentication and connectivity",
        description="Resolve the configuration and auth method, then check the workspace answers. "
        "Secrets are never printed.",
    )
    parser.add_argument("--host", help="workspace URL (default: from the environment)")
    parser.add_argument("--profile", help="a ~/.databrickscfg profile")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds for each check (default 15)")
    parser.set_defaults(func=run)


def _check(report: dict[str, Any], name: str, fn: Any) -> Any:
    start = time.perf_counter()
    try:
        value = fn()
    except Exception as err:  # every failure becomes a line of the report
        report["checks"].append({"check": name, "ok": False, "error": f"{type(err).__name__}: {err}"})
        return None
    report["checks"].append({"check": name, "ok": True, "ms": round((time.perf_counter() - start) * 1000, 1)})
    return value


def run(args: argparse.Namespace) -> int:
    from dbx_native.config import DbxConfig
    from dbx_native.rest import RestClient

    report: dict[str, Any] = {"checks": []}
    overrides = {k: v for k, v in {"host": args.host, "profile": args.profile}.items() if v}
    config = _check(report, "configuration", lambda: DbxConfig(**overrides))
    if config is not None:
        report["host"] = config.host or "(from databricks-sdk / profile)"
        report["auth_method"] = config.auth_method
        report["retry"] = config.retry.model_dump()
        report["timeouts"] = config.timeouts.model_dump()
        client = RestClient(config=config.replace(retry={**config.retry.model_dump(), "max_attempts": 1}))
        headers = _check(report, "credentials", client._http.credentials.headers)
        if headers is not None:
            report["auth_method"] = client._http.credentials.method
            report["host"] = _check(report, "host", lambda: client._http.host) or report["host"]
            _check(
                report,
                "workspace reachable",
                lambda: client.get("/.well-known/databricks-config", timeout=args.timeout),
            )
            me = _check(report, "authenticated call", lambda: _whoami(client, args.timeout))
            if me:
                report["identity"] = me
    ok = all(c["ok"] for c in report["checks"])
    report["ok"] = ok
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print(report)
    return 0 if ok else 1


def _whoami(client: Any, timeout: float) -> str:
    from dbx_native.errors import NotFoundError

    try:
        me = client.get("/api/2.0/preview/scim/v2/Me", timeout=timeout)
    except NotFoundError:
        # The route exists on every real workspace; an emulator may not have it. Any authenticated route
        # proves the credential, so fall back to listing catalogs.
        client.get("/api/2.1/unity-catalog/catalogs", timeout=timeout)
        return "(authenticated; identity not reported by this workspace)"
    return str(me.get("userName") or me.get("displayName") or me.get("id") or "(unknown)")


def _print(report: dict[str, Any]) -> None:
    print("dbx-native doctor")
    for key in ("host", "auth_method", "identity"):
        if key in report:
            print(f"  {key.replace('_', ' '):<12} {report[key]}")
    for check in report["checks"]:
        mark = "ok  " if check["ok"] else "FAIL"
        detail = f"{check['ms']} ms" if check["ok"] else check["error"]
        print(f"  [{mark}] {check['check']:<20} {detail}")
    print("all checks passed" if report["ok"] else "some checks failed: see above")
