"""`dbx-native demo`: the library end to end on the embedded local workspace (no Databricks account).

Each client adds its step here as it lands. Steps talk to a real loopback HTTP server, so what the
demo shows is what a client sees against a workspace.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

MERCHANTS = [
    {"merchant_id": "m_001", "name": "Blue Bottle", "country": "US", "risk_score": 0.12, "chargebacks_30d": 0},
    {"merchant_id": "m_002", "name": "Night Owl Gadgets", "country": "GB", "risk_score": 0.81, "chargebacks_30d": 7},
    {"merchant_id": "m_003", "name": "Corner Pharmacy", "country": "US", "risk_score": 0.33, "chargebacks_30d": 1},
    {"merchant_id": "m_004", "name": "Gift Cards 24/7", "country": "MT", "risk_score": 0.97, "chargebacks_30d": 19},
]
TABLE = "main.fraud.merchants"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the end-to-end demo on the embedded local workspace",
        description="Start the embedded local workspace and walk through what dbx-native does, step by step.",
    )
    parser.add_argument("--root", help="persist local tables under this directory (default: in memory)")
    parser.set_defaults(func=run)


def _step(n: int, title: str) -> None:
    print(f"\n[{n}] {title}")


def run(args: argparse.Namespace) -> int:
    from dbx_native.config import DbxConfig
    from dbx_native.errors import NotFoundError
    from dbx_native.local import LocalWorkspace
    from dbx_native.rest import RestClient

    started = time.perf_counter()
    print("dbx-native demo: everything below runs on the embedded local workspace (no Databricks account).")
    ws = LocalWorkspace(root=args.root)
    with ws.serve() as server:
        _step(1, "Local workspace")
        print(f"    serving the Databricks REST protocol on {server.host}")
        config = DbxConfig(host=server.host, token=server.token, retry={"max_retry_after": 5.0})
        client = RestClient(config=config)

        _step(2, "Unity Catalog table")
        ws.create_table(TABLE, MERCHANTS, primary_key="merchant_id")
        table = client.get(f"/api/2.1/unity-catalog/tables/{TABLE}")
        columns = ", ".join(f"{c['name']} {c['type_text']}" for c in table["columns"])
        print(f"    {table['full_name']} ({table['table_type']}, {table['data_source_format']}): {columns}")

        _step(3, "SQL statement execution with named parameters (values travel as parameters, never as SQL)")
        result = client.post(
            "/api/2.0/sql/statements",
            body={
                "warehouse_id": "local",
                "statement": f"SELECT merchant_id, name, risk_score FROM {TABLE} "
                "WHERE risk_score >= :min_risk ORDER BY risk_score DESC",
                "parameters": [{"name": "min_risk", "value": "0.5", "type": "DOUBLE"}],
            },
        )
        for row in result["result"]["data_array"]:
            print(f"    {row[0]}  {row[1]:<24} risk {row[2]}")

        _step(4, "Retries: two injected 429s with Retry-After, then success")
        ws.faults.add(status=429, retry_after="0.2", times=2, error_code="REQUEST_LIMIT_EXCEEDED", path="/tables/")
        before = len(ws.requests)
        t0 = time.perf_counter()
        client.get(f"/api/2.1/unity-catalog/tables/{TABLE}")
        print(
            f"    {len(ws.requests) - before} attempts, waited {time.perf_counter() - t0:.2f} s as the server asked; "
            "the caller saw one successful call"
        )

        _step(5, "Errors: one tree, status refined by Databricks error_code, message says what to do")
        try:
            client.get("/api/2.1/unity-catalog/tables/main.fraud.no_such_table")
        except NotFoundError as err:
            print(f"    {type(err).__name__}: {err}")

        _step(6, "The official databricks-sdk against the same local workspace")
        from databricks.sdk import WorkspaceClient

        w = WorkspaceClient(host=server.host, token=server.token, auth_type="pat")
        info = w.tables.get(TABLE)
        print(f"    WorkspaceClient.tables.get -> {info.full_name}, {len(info.columns or [])} columns")
        client.close()

        from dbx_native.cli._demo_features import _features_step

        _features_step(7, ws, config)

        _gateway_step(8, ws, config)

        from dbx_native.cli._demo_vector import _vector_step

        _vector_step(9, ws, config)

        from dbx_native.cli._demo_monitoring import _monitoring_step

        _monitoring_step(10, ws, config)

        from dbx_native.cli._demo_ops import _ops_step

        _ops_step(11, ws, config)

    print(f"\ndemo finished in {time.perf_counter() - started:.1f} s")
    return 0


def _gateway_step(n: int, ws: Any, config: Any) -> None:
    from dbx_native.gateway import GatewayClient, PiiGuard, Price, PriceTable

    _step(n, "GatewayClient: fallback on 503, cost, PII masked before the model sees it")
    verdict = "Merchant m_002: 7 chargebacks in 30 days and a 0.81 risk score: review before approving."
    ws.serving.create_endpoint("fraud-llm", model=["(unused: this endpoint is failing)"])
    ws.serving.create_endpoint("fraud-llm-backup", model=[verdict])
    ws.faults.add(status=503, times=None, path="/serving-endpoints/fraud-llm/")
    prices = PriceTable(
        {
            "fraud-llm": Price(input_per_million_tokens=3.0, output_per_million_tokens=15.0),
            "fraud-llm-backup": Price(input_per_million_tokens=0.5, output_per_million_tokens=1.5),
        }
    )
    gw = GatewayClient(
        "fraud-llm", fallbacks=["fraud-llm-backup"], config=config, prices=prices, guard=PiiGuard(input="mask")
    )
    question = "Card 4111 1111 1111 1111 (holder jane.doe@example.com) was declined twice at m_002. Risky?"
    reply = gw.chat([{"role": "user", "content": question}], max_tokens=128)
    sent = ws.requests.filter(path="/serving-endpoints/fraud-llm-backup/invocations")[-1].json()
    print(f"    asked     {question}")
    print(f"    model saw {sent['messages'][0]['content']}")
    print(f"    answered  {reply.text}")
    cost = reply.cost.total if reply.cost else 0.0
    print(
        f"    endpoint {reply.endpoint} after {reply.fallbacks_tried} failed; "
        f"{reply.usage.total_tokens} tokens, cost ${cost:.6f}; ledger total ${gw.ledger.total:.6f}"
    )
    ws.faults.clear()
