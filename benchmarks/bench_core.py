"""Per-call cost of the dbx-native core against a bare `requests.Session`, and the import time of `dbx_native`.

Everything is measured in the same run against the same loopback server, and reported as ratios: these
machines are shared and noisy, so absolute times are not the point.

    python benchmarks/bench_core.py [--calls 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import requests

from dbx_native import DbxConfig, RestClient
from dbx_native.local import LocalWorkspace

PATH = "/.well-known/databricks-config"


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    for _ in range(min(200, calls)):  # warm-up: connections, caches
        fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def import_ms(module: str, runs: int = 7) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    samples = [
        float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    ws = LocalWorkspace()
    with ws.serve() as server:
        url = server.host + PATH
        headers = {"Authorization": f"Bearer {server.token}"}
        bare = requests.Session()
        ours = RestClient(config=DbxConfig(host=server.host, token=server.token, telemetry=True))
        ours_no_otel = RestClient(config=DbxConfig(host=server.host, token=server.token, telemetry=False))
        from databricks.sdk import WorkspaceClient

        sdk = WorkspaceClient(host=server.host, token=server.token, auth_type="pat")

        cases: dict[str, Callable[[], object]] = {
            "bare requests.Session (floor)": lambda: bare.get(url, headers=headers).json(),
            "dbx-native RestClient.get": lambda: ours.get(PATH),
            "dbx-native, telemetry off": lambda: ours_no_otel.get(PATH),
            "databricks-sdk api_client.do": lambda: sdk.api_client.do("GET", PATH),
        }
        results: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):  # interleaved rounds so drift hits every case alike
            for name, fn in cases.items():
                results[name].append(per_call_us(fn, args.calls))
        ws.requests.clear()

    floor = statistics.median(results["bare requests.Session (floor)"])
    print(f"per-call time, loopback server, {args.calls} calls x {args.rounds} rounds (median of rounds)")
    print(f"{'case':<34} {'us/call':>9} {'x floor':>8}")
    for name, samples in results.items():
        median = statistics.median(samples)
        print(f"{name:<34} {median:>9.1f} {median / floor:>8.2f}")
    ratio = statistics.median(results["dbx-native RestClient.get"]) / floor
    print(f"TARGET core per call <= 1.00x bare requests: {'PASS' if ratio <= 1.0 else 'FAIL'} ({ratio:.2f}x)")

    ours_ms = import_ms("dbx_native")
    requests_ms = import_ms("requests")
    sdk_ms = import_ms("databricks.sdk", runs=3)
    print("\nimport time, fresh interpreter (median)")
    print(f"{'import dbx_native':<34} {ours_ms:>8.1f} ms")
    print(f"{'import requests (reference)':<34} {requests_ms:>8.1f} ms  ratio {ours_ms / requests_ms:.2f}x")
    print(f"{'import databricks.sdk (reference)':<34} {sdk_ms:>8.1f} ms  ratio {ours_ms / sdk_ms:.3f}x")
    print(f"TARGET import dbx_native < 100 ms: {'PASS' if ours_ms < 100 else 'FAIL'} ({ours_ms:.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
