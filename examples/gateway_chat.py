"""GatewayClient in an agent step: chat with tools, a fallback endpoint, cost tracking and a PII guard.

Runs on the embedded local workspace by default (no account needed). With DATABRICKS_HOST and
DATABRICKS_TOKEN set and `--live ENDPOINT [FALLBACK]`, the same code calls a real workspace.

    python examples/gateway_chat.py
    python examples/gateway_chat.py --live databricks-claude-sonnet-4 databricks-meta-llama-3-3-70b-instruct
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from typing import Any

from dbx_native import DbxConfig, GatewayClient, PiiGuard, Price, PriceTable

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "merchant_risk",
            "description": "Risk score and recent chargebacks of a merchant",
            "parameters": {
                "type": "object",
                "properties": {"merchant_id": {"type": "string"}},
                "required": ["merchant_id"],
            },
        },
    }
]


def merchant_risk(merchant_id: str) -> dict[str, Any]:
    return {"merchant_id": merchant_id, "risk_score": 0.81, "chargebacks_30d": 7}


@contextlib.contextmanager
def local_workspace() -> Iterator[tuple[DbxConfig, str, list[str]]]:
    from dbx_native.local import LocalWorkspace, ScriptedReply

    ws = LocalWorkspace()
    script = [
        ScriptedReply(tool_calls=[{"name": "merchant_risk", "arguments": {"merchant_id": "m_002"}}]),
        ScriptedReply(content="m_002 is high risk (0.81, 7 chargebacks in 30 days): hold the payment."),
    ]
    ws.serving.create_endpoint("fraud-llm", model=script)
    with ws.intercept():
        yield ws.config, "fraud-llm", []


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--live", nargs="+", metavar="ENDPOINT", help="call a real workspace instead")
    args = parser.parse_args()
    if args.live:
        ctx: Any = contextlib.nullcontext((DbxConfig(), args.live[0], args.live[1:]))
    else:
        ctx = local_workspace()
    with ctx as (config, endpoint, fallbacks):
        gw = GatewayClient(
            endpoint,
            fallbacks=fallbacks,
            config=config,
            prices=PriceTable({endpoint: Price(input_per_million_tokens=3.0, output_per_million_tokens=15.0)}),
            guard=PiiGuard(input="mask"),
        )
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": "Customer jane@example.com paid at merchant m_002. Hold or release?"}
        ]
        while True:
            reply = gw.chat(messages, tools=TOOLS, max_tokens=256)
            messages.append(reply.message)
            if not reply.tool_calls:
                break
            for call in reply.tool_calls:
                result = merchant_risk(**call.arguments)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
        print(reply.text)
        print(f"endpoint={reply.endpoint} tokens={reply.usage.total_tokens} total cost=${gw.ledger.total:.6f}")


if __name__ == "__main__":
    main()
