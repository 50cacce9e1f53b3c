"""The local workspace's feature specs (`ws.features`): REST routes, validation and `serve()` answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from canary import CANARY
from dbx_native.errors import InvalidRequestError, NotFoundError
from dbx_native.local import LocalApiError, LocalWorkspace

SPEC = "main.fraud.merchant_spec"
MERCHANTS = [
    {"merchant_id": "m_1", "region": "eu", "risk": 0.2, "chargebacks": 3},
    {"merchant_id": "m_2", "region": "us", "risk": 0.9, "chargebacks": 11},
    {"merchant_id": "m_3", "region": "eu", "risk": None, "chargebacks": None},
]


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    workspace.create_table("main.fraud.merchants", MERCHANTS, primary_key="merchant_id")
    with workspace.intercept():
        yield workspace


def call(ws: LocalWorkspace, method: str, path: str, body: object = None) -> requests.Response:
    return requests.request(method, ws.host + path, json=body, headers={"Authorization": f"Bearer {CANARY}"})


def test_serve_returns_one_output_per_record_with_the_record_columns_and_features(ws: LocalWorkspace) -> None:
    ws.features.create_spec(SPEC, table="main.fraud.merchants", lookup_keys="merchant_id")
    outputs = ws.features.serve(SPEC, [{"merchant_id": "m_2", "txn": 7}, {"merchant_id": "m_1"}])
    assert outputs == [
        {"merchant_id": "m_2", "txn": 7, "region": "us", "risk": 0.9, "chargebacks": 11},
        {"merchant_id": "m_1", "region": "eu", "risk": 0.2, "chargebacks": 3},
    ]


def test_serve_answers_a_key_without_a_row_with_its_features_all_null(ws: LocalWorkspace) -> None:
    ws.features.create_spec(SPEC, table="main.fraud.merchants", lookup_keys="merchant_id", feature_names=["risk"])
    assert ws.features.serve(SPEC, [{"merchant_id": "m_404"}]) == [{"merchant_id": "m_404", "risk": None}]


def test_serve_applies_renames_defaults_and_excluded_columns(ws: LocalWorkspace) -> None:
    ws.features.create_spec(
        SPEC,
        table="main.fraud.merchants",
        lookup_keys="merchant_id",
        feature_names=["risk", "chargebacks"],
        rename_outputs={"chargebacks": "cb_30d"},
        default_values={"cb_30d": 0},
        exclude_columns=["risk"],
    )
    outputs = ws.features.serve(SPEC, [{"merchant_id": "m_2"}, {"merchant_id": "m_404"}])
    assert outputs == [{"merchant_id": "m_2", "cb_30d": 11}, {"merchant_id": "m_404", "cb_30d": 0}]


def test_serve_looks_up_composite_keys(ws: LocalWorkspace) -> None:
    ws.features.create_spec(SPEC, table="main.fraud.merchants", lookup_keys=["merchant_id", "region"])
    outputs = ws.features.serve(SPEC, [{"merchant_id": "m_1", "region": "eu"}, {"merchant_id": "m_1", "region": "us"}])
    assert [o["risk"] for o in outputs] == [0.2, None]


def test_injection_shaped_key_is_a_parameter_that_matches_nothing_and_changes_nothing(ws: LocalWorkspace) -> None:
    ws.features.create_spec(SPEC, table="main.fraud.merchants", lookup_keys="merchant_id")
    before = ws.read_table("main.fraud.merchants")
    evil = ["x' OR 1=1 --", "m_1'; DROP TABLE main.fraud.merchants; --", "m_1) OR (1=1"]
    outputs = ws.features.serve(SPEC, [{"merchant_id": key} for key in evil])
    assert all(o["risk"] is None and o["chargebacks"] is None for o in outputs)
    assert ws.read_table("main.fraud.merchants") == before


def test_record_without_the_lookup_key_is_a_400_naming_the_key(ws: LocalWorkspace) -> None:
    ws.features.create_spec(SPEC, table="main.fraud.merchants", lookup_keys="merchant_id")
    with pytest.raises(LocalApiError) as caught:
        ws.features.serve(SPEC, [{"merchant_id": "m_1"}, {"merchant": "m_2"}])
    assert caught.value.status == 400 and "dataframe_records[1]" in caught.value.message
    assert "'merchant_id'" in caught.value.message


def test_key_of_the_wrong_type_for_the_column_is_a_400_naming_the_key_column(ws: LocalWorkspace) -> None:
    ws.create_table("main.fraud.cards", [{"card_id": 1, "limit": 500.0}])
    ws.features.create_spec("main.fraud.card_spec", table="main.fraud.cards", lookup_keys="card_id")
    assert ws.features.serve("main.fraud.card_spec", [{"card_id": "1"}])[0]["limit"] == 500.0
    with pytest.raises(LocalApiError) as caught:
        ws.features.serve("main.fraud.card_spec", [{"card_id": "not-a-number"}])
    assert caught.value.status == 400 and "card_id" in caught.value.message


def test_create_spec_refuses_unknown_columns_and_tables_naming_them(ws: LocalWorkspace) -> None:
    with pytest.raises(InvalidRequestError, match="no column"):
        ws.features.create_spec(SPEC, table="main.fraud.merchants", lookup_keys="merchant", feature_names=["risk"])
    with pytest.raises(InvalidRequestError, match="nope"):
        ws.features.create_spec(SPEC, table="main.fraud.merchants", lookup_keys="merchant_id", feature_names=["nope"])
    with pytest.raises(NotFoundError, match=r"main\.fraud\.missing"):
        ws.features.create_spec(SPEC, table="main.fraud.missing", lookup_keys="merchant_id")
    assert ws.features.names() == []


def test_rest_routes_create_get_and_delete_a_spec(ws: LocalWorkspace) -> None:
    body = {
        "name": SPEC,
        "features": [{"feature_lookup": {"table": "main.fraud.merchants", "lookup_keys": ["merchant_id"]}}],
    }
    created = call(ws, "POST", "/api/2.0/feature-engineering/feature-specs", body)
    assert created.status_code == 200 and created.json()["name"] == SPEC
    again = call(ws, "POST", "/api/2.0/feature-engineering/feature-specs", body)
    assert again.status_code == 409 and again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    assert call(ws, "GET", f"/api/2.0/feature-engineering/feature-specs/{SPEC}").json() == created.json()
    assert call(ws, "DELETE", f"/api/2.0/feature-engineering/feature-specs/{SPEC}").status_code == 200
    gone = call(ws, "GET", f"/api/2.0/feature-engineering/feature-specs/{SPEC}")
    assert gone.status_code == 404 and gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_databricks_sdk_creates_and_reads_a_feature_spec(ws: LocalWorkspace) -> None:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.ml import FeatureLookup, Features, FeatureSpec

    w = WorkspaceClient(host=ws.host, token=CANARY, auth_type="pat")
    spec = FeatureSpec(
        name=SPEC,
        features=[Features(feature_lookup=FeatureLookup(table="main.fraud.merchants", lookup_keys=["merchant_id"]))],
    )
    w.feature_engineering.create_feature_spec(spec)
    got = w.feature_engineering.get_feature_spec(SPEC)
    assert got.features is not None and got.features[0].feature_lookup is not None
    assert got.features[0].feature_lookup.lookup_keys == ["merchant_id"]


def test_feature_functions_are_refused_as_not_implemented(ws: LocalWorkspace) -> None:
    body = {"name": SPEC, "features": [{"feature_function": {"udf": "main.fraud.f"}}]}
    response = call(ws, "POST", "/api/2.0/feature-engineering/feature-specs", body)
    assert response.status_code == 501 and response.json()["error_code"] == "NOT_IMPLEMENTED"


def test_specs_persist_under_the_workspace_root(tmp_path: Path) -> None:
    first = LocalWorkspace(root=tmp_path)
    first.create_table("main.fraud.merchants", MERCHANTS)
    first.features.create_spec(SPEC, table="main.fraud.merchants", lookup_keys="merchant_id")
    first.catalog.close()
    second = LocalWorkspace(root=tmp_path)
    try:
        assert second.features.names() == [SPEC]
        assert second.features.serve(SPEC, [{"merchant_id": "m_1"}])[0]["risk"] == 0.2
    finally:
        second.catalog.close()


def test_reset_forgets_every_spec(ws: LocalWorkspace) -> None:
    ws.features.create_spec(SPEC, table="main.fraud.merchants", lookup_keys="merchant_id")
    ws.reset()
    assert ws.features.names() == [] and not ws.features.has_spec(SPEC)
