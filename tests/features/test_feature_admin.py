"""ensure_feature_serving_endpoint against the local workspace: create, no-op, update, wait, time out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native._core.clock import FakeClock
from dbx_native.errors import InvalidRequestError, OperationTimeoutError, ServerError
from dbx_native.features import FeatureLookup, ensure_feature_serving_endpoint
from dbx_native.local import LocalWorkspace
from dbx_native.rest import RestClient

SPEC = "main.fraud.merchant_spec"


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.intercept():
        yield workspace


def rest(clock: FakeClock | None = None) -> RestClient:
    config = DbxConfig(host="https://workspace.dbx-native.invalid", token=CANARY, retry={"jitter": 0.0})
    return RestClient(config=config, clock=clock or FakeClock())


def writes(ws: LocalWorkspace) -> list[str]:
    return [f"{r.method} {r.path}" for r in ws.requests if r.method in ("POST", "PUT")]


def test_creates_the_endpoint_serving_the_spec_and_waits_until_ready(ws: LocalWorkspace) -> None:
    ws.states.set("serving-endpoint", ["NOT_READY", "NOT_READY", "READY"], after_reads=1)
    seen: list[Any] = []
    clock = FakeClock()
    result = ensure_feature_serving_endpoint(
        "merchant-features", feature_spec=SPEC, client=rest(clock), progress=seen.append
    )
    assert result.created and not result.updated and result.ready == "READY"
    assert result.config_update == "NOT_UPDATING"
    served = ws.serving.get_endpoint("merchant-features")["config"]["served_entities"]
    assert [e["entity_name"] for e in served] == [SPEC]
    assert [s["ready"] for s in seen] == ["NOT_READY", "NOT_READY", "READY"]
    assert clock.sleeps == [1.0, 2.0]


def test_a_second_call_changes_nothing(ws: LocalWorkspace) -> None:
    client = rest()
    ensure_feature_serving_endpoint("merchant-features", feature_spec=SPEC, client=client)
    before = writes(ws)
    again = ensure_feature_serving_endpoint("merchant-features", feature_spec=SPEC, client=client)
    assert not again.created and not again.updated and writes(ws) == before


def test_another_spec_updates_the_config(ws: LocalWorkspace) -> None:
    client = rest()
    ensure_feature_serving_endpoint("merchant-features", feature_spec=SPEC, client=client)
    result = ensure_feature_serving_endpoint("merchant-features", feature_spec="main.fraud.v2_spec", client=client)
    assert result.updated and not result.created
    served = ws.serving.get_endpoint("merchant-features")["config"]["served_entities"]
    assert [e["entity_name"] for e in served] == ["main.fraud.v2_spec"]
    assert writes(ws)[-1] == "PUT /api/2.0/serving-endpoints/merchant-features/config"


def test_times_out_with_the_last_state(ws: LocalWorkspace) -> None:
    ws.states.set("serving-endpoint", ["NOT_READY"], after_reads=1)
    with pytest.raises(OperationTimeoutError) as caught:
        ensure_feature_serving_endpoint("merchant-features", feature_spec=SPEC, client=rest(), timeout=10.0)
    assert caught.value.last_state["ready"] == "NOT_READY" and caught.value.timeout == 10.0


def test_a_failed_update_is_raised(ws: LocalWorkspace) -> None:
    client = rest()
    ensure_feature_serving_endpoint("merchant-features", feature_spec=SPEC, client=client)
    ws.states.set("serving-endpoint-config", ["UPDATE_FAILED"], after_reads=1)
    with pytest.raises(ServerError, match="UPDATE_FAILED"):
        ensure_feature_serving_endpoint("merchant-features", feature_spec="main.fraud.v2_spec", client=client)


def test_bad_names_are_refused_before_sending(ws: LocalWorkspace) -> None:
    with pytest.raises(InvalidRequestError, match="three-part"):
        ensure_feature_serving_endpoint("merchant-features", feature_spec="spec", client=rest())
    with pytest.raises(InvalidRequestError, match="endpoint name"):
        ensure_feature_serving_endpoint("bad name!", feature_spec=SPEC, client=rest())
    assert writes(ws) == []


def test_lookup_ensure_endpoint_uses_its_own_endpoint_name(ws: LocalWorkspace) -> None:
    fl = FeatureLookup("merchant-features", key="merchant_id", config=rest().config, clock=FakeClock())
    assert fl.ensure_endpoint(feature_spec=SPEC).created
    assert ws.serving.get_endpoint("merchant-features")["name"] == "merchant-features"
