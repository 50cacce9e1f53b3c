"""Offline reading of Declarative Automation Bundles (``databricks.yml``): load, resolve per target, validate, diff.

```python
from dbx_native.bundles import BundleInspector

bi = BundleInspector.load("path/to/bundle")
bi.targets, bi.default_target, bi.variables, bi.resources
inv = bi.inventory("prod")          # resolved resources, variables, workspace
bi.diff("dev", "prod")              # what changes between two targets
bi.validate("prod")                 # findings with file:line
```
"""

from __future__ import annotations

from dbx_native.bundles._inspector import BundleInspector
from dbx_native.bundles._models import (
    BundleDiff,
    BundleInventory,
    FieldChange,
    Finding,
    Location,
    Reference,
    ResourceChange,
    Severity,
    Variable,
)

__all__ = [
    "BundleDiff",
    "BundleInspector",
    "BundleInventory",
    "FieldChange",
    "Finding",
    "Location",
    "Reference",
    "ResourceChange",
    "Severity",
    "Variable",
]
