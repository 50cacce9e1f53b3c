"""Validation rules for one target: what the CLI would reject or warn about, plus production hygiene."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from dbx_native.bundles._interp import split_path
from dbx_native.bundles._locator import Locator
from dbx_native.bundles._models import BundleInventory, Finding, Severity
from dbx_native.bundles._schema import BundleSchema
from dbx_native.bundles._yaml import YamlDocument

__all__ = ["validate_inventory"]

_PROD_NAMES = frozenset({"prod", "production", "prd", "live"})
_DEV_NAMES = frozenset({"dev", "development", "local", "sandbox"})
_HOST = re.compile(
    r"https?://[A-Za-z0-9.-]+\.(?:cloud\.databricks\.com|azuredatabricks\.net|gcp\.databricks\.com|databricks\.azure\.cn)"
)
_TRIGGERS = ("schedule", "trigger", "continuous")


class _Context:
    def __init__(self, inventory: BundleInventory, locator: Locator) -> None:
        self.inventory = inventory
        self.locator = locator
        self.findings: list[Finding] = []

    def add(self, severity: Severity, code: str, message: str, path: tuple[str | int, ...]) -> None:
        location = self.locator.find(path, self.inventory.target)
        text = ".".join(str(p) for p in path)
        self.findings.append(Finding(severity, code, message, text, location))


def _is_production(inventory: BundleInventory) -> bool:
    return inventory.mode == "production" or inventory.target.lower() in _PROD_NAMES


def _is_development(inventory: BundleInventory) -> bool:
    if inventory.mode is not None:
        return inventory.mode == "development"
    return inventory.target.lower() in _DEV_NAMES


def _check_target(ctx: _Context) -> None:
    inv = ctx.inventory
    target = ("targets", inv.target)
    if not inv.name:
        ctx.add("error", "missing-bundle-name", "the bundle has no `bundle.name`; add one", ("bundle",))
    if inv.mode == "development" and inv.target.lower() in _PROD_NAMES:
        ctx.add(
            "error",
            "production-in-development-mode",
            f"target {inv.target!r} looks like production but uses `mode: development` (name prefixes, paused "
            "schedules, deployment as the current user); use `mode: production`",
            (*target, "mode"),
        )
    if _is_production(inv):
        if not inv.run_as:
            ctx.add(
                "warning",
                "production-without-run-as",
                f"production target {inv.target!r} has no `run_as`: jobs run as whoever deploys; "
                "set a service principal",
                target,
            )
        if not inv.permissions:
            ctx.add(
                "warning",
                "production-without-permissions",
                f"production target {inv.target!r} has no `permissions`: grant CAN_MANAGE/CAN_VIEW explicitly",
                target,
            )


def _check_presets(ctx: _Context) -> None:
    """What the CLI refuses in presets (it only warns about the rest: those stay in `inventory.notes`)."""
    inv = ctx.inventory
    status = inv.presets.get("trigger_pause_status")
    where = ("presets", "trigger_pause_status")
    if status and status not in ("PAUSED", "UNPAUSED"):
        ctx.add(
            "error",
            "invalid-pause-status",
            f"`presets.trigger_pause_status` is {status!r}; use PAUSED or UNPAUSED",
            where,
        )
    elif status == "UNPAUSED" and inv.mode == "development":
        ctx.add(
            "error",
            "unpaused-in-development",
            f"target {inv.target!r} is `mode: development` but unpauses every schedule; the CLI refuses this: "
            "remove the preset, or unpause single jobs with their own `pause_status`",
            where,
        )
    if inv.presets.get("source_linked_deployment") is True and inv.resources.get("apps"):
        ctx.add(
            "error",
            "source-linked-apps",
            "a source-linked deployment cannot deploy apps; the CLI refuses this target: turn "
            "`presets.source_linked_deployment` off or deploy the apps from another target",
            ("presets", "source_linked_deployment"),
        )


def _check_variables(ctx: _Context) -> None:
    for ref in ctx.inventory.unresolved:
        body = ref.expression[2:-1]
        parts = split_path(body)
        name = str(parts[1]) if len(parts) > 1 else body
        used_at = tuple(split_path(ref.paths[0])) if ref.paths else ("variables", name)
        if ref.reason == "unset":
            ctx.add(
                "error",
                "unresolved-variable",
                f"variable {name!r} has no value for target {ctx.inventory.target!r}: give it a default, a target "
                f"value, --var {name}=... or BUNDLE_VAR_{name}",
                ("variables", name),
            )
        elif ref.reason == "lookup":
            ctx.add(
                "info",
                "variable-lookup",
                f"variable {name!r} is a lookup, resolved only at deploy time",
                ("variables", name),
            )
        elif ref.reason == "undefined":
            ctx.add(
                "error",
                "dangling-reference",
                f"{ref.expression} refers to nothing defined in the bundle; fix the name or define it",
                used_at,
            )


def _job_checks(ctx: _Context, key: str, job: dict[str, Any]) -> None:
    path = ("resources", "jobs", key)
    if not job.get("timeout_seconds"):
        ctx.add("warning", "job-without-timeout", f"job {key!r} has no `timeout_seconds`: a stuck run never ends", path)
    tasks = [t for t in job.get("tasks") or [] if isinstance(t, dict)]
    no_retry = [str(t.get("task_key", "?")) for t in tasks if not t.get("max_retries")]
    if tasks and len(no_retry) == len(tasks):
        ctx.add("warning", "job-without-retries", f"no task of job {key!r} sets `max_retries`", path)
    notified = any(
        isinstance(block, dict) and any(block.get(k) for k in ("on_failure", "on_duration_warning_threshold_exceeded"))
        for block in [job.get("email_notifications"), job.get("webhook_notifications")]
        + [t.get("email_notifications") for t in tasks]
        + [t.get("webhook_notifications") for t in tasks]
    )
    if not notified:
        ctx.add("warning", "job-without-notifications", f"job {key!r} notifies nobody on failure", path)
    if _is_development(ctx.inventory):
        for trigger in _TRIGGERS:
            block = job.get(trigger)
            if isinstance(block, dict) and block.get("pause_status", "UNPAUSED") == "UNPAUSED":
                ctx.add(
                    "warning",
                    "schedule-unpaused-in-development",
                    f"job {key!r} keeps its {trigger} unpaused in development target {ctx.inventory.target!r}: "
                    + (
                        "drop the explicit UNPAUSED so `mode: development` pauses it"
                        if ctx.inventory.mode == "development"
                        else "set `pause_status: PAUSED` or use `mode: development`"
                    ),
                    (*path, trigger),
                )


def _strings(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _check_hosts(ctx: _Context) -> None:
    resources = ctx.inventory.resources
    # Serialising once and searching is far cheaper than testing every string of a large bundle.
    if not _HOST.search(json.dumps(resources)):
        return
    for path, text in _strings(resources, ("resources",)):
        match = _HOST.search(text)
        if match:
            ctx.add(
                "warning",
                "hard-coded-host",
                f"{match.group(0)} is written into the configuration; use `${{workspace.host}}` or a variable",
                path,
            )


def validate_inventory(
    inventory: BundleInventory,
    documents: list[YamlDocument],
    notes: list[tuple[str, tuple[str, ...], str]],
    schema: BundleSchema | None,
    target_count: int,
) -> list[Finding]:
    """Run every rule for one resolved target; findings come back in a stable order."""
    locator = Locator(documents)
    ctx = _Context(inventory, locator)
    _check_target(ctx)
    _check_presets(ctx)
    _check_variables(ctx)
    for key, job in inventory.resources.get("jobs", {}).items():
        if isinstance(job, dict):
            _job_checks(ctx, key, job)
    _check_hosts(ctx)
    for doc in documents:
        top_host = ((doc.data or {}).get("workspace") or {}).get("host")
        if isinstance(top_host, str) and target_count > 1:
            ctx.findings.append(
                Finding(
                    "warning",
                    "hard-coded-host",
                    "a top-level `workspace.host` applies to every target; set the host per target instead",
                    "workspace.host",
                    locator.find_in(doc.path, ("workspace", "host")),
                )
            )
    for file, path, message in notes:
        ctx.findings.append(Finding("warning", "ignored-include", message, ".".join(path), locator.find_in(file, path)))
    if schema is not None:
        for doc in documents:
            for where, key in schema.unknown_keys(doc.data or {}):
                if len(where) >= 2 and where[0] in ("targets", "environments") and where[1] != inventory.target:
                    continue
                full = (*where, key)
                ctx.findings.append(
                    Finding(
                        "warning",
                        "unknown-key",
                        f"`{key}` is not a known key here (typo, or a newer CLI feature?)",
                        ".".join(str(p) for p in full),
                        locator.find_in(doc.path, full),
                    )
                )
    order = {"error": 0, "warning": 1, "info": 2}

    def sort_key(f: Finding) -> tuple[int, str, int, int, str]:
        loc = f.location
        return (order[f.severity], loc.file if loc else "", loc.line if loc else 0, loc.column if loc else 0, f.code)

    return sorted(ctx.findings, key=sort_key)
