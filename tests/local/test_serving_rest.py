"""Serving endpoints over REST, in-process with plain `requests`: CRUD, states, invocations and errors."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dbx_native.errors import InvalidRequestError
from dbx_native.local import LocalWorkspace, ScriptedReply, count_tokens

AUTH = {"Authorization": "Bearer test-token"}
API = "/api/2.0/serving-endpoints"
USER = [{"role": "user", "content": "Is merchant m_002 risky?"}]


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace()
    with workspace.intercept():
        yield workspace


def call(ws: LocalWorkspace, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, ws.host + path, json=body, headers=AUTH, timeout=5)


def create_body(name: str = "chat", **extra: Any) -> dict[str, Any]:
    entity = {"name": "llama", "entity_name": "system.ai.llama_v3_3_70b_instruct", "entity_version": "1"}
    return {"name": name, "config": {"served_entities": [entity]}, **extra}


# --- control plane ------------------------------------------------------------------------------


def test_create_answers_a_detail_still_being_created_then_get_is_ready(ws: LocalWorkspace) -> None:
    created = call(ws, "POST", API, create_body(tags=[{"key": "team", "value": "fraud"}]))
    assert created.status_code == 200
    detail = created.json()
    assert detail["state"] == {"ready": "NOT_READY", "config_update": "IN_PROGRESS"}
    assert detail["name"] == "chat" and detail["task"] == "llm/v1/chat"
    assert detail["config"]["served_entities"][0]["name"] == "llama"
    assert detail["config"]["traffic_config"] == {
        "routes": [{"served_entity_name": "llama", "traffic_percentage": 100}]
    }
    assert detail["tags"] == [{"key": "team", "value": "fraud"}]
    got = call(ws, "GET", f"{API}/chat").json()
    assert got["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    assert got["config"]["served_entities"][0]["state"]["deployment"] == "DEPLOYMENT_READY"
    assert got["id"] == detail["id"]


def test_scripted_states_keep_an_endpoint_not_ready_for_some_reads(ws: LocalWorkspace) -> None:
    ws.states.set("serving-endpoint", ["NOT_READY", "READY"], after_reads=2)
    call(ws, "POST", API, create_body())
    readiness = [call(ws, "GET", f"{API}/chat").json()["state"]["ready"] for _ in range(3)]
    assert readiness == ["NOT_READY", "NOT_READY", "READY"]


def test_list_and_delete(ws: LocalWorkspace) -> None:
    call(ws, "POST", API, create_body("a"))
    call(ws, "POST", API, create_body("b"))
    assert [e["name"] for e in call(ws, "GET", API).json()["endpoints"]] == ["a", "b"]
    assert call(ws, "DELETE", f"{API}/a").status_code == 200
    assert [e["name"] for e in call(ws, "GET", API).json()["endpoints"]] == ["b"]
    assert call(ws, "GET", f"{API}/a").status_code == 404


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", ""), ("DELETE", ""), ("PUT", "/config"), ("PUT", "/ai-gateway")]
)
def test_unknown_endpoints_are_resource_does_not_exist(ws: LocalWorkspace, method: str, suffix: str) -> None:
    response = call(ws, method, f"{API}/missing{suffix}", {})
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert "missing" in response.json()["message"]


def test_duplicate_create_is_a_conflict(ws: LocalWorkspace) -> None:
    call(ws, "POST", API, create_body())
    response = call(ws, "POST", API, create_body())
    assert response.status_code == 409
    assert response.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"


@pytest.mark.parametrize(
    "body",
    [
        {"config": {"served_entities": [{"entity_name": "m"}]}},
        {"name": "has space", "config": {"served_entities": [{"entity_name": "m"}]}},
        {"name": "x"},
        {"name": "x", "config": {"served_entities": []}},
        {
            "name": "x",
            "config": {
                "served_entities": [{"entity_name": "m", "name": "a"}],
                "traffic_config": {"routes": [{"served_entity_name": "zz", "traffic_percentage": 100}]},
            },
        },
        {
            "name": "x",
            "config": {
                "served_entities": [{"entity_name": "m", "name": "a"}],
                "traffic_config": {"routes": [{"served_entity_name": "a", "traffic_percentage": 60}]},
            },
        },
        {**create_body("x"), "ai_gateway": {"rate_limits": [{"renewal_period": "hour", "calls": 1}]}},
        {**create_body("x"), "ai_gateway": {"guardrails": {"input": {"pii": {"behavior": "SHRED"}}}}},
    ],
)
def test_bad_create_bodies_are_invalid_parameter_values(ws: LocalWorkspace, body: dict[str, Any]) -> None:
    response = call(ws, "POST", API, body)
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert call(ws, "GET", API).json()["endpoints"] == []


def test_malformed_json_is_a_400(ws: LocalWorkspace) -> None:
    response = requests.post(ws.host + API, data=b"{nope", headers=AUTH, timeout=5)
    assert response.status_code == 400
    assert response.json()["error_code"] == "MALFORMED_REQUEST"


def test_update_config_goes_through_a_pending_config(ws: LocalWorkspace) -> None:
    ws.states.set("serving-endpoint-config", ["IN_PROGRESS", "NOT_UPDATING"], after_reads=1)
    call(ws, "POST", API, create_body())
    new = {"served_entities": [{"name": "v2", "entity_name": "main.models.v2", "entity_version": "2"}]}
    updated = call(ws, "PUT", f"{API}/chat/config", new).json()
    assert updated["state"]["config_update"] == "IN_PROGRESS"
    assert updated["pending_config"]["served_entities"][0]["name"] == "v2"
    assert updated["config"]["served_entities"][0]["name"] == "llama"
    first = call(ws, "GET", f"{API}/chat").json()
    assert first["state"]["config_update"] == "IN_PROGRESS"
    second = call(ws, "GET", f"{API}/chat").json()
    assert second["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    assert [e["name"] for e in second["config"]["served_entities"]] == ["v2"]
    assert second["config"]["config_version"] == 2 and "pending_config" not in second


def test_put_ai_gateway_answers_the_config_and_get_shows_it(ws: LocalWorkspace) -> None:
    call(ws, "POST", API, create_body())
    config = {
        "rate_limits": [{"key": "USER", "renewal_period": "minute", "calls": 5}],
        "usage_tracking_config": {"enabled": True},
    }
    answered = call(ws, "PUT", f"{API}/chat/ai-gateway", config).json()
    assert answered["rate_limits"] == [{"key": "user", "renewal_period": "minute", "calls": 5}]
    assert call(ws, "GET", f"{API}/chat").json()["ai_gateway"] == answered


def test_patch_tags_adds_and_deletes(ws: LocalWorkspace) -> None:
    call(ws, "POST", API, create_body(tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]))
    answered = call(ws, "PATCH", f"{API}/chat/tags", {"add_tags": [{"key": "c", "value": "3"}], "delete_tags": ["a"]})
    assert answered.json() == {"tags": [{"key": "b", "value": "2"}, {"key": "c", "value": "3"}]}


def test_provider_secrets_are_never_echoed(ws: LocalWorkspace) -> None:
    external = {
        "name": "gpt",
        "provider": "openai",
        "task": "llm/v1/chat",
        "openai_config": {"openai_api_key_plaintext": "sk-secret"},
    }
    body = {"name": "ext", "config": {"served_entities": [{"name": "gpt", "external_model": external}]}}
    detail = call(ws, "POST", API, body)
    assert "sk-secret" not in detail.text
    assert detail.json()["config"]["served_entities"][0]["external_model"]["openai_config"] == {}


def test_the_task_follows_the_external_model_or_the_entity_name(ws: LocalWorkspace) -> None:
    embed = {
        "name": "gte",
        "config": {"served_entities": [{"entity_name": "system.ai.gte_large_en", "entity_version": "1"}]},
    }
    assert call(ws, "POST", API, embed).json()["task"] == "llm/v1/embeddings"
    ext = {"name": "gpt", "provider": "openai", "task": "llm/v1/completions"}
    cmp = {"name": "cmp", "config": {"served_entities": [{"name": "gpt", "external_model": ext}]}}
    assert call(ws, "POST", API, cmp).json()["task"] == "llm/v1/completions"


# --- Python API ---------------------------------------------------------------------------------


def test_python_create_is_ready_at_once_and_visible_over_rest(ws: LocalWorkspace) -> None:
    detail = ws.serving.create_endpoint("chat", model=["hi"])
    assert detail["state"]["ready"] == "READY"
    assert detail["config"]["served_entities"][0]["name"] == "local-scripted"
    assert call(ws, "GET", f"{API}/chat").json()["state"]["ready"] == "READY"
    assert ws.serving.get_endpoint("chat")["name"] == "chat"


def test_python_create_refuses_a_duplicate_and_a_bad_task(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat")
    with pytest.raises(InvalidRequestError, match="already exists"):
        ws.serving.create_endpoint("chat")
    with pytest.raises(InvalidRequestError, match="task"):
        ws.serving.create_endpoint("other", task="llm/v1/rerank")


def test_get_endpoint_of_an_unknown_name_is_a_key_error(ws: LocalWorkspace) -> None:
    with pytest.raises(KeyError, match="nope"):
        ws.serving.get_endpoint("nope")


def test_reset_forgets_endpoints(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat")
    ws.reset()
    assert call(ws, "GET", API).json() == {"endpoints": []}


# --- invocations --------------------------------------------------------------------------------


def invoke(ws: LocalWorkspace, name: str, body: dict[str, Any]) -> requests.Response:
    return call(ws, "POST", f"/serving-endpoints/{name}/invocations", body)


def test_chat_invocation_answers_a_chat_completion(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["High risk: 7 chargebacks."])
    response = invoke(ws, "chat", {"messages": USER, "max_tokens": 64, "temperature": 0.1})
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "local-scripted"
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "High risk: 7 chargebacks."},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ]
    prompt, completion = count_tokens(USER[0]["content"]), count_tokens("High risk: 7 chargebacks.")
    assert body["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    assert isinstance(body["id"], str) and isinstance(body["created"], int)
    assert response.headers["served-model-name"] == "local-scripted"


def test_tool_calls_come_back_in_the_openai_shape(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint(
        "chat", model=[ScriptedReply(tool_calls=[{"name": "lookup", "arguments": {"id": "m_2"}}])]
    )
    choice = invoke(ws, "chat", {"messages": USER}).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "lookup", "arguments": '{"id":"m_2"}'}


def test_max_tokens_and_stop_cut_the_reply(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["one two three four. five six"])
    cut = invoke(ws, "chat", {"messages": USER, "max_tokens": 2}).json()["choices"][0]
    assert (cut["message"]["content"], cut["finish_reason"]) == ("one two", "length")
    stopped = invoke(ws, "chat", {"messages": USER, "stop": ["."]}).json()["choices"][0]
    assert (stopped["message"]["content"], stopped["finish_reason"]) == ("one two three four", "stop")


def test_n_asks_the_model_for_several_choices(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["a", "b", "c"])
    body = invoke(ws, "chat", {"messages": USER, "n": 3}).json()
    assert [c["message"]["content"] for c in body["choices"]] == ["a", "b", "c"]
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]


def test_scripted_usage_overrides_the_count(ws: LocalWorkspace) -> None:
    reply = ScriptedReply(content="ok", usage={"prompt_tokens": 1000, "completion_tokens": 200})
    ws.serving.create_endpoint("chat", model=[reply])
    assert invoke(ws, "chat", {"messages": USER}).json()["usage"] == {
        "prompt_tokens": 1000,
        "completion_tokens": 200,
        "total_tokens": 1200,
    }


def test_completions_invocation_answers_a_text_completion(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("cmp", task="llm/v1/completions", model=[" there was a merchant."])
    body = invoke(ws, "cmp", {"prompt": "Once upon a time", "max_tokens": 3}).json()
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"] == " there was a"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["prompt_tokens"] == count_tokens("Once upon a time")


def test_embeddings_invocation_answers_a_list_of_vectors(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("gte", task="llm/v1/embeddings", dimension=16)
    body = invoke(ws, "gte", {"input": ["card declined", "sunny day"]}).json()
    assert body["object"] == "list"
    assert [(d["object"], d["index"], len(d["embedding"])) for d in body["data"]] == [
        ("embedding", 0, 16),
        ("embedding", 1, 16),
    ]
    assert body["usage"]["prompt_tokens"] == 4 and body["usage"]["total_tokens"] == 4
    single = invoke(ws, "gte", {"input": "card declined"}).json()
    assert single["data"][0]["embedding"] == body["data"][0]["embedding"]


def test_embeddings_can_be_base64_float32(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("gte", task="llm/v1/embeddings", dimension=8)
    plain = invoke(ws, "gte", {"input": "x"}).json()["data"][0]["embedding"]
    packed = invoke(ws, "gte", {"input": "x", "encoding_format": "base64"}).json()["data"][0]["embedding"]
    assert list(struct.unpack("<8f", base64.b64decode(packed))) == pytest.approx(plain)


def test_a_custom_embedder_function_is_used(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("emb", task="llm/v1/embeddings", model=lambda texts: [[float(len(t))] for t in texts])
    assert [d["embedding"] for d in invoke(ws, "emb", {"input": ["ab", "abc"]}).json()["data"]] == [[2.0], [3.0]]


@pytest.mark.parametrize(
    ("endpoint", "body", "fragment"),
    [
        ("chat", {"messages": []}, "messages"),
        ("chat", {"messages": [{"content": "x"}]}, "role"),
        ("chat", {"messages": USER, "max_tokens": 0}, "max_tokens"),
        ("chat", {"messages": USER, "temperature": 3}, "temperature"),
        ("chat", {"messages": USER, "stream": "yes"}, "stream"),
        ("chat", {"input": "x"}, "llm/v1/chat"),
        ("gte", {"input": []}, "input"),
        ("gte", {"input": [1, 2]}, "input"),
        ("gte", {"messages": USER}, "llm/v1/embeddings"),
    ],
)
def test_bad_invocations_are_400s_that_say_what_to_send(
    ws: LocalWorkspace, endpoint: str, body: dict[str, Any], fragment: str
) -> None:
    ws.serving.create_endpoint("chat")
    ws.serving.create_endpoint("gte", task="llm/v1/embeddings")
    response = invoke(ws, endpoint, body)
    assert response.status_code == 400
    assert response.json()["error_code"] == "BAD_REQUEST"
    assert fragment in response.json()["message"]


def test_invoking_an_unknown_endpoint_is_a_404(ws: LocalWorkspace) -> None:
    response = invoke(ws, "nope", {"messages": USER})
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_a_not_ready_endpoint_answers_503_until_it_is_ready(ws: LocalWorkspace) -> None:
    ws.states.set("serving-endpoint", ["NOT_READY", "READY"], after_reads=2)
    ws.serving.create_endpoint("chat", model=["ok"], ready=False)
    statuses = [invoke(ws, "chat", {"messages": USER}).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_a_not_ready_answer_says_to_wait(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", ready=False)
    response = invoke(ws, "chat", {"messages": USER})
    assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert "not ready" in response.json()["message"] and "READY" in response.json()["message"]


def test_a_model_raising_an_api_error_answers_it(ws: LocalWorkspace) -> None:
    from dbx_native.local import LocalApiError

    def overloaded(request: dict[str, Any]) -> str:
        raise LocalApiError(503, "The model is overloaded.")

    ws.serving.create_endpoint("chat", model=overloaded)
    response = invoke(ws, "chat", {"messages": USER})
    assert response.status_code == 503 and response.json()["message"] == "The model is overloaded."


def test_the_openai_compatible_routes_pick_the_endpoint_by_model(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["hi"])
    ws.serving.create_endpoint("gte", task="llm/v1/embeddings", dimension=4)
    ws.serving.create_endpoint("cmp", task="llm/v1/completions", model=["done"])
    chat = call(ws, "POST", "/serving-endpoints/chat/completions", {"model": "chat", "messages": USER}).json()
    emb = call(ws, "POST", "/serving-endpoints/embeddings", {"model": "gte", "input": "x"}).json()
    cmp = call(ws, "POST", "/serving-endpoints/completions", {"model": "cmp", "prompt": "x"}).json()
    assert chat["choices"][0]["message"]["content"] == "hi"
    assert len(emb["data"][0]["embedding"]) == 4
    assert cmp["choices"][0]["text"] == "done"
    missing = call(ws, "POST", "/serving-endpoints/chat/completions", {"messages": USER})
    assert missing.status_code == 400 and "model" in missing.json()["message"]


def test_set_model_on_the_endpoint_also_answers_for_entities_added_by_an_update(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["old"])
    ws.serving.set_model("chat", ["new"])
    new = {"served_entities": [{"name": "v2", "entity_name": "main.models.v2", "entity_version": "2"}]}
    answered = call(ws, "PUT", f"{API}/chat/config", new).json()
    assert answered["pending_config"]["served_entities"][0]["name"] == "v2"
    call(ws, "GET", f"{API}/chat")  # the update completes on this read (default script)
    response = invoke(ws, "chat", {"messages": USER})
    assert response.headers["served-model-name"] == "v2"
    assert response.json()["choices"][0]["message"]["content"] == "new"


def test_an_update_keeps_the_model_of_an_entity_it_keeps(ws: LocalWorkspace) -> None:
    entities = [{"name": "a", "entity_name": "m.a"}]
    ws.serving.create_endpoint("chat", served_entities=entities, model=["default"])
    ws.serving.set_model("chat", ["kept"], entity="a")
    both = {
        "served_entities": [*entities, {"name": "b", "entity_name": "m.b"}],
        "traffic_config": {
            "routes": [
                {"served_entity_name": "a", "traffic_percentage": 50},
                {"served_entity_name": "b", "traffic_percentage": 50},
            ]
        },
    }
    call(ws, "PUT", f"{API}/chat/config", both)
    call(ws, "GET", f"{API}/chat")
    answers = {invoke(ws, "chat", {"messages": USER}).json()["choices"][0]["message"]["content"] for _ in range(4)}
    assert answers == {"kept", "default"}


def test_a_failed_update_is_reported_and_the_old_config_keeps_serving(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["old"])
    ws.states.set("serving-endpoint-config", ["IN_PROGRESS", "NOT_UPDATING"], after_reads=5)
    call(ws, "PUT", f"{API}/chat/config", {"served_entities": [{"name": "v2", "entity_name": "m.v2"}]})
    ws.states.force("serving-endpoint-config", "chat", "UPDATE_FAILED")
    detail = call(ws, "GET", f"{API}/chat").json()
    assert detail["state"] == {"ready": "READY", "config_update": "UPDATE_FAILED"}
    assert "pending_config" not in detail
    assert invoke(ws, "chat", {"messages": USER}).headers["served-model-name"] == "local-scripted"


def test_an_endpoint_serving_a_feature_spec_answers_dataframe_records(ws: LocalWorkspace) -> None:
    ws.create_table("main.fraud.merchants", [{"merchant_id": "m_1", "risk": 0.2}], primary_key="merchant_id")
    ws.features.create_spec("main.fraud.merchant_spec", table="main.fraud.merchants", lookup_keys="merchant_id")
    ws.serving.create_endpoint("feat", served_entities=[{"entity_name": "main.fraud.merchant_spec"}])
    response = invoke(ws, "feat", {"dataframe_records": [{"merchant_id": "m_1"}, {"merchant_id": "nope"}]})
    assert response.status_code == 200
    assert response.json() == {"outputs": [{"merchant_id": "m_1", "risk": 0.2}, {"merchant_id": "nope", "risk": None}]}
    assert response.headers["served-model-name"] == "merchant_spec"


def test_custom_model_inputs_to_a_scripted_endpoint_are_a_400(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat")
    response = invoke(ws, "chat", {"dataframe_records": [{"a": 1}]})
    assert response.status_code == 400
    assert "feature spec" in response.json()["message"]
