"""Loading and resolving a large bundle with `BundleInspector`, against PyYAML on the same files (issue #6).

A synthetic bundle of 5,000 real-sized resources (jobs with clusters, tasks, schedules and notifications,
plus pipelines; about 4.6 MB of YAML over 10 included files) is written to a temporary folder, then measured in
interleaved rounds (every case once per round, in a rotating order; the machine is shared and noisy):

- baseline `CSafeLoader`: `yaml.load(..., Loader=yaml.CSafeLoader)`, on two of the ten resource files per round,
  scaled to the whole bundle by size (it takes about 5 s on all of them);
- `load (libyaml path)`: `BundleInspector.load(root)` with the rapidyaml fast path turned off;
- `load`: `BundleInspector.load(root)` (the fast path when `rapidyaml` is installed);
- `load + inventory()`: includes, targets, keyed merges, presets, interpolation.

Figures are the median over rounds (best in brackets). The issue's target is load + inventory under 1 s where
PyYAML alone takes ~2.5 s (0.4x). Read as PyYAML's C loader (the strict reading: pure-Python `safe_load` takes
~25 s here), it is checked as a ratio to CSafeLoader measured in the same run (<= 0.4x), since absolute times on
shared machines are noise; the absolute time is printed too. Prints PASS/FAIL and always exits 0.

    python benchmarks/bench_bundle_load.py [--resources 5000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from dbx_native.bundles import BundleInspector, _fastyaml

FILES = 10
TARGET_SECONDS, REFERENCE_PYYAML = 1.0, 2.5  # the issue: under 1 s where PyYAML takes ~2.5 s
TARGET_RATIO = TARGET_SECONDS / REFERENCE_PYYAML


def _job(i: int) -> str:
    return f"""    job_{i}:
      name: "fraud job {i} ${{bundle.target}}"
      timeout_seconds: 3600
      email_notifications:
        on_failure: ["${{var.alert_email}}"]
      schedule:
        quartz_cron_expression: "0 {i % 60} 2 * * ?"
      job_clusters:
        - job_cluster_key: main
          new_cluster:
            spark_version: 15.4.x-scala2.12
            node_type_id: i3.xlarge
            num_workers: {1 + i % 8}
      tasks:
        - task_key: ingest
          job_cluster_key: main
          max_retries: 2
          notebook_task:
            notebook_path: ../src/ingest.py
            base_parameters: {{catalog: "${{var.catalog}}", day: "{{{{job.start_time.iso_date}}}}"}}
        - task_key: transform
          depends_on: [{{task_key: ingest}}]
          job_cluster_key: main
          max_retries: 2
          spark_python_task:
            python_file: ../src/transform.py
            parameters: ["--catalog", "${{var.catalog}}", "--table", "tx_{i}"]
        - task_key: refresh
          depends_on: [{{task_key: transform}}]
          pipeline_task: {{pipeline_id: "${{resources.pipelines.pipe_{i % 1000}.id}}"}}
"""


def _pipeline(i: int) -> str:
    return f"""    pipe_{i}:
      name: "features {i}"
      catalog: ${{var.catalog}}
      schema: fraud
      serverless: true
      libraries: [{{glob: {{include: ../src/pipelines/p{i}/**}}}}]
      configuration: {{source: "${{var.catalog}}.fraud.tx_{i}"}}
"""


def write_bundle(root: Path, resources: int) -> int:
    pipelines = resources // 5
    jobs = resources - pipelines
    (root / "resources").mkdir(parents=True)
    (root / "databricks.yml").write_text(
        "bundle: {name: big}\ninclude: [resources/*.yml]\n"
        "variables:\n  catalog: {default: main}\n  alert_email: {default: ops@example.com}\n"
        "targets:\n  dev: {mode: development, default: true}\n  prod: {mode: production, variables: {catalog: prod}}\n",
        encoding="utf-8",
    )
    size = 0
    for f in range(FILES):
        parts = ["resources:\n  jobs:\n"]
        parts += [_job(i) for i in range(f, jobs, FILES)]
        parts.append("  pipelines:\n")
        parts += [_pipeline(i) for i in range(f, pipelines, FILES)]
        text = "".join(parts)
        size += len(text)
        (root / "resources" / f"part_{f}.yml").write_text(text, encoding="utf-8")
    return size


def _fast_path(on: bool) -> None:
    os.environ["DBX_NATIVE_FAST_YAML"] = "1" if on else "0"
    _fastyaml._checked = False


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(cases: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run every case once per round, rotating the order so no case always runs after the same one."""
    names = list(cases)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times[name].append(cases[name]())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resources", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    fast = _fastyaml.available()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        size = write_bundle(root, args.resources)
        files = sorted((root / "resources").glob("*.yml"))
        texts = [p.read_text(encoding="utf-8") for p in files]
        sample = texts[:2]
        scale = sum(map(len, texts)) / sum(map(len, sample))

        def c_safe() -> float:
            return _timed(lambda: [yaml.load(t, Loader=yaml.CSafeLoader) for t in sample]) * scale

        def load(on: bool, inventory: bool) -> Callable[[], float]:
            def run() -> float:
                _fast_path(on)
                if inventory:
                    return _timed(lambda: BundleInspector.load(root).inventory())
                return _timed(lambda: BundleInspector.load(root))

            return run

        cases = {"CSafeLoader": c_safe, "load (libyaml path)": load(False, False)}
        if fast:
            cases["load"] = load(True, False)
        cases["load + inventory()"] = load(fast, True)
        times = measure(cases, args.rounds)
        _fast_path(True)
        count = BundleInspector.load(root).inventory().resource_count

    median = {name: statistics.median(values) for name, values in times.items()}
    base = median["CSafeLoader"]
    print(f"bundle: {count} resources, {size / 1e6:.1f} MB of YAML in {len(files) + 1} files; {args.rounds} rounds")
    print(f"rapidyaml fast path: {'on (' + str(_fastyaml._ryml().__version__) + ')' if fast else 'not installed'}")
    for name, value in median.items():
        print(f"  {name:28s} {value:7.3f} s  (best {min(times[name]):6.3f})  {value / base:5.2f}x CSafeLoader")
    if fast:
        gain = median["load (libyaml path)"] / median["load"]
        print(f"  fast path: load {gain:.1f}x faster than the libyaml path")
    ours = median["load + inventory()"]
    verdict = "PASS" if ours / base <= TARGET_RATIO else "FAIL"
    print(
        f"{verdict}: load + inventory at {ours / base:.2f}x CSafeLoader "
        f"(target <= {TARGET_RATIO:.2f}x: 1 s where PyYAML takes {REFERENCE_PYYAML} s)"
    )
    verdict = "PASS" if ours <= TARGET_SECONDS else "FAIL"
    print(f"{verdict}: absolute {ours:.2f} s median (target 1 s on a quiet machine; a shared one may be slower)")


if __name__ == "__main__":
    main()
