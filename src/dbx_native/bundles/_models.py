"""Typed results of reading a bundle: variables, inventories, findings, diffs.

Plain frozen dataclasses rather than Pydantic models: an inventory of a 5,000-resource bundle holds
megabytes of nested configuration, and validating it field by field would cost more than loading it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "BundleDiff",
    "BundleInventory",
    "FieldChange",
    "Finding",
    "Location",
    "Reference",
    "ResourceChange",
    "Severity",
    "Variable",
]

Severity = Literal["error", "warning", "info"]
ReferenceReason = Literal["unset", "lookup", "runtime", "undefined"]


@dataclass(frozen=True)
class Location:
    """Where something is written: a file (relative to the bundle root) and a 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Variable:
    """A bundle variable as declared (before any target or override).

    Attributes:
        default: The declared default, ``None`` when there is none.
        lookup: The ``lookup`` block (e.g. ``{"cluster": "shared"}``), resolved only at deploy time.
        type: ``"complex"`` for variables holding maps or lists, else ``None``.
        description: The declared description.
    """

    default: Any = None
    lookup: dict[str, Any] | None = None
    type: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Reference:
    """A ``${...}`` reference left unresolved in an inventory.

    Attributes:
        expression: The reference as written, e.g. ``${var.warehouse_id}``.
        reason: ``unset`` (a variable with no value), ``lookup`` (a variable resolved by a workspace lookup),
            ``runtime`` (known only at deploy time: ids, URLs, the current user, git details) or
            ``undefined`` (names nothing in the bundle: a dangling reference).
        paths: Configuration paths where it is used (the first few).
    """

    expression: str
    reason: ReferenceReason
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class BundleInventory:
    """A bundle resolved for one target, as the CLI would deploy it, without contacting a workspace.

    Attributes:
        name: ``bundle.name``.
        target: The target this inventory is for.
        mode: The target's ``mode`` (``development``, ``production``) or ``None``.
        resources: Resource type -> key -> resolved configuration.
        variables: Variable name -> resolved value (``None`` when unset; the reference stays in ``unresolved``).
        workspace: The resolved ``workspace`` section, with default paths filled in.
        bundle: The resolved ``bundle`` section (with ``target``).
        presets: The presets in force (from ``mode`` and the ``presets`` section).
        run_as: The resolved ``run_as`` section, if any.
        permissions: The resolved top-level ``permissions``.
        unresolved: References that could not be resolved offline, one entry per expression.
        python: The ``python`` section (Python-defined resources and mutators), if any.
        python_status: Whether the Python resources were loaded (``"loaded"``) or why not; ``None`` without any.
        mutators_status: Whether the Python mutators (``python.mutators``) were applied (``"applied"``) or why
            not; ``None`` without any.
        python_changes: What the Python mutators changed, resource by resource and field by field.
        artifacts: The resolved ``artifacts`` section (with ``dynamic_version`` when the preset sets it).
        notes: What the CLI would warn about while loading this target offline, and what was left symbolic
            (e.g. a source-linked deployment outside a Databricks workspace, tags kept for an unknown cloud).
    """

    name: str
    target: str
    mode: str | None
    resources: dict[str, dict[str, dict[str, Any]]]
    variables: dict[str, Any]
    workspace: dict[str, Any]
    bundle: dict[str, Any]
    presets: dict[str, Any] = field(default_factory=dict)
    run_as: dict[str, Any] | None = None
    permissions: list[Any] = field(default_factory=list)
    unresolved: tuple[Reference, ...] = ()
    python: dict[str, Any] | None = None
    python_status: str | None = None
    mutators_status: str | None = None
    python_changes: tuple[ResourceChange, ...] = ()
    artifacts: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def resource(self, resource_type: str, key: str) -> dict[str, Any] | None:
        """Return one resource's resolved configuration, or ``None`` if the target has no such resource."""
        return self.resources.get(resource_type, {}).get(key)

    @property
    def resource_count(self) -> int:
        """How many resources the target deploys, over all types."""
        return sum(len(items) for items in self.resources.values())

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return asdict(self)


@dataclass(frozen=True)
class Finding:
    """One problem found by :meth:`BundleInspector.validate`.

    Attributes:
        severity: ``error``, ``warning`` or ``info``.
        code: A stable identifier, e.g. ``unknown-key`` or ``job-without-timeout``.
        message: What is wrong and what to do about it.
        path: The configuration path at fault, e.g. ``resources.jobs.nightly.timeout_seconds``.
        location: Where it is written, when known.
    """

    severity: Severity
    code: str
    message: str
    path: str = ""
    location: Location | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary (the location as ``file:line:column``)."""
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "path": self.path,
            "location": str(self.location) if self.location else None,
        }


@dataclass(frozen=True)
class FieldChange:
    """A value that differs between two targets: ``path`` inside the compared object, values before and after.

    ``before``/``after`` are ``None`` when the field is missing on that side.
    """

    path: str
    before: Any = None
    after: Any = None


@dataclass(frozen=True)
class ResourceChange:
    """A resource that is added, removed or changed between two targets."""

    kind: Literal["added", "removed", "changed"]
    resource_type: str
    key: str
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class BundleDiff:
    """What differs between two targets of a bundle.

    Attributes:
        a: The first target.
        b: The second target.
        resources: Added, removed and changed resources (``a`` -> ``b``).
        variables: Variables whose resolved values differ.
        workspace: Workspace settings that differ.
    """

    a: str
    b: str
    resources: tuple[ResourceChange, ...] = ()
    variables: tuple[FieldChange, ...] = ()
    workspace: tuple[FieldChange, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.resources or self.variables or self.workspace)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return asdict(self)
