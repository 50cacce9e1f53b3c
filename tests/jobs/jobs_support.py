"""What the JobRunner tests share: the run lifecycle a slow local run goes through, and task specs."""

from __future__ import annotations

from typing import Any

__all__ = ["LIFECYCLE", "notebook"]

LIFECYCLE = ["QUEUED", "PENDING", "RUNNING", "TERMINATED"]


def notebook(key: str, *, after: str | None = None) -> dict[str, Any]:
    task: dict[str, Any] = {"task_key": key, "notebook_task": {"notebook_path": f"/Jobs/{key}"}}
    if after is not None:
        task["depends_on"] = [{"task_key": after}]
    return task
