"""The examples in docs/local-serving.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "local-serving.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def examples() -> list[tuple[str, str]]:
    return [(f"local-serving.md#{i}", m.group(1)) for i, m in enumerate(BLOCK.finditer(PAGE.read_text("utf-8")))]


def test_the_page_has_examples() -> None:
    assert len(examples()) >= 5


@pytest.mark.parametrize(("where", "code"), [pytest.param(w, c, id=w) for w, c in examples()])
def test_documented_serving_example_runs(where: str, code: str) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_example_{where}"}
    exec(compile(code, where, "exec"), namespace)
