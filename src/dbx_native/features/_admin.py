"""`ensure_feature_serving_endpoint`: create or update a Feature Serving endpoint, idempotently, and wait for it.

Plain REST through the core (the routes databricks-sdk's `serving_endpoints` calls), so there is no
dependency on databricks-feature-engineering (which needs an undeclared pyspark).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from dbx_native._core.client import BaseClient
from dbx_native._core.logs import get_logger
from dbx_native._core.waiters import Poll
from dbx_native.config import DbxConfig
from dbx_native.errors import ConflictError, InvalidRequestError, NotFoundError, OperationTimeoutError, ServerError
from dbx_native.rest import RestClient

__all__ = ["FeatureEndpoint", "ensure_feature_serving_endpoint"]

_log = get_logger("dbx_native.features")
_API = "/api/2.0/serving-endpoints"
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
_FAILED = ("UPDATE_FAILED", "UPDATE_CANCELED")


class FeatureEndpoint(BaseModel):
    """A Feature Serving endpoint as `ensure_feature_serving_endpoint` left it.

    Attributes:
        name: The endpoint name.
        feature_spec: The feature spec it serves.
        ready: `state.ready` (`READY` / `NOT_READY`).
        config_update: `state.config_update` (`NOT_UPDATING`, `IN_PROGRESS`, ...).
        created: The call created the endpoint.
        updated: The call changed the endpoint's config.
        endpoint: The endpoint JSON from the last read.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    feature_spec: str
    ready: str
    config_update: str
    created: bool = False
    updated: bool = False
    endpoint: dict[str, Any] = {}


def ensure_feature_serving_endpoint(
    name: str,
    *,
    feature_spec: str,
    workload_size: str = "Small",
    scale_to_zero: bool = True,
    wait: bool = True,
    timeout: float = 1200.0,
    progress: Callable[[Mapping[str, Any]], None] | None = None,
    client: BaseClient | None = None,
    config: DbxConfig | None = None,
) -> FeatureEndpoint:
    """Make serving endpoint `name` serve `feature_spec`: create it, or update its config, or leave it be.

    Args:
        name: The serving endpoint's name.
        feature_spec: The feature spec (`catalog.schema.spec`, a UC function of type FEATURE_SPEC).
        workload_size: `Small`, `Medium` or `Large`.
        scale_to_zero: Let the endpoint scale to zero when idle.
        wait: Poll until the endpoint is `READY` and not updating.
        timeout: Seconds to wait for it.
        progress: Called with the endpoint's `state` object after each poll.
        client: A dbx-native client whose connection and credentials to use.
        config: Connection settings when no `client` is given (`DbxConfig()` from the environment if neither).

    Returns:
        The endpoint's state, and whether the call created or updated it.

    Raises:
        InvalidRequestError: A bad endpoint or feature spec name.
        OperationTimeoutError: It was not ready within `timeout` (`last_state` holds the state seen).
        ServerError: The endpoint's config update failed.
        APIError: A call failed.
    """
    if not _NAME.match(name):
        raise InvalidRequestError(
            f"Invalid endpoint name {name!r}: use 1 to 63 letters, digits, dashes and underscores."
        )
    if len(feature_spec.split(".")) != 3:
        raise InvalidRequestError(f"feature_spec must be a three-part name catalog.schema.spec, not {feature_spec!r}.")
    rest = RestClient.sharing(client) if client is not None else RestClient(config=config)
    entity = {"entity_name": feature_spec, "workload_size": workload_size, "scale_to_zero_enabled": scale_to_zero}
    created = updated = False
    current = _read(rest, name)
    if current is None:
        try:
            current = rest.post(_API, body={"name": name, "config": {"served_entities": [entity]}})
            created = True
            _log.info("created Feature Serving endpoint %s for %s", name, feature_spec)
        except ConflictError:  # created meanwhile (or by an earlier attempt of this call): use it
            current = _read(rest, name) or {}
    if not created and not _serves(current, entity):
        current = rest.put(f"{_API}/{name}/config", body={"served_entities": [entity]})
        updated = True
        _log.info("updated Feature Serving endpoint %s to serve %s", name, feature_spec)
    if wait:
        current = _wait(rest, name, timeout, progress)
    state = current.get("state") or {}
    return FeatureEndpoint(
        name=name,
        feature_spec=feature_spec,
        ready=str(state.get("ready") or "NOT_READY"),
        config_update=str(state.get("config_update") or "NOT_UPDATING"),
        created=created,
        updated=updated,
        endpoint=dict(current),
    )


def _read(rest: RestClient, name: str) -> dict[str, Any] | None:
    try:
        found = rest.get(f"{_API}/{name}")
    except NotFoundError:
        return None
    return dict(found or {})


def _serves(endpoint: Mapping[str, Any], entity: Mapping[str, Any]) -> bool:
    """Whether the live (or pending) config is exactly one served entity matching `entity`."""
    for key in ("pending_config", "config"):
        served = (endpoint.get(key) or {}).get("served_entities") or []
        if served:
            if len(served) != 1:
                return False
            live = served[0]
            return (
                str(live.get("entity_name", "")).lower() == str(entity["entity_name"]).lower()
                and live.get("workload_size", entity["workload_size"]) == entity["workload_size"]
                and bool(live.get("scale_to_zero_enabled", entity["scale_to_zero_enabled"]))
                == entity["scale_to_zero_enabled"]
            )
    return False


def _wait(
    rest: RestClient, name: str, timeout: float, progress: Callable[[Mapping[str, Any]], None] | None
) -> dict[str, Any]:
    poll = Poll(rest._http.clock, timeout=timeout, initial=1.0, factor=2.0, maximum=30.0)
    while True:
        current = _read(rest, name) or {}
        state = current.get("state") or {}
        if progress is not None:
            progress(state)
        if state.get("config_update") in _FAILED:
            raise ServerError(
                f"Serving endpoint '{name}' config update ended {state.get('config_update')}: see the endpoint's "
                "events and build logs in the Serving UI, fix the feature spec or the config, and run again.",
                status_code=500,
                error_code=str(state.get("config_update")),
            )
        if state.get("ready") == "READY" and state.get("config_update") in (None, "NOT_UPDATING"):
            return current
        _log.info("waiting for serving endpoint %s: %s (%.0fs elapsed)", name, dict(state), poll.elapsed)
        if not poll.wait():
            raise OperationTimeoutError(
                f"Serving endpoint '{name}' was not ready after {timeout:g}s (state {dict(state)}): it may still "
                "be deploying; call again later with wait=True, or raise timeout=.",
                last_state=dict(state),
                timeout=timeout,
            )
