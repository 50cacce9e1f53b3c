"""Fixtures of the JobRunner tests: a local workspace intercepting requests, with the suite's canary token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from canary import CANARY
from dbx_native.local import LocalWorkspace


@pytest.fixture
def ws() -> Iterator[LocalWorkspace]:
    workspace = LocalWorkspace(token=CANARY)
    with workspace.intercept():
        yield workspace
