"""Validation and JSON shapes of serving-endpoint configuration: served entities, traffic, AI Gateway, tags."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from dbx_native.local._wire import LocalApiError

__all__ = ["TASKS", "entity_output", "infer_task", "validate_ai_gateway", "validate_config", "validate_name"]

TASKS = ("llm/v1/chat", "llm/v1/completions", "llm/v1/embeddings")
"""The tasks local endpoints serve (feature serving and custom models are not emulated here)."""

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
_EMBEDDING_HINTS = re.compile(r"embed|gte|bge|e5-", re.IGNORECASE)
_RATE_LIMIT_KEYS = ("user", "user_group", "service_principal", "endpoint")
_PII_BEHAVIORS = ("BLOCK", "MASK", "NONE")


def _bad(message: str) -> LocalApiError:
    return LocalApiError(400, message, error_code="INVALID_PARAMETER_VALUE")


def validate_name(name: object) -> str:
    """The endpoint name, checked like the service does (letters, digits, `-`, `_`; at most 63)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise _bad(f"Invalid serving endpoint name {name!r}: use 1 to 63 letters, digits, dashes and underscores.")
    return name


def _default_entity_name(spec: Mapping[str, Any]) -> str:
    external = spec.get("external_model")
    if isinstance(external, Mapping) and external.get("name"):
        base = str(external["name"])
    else:
        base = str(spec.get("entity_name") or spec.get("model_name") or "")
    base = base.rsplit(".", 1)[-1]
    version = spec.get("entity_version") or spec.get("model_version")
    name = f"{base}-{version}" if version else base
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)


def validate_config(config: object) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Served entities (each with a `name`) and a traffic config (defaulted) from a `config` body.

    Legacy `served_models` (`model_name`, `model_version`) are read as served entities.

    Raises:
        LocalApiError: 400 on a missing or malformed config.
    """
    if not isinstance(config, Mapping):
        raise _bad("The endpoint needs a 'config' object with 'served_entities'.")
    raw = config.get("served_entities") or config.get("served_models")
    if not isinstance(raw, list) or not raw or not all(isinstance(e, Mapping) for e in raw):
        raise _bad("'config.served_entities' must be a non-empty list of served entity objects.")
    entities: list[dict[str, Any]] = []
    for spec in raw:
        entity = dict(spec)
        if "model_name" in entity and "entity_name" not in entity:
            entity["entity_name"] = entity.pop("model_name")
            entity["entity_version"] = entity.pop("model_version", None)
        if not (entity.get("entity_name") or entity.get("external_model") or entity.get("name")):
            raise _bad("Each served entity needs 'entity_name' or 'external_model'.")
        entity["name"] = str(entity.get("name") or _default_entity_name(entity))
        entities.append({k: v for k, v in entity.items() if v is not None})
    names = [e["name"] for e in entities]
    if len(set(names)) != len(names):
        raise _bad(f"Served entity names must be unique, got {names}.")
    return entities, _traffic(config.get("traffic_config"), names)


def _traffic(traffic: object, names: Sequence[str]) -> dict[str, Any]:
    if traffic is None:
        share, extra = divmod(100, len(names))
        even: list[dict[str, Any]] = [
            {"served_entity_name": n, "traffic_percentage": share + (extra if i == 0 else 0)}
            for i, n in enumerate(names)
        ]
        return {"routes": even}
    routes = traffic.get("routes") if isinstance(traffic, Mapping) else None
    if not isinstance(routes, list) or not all(isinstance(r, Mapping) for r in routes):
        raise _bad("'traffic_config.routes' must be a list of {served_entity_name, traffic_percentage}.")
    checked: list[dict[str, Any]] = []
    for route in routes:
        target = route.get("served_entity_name") or route.get("served_model_name")
        percentage = route.get("traffic_percentage")
        if target not in names:
            raise _bad(
                f"Traffic route targets {target!r}, which is not a served entity of this config ({list(names)})."
            )
        if not isinstance(percentage, int) or isinstance(percentage, bool) or not 0 <= percentage <= 100:
            raise _bad(f"traffic_percentage must be an integer from 0 to 100, not {percentage!r}.")
        checked.append({"served_entity_name": target, "traffic_percentage": percentage})
    if sum(r["traffic_percentage"] for r in checked) != 100:
        raise _bad("The traffic percentages of 'traffic_config.routes' must add up to 100.")
    return {"routes": checked}


def infer_task(entities: Sequence[Mapping[str, Any]]) -> str:
    """The task of a REST-created endpoint: an external model's `task`, else a guess from the entity name."""
    for entity in entities:
        external = entity.get("external_model")
        if isinstance(external, Mapping) and external.get("task") in TASKS:
            return str(external["task"])
    for entity in entities:
        if _EMBEDDING_HINTS.search(str(entity.get("entity_name") or entity.get("name") or "")):
            return "llm/v1/embeddings"
    return "llm/v1/chat"


def entity_output(spec: Mapping[str, Any], *, created_ms: int, creator: str, ready: bool) -> dict[str, Any]:
    """A `ServedEntityOutput`: the spec as sent (write-only secrets dropped) plus timestamps and state."""
    out = {k: _without_secrets(v) for k, v in spec.items()}
    out["creation_timestamp"] = created_ms
    out["creator"] = creator
    out["state"] = {
        "deployment": "DEPLOYMENT_READY" if ready else "DEPLOYMENT_CREATING",
        "deployment_state_message": "" if ready else "Creating the served entity (local workspace).",
    }
    return out


def _without_secrets(value: Any) -> Any:
    # Provider keys are write-only on the real service (`*_plaintext`): never echo them back.
    if isinstance(value, Mapping):
        return {k: _without_secrets(v) for k, v in value.items() if not str(k).endswith("_plaintext")}
    if isinstance(value, list):
        return [_without_secrets(v) for v in value]
    return value


def validate_ai_gateway(config: object) -> dict[str, Any]:
    """An `ai_gateway` body, checked and with rate-limit enum values lower-cased as the wire sends them.

    Raises:
        LocalApiError: 400 on a malformed config.
    """
    if not isinstance(config, Mapping):
        raise _bad("'ai_gateway' must be an object.")
    checked = {k: v for k, v in config.items() if v is not None}
    limits = checked.get("rate_limits")
    if limits is not None:
        if not isinstance(limits, list) or not all(isinstance(x, Mapping) for x in limits):
            raise _bad("'ai_gateway.rate_limits' must be a list of objects.")
        checked["rate_limits"] = [_rate_limit(x) for x in limits]
    guardrails = checked.get("guardrails")
    if guardrails is not None:
        if not isinstance(guardrails, Mapping):
            raise _bad("'ai_gateway.guardrails' must be an object with 'input' and/or 'output'.")
        for direction in ("input", "output"):
            params = guardrails.get(direction)
            behavior = ((params or {}).get("pii") or {}).get("behavior") if isinstance(params, Mapping) else None
            if behavior is not None and str(behavior).upper() not in _PII_BEHAVIORS:
                raise _bad(f"guardrails.{direction}.pii.behavior must be one of {_PII_BEHAVIORS}, not {behavior!r}.")
    return checked


def _rate_limit(limit: Mapping[str, Any]) -> dict[str, Any]:
    checked = dict(limit)
    period = str(checked.get("renewal_period") or "").lower()
    if period != "minute":
        raise _bad(f"rate_limits[].renewal_period must be 'minute', not {checked.get('renewal_period')!r}.")
    key = str(checked.get("key") or "endpoint").lower()
    if key not in _RATE_LIMIT_KEYS:
        raise _bad(f"rate_limits[].key must be one of {_RATE_LIMIT_KEYS}, not {checked.get('key')!r}.")
    if checked.get("calls") is None and checked.get("tokens") is None:
        raise _bad("A rate limit needs 'calls' and/or 'tokens'.")
    for field in ("calls", "tokens"):
        value = checked.get(field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise _bad(f"rate_limits[].{field} must be a non-negative integer, not {value!r}.")
    checked["renewal_period"], checked["key"] = period, key
    return checked


def patch_tags(tags: list[dict[str, Any]], body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Tags after a `PATCH .../tags` (`add_tags`, `delete_tags`)."""
    by_key = {t["key"]: t for t in tags}
    for key in body.get("delete_tags") or []:
        by_key.pop(key, None)
    for tag in body.get("add_tags") or []:
        if not isinstance(tag, Mapping) or not tag.get("key"):
            raise _bad("Each tag in 'add_tags' needs a 'key'.")
        by_key[str(tag["key"])] = {k: v for k, v in tag.items() if v is not None}
    return list(by_key.values())


def check_tags(tags: object) -> list[dict[str, Any]]:
    """Tags of a create body: a list of `{key, value?}`."""
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, Mapping) and t.get("key") for t in tags):
        raise _bad("'tags' must be a list of {key, value} objects.")
    return [dict(t) for t in tags]
