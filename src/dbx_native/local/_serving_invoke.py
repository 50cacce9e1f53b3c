"""Invocations of local serving endpoints: `/serving-endpoints/{name}/invocations` and the OpenAI-compatible routes.

One pipeline for every route: readiness -> request checks -> rate limits -> input guardrails -> served entity
(traffic split, fallbacks) -> scripted model -> stop/max_tokens -> output guardrails -> usage -> body or SSE.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from dbx_native.local._router import Route
from dbx_native.local._serving_gateway import check_text, mask_pii
from dbx_native.local._serving_models import ScriptedReply, content_text, count_tokens, truncate_tokens
from dbx_native.local._serving_wire import Answer, chat_body, completion_body, embeddings_body, sse_events
from dbx_native.local._wire import LocalApiError, LocalRequest, LocalResponse

if TYPE_CHECKING:
    from dbx_native.local._serving import Endpoint, Entity, ServingBackend

__all__ = ["Invoker"]

T = TypeVar("T")

_KIND_OF_TASK = {"llm/v1/chat": "chat", "llm/v1/completions": "completions", "llm/v1/embeddings": "embeddings"}
_FIELD_OF_KIND = {"chat": "messages", "completions": "prompt", "embeddings": "input"}


def _bad(message: str) -> LocalApiError:
    return LocalApiError(400, message, error_code="BAD_REQUEST")


class Invoker:
    """Answers the data-plane routes of a `ServingBackend`."""

    def __init__(self, backend: ServingBackend) -> None:
        self._backend = backend

    def routes(self) -> list[Route]:
        return [
            Route("POST", "/serving-endpoints/{name}/invocations", self._invocations),
            Route("POST", "/serving-endpoints/chat/completions", lambda r: self._openai(r, "chat")),
            Route("POST", "/serving-endpoints/completions", lambda r: self._openai(r, "completions")),
            Route("POST", "/serving-endpoints/embeddings", lambda r: self._openai(r, "embeddings")),
        ]

    def _invocations(self, request: LocalRequest) -> LocalResponse:
        endpoint = self._backend.lookup(request.path_params["name"])
        body = _object(request)
        kinds = [k for k, f in _FIELD_OF_KIND.items() if f in body]
        if not kinds and self._backend.custom is not None:
            return self._invoke(request, endpoint, body, "custom")
        if not kinds:
            raise _bad(
                f"Serving endpoint '{endpoint.name}' ({endpoint.task}) expects "
                f"'{_FIELD_OF_KIND[_KIND_OF_TASK[endpoint.task]]}' in the request body; this local workspace serves "
                "no custom models (dataframe_records, instances, inputs)."
            )
        return self._invoke(request, endpoint, body, kinds[0])

    def _openai(self, request: LocalRequest, kind: str) -> LocalResponse:
        body = _object(request)
        name = body.get("model")
        if not isinstance(name, str) or not name:
            raise _bad("Set 'model' to the name of the serving endpoint to call.")
        return self._invoke(request, self._backend.lookup(name), body, kind)

    # --- the pipeline -----------------------------------------------------------------------------

    def _invoke(self, request: LocalRequest, endpoint: Endpoint, body: dict[str, Any], kind: str) -> LocalResponse:
        ready, update = self._backend.readiness(endpoint)
        if ready != "READY":
            raise LocalApiError(
                503,
                f"Serving endpoint '{endpoint.name}' is not ready (state {ready}, config update {update}). "
                f"Wait until its state is READY (GET /api/2.0/serving-endpoints/{endpoint.name}) and retry.",
                error_code="TEMPORARILY_UNAVAILABLE",
            )
        expected = _KIND_OF_TASK[endpoint.task]
        if kind != expected and kind != "custom":
            raise _bad(
                f"Serving endpoint '{endpoint.name}' serves task {endpoint.task}: send "
                f"'{_FIELD_OF_KIND[expected]}' (not a {kind} request)."
            )
        _validate(body, kind)
        request_id = str(uuid.uuid4())
        row = self._row(request, endpoint, body, request_id)
        try:
            response = self._run(request, endpoint, body, kind, request_id, row)
        except LocalApiError as err:
            row["status_code"] = err.status
            self._backend.record_usage(endpoint, row)
            raise
        self._backend.record_usage(endpoint, row)
        return response

    def _run(
        self,
        request: LocalRequest,
        endpoint: Endpoint,
        body: dict[str, Any],
        kind: str,
        request_id: str,
        row: dict[str, Any],
    ) -> LocalResponse:
        gateway = endpoint.ai_gateway or {}
        windows = self._backend.limiter.admit(
            endpoint.name, gateway.get("rate_limits") or [], str(row["requester"]), self._backend.now()
        )
        guardrails = gateway.get("guardrails") or {}
        if check_text(guardrails.get("input"), "input", _input_texts(body, kind)):
            body = _mask_input(body, kind)
        fallback = bool((gateway.get("fallback_config") or {}).get("enabled"))
        if kind == "custom":
            entity, payload = _with_fallback(endpoint, fallback, lambda e: self._custom(e, body))
            response, tokens = LocalResponse.json(payload), 0
        elif kind == "embeddings":
            entity, (payload, tokens) = _with_fallback(endpoint, fallback, lambda e: _embed(e, body))
            response = LocalResponse.json(payload)
            row.update(input_token_count=tokens, output_token_count=0)
        else:
            entity, answer = _with_fallback(endpoint, fallback, lambda e: self._generate(e, body, kind, request_id))
            _output_guardrails(guardrails.get("output"), answer)
            response = _answer_response(answer, kind, bool(body.get("stream")))
            tokens = answer.prompt_tokens + answer.completion_tokens
            row.update(
                input_token_count=answer.prompt_tokens,
                output_token_count=answer.completion_tokens,
                output_character_count=sum(len(r.content or "") for r in answer.replies),
            )
        self._backend.limiter.add_tokens(windows, tokens)
        row.update(status_code=200, served_entity_name=entity.name)
        response.headers["served-model-name"] = entity.name
        response.headers["x-request-id"] = request_id
        return response

    def _custom(self, entity: Entity, body: dict[str, Any]) -> dict[str, Any]:
        custom = self._backend.custom
        answer = custom(str(entity.spec.get("entity_name") or ""), body) if custom is not None else None
        if answer is None:
            raise _bad(
                f"Served entity '{entity.name}' is not a feature spec: local endpoints answer custom-model inputs "
                "(dataframe_records, dataframe_split, instances, inputs) only for feature specs. Send 'messages', "
                "'prompt' or 'input' to a chat, completions or embeddings endpoint."
            )
        return answer

    def _generate(self, entity: Entity, body: dict[str, Any], kind: str, request_id: str) -> Answer:
        model = entity.chat
        if model is None:  # an embeddings entity on a chat endpoint: a config mistake, answered as the service would
            raise LocalApiError(500, f"Served entity '{entity.name}' has no chat model.")
        replies = [_limit(model.reply(copy.deepcopy(body)), body) for _ in range(int(body.get("n") or 1))]
        prompt = next((r.usage["prompt_tokens"] for r in replies if r.usage and "prompt_tokens" in r.usage), None)
        completion = sum(
            r.usage["completion_tokens"] if r.usage and "completion_tokens" in r.usage else _reply_tokens(r)
            for r in replies
        )
        return Answer(
            request_id=request_id,
            created=int(self._backend.now()),
            model=model.name,
            served_entity=entity.name,
            replies=replies,
            prompt_tokens=prompt if prompt is not None else count_tokens("\n".join(_input_texts(body, kind))),
            completion_tokens=completion,
            partial_usage=bool(getattr(model, "partial_usage", False)),
        )

    def _row(
        self, request: LocalRequest, endpoint: Endpoint, body: Mapping[str, Any], request_id: str
    ) -> dict[str, Any]:
        now = self._backend.now()
        kind = _KIND_OF_TASK[endpoint.task]
        return {
            "databricks_request_id": request_id,
            "client_request_id": body.get("client_request_id"),
            "requester": self._backend.requester(request),
            "status_code": None,
            "request_time": datetime.fromtimestamp(now, tz=timezone.utc).isoformat(),
            "input_token_count": 0,
            "output_token_count": 0,
            "input_character_count": sum(len(t) for t in _input_texts(body, kind)),
            "output_character_count": 0,
            "usage_context": body.get("usage_context"),
            "request_streaming": bool(body.get("stream")),
            "served_entity_name": None,
        }


def _object(request: LocalRequest) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    return body


def _validate(body: Mapping[str, Any], kind: str) -> None:
    if kind == "chat":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _bad("'messages' must be a non-empty list of {role, content} objects.")
        if not all(isinstance(m, Mapping) and isinstance(m.get("role"), str) for m in messages):
            raise _bad("Each message needs a string 'role' (system, user, assistant or tool).")
    elif kind == "completions":
        prompt = body.get("prompt")
        if not (isinstance(prompt, str) or (isinstance(prompt, list) and all(isinstance(p, str) for p in prompt))):
            raise _bad("'prompt' must be a string or a list of strings.")
    _check_int(body, "max_tokens", 1, 1_000_000)
    _check_int(body, "n", 1, 16)
    temperature = body.get("temperature")
    if temperature is not None and (not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2):
        raise _bad(f"'temperature' must be a number from 0 to 2, not {temperature!r}.")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise _bad("'stream' must be true or false.")
    if kind == "embeddings" and body.get("stream"):
        raise _bad("Embeddings cannot be streamed.")
    stop = body.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    ):
        raise _bad("'stop' must be a string or a list of strings.")


def _check_int(body: Mapping[str, Any], name: str, low: int, high: int) -> None:
    value = body.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high):
        raise _bad(f"'{name}' must be an integer from {low} to {high}, not {value!r}.")


def _input_texts(body: Mapping[str, Any], kind: str) -> list[str]:
    if kind == "custom":  # feature lookups: keys, not text for guardrails or token counts
        return []
    if kind == "chat":
        return [content_text(m.get("content")) for m in body.get("messages") or [] if isinstance(m, Mapping)]
    value = body.get("prompt" if kind == "completions" else "input")
    if isinstance(value, str):
        return [value]
    return [v for v in value or [] if isinstance(v, str)]


def _mask_input(body: dict[str, Any], kind: str) -> dict[str, Any]:
    masked = copy.deepcopy(body)
    if kind == "chat":
        for message in masked["messages"]:
            content = message.get("content")
            if isinstance(content, str):
                message["content"] = mask_pii(content)
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        part["text"] = mask_pii(part["text"])
    else:
        key = "prompt" if kind == "completions" else "input"
        value = masked[key]
        masked[key] = mask_pii(value) if isinstance(value, str) else [mask_pii(v) for v in value]
    return masked


def _output_guardrails(params: Mapping[str, Any] | None, answer: Answer) -> None:
    texts = [r.content or "" for r in answer.replies]
    if check_text(params, "output", texts):
        for reply in answer.replies:
            if reply.content:
                reply.content = mask_pii(reply.content)


def _limit(reply: ScriptedReply, body: Mapping[str, Any]) -> ScriptedReply:
    """Apply `stop` and `max_tokens` to a reply, as a model server would."""
    content = reply.content
    if content is None:
        return reply
    stop = body.get("stop")
    for sequence in [stop] if isinstance(stop, str) else stop or []:
        cut = content.find(sequence) if sequence else -1
        if cut >= 0:
            content, reply.finish_reason = content[:cut], "stop"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and count_tokens(content) > max_tokens:
        content, reply.finish_reason = truncate_tokens(content, max_tokens), "length"
    reply.content = content
    return reply


def _reply_tokens(reply: ScriptedReply) -> int:
    calls = " ".join(c["function"]["name"] + " " + c["function"]["arguments"] for c in reply.tool_calls or [])
    return count_tokens(reply.content or "") + count_tokens(calls)


def _with_fallback(endpoint: Endpoint, fallback: bool, call: Callable[[Entity], T]) -> tuple[Entity, T]:
    first = endpoint.pick()
    order = [first] + ([e for e in endpoint.entities.values() if e is not first] if fallback else [])
    for i, entity in enumerate(order):
        try:
            return entity, call(entity)
        except LocalApiError as err:
            # The gateway falls back on 429 and 5xx from a served entity; anything else is the caller's problem.
            if i == len(order) - 1 or not (err.status == 429 or err.status >= 500):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _embed(entity: Entity, body: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise _bad("'input' must be a string or a non-empty list of strings.")
    if entity.embedder is None:
        raise LocalApiError(500, f"Served entity '{entity.name}' has no embedding model.")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise _bad(f"'encoding_format' must be 'float' or 'base64', not {encoding!r}.")
    vectors = entity.embedder.embed(texts)
    tokens = sum(count_tokens(t) for t in texts)
    return embeddings_body(vectors, model=entity.embedder.name, prompt_tokens=tokens, encoding=encoding), tokens


def _answer_response(answer: Answer, kind: str, stream: bool) -> LocalResponse:
    chat = kind == "chat"
    if not stream:
        return LocalResponse.json(chat_body(answer) if chat else completion_body(answer))
    events = sse_events(answer, chat=chat)
    headers = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
    return LocalResponse(status=200, headers=headers, stream=iter(events))
