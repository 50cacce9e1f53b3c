"""The examples in docs/jobs.md run as written, in order, sharing one namespace (as a reader would)."""

from __future__ import annotations

import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "jobs.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_jobs_page_examples_run_in_order() -> None:
    blocks = [m.group(1) for m in BLOCK.finditer(PAGE.read_text("utf-8"))]
    assert len(blocks) >= 5
    namespace: dict[str, object] = {"__name__": "docs_jobs"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"jobs.md#{i}", "exec"), namespace)
    assert namespace["change"].action == "created"  # type: ignore[attr-defined]
    assert namespace["states"] == ["TERMINATED"]
