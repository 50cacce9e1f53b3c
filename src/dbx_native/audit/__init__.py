"""A project's Databricks-native score: which of the checklist's twelve components it really uses.

```python
from dbx_native.audit import audit_project

report = audit_project("path/to/repo")
report.score, report.total          # e.g. 5, 12
for c in report.components:
    c.name, c.used, c.confidence, [str(e) for e in c.evidence]

live = audit_workspace()                # what a live workspace shows (DATABRICKS_HOST/TOKEN or a profile)
both = merge_reports(report, live)      # used if either side shows it
```
"""

from __future__ import annotations

from dbx_native.audit._audit import audit_project
from dbx_native.audit._report import AuditReport, ComponentResult, Evidence, render
from dbx_native.audit._rules import COMPONENTS, EXTRAS, Component
from dbx_native.audit._workspace import audit_workspace, merge_reports

__all__ = [
    "COMPONENTS",
    "EXTRAS",
    "AuditReport",
    "Component",
    "ComponentResult",
    "Evidence",
    "audit_project",
    "audit_workspace",
    "merge_reports",
    "render",
]
