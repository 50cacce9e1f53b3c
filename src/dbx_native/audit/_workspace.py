"""``audit_workspace``: the checklist score of a live workspace, from a few bounded list calls.

Each probe (serving endpoints, vector search, Unity Catalog, monitors, jobs, pipelines, experiments, registered
models, feature specs) reads at most one page of at most ``limit`` items per call, makes a bounded number of
calls, and has ``timeout`` seconds in all. A probe the workspace refuses (403), does not answer (404, 501) or
that fails after the core's retries marks the components it covers *unknown*, with the reason, instead of
failing the audit; only a refused credential (401) stops it. Evidence names resources and the features they
use, never their settings' values (environment variables, secrets, parameters).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from dbx_native._core.logs import get_logger
from dbx_native.audit._report import AuditReport, ComponentResult, Evidence, Level
from dbx_native.audit._rules import COMPONENTS, EXTRAS, Component, Confidence
from dbx_native.audit._scan import MAX_EVIDENCE, Collector
from dbx_native.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    InvalidRequestError,
)

if TYPE_CHECKING:
    from dbx_native._core.client import BaseClient
    from dbx_native._core.clock import Clock
    from dbx_native.config import DbxConfig
    from dbx_native.rest import RestClient

__all__ = ["audit_workspace", "merge_reports"]

logger = get_logger("dbx_native.audit")

_UC = "/api/2.1/unity-catalog"
_MAX_CATALOGS = 5  # user catalogs whose schemas are listed
_MAX_SCHEMAS = 10  # schemas whose tables are listed, over all catalogs
_MAX_VECTOR_ENDPOINTS = 3  # vector search endpoints whose indexes are listed
_MAX_SPEC_CHECKS = 5  # served entities checked as feature specs
# Catalogs every Unity Catalog workspace has: they say nothing about what the project built.
_BUILTIN_CATALOGS = frozenset({"system", "samples", "hive_metastore", "__databricks_internal"})
_BUILTIN_CATALOG_TYPES = frozenset({"SYSTEM_CATALOG", "INTERNAL_CATALOG"})
_METRICS_SUFFIXES = ("_profile_metrics", "_drift_metrics")
_RANK = {"high": 0, "medium": 1, "low": 2}


class _Skip(Exception):
    """A probe cannot go on; the message is the reason its components are unknown."""


@dataclass
class _Run:
    """The state of one audit: the client, the evidence found, and why components are unknown."""

    rest: RestClient
    clock: Clock
    timeout: float
    limit: int
    found: Collector = field(default_factory=Collector)
    unknown: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # items of the current probe that could not be read
    deadline: float = 0.0
    unreachable: str | None = None
    feature_candidates: list[tuple[str, str]] = field(default_factory=list)  # (endpoint, served entity)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        remaining = self.deadline - self.clock.monotonic()
        if remaining <= 0:
            raise _Skip(f"stopped after {self.timeout:g} s, the probe's time limit")
        body = self.rest.get(path, params=params or None, timeout=remaining)
        return body if isinstance(body, dict) else {}

    def try_get(self, path: str, **params: Any) -> dict[str, Any]:
        """A call for one item of a probe: a refusal (403/404) skips that item, not the whole probe."""
        try:
            return self.get(path, **params)
        except APIStatusError as err:
            if err.status_code not in (403, 404):
                raise
            self.notes.append(_reason(err))
            return {}

    def add(self, component: str, what: str, confidence: Confidence = "high") -> None:
        self.found.add(component, Evidence("workspace", 0, what[:160], confidence, "workspace"))


@dataclass(frozen=True)
class _Probe:
    name: str
    covers: tuple[str, ...]  # components this probe alone can tell about: unknown when it fails
    run: Callable[[_Run], None]


def _items(body: dict[str, Any], key: str, limit: int) -> list[dict[str, Any]]:
    values = body.get(key)
    return [v for v in values if isinstance(v, dict)][:limit] if isinstance(values, list) else []


def _reason(err: APIStatusError) -> str:
    where = f"{err.method} {urlsplit(err.url).path}" if err.method and err.url else "the call"
    label = f"{err.status_code} {err.error_code}" if err.error_code else str(err.status_code)
    if err.status_code == 403:
        return f"permission denied on {where} ({label})"
    if err.status_code in (404, 405, 501):
        return f"the workspace does not answer {where} ({label})"
    return f"{where} failed ({label})"


# --- probes -----------------------------------------------------------------------------------------


def _gateway_features(gateway: dict[str, Any]) -> list[str]:
    enabled = [
        ("guardrails", bool(gateway.get("guardrails"))),
        ("rate limits", bool(gateway.get("rate_limits"))),
        ("usage tracking", bool((gateway.get("usage_tracking_config") or {}).get("enabled"))),
        ("inference tables", bool((gateway.get("inference_table_config") or {}).get("enabled"))),
        ("fallbacks", bool((gateway.get("fallback_config") or {}).get("enabled"))),
    ]
    return [name for name, on in enabled if on]


def _guardrails(guardrails: dict[str, Any]) -> list[str]:
    found = []
    for side in ("input", "output"):
        rails = guardrails.get(side) or {}
        parts = [
            name
            for name, on in (
                ("safety", bool(rails.get("safety"))),
                ("pii", (rails.get("pii") or {}).get("behavior") not in (None, "NONE")),
                ("keywords", bool(rails.get("invalid_keywords"))),
                ("topics", bool(rails.get("valid_topics"))),
            )
            if on
        ]
        if parts:
            found.append(f"{side} {'/'.join(parts)}")
    return found


def _entities(endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    config = endpoint.get("config") or {}
    entities = config.get("served_entities") or config.get("served_models") or []
    return [e for e in entities if isinstance(e, dict)]


def _serving(run: _Run) -> None:
    for endpoint in _items(run.get("/api/2.0/serving-endpoints"), "endpoints", run.limit):
        name = str(endpoint.get("name", "?"))
        entities = _entities(endpoint)
        names = [str(e.get("entity_name") or e.get("model_name") or "") for e in entities]
        # Foundation Model API endpoints (databricks-*, serving system.ai models) exist in every workspace.
        if name.startswith("databricks-") and all(n.startswith("system.") or not n for n in names):
            run.add("model_serving", f"built-in endpoint {name} (Foundation Model API, not counted)", "low")
            continue
        run.add(
            "model_serving", f"serving endpoint {name}" + (f" ({endpoint['task']})" if endpoint.get("task") else "")
        )
        gateway = endpoint.get("ai_gateway")
        if isinstance(gateway, dict) and gateway:
            features = _gateway_features(gateway)
            what = f"serving endpoint {name} (ai_gateway: {', '.join(features) or 'nothing enabled'})"
            run.add("ai_gateway", what, "high" if features else "low")
            rails = _guardrails(gateway.get("guardrails") or {})
            if rails:
                run.add("guardrails", f"serving endpoint {name} (guardrails: {', '.join(rails)})")
        for entity, entity_name in zip(entities, names, strict=True):
            if not entity_name or entity.get("external_model") or entity.get("foundation_model"):
                continue
            version = entity.get("entity_version") or entity.get("model_version")
            if not version:  # a feature spec is a UC function, served without a version
                run.feature_candidates.append((name, entity_name))
                run.add(
                    "feature_serving",
                    f"serving endpoint {name} serves {entity_name} (no version: a feature spec)",
                    "medium",
                )
            elif entity_name.count(".") == 2:
                run.add("unity_catalog", f"serving endpoint {name} serves UC model {entity_name} v{version}")
                run.add("mlflow", f"serving endpoint {name} serves registered model {entity_name}", "medium")


def _feature_specs(run: _Run) -> None:
    for endpoint, entity in run.feature_candidates[:_MAX_SPEC_CHECKS]:
        spec = run.try_get(f"/api/2.0/feature-engineering/feature-specs/{quote(entity, safe='')}")
        if spec:
            run.add("feature_serving", f"feature spec {entity} served by endpoint {endpoint}")


def _vector(run: _Run) -> None:
    endpoints = _items(run.get("/api/2.0/vector-search/endpoints"), "endpoints", run.limit)
    try:  # indexes first: they say more than endpoints, and the first few pieces of evidence are shown
        for endpoint in endpoints[:_MAX_VECTOR_ENDPOINTS]:
            name = str(endpoint.get("name", "?"))
            body = run.try_get("/api/2.0/vector-search/indexes", endpoint_name=name)
            for index in _items(body, "vector_indexes", run.limit):
                run.add("vector_search", f"vector search index {index.get('name', '?')} on endpoint {name}")
    finally:  # endpoints were seen even if listing their indexes ran out of time
        for endpoint in endpoints:
            kind = endpoint.get("endpoint_type") or "STANDARD"
            run.add("vector_search", f"vector search endpoint {endpoint.get('name', '?')} ({kind})")


def _tables(run: _Run, schema: str, tables: list[dict[str, Any]]) -> None:
    if not tables:
        return
    run.add("unity_catalog", f"{len(tables)} table(s) in {schema}")
    delta = Counter(str(t.get("data_source_format", "")).upper() for t in tables)["DELTA"]
    if delta:
        run.add("delta_lake", f"tables in {schema} with format DELTA ({delta})")
    for table in tables:
        full = str(table.get("full_name") or f"{schema}.{table.get('name', '?')}")
        columns = {str(c.get("name", "")).lower() for c in table.get("columns") or [] if isinstance(c, dict)}
        if {"trace_id", "span_id"} <= columns:  # spans exported over OTLP (Zerobus or the workspace endpoint)
            run.add("zerobus", f"OTel span table {full} (trace_id, span_id columns)", "medium")
        if full.endswith(_METRICS_SUFFIXES):
            run.add("data_quality", f"monitor output table {full}", "medium")


def _catalog(run: _Run) -> None:
    catalogs = [
        c
        for c in _items(run.get(f"{_UC}/catalogs", max_results=run.limit), "catalogs", run.limit)
        if c.get("name") not in _BUILTIN_CATALOGS and c.get("catalog_type") not in _BUILTIN_CATALOG_TYPES
    ]
    listed = 0
    for catalog in catalogs[:_MAX_CATALOGS]:
        name = str(catalog.get("name"))
        body = run.try_get(f"{_UC}/schemas", catalog_name=name, max_results=run.limit)
        schemas = [
            str(s.get("name")) for s in _items(body, "schemas", run.limit) if s.get("name") != "information_schema"
        ]
        before = run.found.counts.get("unity_catalog", 0)
        for schema in schemas:
            if listed >= _MAX_SCHEMAS:
                break
            listed += 1
            body = run.try_get(f"{_UC}/tables", catalog_name=name, schema_name=schema, max_results=run.limit)
            _tables(run, f"{name}.{schema}", _items(body, "tables", run.limit))
        if run.found.counts.get("unity_catalog", 0) == before:
            run.add("unity_catalog", f"catalog {name} (no tables found in its first schemas)", "low")


def _monitor_target(monitor: dict[str, Any]) -> str:
    config = monitor.get("data_profiling_config") or {}
    table = config.get("monitored_table_name")
    if not table:
        metrics = str(config.get("profile_metrics_table_name") or "")
        table = metrics.rsplit(".", 1)[-1].removesuffix("_profile_metrics") if metrics else None
    return str(table or f"{monitor.get('object_type', 'object')} {monitor.get('object_id', '?')}")


def _monitors(run: _Run) -> None:
    body = run.get("/api/data-quality/v1/monitors", page_size=run.limit)
    for monitor in _items(body, "monitors", run.limit):
        if monitor.get("anomaly_detection_config") is not None:
            run.add("data_quality", f"anomaly detection on schema {monitor.get('object_id', '?')}")
            continue
        config = monitor.get("data_profiling_config") or {}
        kind = next((k for k in ("inference_log", "time_series", "snapshot") if config.get(k) is not None), "")
        suffix = f" ({kind.replace('_', ' ')})" if kind else ""
        run.add("data_quality", f"data quality monitor on {_monitor_target(monitor)}{suffix}")


def _trigger(settings: dict[str, Any]) -> str:
    cron = (settings.get("schedule") or {}).get("quartz_cron_expression")
    if cron:
        return f"schedule {cron}"
    if settings.get("continuous"):
        return "continuous"
    return "triggered" if settings.get("trigger") else "manual"


def _jobs(run: _Run) -> None:
    for job in _items(run.get("/api/2.2/jobs/list", limit=min(run.limit, 100)), "jobs", run.limit):
        settings = job.get("settings") or {}
        name = str(settings.get("name") or job.get("job_id", "?"))
        run.add("jobs", f"job {name} ({_trigger(settings)})")
        deployment = settings.get("deployment") or {}
        if deployment.get("kind") == "BUNDLE":
            where = deployment.get("metadata_file_path")
            run.add("bundles", f"job {name} deployed by a bundle" + (f" ({where})" if where else ""))


def _pipelines(run: _Run) -> None:
    body = run.get("/api/2.0/pipelines", max_results=min(run.limit, 100))
    for pipeline in _items(body, "statuses", run.limit):
        name = str(pipeline.get("name") or pipeline.get("pipeline_id", "?"))
        run.add("pipelines", f"pipeline {name}" + (f" ({pipeline['state']})" if pipeline.get("state") else ""))
        run.add("delta_lake", f"pipeline {name} (its tables are Delta)", "medium")


def _experiments(run: _Run) -> None:
    body = run.get("/api/2.0/mlflow/experiments/list", max_results=run.limit)
    for experiment in _items(body, "experiments", run.limit):
        run.add("mlflow", f"experiment {experiment.get('name') or experiment.get('experiment_id', '?')}")


def _models(run: _Run) -> None:
    for model in _items(run.get(f"{_UC}/models", max_results=run.limit), "registered_models", run.limit):
        name = str(model.get("full_name") or model.get("name", "?"))
        run.add("mlflow", f"registered model {name} in UC")
        run.add("unity_catalog", f"registered model {name}")


_PROBES = (
    _Probe("serving endpoints", ("model_serving", "ai_gateway", "guardrails", "feature_serving"), _serving),
    _Probe("feature specs", ("feature_serving",), _feature_specs),
    _Probe("vector search", ("vector_search",), _vector),
    _Probe("unity catalog", ("unity_catalog", "delta_lake", "zerobus"), _catalog),
    _Probe("data quality monitors", ("data_quality",), _monitors),
    _Probe("jobs", ("jobs", "bundles"), _jobs),
    _Probe("pipelines", ("pipelines",), _pipelines),
    _Probe("experiments", ("mlflow",), _experiments),
    _Probe("registered models", ("mlflow",), _models),  # Unity Catalog is judged by its tables
)
# Extras no probe covers yet: reported as unknown rather than as not used.
_NOT_PROBED = {"uc_prompts": "not checked live: no probe for the prompt registry yet"}


def _run_probe(run: _Run, probe: _Probe) -> None:
    if run.unreachable is not None:
        reason = f"not tried: {run.unreachable}"
    else:
        run.notes = []
        run.deadline = run.clock.monotonic() + run.timeout
        try:
            probe.run(run)
        except AuthenticationError:
            raise  # every probe would fail the same way: say so once
        except _Skip as err:
            reason = str(err)
        except APIStatusError as err:
            reason = _reason(err)
        except APIConnectionError as err:
            reason = f"no answer from the workspace ({type(err).__name__})"
            if not isinstance(err, APITimeoutError):
                run.unreachable = reason  # refused or unresolvable: the next probes would only wait too
        except APIError as err:  # a success status with a body that is not the API's (a proxy's page, ...)
            reason = f"unexpected answer listing {probe.name} ({type(err).__name__}): is a proxy in the way?"
        else:
            for component in probe.covers if run.notes else ():
                # Items that could not be read: "not found" would claim more than was seen.
                run.unknown.setdefault(component, []).append(f"partly checked: {run.notes[0]}")
            logger.debug("audit probe %s: done (%d items skipped)", probe.name, len(run.notes))
            return
    logger.info("audit probe %s: unknown (%s)", probe.name, reason)
    for component in probe.covers:
        run.unknown.setdefault(component, []).append(reason)


def _result(component: Component, run: _Run) -> ComponentResult:
    evidence = tuple(run.found.evidence.get(component.key, ()))
    confidence: Level = evidence[0].confidence if evidence else "none"
    used = confidence in ("high", "medium")
    reasons = run.unknown.get(component.key) or ([_NOT_PROBED[component.key]] if component.key in _NOT_PROBED else [])
    return ComponentResult(
        key=component.key,
        name=component.name,
        used=used,
        confidence=confidence,
        evidence=evidence,
        evidence_count=run.found.counts.get(component.key, 0),
        unknown=None if used or not reasons else "; ".join(dict.fromkeys(reasons)),
    )


def audit_workspace(
    config: DbxConfig | None = None,
    *,
    client: BaseClient | None = None,
    timeout: float = 15.0,
    limit: int = 25,
) -> AuditReport:
    """Score a live workspace on the checklist's twelve components, from what is deployed in it.

    Probes, one after another: serving endpoints (AI Gateway, guardrails, served feature specs and UC models),
    feature specs, vector search endpoints and indexes, Unity Catalog catalogs/schemas/tables (Delta format,
    OTel span tables, monitor outputs), data quality monitors, jobs (schedules, bundle deployments), pipelines,
    MLflow experiments and registered models. A probe that is refused, not answered or fails after retries
    leaves its components unknown (`ComponentResult.unknown` says why) and the audit goes on.

    Args:
        config: Host and credentials; `None` reads `DbxConfig()` from the environment. Ignored with `client`.
        client: Any dbx-native client whose connection pool, credentials and clock to reuse.
        timeout: Seconds each probe may take in all, retries included.
        limit: Items read per list call (one page; 1 to 100).

    Returns:
        The report, `workspace` set to the host; evidence reads `workspace` and what was found
        (`serving endpoint fraud-llm (ai_gateway: guardrails, rate limits)`).

    Raises:
        InvalidRequestError: `timeout` is not positive or `limit` is out of range.
        AuthenticationError: The workspace refused the credentials (401): nothing could be audited.
        ConfigurationError: No host or credentials are configured.

    Example:
        >>> from dbx_native.local import LocalWorkspace
        >>> ws = LocalWorkspace()
        >>> _ = ws.serving.create_endpoint("fraud-llm", ai_gateway={"usage_tracking_config": {"enabled": True}})
        >>> with ws.intercept():
        ...     report = audit_workspace(ws.config)
        >>> gateway = next(c for c in report.components if c.key == "ai_gateway")
        >>> gateway.used, gateway.evidence[0].snippet
        (True, 'serving endpoint fraud-llm (ai_gateway: usage tracking)')
    """
    if not timeout > 0:
        raise InvalidRequestError(f"timeout must be positive seconds, not {timeout!r}")
    if not 1 <= limit <= 100:
        raise InvalidRequestError(f"limit must be between 1 and 100 items per list call, not {limit!r}")
    from dbx_native.rest import RestClient

    rest = RestClient(config=config) if client is None else RestClient.sharing(client)
    try:
        run = _Run(rest=rest, clock=rest._http.clock, timeout=timeout, limit=limit)
        for probe in _PROBES:
            _run_probe(run, probe)
    finally:
        if client is None:
            rest.close()
    components = tuple(_result(c, run) for c in COMPONENTS)
    return AuditReport(
        root="",
        score=sum(c.used for c in components),
        total=len(components),
        components=components,
        extras=tuple(_result(c, run) for c in EXTRAS),
        workspace=rest.config.host or "",
    )


def _merge(a: ComponentResult, b: ComponentResult) -> ComponentResult:
    if a.key != b.key:
        raise InvalidRequestError(f"cannot merge component {a.key!r} with {b.key!r}: reports of different rules")
    evidence = sorted((*a.evidence, *b.evidence), key=lambda e: _RANK[e.confidence])[:MAX_EVIDENCE]
    used = a.used or b.used
    return ComponentResult(
        key=a.key,
        name=a.name,
        used=used,
        confidence=evidence[0].confidence if evidence else "none",
        evidence=tuple(evidence),
        evidence_count=a.evidence_count + b.evidence_count,
        unknown=None if used else (b.unknown or a.unknown),
    )


def _merge_all(a: Iterable[ComponentResult], b: Iterable[ComponentResult]) -> tuple[ComponentResult, ...]:
    left, right = tuple(a), tuple(b)
    if len(left) != len(right):
        raise InvalidRequestError("cannot merge reports with different components")
    return tuple(_merge(x, y) for x, y in zip(left, right, strict=True))


def merge_reports(project: AuditReport, workspace: AuditReport) -> AuditReport:
    """Combine a project's report with a live workspace's: a component is used if either side shows it.

    Args:
        project: From `audit_project`.
        workspace: From `audit_workspace`.

    Returns:
        One report: evidence from both (strongest first), the project's files and bundles, the workspace's host;
        a component neither side shows stays unknown if the workspace could not check it.

    Raises:
        InvalidRequestError: The reports do not list the same components.
    """
    components = _merge_all(project.components, workspace.components)
    return AuditReport(
        root=project.root or workspace.root,
        score=sum(c.used for c in components),
        total=len(components),
        components=components,
        extras=_merge_all(project.extras, workspace.extras),
        files_scanned=project.files_scanned + workspace.files_scanned,
        bundles=project.bundles + workspace.bundles,
        problems=project.problems + workspace.problems,
        workspace=workspace.workspace or project.workspace,
    )
