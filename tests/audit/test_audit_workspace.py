"""`audit_workspace` and `dbx-native audit --workspace` against the local workspace: evidence, unknowns, bounds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from canary import CANARY
from dbx_native import DbxConfig
from dbx_native._core.clock import FakeClock
from dbx_native.audit import AuditReport, ComponentResult, audit_project, audit_workspace, merge_reports, render
from dbx_native.cli import main
from dbx_native.errors import AuthenticationError, InvalidRequestError
from dbx_native.local import LocalWorkspace
from dbx_native.rest import RestClient
from dbx_native.testing._mock import isolated_environ

GUARDED = {
    "guardrails": {"input": {"safety": True, "pii": {"behavior": "BLOCK"}}},
    "rate_limits": [{"calls": 100, "key": "user", "renewal_period": "minute"}],
}
UNANSWERED = ("pipelines", "mlflow")  # the local workspace has no pipelines/MLflow APIs


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ws(clock: FakeClock) -> Iterator[LocalWorkspace]:
    # One fake clock for the workspace (injected latency) and the client (retries, probe deadlines): no real waiting.
    workspace = LocalWorkspace(token=CANARY, clock=clock)
    with workspace.intercept():
        yield workspace


def audit(ws: LocalWorkspace, clock: FakeClock, **options: Any) -> AuditReport:
    config = DbxConfig(host=ws.host, token=CANARY, retry={"jitter": 0.0})
    with RestClient(config=config, clock=clock) as client:
        return audit_workspace(client=client, **options)


def component(report: AuditReport, key: str) -> ComponentResult:
    return next(c for c in (*report.components, *report.extras) if c.key == key)


def snippets(report: AuditReport, key: str) -> list[str]:
    return [e.snippet for e in component(report, key).evidence]


def populate(ws: LocalWorkspace) -> None:
    ws.serving.create_endpoint("fraud-llm", ai_gateway=GUARDED)
    ws.create_table("main.fraud.merchants", [{"merchant_id": "m_1", "risk": 0.2}], primary_key="merchant_id")
    ws.features.create_spec("main.fraud.merchant_spec", table="main.fraud.merchants", lookup_keys="merchant_id")
    ws.serving.create_endpoint(
        "merchant-features", served_entities=[{"name": "spec", "entity_name": "main.fraud.merchant_spec"}]
    )
    ws.vector.create_endpoint("fraud-vectors")
    ws.vector.create_index("main.fraud.memory", endpoint_name="fraud-vectors", dimension=8)
    traces = ws.create_table("main.agent.traces", [{"trace_id": "t1", "span_id": "s1", "name": "chat"}])
    schema = ws.catalog.create_schema("main.monitoring")
    ws.monitors.create(traces["table_id"], {"output_schema_id": schema["schema_id"], "snapshot": {}})


def test_live_evidence_names_what_the_workspace_runs(ws: LocalWorkspace, clock: FakeClock) -> None:
    populate(ws)
    report = audit(ws, clock)
    assert snippets(report, "ai_gateway") == ["serving endpoint fraud-llm (ai_gateway: guardrails, rate limits)"]
    assert snippets(report, "guardrails") == ["serving endpoint fraud-llm (guardrails: input safety/pii)"]
    assert "serving endpoint fraud-llm (llm/v1/chat)" in snippets(report, "model_serving")
    assert (
        snippets(report, "feature_serving")[0]
        == "feature spec main.fraud.merchant_spec served by endpoint merchant-features"
    )
    assert snippets(report, "vector_search") == [
        "vector search index main.fraud.memory on endpoint fraud-vectors",
        "vector search endpoint fraud-vectors (STANDARD)",
    ]
    assert snippets(report, "data_quality") == ["data quality monitor on main.agent.traces (snapshot)"]
    assert "tables in main.fraud with format DELTA (1)" in snippets(report, "delta_lake")
    assert component(report, "zerobus").confidence == "medium"
    assert snippets(report, "zerobus") == ["OTel span table main.agent.traces (trace_id, span_id columns)"]
    used = {c.key for c in report.components if c.used}
    assert used == {
        "delta_lake", "unity_catalog", "model_serving", "zerobus", "ai_gateway", "feature_serving",
        "vector_search", "data_quality",
    }  # fmt: skip
    assert (report.score, report.total, report.workspace, report.root) == (8, 12, ws.host, "")
    assert all(str(e) == "workspace" and e.kind == "workspace" for c in report.components for e in c.evidence)


def test_services_the_workspace_does_not_answer_are_unknown_with_the_reason(
    ws: LocalWorkspace, clock: FakeClock
) -> None:
    report = audit(ws, clock)
    for key in UNANSWERED:
        result = component(report, key)
        assert not result.used and result.confidence == "none"
        assert result.unknown is not None and result.unknown.startswith("the workspace does not answer GET /api/")
    assert "GET /api/2.0/pipelines (404 ENDPOINT_NOT_FOUND)" in (component(report, "pipelines").unknown or "")
    assert component(report, "jobs").unknown is None and component(report, "bundles").unknown is None
    table = render(report, "table")
    pipelines = "Declarative Pipelines (DLT)"
    assert f"[?] {pipelines:<30} unknown (the workspace does not answer GET /api/2.0/pipelines" in table
    assert f"workspace {ws.host}: checked live; 2 component(s) unknown" in table


def test_live_jobs_show_their_trigger_and_bundle_deployment(ws: LocalWorkspace, clock: FakeClock) -> None:
    import requests

    job = {
        "name": "nightly",
        "tasks": [{"task_key": "score", "notebook_task": {"notebook_path": "/Jobs/score"}}],
        "schedule": {"quartz_cron_expression": "0 0 6 * * ?", "timezone_id": "UTC"},
        "deployment": {"kind": "BUNDLE", "metadata_file_path": "/Workspace/bundle/state/metadata.json"},
    }
    answer = requests.post(
        f"{ws.host}/api/2.2/jobs/create", json=job, headers={"Authorization": f"Bearer {CANARY}"}, timeout=5
    )
    assert answer.status_code == 200
    report = audit(ws, clock)
    assert snippets(report, "jobs") == ["job nightly (schedule 0 0 6 * * ?)"]
    assert snippets(report, "bundles") == ["job nightly deployed by a bundle (/Workspace/bundle/state/metadata.json)"]


def test_an_empty_workspace_scores_zero_and_marks_what_it_checked_as_not_used(
    ws: LocalWorkspace, clock: FakeClock
) -> None:
    report = audit(ws, clock)
    assert report.score == 0
    checked = [c for c in report.components if c.key not in UNANSWERED]
    assert checked and all(c.unknown is None and c.confidence == "none" and not c.evidence for c in checked)


def test_a_persistent_503_on_one_probe_is_retried_then_makes_only_its_components_unknown(
    ws: LocalWorkspace, clock: FakeClock
) -> None:
    populate(ws)
    fault = ws.faults.add(status=503, times=None, path=r"^/api/data-quality/v1/monitors$")
    report = audit(ws, clock)
    assert fault.hits == 4  # the core's retries (max_attempts=4) before giving up on the probe
    assert len(clock.sleeps) == 3 and clock.monotonic() < 15  # backoff on the fake clock, inside the time limit
    result = component(report, "data_quality")
    assert not result.used
    assert result.unknown == "GET /api/data-quality/v1/monitors failed (503 TEMPORARILY_UNAVAILABLE)"
    assert component(report, "vector_search").used and component(report, "ai_gateway").used


def test_a_403_on_one_probe_says_permission_denied_and_the_others_go_on(ws: LocalWorkspace, clock: FakeClock) -> None:
    populate(ws)
    fault = ws.faults.add(status=403, times=None, path=r"^/api/2\.0/vector-search/")
    report = audit(ws, clock)
    assert fault.hits == 1  # a refusal is not retried
    assert component(report, "vector_search").unknown == (
        "permission denied on GET /api/2.0/vector-search/endpoints (403 PERMISSION_DENIED)"
    )
    assert "[?] AI/Vector Search" in render(report, "table")
    assert component(report, "data_quality").used and component(report, "feature_serving").used


def test_a_body_that_is_not_json_makes_the_probe_unknown(ws: LocalWorkspace, clock: FakeClock) -> None:
    populate(ws)
    ws.faults.add(malformed_body=True, times=None, path=r"^/api/2\.0/serving-endpoints$")
    report = audit(ws, clock)
    reason = component(report, "ai_gateway").unknown or ""
    assert reason == "unexpected answer listing serving endpoints (APIResponseError): is a proxy in the way?"
    assert component(report, "vector_search").used


def test_a_refused_schema_leaves_the_catalog_partly_checked_not_unused(ws: LocalWorkspace, clock: FakeClock) -> None:
    ws.create_table("main.fraud.tx", [{"amount": 1.0}])
    ws.faults.add(status=403, times=None, path=r"^/api/2\.1/unity-catalog/tables$")
    report = audit(ws, clock)
    uc = component(report, "unity_catalog")
    assert not uc.used and uc.confidence == "low"
    assert (
        uc.unknown == "partly checked: permission denied on GET /api/2.1/unity-catalog/tables (403 PERMISSION_DENIED)"
    )
    assert snippets(report, "unity_catalog") == ["catalog main (no tables found in its first schemas)"]
    assert component(report, "delta_lake").unknown == uc.unknown


def test_a_probe_past_its_time_limit_is_unknown_and_the_next_probes_still_run(
    ws: LocalWorkspace, clock: FakeClock
) -> None:
    populate(ws)
    ws.faults.add(latency=20.0, times=None, path=r"^/api/2\.1/unity-catalog/catalogs$")
    report = audit(ws, clock, timeout=15.0)
    assert component(report, "unity_catalog").unknown == "stopped after 15 s, the probe's time limit"
    assert component(report, "data_quality").used  # the monitors probe ran after, with its own 15 s


def test_an_unreachable_workspace_is_tried_once_not_once_per_probe(clock: FakeClock) -> None:
    config = DbxConfig(host="http://127.0.0.1:1", token=CANARY, retry={"jitter": 0.0, "max_attempts": 2})
    with RestClient(config=config, clock=clock) as client:
        report = audit_workspace(client=client)
    assert report.score == 0
    first = component(report, "model_serving").unknown or ""
    assert first.startswith("no answer from the workspace (APIConnectionError")
    assert component(report, "jobs").unknown == f"not tried: {first}"
    assert all(c.unknown for c in report.components)


def test_a_refused_token_stops_the_audit_without_showing_it(ws: LocalWorkspace, clock: FakeClock) -> None:
    wrong = "dapi" + "0" * 32
    client = RestClient(config=DbxConfig(host=ws.host, token=wrong), clock=clock)
    with client, pytest.raises(AuthenticationError) as caught:
        audit_workspace(client=client)
    assert caught.value.status_code == 401
    assert wrong not in str(caught.value) and CANARY not in str(caught.value)
    assert len(ws.requests.filter(path="/api/2.0/serving-endpoints")) == 1  # stopped at the first probe


def test_settings_values_never_reach_the_report(ws: LocalWorkspace, clock: FakeClock) -> None:
    entity = {"name": "m", "entity_name": "local-scripted", "entity_version": "1", "environment_vars": {"KEY": CANARY}}
    ws.serving.create_endpoint("fraud-llm", served_entities=[entity], ai_gateway=GUARDED)
    report = audit(ws, clock)
    assert component(report, "model_serving").used
    for fmt in ("table", "json", "markdown"):
        assert CANARY not in render(report, fmt)
    assert CANARY not in repr(report)


def test_built_in_foundation_model_endpoints_do_not_count(ws: LocalWorkspace, clock: FakeClock) -> None:
    entity = {"name": "gte", "entity_name": "system.ai.gte_large_en", "entity_version": "1"}
    ws.serving.create_endpoint("databricks-gte-large-en", served_entities=[entity], task="llm/v1/embeddings")
    report = audit(ws, clock)
    serving = component(report, "model_serving")
    assert (serving.used, serving.confidence) == (False, "low")
    assert serving.evidence[0].snippet.startswith("built-in endpoint databricks-gte-large-en")


def test_a_served_uc_model_counts_for_unity_catalog(ws: LocalWorkspace, clock: FakeClock) -> None:
    entity = {"name": "v3", "entity_name": "main.fraud.fraud_model", "entity_version": "3"}
    ws.serving.create_endpoint("fraud-scoring", served_entities=[entity])
    report = audit(ws, clock)
    assert snippets(report, "unity_catalog") == [
        "serving endpoint fraud-scoring serves UC model main.fraud.fraud_model v3"
    ]
    mlflow = component(report, "mlflow")
    assert mlflow.used and mlflow.confidence == "medium" and mlflow.unknown is None


def test_list_calls_read_one_bounded_page_and_few_schemas(ws: LocalWorkspace, clock: FakeClock) -> None:
    for c in range(8):
        for s in range(3):
            ws.create_table(f"cat{c}.s{s}.t", [{"x": 1}])
    for n in range(8):
        ws.serving.create_endpoint(f"ep{n}")
    report = audit(ws, clock, limit=6)
    schema_calls = ws.requests.filter(path="/api/2.1/unity-catalog/schemas")
    table_calls = ws.requests.filter(path="/api/2.1/unity-catalog/tables")
    assert len(schema_calls) == 5 and len(table_calls) == 10
    assert all(r.arg("max_results") == "6" for r in [*schema_calls, *table_calls])
    assert ws.requests.filter(path="/api/2.1/unity-catalog/catalogs")[0].arg("max_results") == "6"
    assert component(report, "model_serving").evidence_count == 6  # the first 6 endpoints only
    assert not any(r.path.endswith("/next") or r.arg("page_token") for r in ws.requests)


def test_bad_arguments_are_refused_before_any_call(ws: LocalWorkspace, clock: FakeClock) -> None:
    with pytest.raises(InvalidRequestError, match="timeout"):
        audit(ws, clock, timeout=0)
    with pytest.raises(InvalidRequestError, match="limit"):
        audit(ws, clock, limit=101)
    assert not ws.requests


def test_merge_counts_a_component_either_side_shows_and_keeps_both_evidence(
    ws: LocalWorkspace, clock: FakeClock, tmp_path: Path
) -> None:
    populate(ws)
    (tmp_path / "run.py").write_text("w.jobs.run_now(job_id=1)\nw.serving_endpoints.query(name='fraud-llm')\n")
    project = audit_project(tmp_path)
    both = merge_reports(project, audit(ws, clock))
    jobs = component(both, "jobs")
    assert jobs.used and jobs.unknown is None and [str(e) for e in jobs.evidence] == ["run.py:1"]
    serving = component(both, "model_serving")
    assert [e.kind for e in serving.evidence][:2] == ["code", "workspace"]
    assert serving.evidence_count == 3  # one line of code, two endpoints
    assert component(both, "pipelines").unknown  # neither side shows it and the workspace could not check
    assert both.score == 9 and (both.root, both.workspace) == (str(tmp_path), ws.host)
    assert both.files_scanned == project.files_scanned


# --- the command ------------------------------------------------------------------------------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalWorkspace]:
    """A loopback workspace with the environment pointed at it (as `dbx-native audit --workspace` reads it)."""
    workspace = LocalWorkspace(token=CANARY)
    with workspace.serve() as server:
        for name, value in isolated_environ(workspace, CANARY).items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("DATABRICKS_HOST", server.host)
        yield workspace


def test_cli_workspace_alone_prints_the_live_score(served: LocalWorkspace, capsys: pytest.CaptureFixture[str]) -> None:
    populate(served)
    assert main(["audit", "--workspace"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Databricks-Native Score: 67% (8/12)")
    assert "[x] AI Gateway                     high    workspace serving endpoint fraud-llm (ai_gateway:" in out
    assert "files scanned" not in out and CANARY not in out


def test_cli_path_and_workspace_combine_in_json(
    served: LocalWorkspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    populate(served)
    (tmp_path / "job.py").write_text("w.jobs.run_now(job_id=1)\n")
    assert main(["audit", str(tmp_path), "--workspace", "--format", "json", "--fail-under", "9"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["score"] == 9 and data["root"] == str(tmp_path) and data["workspace"].startswith("http://127.0.0.1:")
    kinds = {c["key"]: {e["kind"] for e in c["evidence"]} for c in data["components"]}
    assert kinds["jobs"] == {"code"} and kinds["vector_search"] == {"workspace"}


def test_cli_fail_under_counts_the_live_score(served: LocalWorkspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--workspace", "--fail-under", "1", "--format", "markdown"]) == 1
    captured = capsys.readouterr()
    assert "| [?] | Declarative Pipelines (DLT) | unknown | 0 |" in captured.out
    assert "score 0/12 is under 1" in captured.err


def test_cli_refused_credentials_exit_two_without_the_token(
    served: LocalWorkspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = "dapi" + "1" * 32
    monkeypatch.setenv("DATABRICKS_TOKEN", wrong)
    assert main(["audit", "--workspace"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the workspace could not be audited: 401")
    assert wrong not in err and CANARY not in err


def test_cli_needs_a_path_or_workspace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit"]) == 2
    assert "PATH, --workspace, or both" in capsys.readouterr().err
