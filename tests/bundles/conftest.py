from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT.parent / "shared" / "data" / "bundle-jsonschema.json"

MakeBundle = Callable[[dict[str, str]], Path]


@pytest.fixture
def make_bundle(tmp_path: Path) -> MakeBundle:
    """Write files (relative path -> YAML text, dedented) under a fresh bundle directory and return it."""

    def make(files: dict[str, str]) -> Path:
        root = tmp_path / "bundle"
        for rel, text in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return root

    return make


@pytest.fixture
def schema_path() -> Path:
    if not SCHEMA_PATH.is_file():
        pytest.skip(f"bundle JSON schema not found at {SCHEMA_PATH} (it lives in the shared folder beside the repo)")
    return SCHEMA_PATH
