"""Helpers the feature tests import by name (a unique module name: `conftest` is ambiguous across folders)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dbx_native.features import FeatureLookup

LookupFactory = Callable[..., FeatureLookup[Any]]


def lookup_path(kind: str) -> str:
    return "/serving-endpoints/" if kind == "serving" else "/api/2.0/sql/statements"
