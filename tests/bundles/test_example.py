from __future__ import annotations

from pathlib import Path

import pytest

from dbx_native.bundles import BundleInspector

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fraud-detection"


def test_example_bundle_has_three_targets_and_the_nightly_schedule() -> None:
    bi = BundleInspector.load(EXAMPLE)
    assert bi.targets == ["dev", "staging", "prod"]
    assert bi.default_target == "dev"
    prod = bi.inventory("prod")
    job = prod.resource("jobs", "nightly_optimize")
    assert job is not None
    assert job["schedule"]["quartz_cron_expression"] == "0 0 2 * * ?"
    assert job["job_clusters"][0]["new_cluster"]["num_workers"] == 8  # complex variable overridden in prod
    assert job["tasks"][0]["max_retries"] == 3  # keyed merge of the prod override
    assert prod.resource("model_serving_endpoints", "fraud_scoring")["ai_gateway"]["guardrails"]  # type: ignore[index]
    assert str(bi.location("resources.jobs.nightly_optimize")) == "resources/nightly_optimize.job.yml:3:5"


def test_example_dev_target_pauses_the_schedule() -> None:
    job = BundleInspector.load(EXAMPLE).inventory("dev").resource("jobs", "nightly_optimize")
    assert job is not None
    assert job["schedule"]["pause_status"] == "PAUSED"


@pytest.mark.parametrize("target", ["dev", "staging", "prod"])
def test_example_bundle_validates_without_errors_or_unknown_keys(target: str, schema_path: Path) -> None:
    findings = BundleInspector.load(EXAMPLE, schema=schema_path).validate(target)
    assert [f for f in findings if f.severity != "info"] == []
    assert {f.code for f in findings} == {"variable-lookup"}
