"""``BundleInspector``: read a Declarative Automation Bundle offline, resolve it per target, validate and diff."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dbx_native.bundles._diff import diff_inventories
from dbx_native.bundles._interp import split_path
from dbx_native.bundles._loader import LoadedBundle, load_files
from dbx_native.bundles._locator import Locator
from dbx_native.bundles._models import BundleDiff, BundleInventory, Finding, Location, Variable
from dbx_native.bundles._schema import BundleSchema, load_schema
from dbx_native.bundles._target import declared_variables, default_target, resolve_target, target_names
from dbx_native.bundles._validate import validate_inventory
from dbx_native.bundles._yaml import gc_paused
from dbx_native.errors import BundleError

__all__ = ["BundleInspector"]


class BundleInspector:
    """A bundle (``databricks.yml`` and its includes) read from disk, with no workspace or CLI needed.

    Loading follows the Databricks CLI's rules (includes, targets, variables, keyed-list merges, presets,
    interpolation); see ``docs/bundles.md``. Build one with :meth:`load`.

    Example:
        >>> import pathlib, tempfile
        >>> tmp = tempfile.TemporaryDirectory()
        >>> _ = (pathlib.Path(tmp.name) / "databricks.yml").write_text(
        ...     "bundle: {name: demo}\\n"
        ...     "resources: {jobs: {nightly: {name: nightly, schedule: {quartz_cron_expression: '0 0 2 * * ?'}}}}\\n"
        ...     "targets: {dev: {mode: development, default: true}, prod: {mode: production}}\\n"
        ... )
        >>> bi = BundleInspector.load(tmp.name)
        >>> bi.targets, bi.default_target
        (['dev', 'prod'], 'dev')
        >>> bi.inventory("prod").resource("jobs", "nightly")["schedule"]["quartz_cron_expression"]
        '0 0 2 * * ?'
        >>> bi.inventory().resource("jobs", "nightly")["schedule"]["pause_status"]
        'PAUSED'
        >>> tmp.cleanup()
    """

    def __init__(
        self,
        loaded: LoadedBundle,
        *,
        variables: Mapping[str, Any] | None = None,
        schema: BundleSchema | None = None,
        environ: Mapping[str, str] | None = None,
        load_python: bool = True,
    ) -> None:
        self._loaded = loaded
        self._load_python = load_python
        self._overrides = dict(variables or {})
        self._schema = schema
        # BUNDLE_VAR_* are read once, when loading, so an inspector gives the same answers throughout.
        env = os.environ if environ is None else environ
        self._env = {k: v for k, v in env.items() if k.startswith("BUNDLE_VAR_")}
        self._inventories: dict[str, BundleInventory] = {}
        self._locator: Locator | None = None

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        variables: Mapping[str, Any] | None = None,
        schema: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        load_python: bool = True,
    ) -> BundleInspector:
        """Read a bundle.

        Args:
            path: The bundle directory, or its root configuration file.
            variables: Variable values that override everything else (like ``--var name=value``).
            schema: The bundle JSON schema (path or parsed), to report unknown keys in :meth:`validate`.
            load_python: Load Python-defined resources (``python.resources``) when ``databricks-bundles`` is
                installed, which runs the project's code as the CLI does; ``False`` to never run it.

        Returns:
            The inspector; targets are resolved lazily, on first use.

        Raises:
            BundleError: A file is missing or invalid (with ``path``, ``line``, ``column``), or an ``include``
                rule is broken.
        """
        loaded = load_files(Path(path))
        parsed = load_schema(schema) if schema is not None else None
        return cls(loaded, variables=variables, schema=parsed, load_python=load_python)

    @property
    def root(self) -> Path:
        """The bundle root directory."""
        return self._loaded.root

    @property
    def files(self) -> list[str]:
        """The configuration files read, root file first, relative to the bundle root."""
        return [doc.path for doc in self._loaded.documents]

    @property
    def name(self) -> str:
        """``bundle.name`` as written (before targets)."""
        return str((self._loaded.config.get("bundle") or {}).get("name") or "")

    @property
    def targets(self) -> list[str]:
        """Target names in the order written; ``["default"]`` when the bundle declares none."""
        return target_names(self._loaded.config)

    @property
    def default_target(self) -> str | None:
        """The target used when none is named, or ``None`` when the bundle leaves it ambiguous.

        Raises:
            BundleError: More than one target is marked ``default: true``.
        """
        return default_target(self._loaded.config)

    @property
    def variables(self) -> dict[str, Variable]:
        """Declared variables (name -> :class:`Variable`), before targets and overrides."""
        return declared_variables(self._loaded.config)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """Top-level resources (type -> key -> configuration) as written, before any target is applied."""
        resources = self._loaded.config.get("resources") or {}
        return {t: dict(items) for t, items in resources.items() if isinstance(items, dict)}

    @property
    def python(self) -> dict[str, Any] | None:
        """The ``python`` section (Python-defined resources and mutators), if the bundle has one."""
        config = self._loaded.config
        section = config.get("python") or (config.get("experimental") or {}).get("python")
        return section if isinstance(section, dict) else None

    def _target(self, target: str | None) -> str:
        if target is not None:
            return target
        chosen = self.default_target
        if chosen is None:
            raise BundleError(
                f"the bundle has several targets ({', '.join(self.targets)}) and none is marked `default: true`; "
                "name one (target=...) or mark one as default"
            )
        return chosen

    def inventory(self, target: str | None = None) -> BundleInventory:
        """Resolve the bundle for a target.

        Args:
            target: The target; ``None`` for the default target.

        Returns:
            Resources with their resolved configuration, variables and workspace settings. References that
            need a workspace (ids, URLs, lookups, the current user) or a value never set stay as ``${...}``
            and are listed in ``unresolved``.

        Raises:
            BundleError: No such target, no default target, or references that form a cycle.
        """
        name = self._target(target)
        cached = self._inventories.get(name)
        if cached is None:
            with gc_paused():  # resolution builds a full copy of the configuration: see _yaml.gc_paused
                root = self._loaded.root if self._load_python else None
                cached = resolve_target(
                    self._loaded.config, name, self._overrides, self._env, root=root, bundle_root=self._loaded.root
                )
            self._inventories[name] = cached
        return cached

    def diff(self, a: str, b: str) -> BundleDiff:
        """Compare two targets: resources added, removed or changed (field by field), variables, workspace.

        Raises:
            BundleError: Either target cannot be resolved.
        """
        return diff_inventories(self.inventory(a), self.inventory(b))

    def validate(self, target: str | None = None) -> list[Finding]:
        """Check a target and return findings with ``file:line:column``, errors first.

        Rules: unknown keys (with a ``schema``), unset variables, dangling references, a production target in
        development mode, production without ``run_as`` or ``permissions``, jobs without timeout, retries or
        failure notifications, hard-coded workspace hosts, schedules left unpaused in development.

        Raises:
            BundleError: The target cannot be resolved at all (unknown target, reference cycle).
        """
        inventory = self.inventory(target)
        return validate_inventory(
            inventory, self._loaded.documents, self._loaded.notes, self._schema, len(self.targets)
        )

    def location(self, path: str | Sequence[str | int], *, target: str | None = None) -> Location | None:
        """Where a configuration path is written (or its deepest written ancestor).

        Args:
            path: ``"resources.jobs.nightly.tasks[0]"`` or the same as a sequence of keys.
            target: Prefer the target's override when it defines the path.
        """
        if self._locator is None:
            self._locator = Locator(self._loaded.documents)
        parts = split_path(path) if isinstance(path, str) else list(path)
        return self._locator.find(parts, target)

    def __repr__(self) -> str:
        return f"BundleInspector(name={self.name!r}, root={str(self.root)!r}, targets={self.targets!r})"
