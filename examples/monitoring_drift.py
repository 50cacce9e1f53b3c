"""MonitorManager: an inference-log monitor as code, a refresh, and a drift report against a baseline.

Runs on the embedded local workspace by default (no account needed): it makes a predictions table whose
second day drifts (bigger amounts, more "fraud" predictions), monitors it, and prints what drifted.
With DATABRICKS_HOST / DATABRICKS_TOKEN set, `--live TABLE OUTPUT_SCHEMA WAREHOUSE_ID` runs the same calls on
a real workspace (the table needs `ts`, `prediction`, `model_version` columns).

    python examples/monitoring_drift.py
    python examples/monitoring_drift.py --live main.fraud.predictions main.monitoring 1234567890abcdef
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import random
from collections.abc import Iterator

from dbx_native import DbxConfig
from dbx_native.monitoring import MonitorManager


def predictions(day: dt.datetime, n: int, fraud_share: float, amount_scale: float) -> list[dict[str, object]]:
    rng = random.Random(day.toordinal())
    return [
        {
            "ts": day + dt.timedelta(minutes=10 * i),
            "model_version": "v3",
            "prediction": "fraud" if rng.random() < fraud_share else "ok",
            "amount": round(rng.expovariate(1 / amount_scale), 2),
        }
        for i in range(n)
    ]


@contextlib.contextmanager
def local_workspace() -> Iterator[tuple[DbxConfig, str, str, str]]:
    from dbx_native.local import LocalWorkspace

    ws = LocalWorkspace()
    day1 = dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc)
    normal = predictions(day1, 120, fraud_share=0.05, amount_scale=40.0)
    drifted = predictions(day1 + dt.timedelta(days=1), 120, fraud_share=0.25, amount_scale=90.0)
    ws.create_table("main.fraud.predictions", normal + drifted)
    ws.create_table("main.fraud.predictions_baseline", normal)
    ws.catalog.create_schema("main.monitoring")
    with ws.intercept():
        yield ws.config, "main.fraud.predictions", "main.monitoring", "local-warehouse"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--live", nargs=3, metavar=("TABLE", "OUTPUT_SCHEMA", "WAREHOUSE_ID"))
    args = parser.parse_args()
    if args.live:
        table, schema, warehouse = args.live
        context: contextlib.AbstractContextManager[tuple[DbxConfig, str, str, str]] = contextlib.nullcontext(
            (DbxConfig(), table, schema, warehouse)
        )
    else:
        context = local_workspace()
    with context as (config, table, schema, warehouse), MonitorManager(config, warehouse_id=warehouse) as mm:
        baseline = None if args.live else f"{table}_baseline"
        change = mm.ensure_inference_monitor(
            table,
            timestamp_col="ts",
            prediction_col="prediction",
            model_id_col="model_version",
            output_schema=schema,
            baseline_table=baseline,
        )
        print(change)
        again = mm.ensure_inference_monitor(
            table,
            timestamp_col="ts",
            prediction_col="prediction",
            model_id_col="model_version",
            output_schema=schema,
            baseline_table=baseline,
        )
        print(f"second ensure: {again.action}")
        refresh = mm.refresh(table, progress=lambda r: print(f"refresh {r.refresh_id}: {r.state}"))
        if refresh.succeeded:
            print(mm.drift(table, model_id="*"))


if __name__ == "__main__":
    main()
