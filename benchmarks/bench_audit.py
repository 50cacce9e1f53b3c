"""`audit_project` on a 10,000-file tree, against just walking and reading the same tree.

The synthetic project has Python modules (a few with Databricks calls, some commented out), SQL files,
notebooks, a vendored `.venv` and a bundle. The baseline, measured in the same run, is the floor any
audit pays: `os.walk` plus reading every file and one regex search over it. Target: the audit in under
5 s. Prints PASS/FAIL and always exits 0.

    python benchmarks/bench_audit.py [--files 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path

from dbx_native.audit import audit_project

TARGET_SECONDS = 5.0

PY = '''"""Module {i}: feature engineering helpers."""

import os
from dataclasses import dataclass


@dataclass
class Record{i}:
    merchant_id: str
    amount: float


def transform_{i}(rows):
    # mlflow.start_run()  <- commented out, does not count
    total = 0.0
    for row in rows:
        total += row.amount
    return total / max(len(rows), 1)
'''
PY_CALLS = [
    'spark.sql("OPTIMIZE main.fraud.tx_{i} ZORDER BY (merchant_id)")\n',
    "import mlflow\nmlflow.log_metric('auc', 0.9)\n",
    "client = VectorSearchClient()\n",
    "w.jobs.run_now(job_id={i})\n",
]
SQL = "-- report {i}\nSELECT merchant_id, count(*) FROM main.fraud.tx_{i} GROUP BY merchant_id;\n"


def write_tree(root: Path, files: int) -> None:
    for i in range(files):
        folder = root / "src" / f"pkg_{i % 50}"
        kind = i % 20
        if kind == 0:
            path, text = folder / f"report_{i}.sql", SQL.format(i=i)
        elif kind == 1:
            cells = [{"cell_type": "code", "source": [PY.format(i=i)]}, {"cell_type": "markdown", "source": ["x"]}]
            path, text = folder / f"nb_{i}.ipynb", json.dumps({"cells": cells})
        elif kind == 2:
            path, text = root / ".venv" / "lib" / f"dep_{i}.py", PY.format(i=i) + PY_CALLS[i % 4].format(i=i)
        else:
            extra = PY_CALLS[i % 4].format(i=i) if i % 97 == 0 else ""
            path, text = folder / f"mod_{i}.py", PY.format(i=i) + extra
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "databricks.yml").write_text(
        "bundle: {name: bench}\nresources:\n  jobs: {nightly: {name: nightly}}\n  pipelines: {p: {name: p}}\n",
        encoding="utf-8",
    )


def floor(root: Path) -> int:
    pattern = re.compile(r"OPTIMIZE|mlflow|VectorSearchClient|jobs\.run_now")
    hits = 0
    for current, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(current, name), encoding="utf-8", errors="replace") as handle:
                hits += bool(pattern.search(handle.read()))
    return hits


def best(fn: object, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_tree(root, args.files)
        base = best(lambda: floor(root), args.rounds)
        ours = best(lambda: audit_project(root), args.rounds)
        report = audit_project(root)
    print(f"tree: {args.files} files + a bundle; audit read {report.files_scanned} (vendored .venv skipped)")
    print(f"walk + read + one regex (floor)  {base:7.3f} s   1.00x")
    print(f"audit_project                    {ours:7.3f} s   {ours / base:5.2f}x")
    print(f"score {report.score}/{report.total}: {', '.join(c.name for c in report.components if c.used)}")
    verdict = "PASS" if ours <= TARGET_SECONDS else "FAIL"
    print(f"{verdict}: audit of {args.files} files in {ours:.2f} s (target < {TARGET_SECONDS:.0f} s)")


if __name__ == "__main__":
    main()
