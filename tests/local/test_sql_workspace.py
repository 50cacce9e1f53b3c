"""Tables and SQL through LocalWorkspace: plain `requests` and the official databricks-sdk."""

from __future__ import annotations

import pytest
import requests

from dbx_native.local import LocalWorkspace

HEADERS = {"Authorization": "Bearer local-token"}


@pytest.fixture
def ws() -> LocalWorkspace:
    workspace = LocalWorkspace()
    if workspace.catalog is None:
        pytest.skip("this LocalWorkspace does not register the local catalog")
    workspace.catalog.create_table(
        "main.fraud.merchants",
        [{"merchant_id": "m_1", "risk": 0.2}, {"merchant_id": "m_2", "risk": 0.9}],
        primary_key="merchant_id",
    )
    return workspace


def test_requests_reach_tables_and_statements_in_process(ws):
    with ws.intercept():
        table = requests.get(f"{ws.host}/api/2.1/unity-catalog/tables/main.fraud.merchants", headers=HEADERS)
        statement = requests.post(
            f"{ws.host}/api/2.0/sql/statements",
            headers=HEADERS,
            json={
                "statement": "SELECT risk FROM main.fraud.merchants WHERE merchant_id = :id",
                "warehouse_id": "wh",
                "parameters": [{"name": "id", "value": "m_2"}],
            },
        )

    assert table.status_code == 200
    assert table.json()["table_constraints"][0]["primary_key_constraint"]["child_columns"] == ["merchant_id"]
    assert statement.status_code == 200
    assert statement.json()["result"]["data_array"] == [["0.9"]]


def test_the_sdk_reads_tables_schemas_and_runs_statements(ws):
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.errors import NotFound
    from databricks.sdk.service.sql import StatementParameterListItem, StatementState

    with ws.intercept():
        w = WorkspaceClient(host=ws.host, token="local-token", auth_type="pat")
        table = w.tables.get("main.fraud.merchants")
        schema = w.schemas.get("main.fraud")
        listed = [t.full_name for t in w.tables.list(catalog_name="main", schema_name="fraud")]
        response = w.statement_execution.execute_statement(
            statement="SELECT merchant_id, risk FROM fraud.merchants WHERE risk > :r ORDER BY merchant_id",
            warehouse_id="wh",
            catalog="main",
            parameters=[StatementParameterListItem(name="r", value="0.1", type="DOUBLE")],
        )
        with pytest.raises(NotFound):
            w.tables.get("main.fraud.nope")

    assert table.table_id and table.full_name == "main.fraud.merchants"
    assert [c.name for c in table.columns or []] == ["merchant_id", "risk"]
    assert schema.schema_id and schema.full_name == "main.fraud"
    assert listed == ["main.fraud.merchants"]
    assert response.status is not None and response.status.state == StatementState.SUCCEEDED
    assert response.result is not None and response.result.data_array == [["m_1", "0.2"], ["m_2", "0.9"]]
