"""GatewayClient end to end against the local workspace's serving backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native._core.clock import FakeClock
from dbx_native.errors import (
    APIResponseError,
    BadRequestError,
    BudgetExceededError,
    GuardrailError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    StreamInterruptedError,
)
from dbx_native.gateway import Budget, GatewayClient, PiiGuard, Price, PriceTable, RateLimit
from dbx_native.local import LocalWorkspace, ScriptedChatModel, ScriptedReply

USER = [{"role": "user", "content": "Is merchant m_002 risky?"}]


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.intercept():
        yield workspace


def client(ws: LocalWorkspace, route: Any = "chat", **options: Any) -> GatewayClient:
    config = DbxConfig(host=ws.host, token=CANARY, retry={"jitter": 0.0})
    return GatewayClient(route, config=config, clock=options.pop("clock", FakeClock()), **options)


def invocations(ws: LocalWorkspace, endpoint: str) -> list[Any]:
    return [r for r in ws.requests if r.path == f"/serving-endpoints/{endpoint}/invocations"]


def test_chat_returns_text_usage_endpoint_and_request_id(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["It has 7 chargebacks in 30 days: high risk."])
    r = client(ws).chat(USER, max_tokens=64, temperature=0.1)
    assert r.text == "It has 7 chargebacks in 30 days: high risk."
    assert r.message["role"] == "assistant"
    assert r.finish_reason == "stop"
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.estimated is False
    assert (r.endpoint, r.route, r.fallbacks_tried) == ("chat", "chat", [])
    assert r.request_id
    sent = invocations(ws, "chat")[-1].json()
    assert sent["max_tokens"] == 64 and sent["temperature"] == 0.1 and sent["messages"] == USER


def test_tool_calls_are_typed(ws: LocalWorkspace) -> None:
    reply = ScriptedReply(tool_calls=[{"name": "lookup_merchant", "arguments": {"merchant_id": "m_002"}}])
    ws.serving.create_endpoint("chat", model=[reply])
    tools = [
        {"type": "function", "function": {"name": "lookup_merchant", "strict": True, "parameters": {"type": "object"}}}
    ]
    r = client(ws).chat(USER, tools=tools, tool_choice="auto")
    (call,) = r.tool_calls
    assert call.name == "lookup_merchant"
    assert call.arguments == {"merchant_id": "m_002"}
    assert json.loads(call.arguments_json) == {"merchant_id": "m_002"}
    assert r.finish_reason == "tool_calls"
    sent_tool = invocations(ws, "chat")[-1].json()["tools"][0]["function"]
    assert "strict" not in sent_tool  # a non-OpenAI endpoint name: strict removed


class Verdict(BaseModel):
    fraud: bool
    reason: str


def test_structured_output_is_validated_into_parsed(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=['{"fraud": true, "reason": "chargebacks"}'])
    r = client(ws).chat(USER, response_format=Verdict)
    assert r.parsed == Verdict(fraud=True, reason="chargebacks")
    fmt = invocations(ws, "chat")[-1].json()["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "Verdict"


def test_structured_output_mismatch_is_a_response_error(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["not json at all"])
    with pytest.raises(APIResponseError, match="does not fit Verdict"):
        client(ws).chat(USER, response_format=Verdict)


def test_fallback_under_injected_503s(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("primary", model=["primary"])
    ws.serving.create_endpoint("backup", model=["backup answered"])
    ws.faults.add(status=503, times=None, path="/serving-endpoints/primary/")
    clock = FakeClock()
    r = client(ws, "primary", fallbacks=["backup"], clock=clock).chat(USER)
    assert (r.text, r.endpoint, r.fallbacks_tried) == ("backup answered", "backup", ["primary"])
    assert len(invocations(ws, "primary")) == 1  # no retries on an endpoint that has a fallback after it
    assert clock.sleeps == []


def test_last_endpoint_keeps_its_retries_and_raises_the_real_error(ws: LocalWorkspace) -> None:
    for name in ("a", "b"):
        ws.serving.create_endpoint(name, model=["x"])
    ws.faults.add(status=503, times=None, path="/serving-endpoints/")
    clock = FakeClock()
    with pytest.raises(ServiceUnavailableError):
        client(ws, "a", fallbacks=["b"], clock=clock).chat(USER)
    assert len(invocations(ws, "a")) == 1
    assert len(invocations(ws, "b")) == 4  # the policy's 4 attempts
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_no_fallback_on_a_client_error(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("a", model=["x"])
    ws.serving.create_endpoint("b", model=["y"])
    ws.faults.add(status=400, times=1, path="/serving-endpoints/a/", message="bad temperature")
    with pytest.raises(BadRequestError):
        client(ws, "a", fallbacks=["b"]).chat(USER)
    assert invocations(ws, "b") == []


def test_fallback_on_rate_limit_to_a_provisioned_endpoint(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("ppt", model=["x"])
    ws.serving.create_endpoint("pt", model=["from pt"])
    ws.faults.add(status=429, times=1, error_code="REQUEST_LIMIT_EXCEEDED", retry_after="1", path="/ppt/")
    assert client(ws, "ppt", fallbacks=["pt"]).chat(USER).endpoint == "pt"


def test_unknown_endpoint_is_not_found_with_advice(ws: LocalWorkspace) -> None:
    with pytest.raises(NotFoundError, match="Check the name"):
        client(ws, "nope").chat(USER)


def test_ab_split_records_the_chosen_endpoint_and_sticks(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("v1", model=["v1"])
    ws.serving.create_endpoint("v2", model=["v2"])
    gw = client(ws, {"v1": 50, "v2": 50})
    seen = {gw.chat(USER, ab_key=f"user-{i}").endpoint for i in range(40)}
    assert seen == {"v1", "v2"}
    first = gw.chat(USER, ab_key="user-7")
    assert all(gw.chat(USER, ab_key="user-7").endpoint == first.endpoint for _ in range(5))
    assert first.text == first.endpoint
    assert first.route == "ab:v1|v2"


def test_cost_is_computed_and_recorded_by_route_endpoint_and_tag(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint(
        "chat", model=[ScriptedReply(content="ok", usage={"prompt_tokens": 1000, "completion_tokens": 200})]
    )
    prices = PriceTable({"chat": Price(input_per_million_tokens=3.0, output_per_million_tokens=15.0)})
    gw = client(ws, prices=prices)
    r = gw.chat(USER, tags=["team-fraud"])
    assert r.cost is not None
    assert r.cost.total == pytest.approx(0.003 + 0.003)
    assert gw.ledger.by_tag() == {"team-fraud": pytest.approx(0.006)}
    assert gw.ledger.by_endpoint() == {"chat": pytest.approx(0.006)}


def test_budget_refuses_before_sending(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["ok"])
    prices = PriceTable({"chat": Price(input_per_million_tokens=1.0, output_per_million_tokens=1_000_000.0)})
    gw = client(ws, prices=prices, budget=Budget(1.0))
    with pytest.raises(BudgetExceededError):
        gw.chat(USER, max_tokens=10)  # up to 10 output tokens at $1 each
    assert invocations(ws, "chat") == []


def test_client_side_rate_limit_raises_without_sending(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["ok"])
    gw = client(ws, rate_limit=RateLimit(requests_per_minute=1, wait=False, clock=FakeClock()))
    gw.chat(USER)
    with pytest.raises(RateLimitError, match="client-side"):
        gw.chat(USER)
    assert len(invocations(ws, "chat")) == 1


def test_pii_guard_masks_before_the_model_sees_it(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["noted"])
    client(ws, guard=PiiGuard(input="mask")).chat(
        [{"role": "user", "content": "card 4111 1111 1111 1111, mail a@b.io"}]
    )
    sent = invocations(ws, "chat")[-1].json()["messages"][0]["content"]
    assert sent == "card [CREDIT_CARD], mail [EMAIL]"


def test_pii_guard_blocks_output(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["reach me at jane@example.com"])
    with pytest.raises(GuardrailError) as info:
        client(ws, guard=PiiGuard(input="off", output="block")).chat(USER)
    assert info.value.stage == "output"
    assert "jane@example.com" not in str(info.value)


def test_ai_gateway_pii_block_is_a_guardrail_error(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint(
        "chat", model=["x"], ai_gateway={"guardrails": {"input": {"pii": {"behavior": "BLOCK"}}}}
    )
    with pytest.raises(GuardrailError) as info:
        client(ws).chat([{"role": "user", "content": "my ssn is 123-45-6789"}])
    assert info.value.stage == "input"


def test_ai_gateway_rate_limit_is_a_rate_limit_error_with_retry_after(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint(
        "chat", model=["x"], ai_gateway={"rate_limits": [{"key": "endpoint", "renewal_period": "minute", "calls": 1}]}
    )
    gw = client(ws).with_options(max_attempts=1)
    gw.chat(USER)
    with pytest.raises(RateLimitError) as info:
        gw.chat(USER)
    assert info.value.error_code == "REQUEST_LIMIT_EXCEEDED"
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 60


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ([], "empty"),
        ([{"role": "wizard", "content": "x"}], "unknown role"),
        ([{"role": "user"}], "no content"),
        ("hello", "list"),
        ([{"role": "tool", "content": "42"}], "tool_call_id"),
    ],
)
def test_bad_messages_fail_before_sending(ws: LocalWorkspace, messages: Any, match: str) -> None:
    with pytest.raises(InvalidRequestError, match=match):
        client(ws).chat(messages)
    assert len(ws.requests) == 0


def test_payload_over_the_foundation_model_limit_fails_before_sending(ws: LocalWorkspace) -> None:
    big = [{"role": "user", "content": "x" * (4 * 1024 * 1024)}]
    with pytest.raises(InvalidRequestError, match="4 MB"):
        client(ws, "databricks-claude-sonnet-4").chat(big)
    assert len(ws.requests) == 0


@pytest.mark.parametrize("route", ["", "has space", "a/b"])
def test_bad_route_names_are_refused_at_construction(ws: LocalWorkspace, route: str) -> None:
    with pytest.raises(InvalidRequestError):
        client(ws, route)


def test_stream_yields_chunks_and_ends_with_total_usage(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["one two three four five"])
    chunks = list(client(ws).stream(USER))
    assert "".join(c.delta for c in chunks) == "one two three four five"
    assert len(chunks) > 2
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_sums_partial_usage_pieces(ws: LocalWorkspace) -> None:
    model = ScriptedChatModel(
        [ScriptedReply(content="a b c", usage={"prompt_tokens": 11, "completion_tokens": 3})], partial_usage=True
    )
    ws.serving.create_endpoint("chat", model=model)
    final = list(client(ws).stream(USER))[-1]
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens, final.usage.total_tokens) == (11, 3, 14)


def test_stream_validates_arguments_on_call_not_on_iteration(ws: LocalWorkspace) -> None:
    with pytest.raises(InvalidRequestError):
        client(ws).stream([])


def test_stream_falls_back_before_the_first_byte(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("a", model=["x"])
    ws.serving.create_endpoint("b", model=["from b"])
    ws.faults.add(status=503, times=None, path="/serving-endpoints/a/")
    chunks = list(client(ws, "a", fallbacks=["b"]).stream(USER))
    assert "".join(c.delta for c in chunks) == "from b"
    assert chunks[-1].endpoint == "b"


def test_embed_batches_keep_order_and_sum_usage(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("gte", task="llm/v1/embeddings", dimension=64)
    texts = [f"text number {i}" for i in range(23)]
    gw = client(ws, "chat")
    e = gw.embed(texts, route="gte", batch_size=5, max_concurrency=3)
    assert len(e.vectors) == 23 and e.dimension == 64
    single = gw.embed([texts[17]], route="gte")
    assert single.vectors[0] == pytest.approx(e.vectors[17])
    assert len(invocations(ws, "gte")) == 5 + 1
    assert e.usage.prompt_tokens > 0


@pytest.mark.parametrize("texts", [[], "just a string", ["ok", 3]])
def test_embed_bad_input_fails_before_sending(ws: LocalWorkspace, texts: Any) -> None:
    with pytest.raises(InvalidRequestError):
        client(ws).embed(texts)
    assert len(ws.requests) == 0


def test_complete_on_a_completions_endpoint(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("cmp", task="llm/v1/completions", model=[" there was a merchant."])
    r = client(ws, "cmp").complete("Once upon a time", max_tokens=8)
    assert r.text == " there was a merchant."
    assert r.endpoint == "cmp"
    assert invocations(ws, "cmp")[-1].json()["prompt"] == "Once upon a time"


def test_chat_span_has_gen_ai_attributes(ws: LocalWorkspace, span_exporter: Any) -> None:
    ws.serving.create_endpoint("a", model=["x"])
    ws.serving.create_endpoint("b", model=["y"])
    ws.faults.add(status=503, times=1, path="/serving-endpoints/a/")
    client(ws, "a", fallbacks=["b"]).chat(USER, max_tokens=5)
    (span,) = span_exporter.get_finished_spans()
    attrs = dict(span.attributes)
    assert span.name == "chat a"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "a"
    assert attrs["gen_ai.response.model"] == "b"
    assert attrs["gen_ai.usage.input_tokens"] > 0
    assert attrs["dbx_native.fallback_used"] is True
    assert attrs["dbx_native.fallbacks_tried"] == "a"
    assert "gen_ai.completion" not in attrs  # content capture is off by default


def test_stream_interrupted_mid_way_carries_the_partial_text(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["alpha beta gamma delta epsilon zeta"])
    ws.faults.add(drop_after_events=3, path="/serving-endpoints/chat/")
    received: list[str] = []
    with pytest.raises(StreamInterruptedError) as info:
        for chunk in client(ws).stream(USER):
            received.append(chunk.delta)
    assert info.value.partial_text == "".join(received)
    assert info.value.partial_text  # something arrived before the break
    assert info.value.chunks_received == len(received)
    assert not "alpha beta gamma delta epsilon zeta".startswith(info.value.partial_text + "x")


def test_stream_over_the_loopback_server_and_its_mid_stream_drop() -> None:
    ws = LocalWorkspace(token=CANARY)
    ws.serving.create_endpoint("chat", model=["one two three four five six"])
    with ws.serve() as server:
        gw = GatewayClient("chat", config=DbxConfig(host=server.host, token=CANARY))
        assert "".join(c.delta for c in gw.stream(USER)) == "one two three four five six"
        ws.faults.add(drop_after_events=2, path="/serving-endpoints/chat/")
        with pytest.raises(StreamInterruptedError) as info:
            list(gw.stream(USER))
        assert info.value.partial_text and "six" not in info.value.partial_text
