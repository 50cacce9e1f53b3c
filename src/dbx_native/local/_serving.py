"""Model Serving + AI Gateway of the local workspace (`ws.serving`): endpoint CRUD, state and the Python API.

Invocations (chat, completions, embeddings, streaming, the OpenAI-compatible routes) are answered by
`_serving_invoke`; the AI Gateway rules by `_serving_gateway`; the scripted models by `_serving_models`.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dbx_native.errors import InvalidRequestError
from dbx_native.local._router import Route
from dbx_native.local._serving_config import (
    TASKS,
    check_tags,
    entity_output,
    infer_task,
    patch_tags,
    validate_ai_gateway,
    validate_config,
    validate_name,
)
from dbx_native.local._serving_gateway import RateLimiter, requester_of
from dbx_native.local._serving_invoke import Invoker
from dbx_native.local._serving_models import (
    DEFAULT_EMBEDDING_DIMENSION,
    ChatModel,
    Embedder,
    as_chat_model,
    as_embedder,
)
from dbx_native.local._states import StateMachine
from dbx_native.local._wire import LocalApiError, LocalRequest

__all__ = ["ENDPOINT_KIND", "UPDATE_KIND", "ServingBackend"]

ENDPOINT_KIND = "serving-endpoint"
"""State-machine kind of endpoint readiness: `NOT_READY` -> `READY` (script it with `ws.states.set`)."""

UPDATE_KIND = "serving-endpoint-config"
"""State-machine kind of a config update: `IN_PROGRESS` -> `NOT_UPDATING`."""

LOCAL_USER = "local-user@dbx-native.invalid"
_API = "/api/2.0/serving-endpoints"


@dataclass
class Entity:
    """A served entity with the model that answers for it."""

    spec: dict[str, Any]
    chat: ChatModel | None
    embedder: Embedder | None

    @property
    def name(self) -> str:
        return str(self.spec["name"])


@dataclass
class Endpoint:
    """One serving endpoint and everything the local workspace keeps about it."""

    name: str
    task: str
    creator: str
    created_ms: int
    updated_ms: int
    entities: dict[str, Entity]
    traffic: dict[str, Any]
    chat: ChatModel | None
    embedder: Embedder | None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    config_version: int = 1
    pending: tuple[dict[str, Entity], dict[str, Any]] | None = None
    update_state: str = "NOT_UPDATING"
    ai_gateway: dict[str, Any] | None = None
    tags: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # description, route_optimized, budget_policy_id, ...
    weights: dict[str, int] = field(default_factory=dict)  # smooth weighted round-robin state
    dimension: int = DEFAULT_EMBEDDING_DIMENSION  # of the default hashing embedder
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def pick(self) -> Entity:
        """The served entity for the next request, following the traffic split exactly over time."""
        # Smooth weighted round-robin (as nginx does): exact shares over every 100 requests, well interleaved.
        with self._lock:
            best: str | None = None
            for route in self.traffic["routes"]:
                name, share = route["served_entity_name"], route["traffic_percentage"]
                if share <= 0:
                    continue
                self.weights[name] = self.weights.get(name, 0) + share
                if best is None or self.weights[name] > self.weights[best]:
                    best = name
            if best is None:
                raise LocalApiError(503, f"Serving endpoint '{self.name}' routes no traffic to any served entity.")
            self.weights[best] -= 100
            return self.entities[best]


class ServingBackend:
    """Serving endpoints of a `LocalWorkspace` (`ws.serving`), with AI Gateway rules and scripted models.

    Args:
        states: The workspace's state machines (`ws.states`): readiness and config updates follow them.
        time: Returns the current time in seconds (the workspace clock); rate-limit windows use it.
        custom: Answers invocations with custom-model inputs (`dataframe_records`, `dataframe_split`,
            `instances`, `inputs`): `(entity_name, body) -> answer`, or `None` when the served entity is not
            one it serves (the workspace plugs Feature Serving in here).

    Example:
        >>> from dbx_native.local import LocalWorkspace
        >>> ws = LocalWorkspace()
        >>> ws.serving.create_endpoint("chat", model=["Hello from a scripted model."])["state"]
        {'ready': 'READY', 'config_update': 'NOT_UPDATING'}
    """

    def __init__(
        self,
        *,
        states: StateMachine,
        time: Callable[[], float],
        custom: Callable[[str, dict[str, Any]], dict[str, Any] | None] | None = None,
    ) -> None:
        self._states = states
        self._time = time
        self.custom = custom
        self._endpoints: dict[str, Endpoint] = {}
        self._usage: dict[str, list[dict[str, Any]]] = {}
        self._users: dict[str, str] = {}
        self._lock = threading.RLock()
        self.limiter = RateLimiter()
        states.define(ENDPOINT_KIND, ["NOT_READY", "READY"])
        states.define(UPDATE_KIND, ["IN_PROGRESS", "NOT_UPDATING"])
        self._invoker = Invoker(self)

    # --- Backend protocol -------------------------------------------------------------------------

    def routes(self) -> Iterable[Route]:
        """The REST routes of Model Serving (control plane under `/api/2.0`, data plane under `/serving-endpoints`)."""
        return [
            Route("POST", _API, self._create),
            Route("GET", _API, self._list),
            Route("GET", _API + "/{name}", lambda r: self._detail(self._get(r), count=True)),
            Route("DELETE", _API + "/{name}", self._delete),
            Route("PUT", _API + "/{name}/config", self._update_config),
            Route("PUT", _API + "/{name}/ai-gateway", self._put_ai_gateway),
            Route("PATCH", _API + "/{name}/tags", self._patch_tags),
            *self._invoker.routes(),
        ]

    def reset(self) -> None:
        """Forget every endpoint, usage row, rate-limit window and registered requester."""
        with self._lock:
            self._endpoints.clear()
            self._usage.clear()
            self._users.clear()
            self.limiter.clear()

    # --- Python API -------------------------------------------------------------------------------

    def create_endpoint(
        self,
        name: str,
        *,
        served_entities: Sequence[Mapping[str, Any]] | None = None,
        task: str = "llm/v1/chat",
        model: object = None,
        ai_gateway: Mapping[str, Any] | None = None,
        traffic_config: Mapping[str, Any] | None = None,
        ready: bool = True,
        dimension: int = DEFAULT_EMBEDDING_DIMENSION,
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Create a serving endpoint directly (no HTTP), answered by a scripted model.

        Args:
            name: The endpoint name.
            served_entities: `ServedEntityInput` dicts; default one entity named after the local model.
            task: `"llm/v1/chat"`, `"llm/v1/completions"` or `"llm/v1/embeddings"`.
            model: For chat/completions: a `ScriptedChatModel` (or any `ChatModel`), a function
                `(request dict) -> reply`, a list of canned replies (cycled) or `None` for the echo model.
                For embeddings: an `Embedder`, a function `(texts) -> vectors` or `None` for the hashing embedder.
            ai_gateway: The `ai_gateway` config (rate limits, guardrails, usage tracking, fallbacks).
            traffic_config: `{"routes": [{"served_entity_name", "traffic_percentage"}]}`; default an even split.
            ready: `False` starts the endpoint `NOT_READY`; it turns `READY` as `ws.states` scripts it
                (by default after one read).
            dimension: Vector size of the default hashing embedder.
            tags: Endpoint tags.

        Returns:
            The endpoint as `GET /api/2.0/serving-endpoints/{name}` answers it.

        Raises:
            InvalidRequestError: A bad argument or an endpoint with this name exists already.
        """
        if task not in TASKS:
            raise InvalidRequestError(f"task must be one of {TASKS}, not {task!r}")
        if served_entities is None:
            local = "local-hashing-embedder" if task == "llm/v1/embeddings" else "local-scripted"
            served_entities = [{"name": local, "entity_name": local, "entity_version": "1"}]
        body: dict[str, Any] = {
            "name": name,
            "config": {"served_entities": list(served_entities), "traffic_config": traffic_config},
            "ai_gateway": ai_gateway,
            "tags": [{"key": k, "value": v} for k, v in (tags or {}).items()],
        }
        try:
            endpoint = self._build(body, task=task, model=model, dimension=dimension, creator=LOCAL_USER)
        except LocalApiError as err:
            raise InvalidRequestError(err.message) from None
        self._states.force(ENDPOINT_KIND, name, "READY" if ready else "NOT_READY")
        return self._detail(endpoint, count=False)

    def get_endpoint(self, name: str) -> dict[str, Any]:
        """The endpoint as `GET` answers it, without counting a state read.

        Raises:
            KeyError: No endpoint has this name.
        """
        with self._lock:
            if name not in self._endpoints:
                raise KeyError(f"no serving endpoint {name!r} in the local workspace")
            return self._detail(self._endpoints[name], count=False)

    def delete_endpoint(self, name: str) -> None:
        """Delete endpoint `name` with its usage rows and rate-limit windows (unknown names are ignored)."""
        with self._lock:
            self._endpoints.pop(name, None)
            self._usage.pop(name, None)
        self._states.forget(ENDPOINT_KIND, name)
        self._states.forget(UPDATE_KIND, name)
        self.limiter.forget(name)

    def endpoint(self, name: str) -> Endpoint:
        """The live `Endpoint` record (models, entities, config), for tests that reach inside.

        Raises:
            KeyError: No endpoint has this name.
        """
        with self._lock:
            return self._endpoints[name]

    def set_model(self, name: str, model: object, *, entity: str | None = None) -> None:
        """Replace the model answering for endpoint `name` (all its served entities, or only `entity`).

        Raises:
            KeyError: No such endpoint or served entity.
        """
        with self._lock:
            endpoint = self._endpoints[name]
            targets = [endpoint.entities[entity]] if entity is not None else list(endpoint.entities.values())
            if endpoint.task == "llm/v1/embeddings":
                embedder = as_embedder(model, endpoint.dimension)
                for target in targets:
                    target.embedder = embedder
                if entity is None:
                    endpoint.embedder = embedder  # also for entities a later config update adds
            else:
                chat = as_chat_model(model)
                for target in targets:
                    target.chat = chat
                if entity is None:
                    endpoint.chat = chat

    def set_state(self, name: str, state: str) -> None:
        """Force the readiness state of `name`: `"READY"`, `"NOT_READY"` or a failure such as `"UPDATE_FAILED"`."""
        self._states.force(ENDPOINT_KIND, name, state)

    def register_user(self, token: str, user: str) -> None:
        """Report requests sent with `token` as coming from `user` (per-user rate limits, usage rows).

        Without it a token maps to a stable pseudonym such as `user-1a2b3c4d5e@local.invalid`.
        """
        with self._lock:
            self._users[token] = user

    def usage(self, name: str) -> list[dict[str, Any]]:
        """Usage rows of endpoint `name`, recorded while `ai_gateway.usage_tracking_config.enabled` is on.

        Each row is shaped like `system.serving.endpoint_usage`: `databricks_request_id`, `client_request_id`,
        `requester`, `status_code`, `request_time`, `input_token_count`, `output_token_count`,
        `input_character_count`, `output_character_count`, `usage_context`, `request_streaming`, plus
        `served_entity_name`.
        """
        with self._lock:
            return [dict(row) for row in self._usage.get(name, [])]

    # --- used by the invoker ----------------------------------------------------------------------

    def now(self) -> float:
        return self._time()

    def requester(self, request: LocalRequest) -> str:
        with self._lock:
            return requester_of(request.headers, self._users)

    def lookup(self, name: str) -> Endpoint:
        with self._lock:
            endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise LocalApiError(404, f"Serving endpoint '{name}' does not exist.", error_code="RESOURCE_DOES_NOT_EXIST")
        return endpoint

    def readiness(self, endpoint: Endpoint) -> tuple[str, str]:
        """`(ready, config_update)` now, counting one read of the state machines."""
        with self._lock:
            return self._state(endpoint, count=True)

    def record_usage(self, endpoint: Endpoint, row: dict[str, Any]) -> None:
        tracking = (endpoint.ai_gateway or {}).get("usage_tracking_config") or {}
        if tracking.get("enabled"):
            with self._lock:
                self._usage.setdefault(endpoint.name, []).append(row)

    # --- REST handlers ----------------------------------------------------------------------------

    def _get(self, request: LocalRequest) -> Endpoint:
        return self.lookup(request.path_params["name"])

    def _create(self, request: LocalRequest) -> dict[str, Any]:
        body = request.json()
        if not isinstance(body, Mapping):
            raise LocalApiError(400, "The request body must be a JSON object.")
        endpoint = self._build(
            body, task=None, model=None, dimension=DEFAULT_EMBEDDING_DIMENSION, creator=self.requester(request)
        )
        detail = self._detail(endpoint, count=False)
        # Like the service: the create answer always shows the endpoint still being created.
        detail["state"] = {"ready": "NOT_READY", "config_update": "IN_PROGRESS"}
        return detail

    def _build(
        self, body: Mapping[str, Any], *, task: str | None, model: object, dimension: int, creator: str
    ) -> Endpoint:
        name = validate_name(body.get("name"))
        specs, traffic = validate_config(body.get("config"))
        gateway = validate_ai_gateway(body["ai_gateway"]) if body.get("ai_gateway") is not None else None
        task = task or infer_task(specs)
        embeddings = task == "llm/v1/embeddings"
        chat = None if embeddings else as_chat_model(model)
        embedder = as_embedder(model, dimension) if embeddings else None
        now_ms = int(self._time() * 1000)
        extra = {
            k: body[k]
            for k in ("description", "route_optimized", "budget_policy_id", "email_notifications", "telemetry_config")
            if body.get(k) is not None
        }
        endpoint = Endpoint(
            name=name,
            task=task,
            creator=creator,
            created_ms=now_ms,
            updated_ms=now_ms,
            entities={s["name"]: Entity(s, chat, embedder) for s in specs},
            traffic=traffic,
            chat=chat,
            embedder=embedder,
            ai_gateway=gateway,
            tags=check_tags(body.get("tags")),
            extra=extra,
            dimension=dimension,
        )
        with self._lock:
            if name in self._endpoints:
                raise LocalApiError(
                    409, f"Serving endpoint '{name}' already exists.", error_code="RESOURCE_ALREADY_EXISTS"
                )
            self._endpoints[name] = endpoint
            self._states.start(ENDPOINT_KIND, name)
        return endpoint

    def _list(self, request: LocalRequest) -> dict[str, Any]:
        with self._lock:
            endpoints = list(self._endpoints.values())
            return {"endpoints": [self._detail(e, count=False, pending=False) for e in endpoints]}

    def _delete(self, request: LocalRequest) -> dict[str, Any]:
        self.delete_endpoint(self._get(request).name)
        return {}

    def _update_config(self, request: LocalRequest) -> dict[str, Any]:
        endpoint = self._get(request)
        specs, traffic = validate_config(request.json())
        with self._lock:
            entities = {}
            for spec in specs:
                kept = endpoint.entities.get(spec["name"])
                chat = kept.chat if kept else endpoint.chat
                embedder = kept.embedder if kept else endpoint.embedder
                entities[spec["name"]] = Entity(spec, chat, embedder)
            endpoint.pending = (entities, traffic)
            endpoint.update_state = "IN_PROGRESS"
            endpoint.updated_ms = int(self._time() * 1000)
            self._states.start(UPDATE_KIND, endpoint.name)
            # Like the service: the answer shows the update in progress, the new config still pending.
            detail = self._detail(endpoint, count=False, settle=False)
        detail["state"]["config_update"] = "IN_PROGRESS"
        return detail

    def _put_ai_gateway(self, request: LocalRequest) -> dict[str, Any]:
        endpoint = self._get(request)
        gateway = validate_ai_gateway(request.json())
        with self._lock:
            endpoint.ai_gateway = gateway
            endpoint.updated_ms = int(self._time() * 1000)
        self.limiter.forget(endpoint.name)
        return dict(gateway)

    def _patch_tags(self, request: LocalRequest) -> dict[str, Any]:
        endpoint = self._get(request)
        body = request.json()
        with self._lock:
            endpoint.tags = patch_tags(endpoint.tags, body if isinstance(body, Mapping) else {})
            return {"tags": list(endpoint.tags)}

    # --- state and JSON ---------------------------------------------------------------------------

    def _state(self, endpoint: Endpoint, *, count: bool, settle: bool = True) -> tuple[str, str]:
        read = self._states.read if count else self._states.peek
        machine = read(ENDPOINT_KIND, endpoint.name)
        if endpoint.pending is not None and settle:
            update = read(UPDATE_KIND, endpoint.name)
            if update == "NOT_UPDATING":
                endpoint.entities, endpoint.traffic = endpoint.pending
                endpoint.pending, endpoint.weights = None, {}
                endpoint.config_version += 1
                self._states.forget(UPDATE_KIND, endpoint.name)
            elif update in ("UPDATE_FAILED", "UPDATE_CANCELED"):
                endpoint.pending = None
            endpoint.update_state = update
        if machine == "READY":
            return "READY", endpoint.update_state
        if machine == "NOT_READY":
            return "NOT_READY", "IN_PROGRESS"
        return "NOT_READY", machine if machine.startswith("UPDATE_") else "UPDATE_FAILED"

    def _detail(self, endpoint: Endpoint, *, count: bool, pending: bool = True, settle: bool = True) -> dict[str, Any]:
        with self._lock:
            ready, config_update = self._state(endpoint, count=count, settle=settle)
            detail: dict[str, Any] = {
                "name": endpoint.name,
                "id": endpoint.id,
                "creator": endpoint.creator,
                "creation_timestamp": endpoint.created_ms,
                "last_updated_timestamp": endpoint.updated_ms,
                "state": {"ready": ready, "config_update": config_update},
                "config": self._config(endpoint, endpoint.entities, endpoint.traffic, ready == "READY"),
                "task": endpoint.task,
                "tags": list(endpoint.tags),
                "permission_level": "CAN_MANAGE",
                "route_optimized": bool(endpoint.extra.get("route_optimized", False)),
                **{k: v for k, v in endpoint.extra.items() if k != "route_optimized"},
            }
            if endpoint.ai_gateway is not None:
                detail["ai_gateway"] = dict(endpoint.ai_gateway)
            if pending and endpoint.pending is not None:
                entities, traffic = endpoint.pending
                detail["pending_config"] = self._config(endpoint, entities, traffic, False)
                detail["pending_config"]["start_time"] = endpoint.updated_ms
                detail["pending_config"]["config_version"] = endpoint.config_version + 1
            return detail

    def _config(
        self, endpoint: Endpoint, entities: Mapping[str, Entity], traffic: Mapping[str, Any], ready: bool
    ) -> dict[str, Any]:
        outputs = [
            entity_output(e.spec, created_ms=endpoint.created_ms, creator=endpoint.creator, ready=ready)
            for e in entities.values()
        ]
        return {"served_entities": outputs, "traffic_config": dict(traffic), "config_version": endpoint.config_version}

    def __repr__(self) -> str:
        return f"ServingBackend(endpoints={sorted(self._endpoints)!r})"
