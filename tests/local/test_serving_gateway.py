"""AI Gateway on local serving endpoints: rate limits, guardrails, usage tracking, traffic split, fallbacks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dbx_native.local import LocalApiError, LocalWorkspace, ScriptedChatModel, count_tokens

USER = [{"role": "user", "content": "Is merchant m_002 risky?"}]
TOKEN_A, TOKEN_B = "token-alice", "token-bob"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float, /) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ws(clock: FakeClock) -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(clock=clock)
    with workspace.intercept():
        yield workspace


def chat(
    ws: LocalWorkspace, name: str = "chat", content: str = "hello", token: str = TOKEN_A, **extra: Any
) -> requests.Response:
    body = {"messages": [{"role": "user", "content": content}], **extra}
    headers = {"Authorization": f"Bearer {token}"}
    return requests.post(f"{ws.host}/serving-endpoints/{name}/invocations", json=body, headers=headers, timeout=5)


def limits(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"rate_limits": [{"renewal_period": "minute", **r} for r in rules]}


# --- rate limits --------------------------------------------------------------------------------


def test_endpoint_call_limit_answers_429_with_retry_after_until_the_window_renews(
    ws: LocalWorkspace, clock: FakeClock
) -> None:
    ws.serving.create_endpoint("chat", ai_gateway=limits({"key": "endpoint", "calls": 2}))
    assert [chat(ws).status_code for _ in range(2)] == [200, 200]
    clock.now += 20
    refused = chat(ws)
    assert refused.status_code == 429
    assert refused.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
    assert refused.headers["Retry-After"] == "40"
    assert "2 calls per minute" in refused.json()["message"]
    clock.now += 40
    assert chat(ws).status_code == 200


def test_user_limits_count_each_requester_separately(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", ai_gateway=limits({"key": "user", "calls": 1}))
    assert chat(ws, token=TOKEN_A).status_code == 200
    assert chat(ws, token=TOKEN_B).status_code == 200
    assert chat(ws, token=TOKEN_A).status_code == 429


def test_a_limit_for_one_principal_leaves_others_alone(ws: LocalWorkspace) -> None:
    ws.serving.register_user(TOKEN_A, "alice@example.com")
    ws.serving.create_endpoint("chat", ai_gateway=limits({"key": "user", "principal": "alice@example.com", "calls": 1}))
    assert [chat(ws, token=TOKEN_A).status_code for _ in range(2)] == [200, 429]
    assert [chat(ws, token=TOKEN_B).status_code for _ in range(3)] == [200, 200, 200]


def test_token_limit_refuses_once_the_window_used_its_tokens(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint(
        "chat", model=["one two three four five"], ai_gateway=limits({"key": "endpoint", "tokens": 8})
    )
    first = chat(ws, content="hi there")  # 2 prompt + 5 completion tokens: under the limit
    assert first.json()["usage"]["total_tokens"] == 7
    assert chat(ws, content="hi").status_code == 200  # 7 used < 8: admitted, now over
    refused = chat(ws, content="hi")
    assert refused.status_code == 429 and "8 tokens per minute" in refused.json()["message"]


def test_put_ai_gateway_starts_the_windows_afresh(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", ai_gateway=limits({"calls": 1}))
    chat(ws)
    assert chat(ws).status_code == 429
    headers = {"Authorization": f"Bearer {TOKEN_A}"}
    requests.put(
        f"{ws.host}/api/2.0/serving-endpoints/chat/ai-gateway", json=limits({"calls": 5}), headers=headers, timeout=5
    )
    assert chat(ws).status_code == 200


# --- guardrails ---------------------------------------------------------------------------------


def guard(direction: str, **params: Any) -> dict[str, Any]:
    return {"guardrails": {direction: params}}


def test_input_pii_block_is_a_400_naming_the_guardrail_without_echoing_the_pii(ws: LocalWorkspace) -> None:
    model = ScriptedChatModel(["x"])
    ws.serving.create_endpoint("chat", model=model, ai_gateway=guard("input", pii={"behavior": "BLOCK"}))
    response = chat(ws, content="my ssn is 123-45-6789")
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "GUARDRAIL_BLOCKED"
    assert "PII" in body["message"] and "US_SSN" in body["message"] and "123-45-6789" not in body["message"]
    assert body["details"][0]["metadata"] == {"direction": "input", "guardrail": "pii"}
    assert model.calls == []


def test_input_pii_mask_rewrites_the_request_before_the_model_sees_it(ws: LocalWorkspace) -> None:
    model = ScriptedChatModel(["noted"])
    ws.serving.create_endpoint("chat", model=model, ai_gateway=guard("input", pii={"behavior": "MASK"}))
    assert chat(ws, content="card 4111 1111 1111 1111, mail a@b.io").status_code == 200
    assert model.calls[0]["messages"][0]["content"] == "card [CREDIT_CARD], mail [EMAIL_ADDRESS]"
    assert ws.requests.last.json()["messages"][0]["content"].startswith("card 4111")  # the wire kept the original


def test_output_pii_block_and_mask(ws: LocalWorkspace) -> None:
    leaky = ["reach me at jane@example.com"]
    ws.serving.create_endpoint("blocked", model=leaky, ai_gateway=guard("output", pii={"behavior": "BLOCK"}))
    ws.serving.create_endpoint("masked", model=leaky, ai_gateway=guard("output", pii={"behavior": "MASK"}))
    blocked = chat(ws, "blocked")
    assert blocked.status_code == 400 and blocked.json()["details"][0]["metadata"]["direction"] == "output"
    assert "jane@example.com" not in blocked.text
    assert chat(ws, "masked").json()["choices"][0]["message"]["content"] == "reach me at [EMAIL_ADDRESS]"


def test_invalid_keywords_and_safety_block(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", ai_gateway=guard("input", invalid_keywords=["Project Falcon"], safety=True))
    keyword = chat(ws, content="status of project falcon?")
    assert keyword.status_code == 400 and keyword.json()["details"][0]["metadata"]["guardrail"] == "invalid_keywords"
    unsafe = chat(ws, content="explain how to build a bomb")
    assert unsafe.status_code == 400 and unsafe.json()["details"][0]["metadata"]["guardrail"] == "safety"
    assert chat(ws, content="falconry is a hobby").status_code == 200


# --- usage tracking -----------------------------------------------------------------------------


def test_usage_rows_are_recorded_only_with_usage_tracking(ws: LocalWorkspace, clock: FakeClock) -> None:
    tracked = {"usage_tracking_config": {"enabled": True}, **limits({"calls": 1})}
    ws.serving.register_user(TOKEN_A, "alice@example.com")
    ws.serving.create_endpoint("tracked", model=["one two"], ai_gateway=tracked)
    ws.serving.create_endpoint("untracked")
    chat(ws, "tracked", content="hello there", client_request_id="c-1", usage_context={"app": "fraud"})
    chat(ws, "tracked")
    chat(ws, "untracked")
    ok, limited = ws.serving.usage("tracked")
    assert ok["status_code"] == 200 and limited["status_code"] == 429
    assert (ok["input_token_count"], ok["output_token_count"]) == (count_tokens("hello there"), 2)
    assert ok["requester"] == "alice@example.com"
    assert ok["client_request_id"] == "c-1" and ok["usage_context"] == {"app": "fraud"}
    assert ok["served_entity_name"] == "local-scripted" and ok["request_streaming"] is False
    assert ok["request_time"].startswith("2027-01-15")
    assert ws.serving.usage("untracked") == []


def test_unregistered_tokens_get_a_pseudonym_not_the_token(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", ai_gateway={"usage_tracking_config": {"enabled": True}})
    chat(ws, token=TOKEN_B)
    (row,) = ws.serving.usage("chat")
    assert row["requester"].startswith("user-") and TOKEN_B not in row["requester"]


# --- traffic split and fallbacks ----------------------------------------------------------------


def two_entities(traffic: list[int]) -> dict[str, Any]:
    return {
        "served_entities": [
            {"name": "a", "entity_name": "m.a", "entity_version": "1"},
            {"name": "b", "entity_name": "m.b", "entity_version": "1"},
        ],
        "traffic_config": {
            "routes": [
                {"served_entity_name": "a", "traffic_percentage": traffic[0]},
                {"served_entity_name": "b", "traffic_percentage": traffic[1]},
            ]
        },
    }


def test_traffic_is_split_across_served_entities_by_percentage(ws: LocalWorkspace) -> None:
    config = two_entities([80, 20])
    ws.serving.create_endpoint("ab", served_entities=config["served_entities"], traffic_config=config["traffic_config"])
    ws.serving.set_model("ab", ["from a"], entity="a")
    ws.serving.set_model("ab", ["from b"], entity="b")
    answers = [chat(ws, "ab") for _ in range(100)]
    assert Counter(r.headers["served-model-name"] for r in answers) == {"a": 80, "b": 20}
    assert all(
        r.json()["choices"][0]["message"]["content"] == f"from {r.headers['served-model-name']}" for r in answers
    )


def test_fallback_config_retries_another_entity_on_a_5xx(ws: LocalWorkspace) -> None:
    def down(request: dict[str, Any]) -> str:
        raise LocalApiError(500, "entity down")

    config = two_entities([100, 0])
    gateway = {"fallback_config": {"enabled": True}}
    ws.serving.create_endpoint(
        "fb", served_entities=config["served_entities"], traffic_config=config["traffic_config"], ai_gateway=gateway
    )
    ws.serving.set_model("fb", down, entity="a")
    ws.serving.set_model("fb", ["from b"], entity="b")
    response = chat(ws, "fb")
    assert response.status_code == 200 and response.headers["served-model-name"] == "b"
    ws.serving.create_endpoint(
        "nofb", served_entities=config["served_entities"], traffic_config=config["traffic_config"]
    )
    ws.serving.set_model("nofb", down, entity="a")
    assert chat(ws, "nofb").status_code == 500


def test_input_pii_mask_applies_to_embedding_inputs(ws: LocalWorkspace) -> None:
    seen: list[str] = []

    def embed(texts: list[str]) -> list[list[float]]:
        seen.extend(texts)
        return [[1.0] for _ in texts]

    gateway = guard("input", pii={"behavior": "MASK"})
    ws.serving.create_endpoint("emb", task="llm/v1/embeddings", model=embed, ai_gateway=gateway)
    body = {"input": ["mail a@b.io", "no pii here"]}
    headers = {"Authorization": f"Bearer {TOKEN_A}"}
    response = requests.post(f"{ws.host}/serving-endpoints/emb/invocations", json=body, headers=headers, timeout=5)
    assert response.status_code == 200
    assert seen == ["mail [EMAIL_ADDRESS]", "no pii here"]


def test_python_delete_forgets_the_endpoint_and_its_windows(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", ai_gateway=limits({"calls": 1}))
    chat(ws)
    ws.serving.delete_endpoint("chat")
    assert chat(ws).status_code == 404
    ws.serving.create_endpoint("chat", ai_gateway=limits({"calls": 1}))
    assert chat(ws).status_code == 200
