"""`JobRunner`: Lakeflow Jobs (API 2.2) as code: ensure a job, run it and wait, read outputs, list runs."""

from __future__ import annotations

from dbx_native.jobs._models import JobChange, JobInfo, JobRun, RepairAttempt, RunOutput, SettingChange, TaskRun
from dbx_native.jobs._runner import JobRef, JobRunner

__all__ = [
    "JobChange",
    "JobInfo",
    "JobRef",
    "JobRun",
    "JobRunner",
    "RepairAttempt",
    "RunOutput",
    "SettingChange",
    "TaskRun",
]
