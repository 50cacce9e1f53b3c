"""The examples in docs/local-workspace.md and docs/testing.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

pytest_plugins = ["pytester"]

# pytester restores `sys.modules` after each in-process run; a C extension first imported inside one
# (DuckDB, by the local catalog) and imported again later aborts the interpreter. Importing it here
# keeps it in the snapshot.
PRELOADED = duckdb

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def examples() -> list[tuple[str, str]]:
    found = []
    for page in ("local-workspace.md", "testing.md"):
        for i, match in enumerate(BLOCK.finditer((DOCS / page).read_text(encoding="utf-8"))):
            found.append((f"{page}#{i}", match.group(1)))
    return found


@pytest.mark.parametrize(("where", "code"), [pytest.param(w, c, id=w) for w, c in examples()])
def test_documented_example_runs(where: str, code: str, request: pytest.FixtureRequest) -> None:
    if "def test_" in code:  # a pytest example: run it as a test file, with the plugin's fixtures
        pytester: pytest.Pytester = request.getfixturevalue("pytester")
        pytester.makepyfile(code)
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
        assert result.ret == 0, result.stdout.str()
        assert result.parseoutcomes().get("passed", 0) >= 1
    else:
        namespace: dict[str, object] = {"__name__": f"docs_example_{where}"}
        exec(compile(code, where, "exec"), namespace)


def test_both_pages_have_examples() -> None:
    pages = {where.split("#")[0] for where, _ in examples()}
    assert pages == {"local-workspace.md", "testing.md"}
