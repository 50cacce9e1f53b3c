"""GatewayClient per-call cost against a bare `requests.Session` and the other clients, on one loopback server.

Reported as ratios against the bare-requests floor measured in the same run (shared machines are noisy):
`GatewayClient.chat`, databricks-sdk `serving_endpoints.query`, the `openai` client, `mlflow.deployments`
(when installed), and streaming time-to-first-chunk.

    python benchmarks/bench_gateway.py [--calls 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import requests

from dbx_native import DbxConfig, GatewayClient
from dbx_native.local import LocalWorkspace

MESSAGES = [{"role": "user", "content": "Is merchant m_002 risky? Answer in one sentence."}]
REPLY = "Merchant m_002 shows seven chargebacks in thirty days, which is high risk."


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    for _ in range(min(100, calls)):
        fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    ws = LocalWorkspace()
    ws.serving.create_endpoint("chat", model=[REPLY])
    with ws.serve() as server:
        url = f"{server.host}/serving-endpoints/chat/invocations"
        headers = {"Authorization": f"Bearer {server.token}"}
        bare = requests.Session()
        body = {"messages": MESSAGES}
        gw = GatewayClient("chat", config=DbxConfig(host=server.host, token=server.token))
        cases: dict[str, Callable[[], object]] = {
            "bare requests.Session (floor)": lambda: bare.post(url, json=body, headers=headers).json(),
            "dbx-native GatewayClient.chat": lambda: gw.chat(MESSAGES).text,
        }
        from databricks.sdk import WorkspaceClient
        from databricks.sdk.service.serving import ChatMessage, ChatMessageRole

        sdk = WorkspaceClient(host=server.host, token=server.token, auth_type="pat")
        sdk_messages = [ChatMessage(role=ChatMessageRole.USER, content=MESSAGES[0]["content"])]
        cases["databricks-sdk serving_endpoints.query"] = lambda: sdk.serving_endpoints.query(
            "chat", messages=sdk_messages
        )
        try:
            import openai

            oai = openai.OpenAI(base_url=f"{server.host}/serving-endpoints", api_key=server.token)
            cases["openai chat.completions.create"] = lambda: oai.chat.completions.create(
                model="chat", messages=MESSAGES
            )  # type: ignore[arg-type]
        except ImportError:
            print("openai not installed: skipped")
        try:
            import os

            os.environ["DATABRICKS_HOST"], os.environ["DATABRICKS_TOKEN"] = server.host, server.token
            from mlflow.deployments import get_deploy_client

            mlf = get_deploy_client("databricks")
            cases["mlflow.deployments predict"] = lambda: mlf.predict(endpoint="chat", inputs={"messages": MESSAGES})
        except ImportError:
            print("mlflow not installed: mlflow.deployments skipped (research/perf-baseline.md measured 4.4x)")

        results: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, fn in cases.items():
                results[name].append(per_call_us(fn, args.calls))
                ws.requests.clear()

        ttfc = {"bare requests stream": [], "GatewayClient.stream": []}  # type: dict[str, list[float]]
        for _ in range(args.rounds * 50):
            t0 = time.perf_counter()
            with bare.post(url, json={"messages": MESSAGES, "stream": True}, headers=headers, stream=True) as resp:
                next(line for line in resp.iter_lines() if line.startswith(b"data:"))
                ttfc["bare requests stream"].append((time.perf_counter() - t0) * 1e6)
                for _line in resp.iter_lines():
                    pass
            t0 = time.perf_counter()
            stream = gw.stream(MESSAGES)
            next(stream)
            ttfc["GatewayClient.stream"].append((time.perf_counter() - t0) * 1e6)
            for _chunk in stream:
                pass
            ws.requests.clear()

    floor = statistics.median(results["bare requests.Session (floor)"])
    print(f"chat per call, loopback server, {args.calls} calls x {args.rounds} rounds (median of rounds)")
    print(f"{'case':<42} {'us/call':>9} {'x floor':>8}")
    for name, samples in results.items():
        median = statistics.median(samples)
        print(f"{name:<42} {median:>9.1f} {median / floor:>8.2f}")
    ratio = statistics.median(results["dbx-native GatewayClient.chat"]) / floor
    print(f"TARGET GatewayClient.chat <= 1.00x bare requests: {'PASS' if ratio <= 1.0 else 'FAIL'} ({ratio:.2f}x)")
    base, ours = (statistics.median(v) for v in ttfc.values())
    print(f"\nstreaming time to first chunk: bare {base:.0f} us, GatewayClient {ours:.0f} us ({ours / base:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
