"""Every `Example:` in the docstrings of `src/dbx_native` runs and shows what it claims."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import dbx_native

SKIP = {"dbx_native.cli.__main__"}
MODULES = sorted(m.name for m in pkgutil.walk_packages(dbx_native.__path__, prefix="dbx_native.") if m.name not in SKIP)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
