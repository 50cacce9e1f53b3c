"""The official databricks-sdk and openai clients against the local serving endpoints (loopback server)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.clock import Clock
from databricks.sdk.config import Config
from databricks.sdk.errors import NotFound, ResourceAlreadyExists
from databricks.sdk.service import serving
from openai import BadRequestError, OpenAI, RateLimitError

from dbx_native.local import LocalWorkspace, ScriptedChatModel, ServerHandle, count_tokens

USER = [{"role": "user", "content": "Is merchant m_002 risky?"}]


class RecordingClock(Clock):
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def ws() -> LocalWorkspace:
    return LocalWorkspace()


@pytest.fixture
def server(ws: LocalWorkspace) -> Iterator[ServerHandle]:
    with ws.serve() as handle:
        yield handle


@pytest.fixture
def w(server: ServerHandle) -> WorkspaceClient:
    return WorkspaceClient(config=Config(host=server.host, token=server.token, auth_type="pat", clock=RecordingClock()))


@pytest.fixture
def oai(server: ServerHandle) -> Iterator[OpenAI]:
    client = OpenAI(base_url=server.host + "/serving-endpoints", api_key=server.token, max_retries=0)
    yield client
    client.close()


# --- databricks-sdk -----------------------------------------------------------------------------


def test_sdk_creates_waits_gets_and_lists(w: WorkspaceClient) -> None:
    entity = serving.ServedEntityInput(
        entity_name="system.ai.llama_v3_3_70b_instruct", entity_version="1", name="llama"
    )
    config = serving.EndpointCoreConfigInput(name="chat", served_entities=[entity])
    endpoint = w.serving_endpoints.create("chat", config=config).result()
    assert endpoint.state is not None
    assert endpoint.state.ready == serving.EndpointStateReady.READY
    assert endpoint.state.config_update == serving.EndpointStateConfigUpdate.NOT_UPDATING
    got = w.serving_endpoints.get("chat")
    assert got.config is not None and got.config.served_entities is not None
    assert got.config.served_entities[0].name == "llama"
    assert [e.name for e in w.serving_endpoints.list()] == ["chat"]


def test_sdk_update_config_waits_for_the_new_config(w: WorkspaceClient, ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat")
    entity = serving.ServedEntityInput(entity_name="main.models.v2", entity_version="2", name="v2")
    updated = w.serving_endpoints.update_config("chat", served_entities=[entity]).result()
    assert updated.config is not None and updated.config.served_entities is not None
    assert [e.name for e in updated.config.served_entities] == ["v2"]
    assert updated.config.config_version == 2


def test_sdk_errors_are_typed(w: WorkspaceClient, ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat")
    with pytest.raises(NotFound):
        w.serving_endpoints.get("missing")
    entity = serving.ServedEntityInput(entity_name="m", name="m")
    with pytest.raises(ResourceAlreadyExists):
        w.serving_endpoints.create(
            "chat", config=serving.EndpointCoreConfigInput(name="chat", served_entities=[entity])
        )


def test_sdk_query_answers_choices_usage_and_the_served_model(w: WorkspaceClient, ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["High risk."])
    messages = [serving.ChatMessage(role=serving.ChatMessageRole.USER, content="Is m_002 risky?")]
    response = w.serving_endpoints.query("chat", messages=messages, max_tokens=32)
    assert response.object == serving.QueryEndpointResponseObject.CHAT_COMPLETION
    assert response.choices is not None and response.choices[0].message is not None
    assert response.choices[0].message.content == "High risk."
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (count_tokens("Is m_002 risky?"), 3)
    assert response.served_model_name == "local-scripted"


def test_sdk_query_embeddings(w: WorkspaceClient, ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("gte", task="llm/v1/embeddings", dimension=32)
    response = w.serving_endpoints.query("gte", input=["a", "b"])
    assert response.data is not None and [len(d.embedding or []) for d in response.data] == [32, 32]


def test_sdk_put_ai_gateway_round_trips(w: WorkspaceClient, ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat")
    answered = w.serving_endpoints.put_ai_gateway(
        "chat",
        rate_limits=[
            serving.AiGatewayRateLimit(
                renewal_period=serving.AiGatewayRateLimitRenewalPeriod.MINUTE,
                calls=10,
                key=serving.AiGatewayRateLimitKey.USER,
            )
        ],
        guardrails=serving.AiGatewayGuardrails(
            input=serving.AiGatewayGuardrailParameters(
                pii=serving.AiGatewayGuardrailPiiBehavior(behavior=serving.AiGatewayGuardrailPiiBehaviorBehavior.BLOCK)
            )
        ),
        usage_tracking_config=serving.AiGatewayUsageTrackingConfig(enabled=True),
    )
    assert answered.rate_limits is not None and answered.rate_limits[0].calls == 10
    assert answered.rate_limits[0].key == serving.AiGatewayRateLimitKey.USER
    gateway = w.serving_endpoints.get("chat").ai_gateway
    assert gateway is not None and gateway.usage_tracking_config is not None
    assert gateway.usage_tracking_config.enabled is True


# --- openai -------------------------------------------------------------------------------------


def test_openai_chat_completions(oai: OpenAI, ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=["High risk."])
    completion = oai.chat.completions.create(model="chat", messages=USER, max_tokens=32)  # type: ignore[arg-type]
    assert completion.choices[0].message.content == "High risk."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "local-scripted"
    assert completion.usage is not None and completion.usage.completion_tokens == 3


def test_openai_streaming_with_partial_usage(oai: OpenAI, ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("chat", model=ScriptedChatModel(["one two three"], partial_usage=True))
    stream = oai.chat.completions.create(model="chat", messages=USER, stream=True)  # type: ignore[arg-type]
    got = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in got if c.choices)
    assert text == "one two three"
    usages = [c.usage for c in got if c.usage is not None]
    assert len(usages) == 2
    assert sum(u.completion_tokens for u in usages) == 3
    assert usages[0].prompt_tokens > 0 and usages[1].prompt_tokens == 0


def test_openai_completions(oai: OpenAI, ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("cmp", task="llm/v1/completions", model=[" there was a merchant."])
    completion = oai.completions.create(model="cmp", prompt="Once upon a time", max_tokens=3)
    assert completion.choices[0].text == " there was a"
    assert completion.choices[0].finish_reason == "length"


def test_openai_embeddings(oai: OpenAI, ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("gte", task="llm/v1/embeddings")
    response = oai.embeddings.create(model="gte", input=["card declined", "card declined"])
    assert [len(d.embedding) for d in response.data] == [384, 384]
    assert response.data[0].embedding == response.data[1].embedding
    assert response.usage.prompt_tokens == 4


def test_openai_sees_guardrail_blocks_and_rate_limits(oai: OpenAI, ws: LocalWorkspace) -> None:
    gateway = {
        "guardrails": {"input": {"pii": {"behavior": "BLOCK"}}},
        "rate_limits": [{"key": "endpoint", "renewal_period": "minute", "calls": 1}],
    }
    ws.serving.create_endpoint("chat", ai_gateway=gateway)
    with pytest.raises(BadRequestError, match="PII"):
        oai.chat.completions.create(model="chat", messages=[{"role": "user", "content": "mail a@b.io"}])
    with pytest.raises(RateLimitError) as info:
        oai.chat.completions.create(model="chat", messages=USER)  # type: ignore[arg-type]
    assert int(info.value.response.headers["retry-after"]) > 0
