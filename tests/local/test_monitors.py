"""The local data quality monitors backend: SDK wire shapes, validation, refresh states, real metrics."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import BadRequest, NotFound, ResourceAlreadyExists
from databricks.sdk.service import catalog as uc
from databricks.sdk.service import dataquality as dq

from canary import CANARY
from dbx_native.local import LocalWorkspace
from dbx_native.local._monitors_stats import js_distance, ks_test, population_stability_index, quantiles

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.intercept():
        yield workspace


@pytest.fixture
def w(ws: LocalWorkspace) -> WorkspaceClient:
    return WorkspaceClient(host=ws.host, token=CANARY, auth_type="pat")


def preds(
    start: dt.datetime, labels: list[str], amounts: list[float | None], model: str = "v1"
) -> list[dict[str, Any]]:
    return [
        {"ts": start + dt.timedelta(minutes=i), "model": model, "pred": p, "amount": a}
        for i, (p, a) in enumerate(zip(labels, amounts, strict=True))
    ]


def setup_tables(ws: LocalWorkspace) -> tuple[str, str]:
    day1 = preds(T0, ["yes", "yes", "no", "no"], [1.0, 2.0, 3.0, 4.0])
    day2 = preds(T0 + DAY, ["yes", "yes", "yes", "no"], [3.0, 4.0, 5.0, 6.0])
    table = ws.create_table("main.ml.preds", day1 + day2)
    ws.create_table("main.ml.baseline", day1)
    schema = ws.catalog.create_schema("main.mon")
    return table["table_id"], schema["schema_id"]


def inference_monitor(table_id: str, schema_id: str, **config: Any) -> dq.Monitor:
    settings = dict(
        problem_type=dq.InferenceProblemType.INFERENCE_PROBLEM_TYPE_CLASSIFICATION,
        timestamp_column="ts",
        granularities=[dq.AggregationGranularity.AGGREGATION_GRANULARITY_1_DAY],
        prediction_column="pred",
        model_id_column="model",
    )
    settings.update(config.pop("inference", {}))
    return dq.Monitor(
        object_type="table",
        object_id=table_id,
        data_profiling_config=dq.DataProfilingConfig(
            output_schema_id=schema_id, inference_log=dq.InferenceLogConfig(**settings), **config
        ),
    )


def drift_rows(ws: LocalWorkspace, drift_type: str) -> dict[str, dict[str, Any]]:
    _, rows = ws.catalog.execute(
        "SELECT column_name, model_id, ks_test.statistic, ks_test.pvalue, js_distance, population_stability_index "
        "FROM main.mon.preds_drift_metrics WHERE drift_type = :t AND slice_key IS NULL AND model_id = '*' "
        "AND `window`.start = :start",
        {"t": drift_type, "start": T0 + DAY},
    )
    keys = ["model_id", "ks", "pvalue", "js", "psi"]
    return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}


def test_sdk_create_monitor_fills_outputs_and_get_returns_it(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    table_id, schema_id = setup_tables(ws)
    created = w.data_quality.create_monitor(inference_monitor(table_id, schema_id))
    config = created.data_profiling_config
    assert config is not None
    assert config.monitored_table_name == "main.ml.preds"
    assert config.profile_metrics_table_name == "main.mon.preds_profile_metrics"
    assert config.drift_metrics_table_name == "main.mon.preds_drift_metrics"
    assert config.status == dq.DataProfilingStatus.DATA_PROFILING_STATUS_ACTIVE
    assert config.monitor_version == 1
    fetched = w.data_quality.get_monitor("table", table_id)
    assert fetched.data_profiling_config is not None
    assert fetched.data_profiling_config.inference_log == config.inference_log
    with pytest.raises(ResourceAlreadyExists):
        w.data_quality.create_monitor(inference_monitor(table_id, schema_id))


def test_sdk_update_monitor_applies_only_masked_fields_and_bumps_version(
    ws: LocalWorkspace, w: WorkspaceClient
) -> None:
    table_id, schema_id = setup_tables(ws)
    w.data_quality.create_monitor(inference_monitor(table_id, schema_id))
    patch = inference_monitor(table_id, schema_id, baseline_table_name="main.ml.baseline", slicing_exprs=["model"])
    updated = w.data_quality.update_monitor(
        "table", table_id, patch, update_mask="data_profiling_config.baseline_table_name"
    )
    assert updated.data_profiling_config is not None
    assert updated.data_profiling_config.baseline_table_name == "main.ml.baseline"
    assert updated.data_profiling_config.slicing_exprs is None
    assert updated.data_profiling_config.monitor_version == 2


def test_sdk_delete_monitor_then_get_is_not_found(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    table_id, schema_id = setup_tables(ws)
    w.data_quality.create_monitor(inference_monitor(table_id, schema_id))
    w.data_quality.delete_monitor("table", table_id)
    with pytest.raises(NotFound):
        w.data_quality.get_monitor("table", table_id)
    assert not ws.monitors.has_monitor(table_id)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"inference": {"timestamp_column": "pred"}}, "must be a timestamp or date"),
        ({"inference": {"timestamp_column": "nope"}}, "is not a column"),
        ({"inference": {"prediction_column": "nope"}}, "is not a column"),
        ({"baseline_table_name": "main.ml.missing"}, "does not exist"),
    ],
)
def test_sdk_create_monitor_refuses_bad_configs(
    ws: LocalWorkspace, w: WorkspaceClient, change: dict[str, Any], message: str
) -> None:
    table_id, schema_id = setup_tables(ws)
    with pytest.raises((BadRequest, NotFound), match=message):
        w.data_quality.create_monitor(inference_monitor(table_id, schema_id, **change))
    assert not ws.monitors.has_monitor(table_id)


def test_create_monitor_on_unknown_table_id_is_404_and_bad_granularity_is_400(
    ws: LocalWorkspace, w: WorkspaceClient
) -> None:
    _, schema_id = setup_tables(ws)
    with pytest.raises(NotFound, match="does not exist"):
        w.data_quality.create_monitor(inference_monitor("00000000-0000-0000-0000-000000000000", schema_id))
    body = {
        "object_type": "table",
        "object_id": ws.catalog.table_info("main.ml.preds")["table_id"],
        "data_profiling_config": {
            "output_schema_id": schema_id,
            "time_series": {"timestamp_column": "ts", "granularities": ["AGGREGATION_GRANULARITY_2_DAYS"]},
        },
    }
    with pytest.raises(BadRequest, match="not supported"):
        w.api_client.do("POST", "/api/data-quality/v1/monitors", body=body)


def test_refresh_follows_scripted_states_and_computes_metrics_on_success(
    ws: LocalWorkspace, w: WorkspaceClient
) -> None:
    table_id, schema_id = setup_tables(ws)
    w.data_quality.create_monitor(inference_monitor(table_id, schema_id))
    ws.states.set(
        "monitor-refresh",
        ["MONITOR_REFRESH_STATE_PENDING", "MONITOR_REFRESH_STATE_RUNNING", "MONITOR_REFRESH_STATE_SUCCESS"],
        after_reads=1,
    )
    refresh = w.data_quality.create_refresh("table", table_id, dq.Refresh(object_type="table", object_id=table_id))
    assert refresh.state == dq.RefreshState.MONITOR_REFRESH_STATE_PENDING
    assert not ws.catalog.table_exists("main.mon.preds_drift_metrics")
    seen = [w.data_quality.get_refresh("table", table_id, refresh.refresh_id).state for _ in range(3)]
    assert [s.value for s in seen if s] == [
        "MONITOR_REFRESH_STATE_PENDING",
        "MONITOR_REFRESH_STATE_RUNNING",
        "MONITOR_REFRESH_STATE_SUCCESS",
    ]
    assert ws.catalog.table_exists("main.mon.preds_drift_metrics")
    final = w.data_quality.get_refresh("table", table_id, refresh.refresh_id)
    assert final.end_time_ms is not None and final.message and "drift metric rows" in final.message


def test_second_refresh_while_one_runs_is_a_conflict_and_cancel_ends_it(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    table_id, schema_id = setup_tables(ws)
    w.data_quality.create_monitor(inference_monitor(table_id, schema_id))
    ws.states.set("monitor-refresh", ["MONITOR_REFRESH_STATE_RUNNING", "MONITOR_REFRESH_STATE_SUCCESS"], after_reads=5)
    first = w.data_quality.create_refresh("table", table_id, dq.Refresh(object_type="table", object_id=table_id))
    with pytest.raises(Exception, match="still in progress"):
        w.data_quality.create_refresh("table", table_id, dq.Refresh(object_type="table", object_id=table_id))
    assert first.refresh_id is not None
    w.data_quality.cancel_refresh("table", table_id, first.refresh_id)
    state = w.data_quality.get_refresh("table", table_id, first.refresh_id).state
    assert state == dq.RefreshState.MONITOR_REFRESH_STATE_CANCELED


def test_drift_metrics_match_hand_computed_values(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    table_id, schema_id = setup_tables(ws)
    w.data_quality.create_monitor(inference_monitor(table_id, schema_id, baseline_table_name="main.ml.baseline"))
    w.data_quality.create_refresh("table", table_id, dq.Refresh(object_type="table", object_id=table_id))
    # Day 2 against day 1 (consecutive) and against the baseline (day 1 again): the same numbers.
    for drift_type in ("CONSECUTIVE", "BASELINE"):
        rows = drift_rows(ws, drift_type)
        # amounts [3,4,5,6] vs [1,2,3,4]: the empirical CDFs are furthest apart at x=2 (0 vs 1/2).
        assert rows["amount"]["ks"] == pytest.approx(0.5)
        # pred shares yes/no: 3/4, 1/4 now against 1/2, 1/2.
        psi = (0.75 - 0.5) * math.log(0.75 / 0.5) + (0.25 - 0.5) * math.log(0.25 / 0.5)
        assert rows["pred"]["psi"] == pytest.approx(psi)
        m_yes, m_no = (0.75 + 0.5) / 2, (0.25 + 0.5) / 2
        jsd = 0.5 * (0.75 * math.log2(0.75 / m_yes) + 0.25 * math.log2(0.25 / m_no)) + 0.5 * (
            0.5 * math.log2(0.5 / m_yes) + 0.5 * math.log2(0.5 / m_no)
        )
        assert rows["pred"]["js"] == pytest.approx(math.sqrt(jsd))
        assert rows["amount"]["js"] is None and rows["pred"]["ks"] is None


def test_profile_metrics_match_hand_computed_values(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    table_id, schema_id = setup_tables(ws)
    ws.catalog.insert_rows("main.ml.preds", [{"ts": T0 + dt.timedelta(hours=1), "model": "v2", "pred": None}])
    w.data_quality.create_monitor(inference_monitor(table_id, schema_id))
    w.data_quality.create_refresh("table", table_id, dq.Refresh(object_type="table", object_id=table_id))
    _, rows = ws.catalog.execute(
        "SELECT column_name, count, num_nulls, avg, stddev, median, quantiles, distinct_count, frequent_items "
        "FROM main.mon.preds_profile_metrics WHERE `window`.start = :start AND model_id = '*' AND slice_key IS NULL",
        {"start": T0},
    )
    by_column = {r[0]: r[1:] for r in rows}
    assert by_column[":table"][0] == 5
    count, nulls, avg, stddev, median, qs, distinct, _ = by_column["amount"]
    assert (count, nulls, distinct) == (5, 1, 4)
    assert avg == pytest.approx(2.5)
    assert stddev == pytest.approx(math.sqrt(((1.5**2) * 2 + (0.5**2) * 2) / 3))
    assert median == pytest.approx(2.5) and qs == pytest.approx([1.0, 1.75, 2.5, 3.25, 4.0])
    pred = by_column["pred"]
    assert (pred[0], pred[1], pred[6]) == (5, 1, 2)
    assert {item["item"]: item["count"] for item in pred[7]} == {"yes": 2, "no": 2}
    _, models = ws.catalog.execute(
        "SELECT DISTINCT model_id FROM main.mon.preds_profile_metrics WHERE `window`.start = :start", {"start": T0}
    )
    assert sorted(m[0] for m in models) == ["*", "v1", "v2"]


def test_slicing_exprs_write_one_row_per_slice_value(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    table_id, schema_id = setup_tables(ws)
    w.data_quality.create_monitor(inference_monitor(table_id, schema_id, slicing_exprs=["amount > 2"]))
    w.data_quality.create_refresh("table", table_id, dq.Refresh(object_type="table", object_id=table_id))
    _, rows = ws.catalog.execute(
        "SELECT slice_value, count FROM main.mon.preds_profile_metrics WHERE slice_key = 'amount > 2' "
        "AND column_name = ':table' AND model_id = '*' AND `window`.start = :start ORDER BY slice_value",
        {"start": T0},
    )
    assert rows == [("false", 2), ("true", 2)]


def test_legacy_quality_monitors_api_sees_the_same_monitor(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    setup_tables(ws)
    info = w.quality_monitors.create(
        table_name="main.ml.preds",
        assets_dir="/Workspace/monitors",
        output_schema_name="main.mon",
        time_series=uc.MonitorTimeSeries(timestamp_col="ts", granularities=["1 day"]),
    )
    assert info.status == uc.MonitorInfoStatus.MONITOR_STATUS_ACTIVE
    assert info.drift_metrics_table_name == "main.mon.preds_drift_metrics"
    table_id = ws.catalog.table_info("main.ml.preds")["table_id"]
    config = w.data_quality.get_monitor("table", table_id).data_profiling_config
    assert config is not None and config.time_series is not None
    assert config.time_series.granularities == [dq.AggregationGranularity.AGGREGATION_GRANULARITY_1_DAY]
    refresh = w.quality_monitors.run_refresh(table_name="main.ml.preds")
    assert refresh.state == uc.MonitorRefreshInfoState.SUCCESS


def test_unavailable_data_quality_api_answers_endpoint_not_found(ws: LocalWorkspace, w: WorkspaceClient) -> None:
    ws.monitors.data_quality_available = False
    with pytest.raises(NotFound):
        w.data_quality.get_monitor("table", "x")
    assert ws.requests[-1].status == 404


def test_stats_helpers_agree_with_definitions() -> None:
    assert quantiles([1.0, 2.0, 3.0, 4.0], [0.5, 0.25]) == [2.5, 1.75]
    statistic, pvalue = ks_test([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert statistic == 0.0 and pvalue == 1.0
    statistic, pvalue = ks_test([float(i) for i in range(100)], [float(i) + 100 for i in range(100)])
    assert statistic == 1.0 and pvalue < 1e-10
    assert population_stability_index(["a", "b"], ["a", "b"]) == 0.0
    assert js_distance(["a", "b"], ["b", "a"]) == 0.0
