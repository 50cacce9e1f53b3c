"""Streamed answers (Server-Sent Events) over both transports, partial usage, and a stream dropped mid-way."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from dbx_native.local import LocalWorkspace, ScriptedChatModel, ScriptedReply, count_tokens

AUTH = {"Authorization": "Bearer test-token"}
USER = [{"role": "user", "content": "Is merchant m_002 risky?"}]


@pytest.fixture
def ws() -> LocalWorkspace:
    return LocalWorkspace()


@pytest.fixture(params=["in-process", "server"])
def base(request: pytest.FixtureRequest, ws: LocalWorkspace) -> Iterator[str]:
    if request.param == "in-process":
        with ws.intercept():
            yield ws.host
    else:
        with ws.serve() as handle:
            yield handle.host


def stream(base: str, name: str, body: dict[str, Any]) -> requests.Response:
    url = f"{base}/serving-endpoints/{name}/invocations"
    return requests.post(url, json={**body, "stream": True}, headers=AUTH, stream=True, timeout=5)


def events(response: requests.Response) -> list[str]:
    return [line.removeprefix("data: ") for line in response.iter_lines(decode_unicode=True) if line]


def chunks(response: requests.Response) -> list[dict[str, Any]]:
    data = events(response)
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


def test_a_chat_stream_is_sse_chunks_then_done(ws: LocalWorkspace, base: str) -> None:
    ws.serving.create_endpoint("chat", model=["one two three"])
    response = stream(base, "chat", {"messages": USER})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["served-model-name"] == "local-scripted"
    got = chunks(response)
    assert {c["object"] for c in got} == {"chat.completion.chunk"}
    assert len({c["id"] for c in got}) == 1
    assert got[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in got)
    assert text == "one two three"
    assert [c["choices"][0]["finish_reason"] for c in got][-1] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in got[:-1])


def test_only_the_last_chunk_carries_usage_by_default(ws: LocalWorkspace, base: str) -> None:
    ws.serving.create_endpoint("chat", model=["one two three"])
    got = chunks(stream(base, "chat", {"messages": USER}))
    assert all("usage" not in c for c in got[:-1])
    prompt = count_tokens(USER[0]["content"])
    assert got[-1]["usage"] == {"prompt_tokens": prompt, "completion_tokens": 3, "total_tokens": prompt + 3}


def test_partial_usage_splits_the_counts_over_the_first_and_last_chunks(ws: LocalWorkspace, base: str) -> None:
    reply = ScriptedReply(content="a b c", usage={"prompt_tokens": 11, "completion_tokens": 3})
    ws.serving.create_endpoint("chat", model=ScriptedChatModel([reply], partial_usage=True))
    got = chunks(stream(base, "chat", {"messages": USER}))
    assert got[0]["usage"] == {"prompt_tokens": 11, "completion_tokens": 0, "total_tokens": 11}
    assert got[-1]["usage"] == {"prompt_tokens": 0, "completion_tokens": 3, "total_tokens": 3}
    assert all("usage" not in c for c in got[1:-1])
    assert sum(c["usage"]["total_tokens"] for c in got if "usage" in c) == 14


def test_tool_calls_stream_as_deltas(ws: LocalWorkspace, base: str) -> None:
    ws.serving.create_endpoint("chat", model=[ScriptedReply(tool_calls=[{"name": "lookup", "arguments": {"id": 1}}])])
    got = chunks(stream(base, "chat", {"messages": USER}))
    (call,) = [c["choices"][0]["delta"]["tool_calls"][0] for c in got if "tool_calls" in c["choices"][0]["delta"]]
    assert call["index"] == 0 and call["function"] == {"name": "lookup", "arguments": '{"id":1}'}
    assert got[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_a_completions_stream_sends_text_chunks(ws: LocalWorkspace, base: str) -> None:
    ws.serving.create_endpoint("cmp", task="llm/v1/completions", model=["a merchant."])
    got = chunks(stream(base, "cmp", {"prompt": "Once"}))
    assert {c["object"] for c in got} == {"text_completion"}
    assert "".join(c["choices"][0]["text"] for c in got) == "a merchant."


def test_errors_before_the_stream_are_plain_json(ws: LocalWorkspace, base: str) -> None:
    ws.serving.create_endpoint("chat", ai_gateway={"guardrails": {"input": {"pii": {"behavior": "BLOCK"}}}})
    response = stream(base, "chat", {"messages": [{"role": "user", "content": "mail a@b.io"}]})
    assert response.status_code == 400
    assert response.json()["error_code"] == "GUARDRAIL_BLOCKED"


def test_a_fault_drops_the_stream_after_n_events(ws: LocalWorkspace, base: str) -> None:
    ws.serving.create_endpoint("chat", model=["one two three four five"])
    fault = ws.faults.add(drop_after_events=2, path="/serving-endpoints/chat/")
    response = stream(base, "chat", {"messages": USER})
    assert response.status_code == 200
    received: list[str] = []
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for line in response.iter_lines(decode_unicode=True):
            if line:
                received.append(line)
    assert len(received) == 2 and all(line.startswith("data: {") for line in received)
    assert fault.hits == 1
    assert chunks(stream(base, "chat", {"messages": USER}))[-1]["usage"]["completion_tokens"] == 5  # used up


def test_a_dropped_stream_fails_a_non_streaming_read_too(ws: LocalWorkspace, base: str) -> None:
    ws.serving.create_endpoint("chat")
    ws.faults.add(drop_after_events=1, path="/invocations")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.post(
            f"{base}/serving-endpoints/chat/invocations",
            json={"messages": USER, "stream": True},
            headers=AUTH,
            timeout=5,
        )


def test_drop_after_zero_events_on_a_whole_body_drops_before_the_answer(ws: LocalWorkspace, base: str) -> None:
    ws.serving.create_endpoint("chat")
    ws.faults.add(drop_after_events=0, path="/invocations")
    with pytest.raises(requests.ConnectionError):
        requests.post(f"{base}/serving-endpoints/chat/invocations", json={"messages": USER}, headers=AUTH, timeout=5)
    assert ws.requests.last.path == "/serving-endpoints/chat/invocations"


def test_a_stream_fault_leaves_whole_bodies_alone(ws: LocalWorkspace, base: str) -> None:
    ws.serving.create_endpoint("chat", model=["fine"])
    ws.faults.add(drop_after_events=1, path="/invocations")
    response = requests.post(
        f"{base}/serving-endpoints/chat/invocations", json={"messages": USER}, headers=AUTH, timeout=5
    )
    assert response.json()["choices"][0]["message"]["content"] == "fine"


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"drop_after_events": -1}, "0 or more"),
        ({"drop_after_events": 1, "status": 503}, "lets the request through"),
        ({"drop_after_events": 1, "drop_connection": True}, "lets the request through"),
    ],
)
def test_bad_stream_faults_are_refused(ws: LocalWorkspace, options: dict[str, Any], fragment: str) -> None:
    from dbx_native.errors import InvalidRequestError

    with pytest.raises(InvalidRequestError, match=fragment):
        ws.faults.add(**options)
    assert len(ws.faults) == 0


def test_a_stream_fault_may_add_latency(ws: LocalWorkspace) -> None:
    slept: list[float] = []

    class Clock:
        def time(self) -> float:
            return 0.0

        def sleep(self, seconds: float, /) -> None:
            slept.append(seconds)

    ws.clock = Clock()
    ws.serving.create_endpoint("chat", model=["a b"])
    ws.faults.add(drop_after_events=1, latency=2.5, path="/invocations")
    with ws.intercept():
        response = stream(ws.host, "chat", {"messages": USER})
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            list(response.iter_lines())
    assert slept == [2.5]
