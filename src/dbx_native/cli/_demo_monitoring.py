"""Demo step: the agent's own traces land in a Unity Catalog (Delta) table, get a monitor, and show drift."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbx_native.config import DbxConfig
    from dbx_native.local import LocalWorkspace

TRACES = "main.agent.traces"
BASELINE = "main.agent.traces_baseline"
ENDPOINT = "demo-traced-agent"


def _calls(config: DbxConfig, prompts: list[str]) -> int:
    from dbx_native.errors import APIError
    from dbx_native.gateway import GatewayClient

    failed = 0
    with GatewayClient(ENDPOINT, config=config).with_options(max_attempts=1) as gw:
        for prompt in prompts:
            try:
                gw.chat([{"role": "user", "content": prompt}], max_tokens=32)
            except APIError:
                failed += 1  # the failure is in the trace (status ERROR): that is the point
    return failed


def _traced(config: DbxConfig, table: str, prompts: list[str]) -> tuple[int, int]:
    from dbx_native.telemetry import export_to_unity_catalog

    export = export_to_unity_catalog(table, config=config, schedule_delay=0.01)
    failed = _calls(config, prompts)
    export.shutdown(timeout=5.0)
    return export.counters.exported, failed


def _monitoring_step(n: int, ws: LocalWorkspace, config: DbxConfig) -> None:
    """Trace agent calls into UC, monitor the trace table against a baseline, print the drift report."""
    from dbx_native.monitoring import MonitorManager

    print(f"\n[{n}] Agent traces -> Unity Catalog table -> data quality monitor -> drift")
    try:
        ws.serving.get_endpoint(ENDPOINT)
    except KeyError:
        ws.serving.create_endpoint(ENDPOINT, model=["Low risk.", "High risk: 7 chargebacks."])
    baseline_spans, _ = _traced(config, BASELINE, [f"Is merchant m_{i:03d} risky?" for i in range(12)])
    # Today the endpoint is slower and refuses some calls: latency and error-rate drift.
    ws.faults.add(status=400, message="context too long", path=f"/serving-endpoints/{ENDPOINT}/", times=4)
    ws.faults.add(latency=0.01, path=f"/serving-endpoints/{ENDPOINT}/", times=None)
    spans, failed = _traced(config, TRACES, [f"Is merchant m_{i:03d} risky? " * 40 for i in range(12)])
    ws.faults.clear()
    where = ws.catalog.table_info(TRACES)["storage_location"]
    print(f"    {baseline_spans} baseline spans, then {spans} spans ({failed} failed calls) exported to {TRACES}")
    print(f"    (a Delta table when the workspace has a root: {where})")
    ws.catalog.create_schema("main.monitoring", exist_ok=True)
    with MonitorManager(config, warehouse_id="local-warehouse") as mm:
        made = mm.monitor_traces(TRACES, output_schema="main.monitoring", baseline_table=BASELINE)
        refresh = mm.refresh(TRACES, poll_interval=0.05)
        print(f"    monitor {made.action} on {TRACES} ({made.monitor.api} API), refresh {refresh.state}")
        report = mm.drift(TRACES, columns=["duration_ms", "status_code"], model_id="*")
    for line in str(report).splitlines():
        print(f"    {line}")
