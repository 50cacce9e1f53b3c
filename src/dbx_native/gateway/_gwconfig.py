"""`GatewayConfig`: a serving endpoint's AI Gateway block and traffic routes, as code, planned and applied.

`plan(endpoint)` reads the live endpoint and returns what would change; `apply(endpoint)` makes it so
(`PUT /api/2.0/serving-endpoints/{name}/ai-gateway`, and `PUT .../config` for traffic routes) and does
nothing when there is nothing to change, so it is safe to run on every deploy.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dbx_native._core.client import BaseClient
from dbx_native.config import DbxConfig
from dbx_native.errors import InvalidRequestError

__all__ = [
    "AiGatewayRateLimit",
    "FallbackConfig",
    "GatewayChange",
    "GatewayConfig",
    "GatewayPlan",
    "Guardrail",
    "Guardrails",
    "InferenceTableConfig",
    "PiiBehavior",
    "TrafficRoute",
    "UsageTracking",
]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True, mode="json")


class PiiBehavior(_Wire):
    """What AI Gateway does with PII: `BLOCK`, `MASK` or `NONE`."""

    behavior: Literal["BLOCK", "MASK", "NONE"] = "NONE"


class Guardrail(_Wire):
    """Guardrails for one direction (input or output)."""

    safety: bool | None = None
    pii: PiiBehavior | None = None
    invalid_keywords: list[str] | None = None
    valid_topics: list[str] | None = None


class Guardrails(_Wire):
    input: Guardrail | None = None
    output: Guardrail | None = None


class AiGatewayRateLimit(_Wire):
    """A rate limit: `calls` and/or `tokens` per `renewal_period` for a `key` (and `principal`)."""

    key: Literal["user", "user_group", "service_principal", "endpoint"] = "endpoint"
    renewal_period: Literal["minute"] = "minute"
    calls: int | None = Field(default=None, ge=0)
    tokens: int | None = Field(default=None, ge=0)
    principal: str | None = None

    @model_validator(mode="after")
    def _calls_or_tokens(self) -> AiGatewayRateLimit:
        if self.calls is None and self.tokens is None:
            raise ValueError("a rate limit needs calls, tokens or both")
        return self


class UsageTracking(_Wire):
    enabled: bool = True


class InferenceTableConfig(_Wire):
    enabled: bool = True
    catalog_name: str | None = None
    schema_name: str | None = None
    table_name_prefix: str | None = None


class FallbackConfig(_Wire):
    enabled: bool = True


class TrafficRoute(_Wire):
    """One traffic route: the share of requests a served entity gets (integers adding up to 100)."""

    served_entity_name: str
    traffic_percentage: int = Field(ge=0, le=100)


class GatewayChange(BaseModel):
    """One difference between the wanted and the live configuration."""

    model_config = ConfigDict(frozen=True)

    path: str
    live: Any
    wanted: Any

    def __str__(self) -> str:
        return f"{self.path}: {self.live!r} -> {self.wanted!r}"


class GatewayPlan(BaseModel):
    """What `apply` would change on one endpoint."""

    model_config = ConfigDict(frozen=True)

    endpoint: str
    changes: list[GatewayChange] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    def __str__(self) -> str:
        if self.empty:
            return f"{self.endpoint}: no changes"
        return "\n".join([f"{self.endpoint}: {len(self.changes)} change(s)", *(f"  {c}" for c in self.changes)])


class GatewayConfig(_Wire):
    """The AI Gateway block of a serving endpoint, plus its traffic routes.

    Example:
        >>> cfg = GatewayConfig(
        ...     guardrails=Guardrails(input=Guardrail(pii=PiiBehavior(behavior="MASK"))),
        ...     rate_limits=[AiGatewayRateLimit(key="user", calls=100)],
        ...     usage_tracking_config=UsageTracking(enabled=True),
        ... )
        >>> cfg.ai_gateway_wire()["rate_limits"]
        [{'key': 'user', 'renewal_period': 'minute', 'calls': 100}]
    """

    guardrails: Guardrails | None = None
    rate_limits: list[AiGatewayRateLimit] | None = None
    usage_tracking_config: UsageTracking | None = None
    inference_table_config: InferenceTableConfig | None = None
    fallback_config: FallbackConfig | None = None
    traffic: list[TrafficRoute] | None = None

    @model_validator(mode="after")
    def _traffic_adds_up(self) -> GatewayConfig:
        if self.traffic is not None and self.traffic and sum(r.traffic_percentage for r in self.traffic) != 100:
            raise ValueError("traffic percentages must add up to 100")
        return self

    def ai_gateway_wire(self) -> dict[str, Any]:
        """The body of `PUT /api/2.0/serving-endpoints/{name}/ai-gateway`."""
        return self.model_dump(exclude_none=True, exclude={"traffic"}, mode="json")

    def plan(self, endpoint: str, *, client: BaseClient | None = None, config: DbxConfig | None = None) -> GatewayPlan:
        """What `apply` would change on `endpoint` (reads the live endpoint; changes nothing).

        Raises:
            NotFoundError: The endpoint does not exist.
        """
        live = _rest(client, config).get(f"/api/2.0/serving-endpoints/{_name(endpoint)}")
        return GatewayPlan(endpoint=endpoint, changes=self._diff(live))

    def apply(self, endpoint: str, *, client: BaseClient | None = None, config: DbxConfig | None = None) -> GatewayPlan:
        """Make the live endpoint match; a no-op (no write) when it already does. Returns the plan it applied.

        Raises:
            NotFoundError: The endpoint does not exist.
            BadRequestError: The service refused the configuration.
        """
        rest = _rest(client, config)
        name = _name(endpoint)
        live = rest.get(f"/api/2.0/serving-endpoints/{name}")
        changes = self._diff(live)
        if any(not c.path.startswith("traffic") for c in changes):
            rest.put(f"/api/2.0/serving-endpoints/{name}/ai-gateway", body=self.ai_gateway_wire())
        if any(c.path.startswith("traffic") for c in changes):
            served = ((live.get("config") or {}).get("served_entities")) or []
            body = {
                "served_entities": [_served_input(e) for e in served],
                "traffic_config": {"routes": [r.wire() for r in self.traffic or []]},
            }
            rest.put(f"/api/2.0/serving-endpoints/{name}/config", body=body)
        return GatewayPlan(endpoint=endpoint, changes=changes)

    def _diff(self, live: dict[str, Any]) -> list[GatewayChange]:
        wanted = self.ai_gateway_wire()
        current = live.get("ai_gateway") or {}
        changes = []
        for key in sorted(set(type(self).model_fields) - {"traffic"}):
            if getattr(self, key) is None:
                continue  # not managed by this config
            if _normal(current.get(key)) != _normal(wanted.get(key)):
                changes.append(GatewayChange(path=f"ai_gateway.{key}", live=current.get(key), wanted=wanted.get(key)))
        if self.traffic is not None:
            live_routes = ((live.get("config") or {}).get("traffic_config") or {}).get("routes") or []
            live_norm = sorted(
                (r.get("served_entity_name") or r.get("served_model_name"), r.get("traffic_percentage"))
                for r in live_routes
            )
            wanted_norm = sorted((r.served_entity_name, r.traffic_percentage) for r in self.traffic)
            if live_norm != wanted_norm:
                changes.append(GatewayChange(path="traffic.routes", live=live_norm, wanted=wanted_norm))
        return changes


def _normal(value: Any) -> Any:
    """Compare configs ignoring defaults the service fills in and the order of dict keys."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _served_input(entity: dict[str, Any]) -> dict[str, Any]:
    # A served entity as read back carries output-only fields (state, creator, ...) the update refuses.
    keep = {
        "name",
        "entity_name",
        "entity_version",
        "workload_size",
        "workload_type",
        "scale_to_zero_enabled",
        "min_provisioned_throughput",
        "max_provisioned_throughput",
        "provisioned_model_units",
        "environment_vars",
        "external_model",
        "instance_profile_arn",
    }
    return {k: v for k, v in entity.items() if k in keep}


def _name(endpoint: str) -> str:
    if not isinstance(endpoint, str) or not endpoint or "/" in endpoint:
        raise InvalidRequestError(f"{endpoint!r} is not a serving endpoint name")
    return endpoint


def _rest(client: BaseClient | None, config: DbxConfig | None) -> Any:
    from dbx_native.rest import RestClient

    if client is None:
        return RestClient(config=config)
    return RestClient.sharing(client)
