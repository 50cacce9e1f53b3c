"""MonitorManager end to end against the local workspace: ensure, refresh, status, delete, drift, fallback."""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterator
from typing import Any

import pytest

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native._core.clock import FakeClock
from dbx_native.errors import ConfigurationError, InvalidRequestError, NotFoundError, OperationTimeoutError
from dbx_native.local import LocalWorkspace
from dbx_native.monitoring import MonitorManager, RefreshInfo

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)
REFRESH_STATES = ["MONITOR_REFRESH_STATE_PENDING", "MONITOR_REFRESH_STATE_RUNNING", "MONITOR_REFRESH_STATE_SUCCESS"]


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    day1 = rows(T0, ["yes", "yes", "no", "no"], [1.0, 2.0, 3.0, 4.0])
    day2 = rows(T0 + DAY, ["yes", "yes", "yes", "no"], [3.0, 4.0, 5.0, 6.0])
    workspace.create_table("main.ml.preds", day1 + day2)
    workspace.create_table("main.ml.baseline", day1)
    workspace.catalog.create_schema("main.mon")
    with workspace.intercept():
        yield workspace


def rows(start: dt.datetime, labels: list[str], amounts: list[float]) -> list[dict[str, Any]]:
    return [
        {"ts": start + dt.timedelta(minutes=i), "model": "v1", "pred": p, "amount": a, "day": start.date()}
        for i, (p, a) in enumerate(zip(labels, amounts, strict=True))
    ]


def manager(ws: LocalWorkspace, **options: Any) -> MonitorManager:
    config = DbxConfig(host=ws.host, token=CANARY, retry={"jitter": 0.0})
    return MonitorManager(config, clock=options.pop("clock", FakeClock()), **options)


def ensure(mm: MonitorManager, **overrides: Any) -> Any:
    args: dict[str, Any] = dict(
        timestamp_col="ts", prediction_col="pred", model_id_col="model", output_schema="main.mon"
    )
    args.update(overrides)
    return mm.ensure_inference_monitor("main.ml.preds", **args)


def writes(ws: LocalWorkspace) -> list[str]:
    return [f"{r.method} {r.path}" for r in ws.requests if r.method in ("POST", "PATCH", "PUT", "DELETE")]


def test_ensure_creates_then_does_nothing_when_nothing_changed(ws: LocalWorkspace) -> None:
    mm = manager(ws)
    first = ensure(mm)
    assert first.action == "created" and first.changed
    assert first.monitor.profile_type == "inference_log" and first.monitor.status == "ACTIVE"
    assert first.monitor.drift_metrics_table == "main.mon.preds_drift_metrics"
    assert {c.path for c in first.changes} >= {"data_profiling_config.inference_log"}
    before = len(writes(ws))
    second = ensure(mm)
    assert second.action == "unchanged" and second.changes == []
    assert len(writes(ws)) == before  # nothing sent


def test_ensure_updates_only_the_changed_field_and_shows_the_diff(ws: LocalWorkspace) -> None:
    mm = manager(ws)
    ensure(mm)
    changed = ensure(mm, granularities=("1 day", "1 hour"), baseline_table="main.ml.baseline")
    assert changed.action == "updated"
    paths = sorted(c.path for c in changed.changes)
    assert paths == ["data_profiling_config.baseline_table_name", "data_profiling_config.inference_log"]
    baseline = next(c for c in changed.changes if c.path.endswith("baseline_table_name"))
    assert (baseline.live, baseline.wanted) == (None, "main.ml.baseline")
    assert "None -> 'main.ml.baseline'" in str(changed)
    patch = next(r for r in ws.requests if r.method == "PATCH")
    assert patch.arg("update_mask") == ("data_profiling_config.inference_log,data_profiling_config.baseline_table_name")
    assert changed.monitor.monitor_version == 2
    assert ensure(mm, granularities=("1 hour", "1 day"), baseline_table="main.ml.baseline").action == "unchanged"


def test_ensure_with_another_analysis_type_says_to_delete_first(ws: LocalWorkspace) -> None:
    mm = manager(ws)
    ensure(mm)
    with pytest.raises(InvalidRequestError, match="delete"):
        mm.ensure_time_series_monitor("main.ml.preds", timestamp_col="ts", output_schema="main.mon")


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        ({"timestamp_col": "pred"}, InvalidRequestError, "must be a TIMESTAMP or DATE"),
        ({"prediction_col": "score"}, InvalidRequestError, "is not a column"),
        ({"granularities": ("2 days",)}, InvalidRequestError, "not supported"),
        ({"problem_type": "ranking"}, InvalidRequestError, "classification"),
        ({"output_schema": "main.nowhere"}, NotFoundError, "create it first"),
        ({"baseline_table": "main.ml.nope"}, NotFoundError, "was not found"),
    ],
)
def test_bad_input_is_refused_before_any_monitor_is_sent(
    ws: LocalWorkspace, overrides: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ensure(manager(ws), **overrides)
    assert writes(ws) == []


def test_unknown_table_raises_not_found_saying_what_to_check(ws: LocalWorkspace) -> None:
    mm = manager(ws)
    with pytest.raises(NotFoundError, match="was not found in Unity Catalog") as info:
        mm.ensure_snapshot_monitor("main.ml.missing", output_schema="main.mon")
    assert info.value.status_code == 404
    with pytest.raises(InvalidRequestError, match="three-part"):
        mm.status("preds")


def test_date_timestamp_column_and_time_series_and_snapshot_monitors_work(ws: LocalWorkspace) -> None:
    mm = manager(ws)
    made = mm.ensure_time_series_monitor("main.ml.preds", timestamp_col="day", output_schema="main.mon")
    assert made.monitor.profile_type == "time_series"
    assert mm.delete("main.ml.preds") is True
    snap = mm.ensure_snapshot_monitor("main.ml.baseline", output_schema="main.mon", schedule="0 0 * * * ?")
    assert snap.monitor.profile_type == "snapshot"
    assert snap.monitor.config["schedule"]["quartz_cron_expression"] == "0 0 * * * ?"
    assert mm.refresh("main.ml.baseline").succeeded


def test_refresh_waits_through_states_with_backoff_and_progress(ws: LocalWorkspace) -> None:
    clock = FakeClock()
    mm = manager(ws, clock=clock)
    ensure(mm)
    ws.states.set("monitor-refresh", REFRESH_STATES, after_reads=2)
    seen: list[str] = []
    done = mm.refresh("main.ml.preds", poll_interval=2.0, progress=lambda r: seen.append(r.state))
    assert done.succeeded and done.end_time_ms is not None
    assert seen == ["PENDING", "RUNNING", "SUCCESS"]
    assert clock.sleeps[:3] == [2.0, 3.0, 4.5]  # 1.5x backoff on the injected clock
    assert mm.status("main.ml.preds").latest_refresh == done


def test_refresh_timeout_raises_with_the_last_state(ws: LocalWorkspace) -> None:
    clock = FakeClock()
    mm = manager(ws, clock=clock)
    ensure(mm)
    ws.states.set("monitor-refresh", REFRESH_STATES, after_reads=1000)
    with pytest.raises(OperationTimeoutError) as info:
        mm.refresh("main.ml.preds", timeout=30.0, poll_interval=5.0)
    last = info.value.last_state
    assert isinstance(last, RefreshInfo) and last.state == "PENDING"
    assert info.value.timeout == 30.0
    assert sum(clock.sleeps) == pytest.approx(30.0)


def test_refresh_without_wait_returns_at_once(ws: LocalWorkspace) -> None:
    mm = manager(ws)
    ensure(mm)
    ws.states.set("monitor-refresh", REFRESH_STATES, after_reads=1)
    started = mm.refresh("main.ml.preds", wait=False)
    assert started.state == "PENDING" and not started.done


def test_status_and_delete(ws: LocalWorkspace) -> None:
    mm = manager(ws)
    with pytest.raises(NotFoundError, match="has no monitor"):
        mm.status("main.ml.preds")
    ensure(mm)
    info = mm.status("main.ml.preds")
    assert info.table == "main.ml.preds" and info.latest_refresh is None and info.api == "data-quality"
    assert mm.delete("main.ml.preds") is True
    assert mm.delete("main.ml.preds") is False


def test_drift_report_against_baseline_matches_hand_computed_values(ws: LocalWorkspace) -> None:
    mm = manager(ws, warehouse_id="wh-local")
    ensure(mm, baseline_table="main.ml.baseline")
    mm.refresh("main.ml.preds")
    report = mm.drift("main.ml.preds")
    assert report.drift_type == "BASELINE" and report.window_start == T0 + DAY
    values = {(c.column, c.metric): c for c in report.columns}
    assert values[("amount", "ks_statistic")].value == pytest.approx(0.5)
    psi = 0.25 * math.log(1.5) + 0.25 * math.log(2.0)
    assert values[("pred", "psi")].value == pytest.approx(psi)
    assert values[("pred", "psi")].drifted is (psi > 0.2)
    assert report.drifted and "amount" in report.drifted_columns
    relaxed = mm.drift("main.ml.preds", thresholds={"ks_statistic": 0.9, "psi": 0.9, "js_distance": 0.9})
    assert not relaxed.drifted and relaxed.drifted_columns == []
    first_day = mm.drift("main.ml.preds", window=T0)
    assert first_day.columns and all(c.value == pytest.approx(0.0) for c in first_day.columns)


def test_drift_consecutive_without_baseline_and_errors(ws: LocalWorkspace) -> None:
    mm = manager(ws, warehouse_id="wh-local")
    ensure(mm)
    with pytest.raises(NotFoundError, match="refresh"):
        mm.drift("main.ml.preds")
    mm.refresh("main.ml.preds")
    report = mm.drift("main.ml.preds", model_id="*")
    assert report.drift_type == "CONSECUTIVE"
    assert {(c.column, c.metric) for c in report.columns} == {
        ("amount", "ks_statistic"),
        ("pred", "js_distance"),
        ("pred", "psi"),
    }
    with pytest.raises(InvalidRequestError, match="Unknown drift metric"):
        mm.drift("main.ml.preds", thresholds={"wasserstein": 1.0})
    with pytest.raises(ConfigurationError, match="warehouse_id"):
        manager(ws).drift("main.ml.preds")


def test_falls_back_to_legacy_api_and_says_so(ws: LocalWorkspace, caplog: pytest.LogCaptureFixture) -> None:
    ws.monitors.data_quality_available = False
    mm = manager(ws, warehouse_id="wh-local")
    with caplog.at_level(logging.WARNING, logger="dbx_native.monitoring"):
        made = ensure(mm, baseline_table="main.ml.baseline")
    assert made.action == "created" and made.monitor.api == "legacy" and mm.api == "legacy"
    assert any("deprecated quality_monitors" in r.getMessage() for r in caplog.records)
    assert any(r.path.endswith("/main.ml.preds/monitor") for r in ws.requests)
    assert ensure(mm, baseline_table="main.ml.baseline").action == "unchanged"
    updated = ensure(mm, granularities=("1 hour",), baseline_table="main.ml.baseline")
    assert updated.action == "updated" and [c.path for c in updated.changes] == ["data_profiling_config.inference_log"]
    assert mm.refresh("main.ml.preds").succeeded
    assert mm.drift("main.ml.preds").drifted


def test_legacy_only_mode_never_calls_data_quality(ws: LocalWorkspace) -> None:
    mm = manager(ws, api="legacy")
    ensure(mm)
    assert not [r for r in ws.requests if r.path.startswith("/api/data-quality")]
    with pytest.raises(InvalidRequestError):
        MonitorManager(DbxConfig(host=ws.host, token=CANARY), api="v3")  # type: ignore[arg-type]


def test_monitor_traces_sets_up_trace_table_monitoring_in_one_call(ws: LocalWorkspace) -> None:
    from dbx_native.local._otlp import TRACE_SCHEMA

    spans = [
        {
            "trace_id": f"t{i}",
            "span_id": f"s{i}",
            "name": "chat fraud-llm",
            "start_time": T0 + dt.timedelta(minutes=i),
            "duration_ms": 100.0 + i,
            "status_code": "UNSET" if i % 4 else "ERROR",
            "attributes": {"k": "v"},
        }
        for i in range(8)
    ]
    ws.create_table("main.agent.traces", spans, schema=TRACE_SCHEMA)
    mm = manager(ws, warehouse_id="wh-local")
    made = mm.monitor_traces("main.agent.traces", output_schema="main.mon", granularities=("1 hour",))
    config = made.monitor.config["inference_log"]
    assert (config["timestamp_column"], config["prediction_column"], config["model_id_column"]) == (
        "start_time",
        "status_code",
        "name",
    )
    assert mm.monitor_traces("main.agent.traces", output_schema="main.mon", granularities=("1 hour",)).action == (
        "unchanged"
    )
    assert mm.refresh("main.agent.traces").succeeded
    _, rows = ws.catalog.execute(
        "SELECT count, avg FROM main.mon.traces_profile_metrics WHERE column_name = 'duration_ms' AND model_id = '*'"
    )
    assert rows == [(8, pytest.approx(103.5))]
    report = mm.drift("main.agent.traces", columns=["duration_ms", "status_code"])
    assert {c.column for c in report.columns} <= {"duration_ms", "status_code"}
