"""GatewayConfig: plan shows the difference from the live endpoint, apply makes it so, idempotently."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from canary import CANARY
from dbx_native import DbxConfig, RestClient
from dbx_native.errors import NotFoundError, RateLimitError
from dbx_native.gateway import (
    AiGatewayRateLimit,
    GatewayClient,
    GatewayConfig,
    Guardrail,
    Guardrails,
    PiiBehavior,
    TrafficRoute,
    UsageTracking,
)
from dbx_native.local import LocalWorkspace

WANTED = GatewayConfig(
    guardrails=Guardrails(input=Guardrail(pii=PiiBehavior(behavior="MASK"))),
    rate_limits=[AiGatewayRateLimit(key="endpoint", calls=2)],
    usage_tracking_config=UsageTracking(enabled=True),
)


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    workspace.serving.create_endpoint("fraud-llm", model=["ok"])
    with workspace.intercept():
        yield workspace


def rest(ws: LocalWorkspace) -> RestClient:
    return RestClient(config=DbxConfig(host=ws.host, token=CANARY))


def writes(ws: LocalWorkspace) -> list[str]:
    return [f"{r.method} {r.path}" for r in ws.requests if r.method in ("PUT", "POST", "PATCH")]


def test_plan_lists_changes_and_changes_nothing(ws: LocalWorkspace) -> None:
    plan = WANTED.plan("fraud-llm", client=rest(ws))
    assert {c.path for c in plan.changes} == {
        "ai_gateway.guardrails",
        "ai_gateway.rate_limits",
        "ai_gateway.usage_tracking_config",
    }
    assert writes(ws) == []
    assert "3 change(s)" in str(plan)


def test_apply_then_apply_again_is_a_no_op(ws: LocalWorkspace) -> None:
    first = WANTED.apply("fraud-llm", client=rest(ws))
    assert not first.empty
    assert writes(ws) == ["PUT /api/2.0/serving-endpoints/fraud-llm/ai-gateway"]
    ws.requests.clear()
    second = WANTED.apply("fraud-llm", client=rest(ws))
    assert second.empty, str(second)
    assert writes(ws) == []


def test_applied_config_is_enforced_by_the_endpoint(ws: LocalWorkspace) -> None:
    WANTED.apply("fraud-llm", client=rest(ws))
    gw = GatewayClient("fraud-llm", config=DbxConfig(host=ws.host, token=CANARY)).with_options(max_attempts=1)
    gw.chat([{"role": "user", "content": "a"}])
    gw.chat([{"role": "user", "content": "b"}])
    with pytest.raises(RateLimitError):
        gw.chat([{"role": "user", "content": "c"}])


def test_a_changed_field_shows_as_one_change(ws: LocalWorkspace) -> None:
    WANTED.apply("fraud-llm", client=rest(ws))
    changed = WANTED.model_copy(update={"rate_limits": [AiGatewayRateLimit(key="endpoint", calls=50)]})
    plan = changed.plan("fraud-llm", client=rest(ws))
    assert [c.path for c in plan.changes] == ["ai_gateway.rate_limits"]
    assert plan.changes[0].wanted == [{"key": "endpoint", "renewal_period": "minute", "calls": 50}]


def test_traffic_routes_are_applied_through_the_config_route(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint(
        "ab",
        served_entities=[
            {"name": "v1", "entity_name": "main.m.model", "entity_version": "1"},
            {"name": "v2", "entity_name": "main.m.model", "entity_version": "2"},
        ],
        model=["ok"],
    )
    cfg = GatewayConfig(
        traffic=[
            TrafficRoute(served_entity_name="v1", traffic_percentage=90),
            TrafficRoute(served_entity_name="v2", traffic_percentage=10),
        ]
    )
    plan = cfg.apply("ab", client=rest(ws))
    assert [c.path for c in plan.changes] == ["traffic.routes"]
    assert "PUT /api/2.0/serving-endpoints/ab/config" in writes(ws)
    assert cfg.plan("ab", client=rest(ws)).empty


def test_unknown_endpoint_is_not_found(ws: LocalWorkspace) -> None:
    with pytest.raises(NotFoundError):
        WANTED.plan("nope", client=rest(ws))


@pytest.mark.parametrize(
    "bad",
    [
        lambda: AiGatewayRateLimit(key="endpoint"),
        lambda: AiGatewayRateLimit(key="planet", calls=1),
        lambda: PiiBehavior(behavior="REDACT"),
        lambda: GatewayConfig(traffic=[TrafficRoute(served_entity_name="a", traffic_percentage=60)]),
    ],
)
def test_bad_configs_are_refused_when_built(bad: object) -> None:
    with pytest.raises(ValidationError):
        bad()  # type: ignore[operator]
