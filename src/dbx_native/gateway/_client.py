"""`GatewayClient`: chat, streaming, embeddings and completions through Model Serving / AI Gateway."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import requests

from dbx_native._core.client import BaseClient
from dbx_native._core.clock import Clock
from dbx_native._core.http import HttpResponse
from dbx_native._core.logs import get_logger
from dbx_native.config import DbxConfig
from dbx_native.errors import (
    APIError,
    APIResponseError,
    BadRequestError,
    InvalidRequestError,
    StreamInterruptedError,
)
from dbx_native.gateway._cost import Budget, CostLedger, PriceTable
from dbx_native.gateway._embed import EmbeddingsMixin
from dbx_native.gateway._guard import PiiGuard, guardrail_error, is_guardrail_block
from dbx_native.gateway._models import ChatChunk, ChatResponse, CompletionResponse, Usage
from dbx_native.gateway._quirks import ModelQuirks, flatten_content, quirks_for
from dbx_native.gateway._ratelimit import RateLimit
from dbx_native.gateway._routing import Routing, triggers_fallback
from dbx_native.gateway._wire import (
    UsageAccumulator,
    build_chat_payload,
    check_messages,
    chunk_from_event,
    encode_payload,
    estimate_tokens,
    parse_chat,
    parse_sse,
    parse_structured,
    response_format_payload,
    usage_from,
)

__all__ = ["GatewayClient"]

_log = get_logger("dbx_native.gateway")
_MAX_EMBED_BATCH = 2048


class GatewayClient(EmbeddingsMixin, BaseClient):
    """Chat, streaming, embeddings and completions on Databricks serving endpoints.

    Args:
        route: The serving endpoint to call, or `{endpoint: weight}` for a weighted A/B split.
        fallbacks: Endpoints tried in order when the chosen one answers 429, 5xx or times out.
        config: Connection settings (`DbxConfig()` from the environment when omitted).
        prices: A `PriceTable` to compute `.cost` of each call.
        budget: A `Budget`; a call that could pass it is refused before sending.
        ledger: A `CostLedger` to record into (the budget's ledger, or a new one).
        rate_limit: A client-side `RateLimit` (requests and tokens per minute, per route).
        guard: A `PiiGuard` applied to prompts and replies.
        idempotent: Whether a call may be resent after it may have reached the server (read timeout, lost
            connection, 500). Model calls change nothing, so yes by default; a resent call costs tokens again.
        clock: Time source and sleeper (tests use `FakeClock`).

    Example:
        >>> from dbx_native.local import LocalWorkspace
        >>> ws = LocalWorkspace()
        >>> _ = ws.serving.create_endpoint("chat-model", model=["Hello from the local model."])
        >>> with ws.intercept():
        ...     gw = GatewayClient("chat-model", config=ws.config)
        ...     gw.chat([{"role": "user", "content": "hi"}]).text
        'Hello from the local model.'
    """

    _client_name: ClassVar[str] = "gateway"

    def __init__(
        self,
        route: str | Mapping[str, float],
        *,
        fallbacks: Sequence[str] = (),
        config: DbxConfig | None = None,
        prices: PriceTable | None = None,
        budget: Budget | None = None,
        ledger: CostLedger | None = None,
        rate_limit: RateLimit | None = None,
        guard: PiiGuard | None = None,
        idempotent: bool = True,
        clock: Clock | None = None,
        _credentials: Any = None,
    ) -> None:
        self.routing = Routing(route, fallbacks)
        super().__init__(config, clock=clock, _credentials=_credentials)
        self.prices = prices
        self.budget = budget
        self.ledger = ledger or (budget.ledger if budget else CostLedger())
        self.rate_limit = rate_limit
        self.guard = guard
        self.idempotent = idempotent
        self._quirks: dict[str, ModelQuirks] = {}

    @property
    def route(self) -> str:
        """The route's name: the endpoint, or `ab:<a>|<b>` for an A/B split."""
        return self.routing.name

    # --- chat -----------------------------------------------------------------------------------

    def chat(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        stop: str | Sequence[str] | None = None,
        extra_params: Mapping[str, Any] | None = None,
        ab_key: str | None = None,
        tags: Iterable[str] = (),
        timeout: float | None = None,
    ) -> ChatResponse:
        """Send a conversation and return the model's reply.

        Args:
            messages: The conversation, OpenAI-style (`role`: system/user/assistant/tool, `content`).
            max_tokens: Most tokens to generate.
            temperature: Sampling temperature (0-2); dropped for models that refuse it.
            tools: Tool (function) definitions the model may call.
            tool_choice: `"auto"`, `"none"`, `"required"` or a specific tool.
            response_format: A Pydantic model class (the reply is validated into `.parsed`) or a wire dict.
            stop: Stop sequence(s).
            extra_params: More request fields, sent as given (`top_p`, `n`, ...).
            ab_key: Sticky A/B key (a user or session id): the same key always gets the same arm.
            tags: Labels to total cost under in the ledger.
            timeout: Seconds for the whole call: retries and fallbacks included.

        Returns:
            The reply, with usage, cost, the endpoint that answered and the request id.

        Raises:
            InvalidRequestError: Bad messages or parameters, or a payload over the endpoint's limit (nothing sent).
            GuardrailError: The PII guard (or AI Gateway's guardrails) blocked the input or the output.
            BudgetExceededError: The call could pass the budget (nothing sent).
            RateLimitError: The endpoints (or the client-side limit) refused for rate; `.retry_after` may say when.
            APIStatusError: Another error status from the last endpoint tried.
            APIResponseError: The reply is not a chat completion, or does not fit `response_format`.
        """
        msgs, model_cls, payload = self._chat_request(
            messages, max_tokens, temperature, tools, tool_choice, response_format, stop, extra_params, stream=False
        )
        prompt_text = "\n".join(flatten_content(m.get("content")) for m in msgs)
        start = self._http.clock.monotonic()
        attrs = functools.partial(self._span_attrs, "chat", max_tokens, temperature)  # built only when traced
        with self._http.telemetry.span(f"chat {self.route}", attrs) as span:
            endpoint, response, tried = self._invoke(payload, prompt_text, max_tokens, ab_key, timeout, stream=False)
            result = parse_chat(response.json(), messages=msgs, request_id=response.request_id)
            text, message = result.text, result.message
            if self.guard is not None and self.guard.output != "off" and text:
                text = self.guard.apply([text], stage="output")[0]
                if isinstance(message.get("content"), str):
                    message = {**message, "content": text}
            cost = self.prices.cost(endpoint, result.usage) if self.prices else None
            parsed = parse_structured(model_cls, text, response.request_id) if model_cls else None
            self.ledger.record(route=self.route, endpoint=endpoint, cost=cost, usage=result.usage, tags=tags)
            final = result.model_copy(
                update={
                    "text": text,
                    "message": message,
                    "cost": cost,
                    "endpoint": endpoint,
                    "route": self.route,
                    "latency_s": self._http.clock.monotonic() - start,
                    "parsed": parsed,
                    "fallbacks_tried": tried,
                }
            )
            if span.is_recording():
                span.set_attributes(self._result_attrs(final.usage, endpoint, tried, cost.total if cost else None))
                if self._http.telemetry.capture_content:
                    span.set_attribute("gen_ai.completion", text[:4096])
            return final

    def stream(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: Any = None,
        response_format: Any = None,
        stop: str | Sequence[str] | None = None,
        extra_params: Mapping[str, Any] | None = None,
        ab_key: str | None = None,
        tags: Iterable[str] = (),
        timeout: float | None = None,
    ) -> Iterator[ChatChunk]:
        """Stream the reply as it is generated (server-sent events).

        The arguments are those of `chat`; they are checked before this returns, so bad input raises here,
        not on the first `next()`. Fallbacks apply until the first byte of the stream. The last chunk
        always carries the call's total usage (and cost); per-chunk partial usage is added up.

        Raises:
            StreamInterruptedError: The connection broke mid-stream; `.partial_text` holds the text so far.
            InvalidRequestError, GuardrailError, BudgetExceededError, APIStatusError: as for `chat`.
        """
        msgs, _, payload = self._chat_request(
            messages, max_tokens, temperature, tools, tool_choice, response_format, stop, extra_params, stream=True
        )
        if self.guard is not None and self.guard.output == "block":
            raise InvalidRequestError("a PiiGuard with output='block' cannot guard a stream; use chat() or 'mask'")
        return self._stream(msgs, payload, max_tokens, ab_key, tuple(tags), timeout)

    def _stream(
        self,
        msgs: list[dict[str, Any]],
        payload: dict[str, Any],
        max_tokens: int | None,
        ab_key: str | None,
        tags: tuple[str, ...],
        timeout: float | None,
    ) -> Iterator[ChatChunk]:
        prompt_text = "\n".join(flatten_content(m.get("content")) for m in msgs)
        span = self._http.telemetry.start(f"chat {self.route}", lambda: self._span_attrs("chat", max_tokens, None))
        error: BaseException | None = None
        try:
            endpoint, response, tried = self._invoke(payload, prompt_text, max_tokens, ab_key, timeout, stream=True)
            yield from self._read_stream(response, endpoint, tried, prompt_text, tags, span)
        except BaseException as err:
            error = err
            raise
        finally:
            self._http.telemetry.end(span, error if not isinstance(error, GeneratorExit) else None)

    def _read_stream(
        self,
        response: HttpResponse,
        endpoint: str,
        tried: list[str],
        prompt_text: str,
        tags: tuple[str, ...],
        span: Any,
    ) -> Iterator[ChatChunk]:
        texts: list[str] = []
        usage = UsageAccumulator()
        finish_reason = None
        count = 0
        try:
            for event in parse_sse(response.iter_lines()):
                chunk, raw_usage = chunk_from_event(event, endpoint=endpoint)
                if raw_usage is not None:
                    usage.add(raw_usage)
                finish_reason = chunk.finish_reason or finish_reason
                if chunk.delta or chunk.tool_call_deltas or chunk.finish_reason:
                    if chunk.delta and self.guard is not None and self.guard.output == "mask":
                        chunk = chunk.model_copy(update={"delta": self.guard.mask(chunk.delta)})
                    texts.append(chunk.delta)
                    count += 1
                    yield chunk
        except requests.RequestException as err:
            raise StreamInterruptedError(
                f"the stream from {endpoint!r} broke off after {count} chunks ({type(err).__name__}); "
                "the text so far is in .partial_text: retry the call, or keep the partial answer",
                partial_text="".join(texts),
                chunks_received=count,
                request_id=response.request_id,
            ) from err
        finally:
            response.close()
        total = usage.usage(prompt_text=prompt_text, completion_text="".join(texts))
        cost = self.prices.cost(endpoint, total) if self.prices else None
        self.ledger.record(route=self.route, endpoint=endpoint, cost=cost, usage=total, tags=tags)
        if span.is_recording():
            span.set_attributes(self._result_attrs(total, endpoint, tried, cost.total if cost else None))
        yield ChatChunk(delta="", finish_reason=finish_reason, usage=total, endpoint=endpoint, cost=cost)

    def _chat_request(
        self,
        messages: Sequence[Mapping[str, Any]],
        max_tokens: int | None,
        temperature: float | None,
        tools: Sequence[Mapping[str, Any]] | None,
        tool_choice: Any,
        response_format: Any,
        stop: str | Sequence[str] | None,
        extra_params: Mapping[str, Any] | None,
        *,
        stream: bool,
    ) -> tuple[list[dict[str, Any]], type | None, dict[str, Any]]:
        msgs = check_messages(messages)
        if self.guard is not None and self.guard.input != "off":
            msgs = self._guard_messages(msgs)
        fmt, model_cls = response_format_payload(response_format)
        payload = build_chat_payload(
            msgs,
            max_tokens=max_tokens,
            temperature=temperature,
            tools=tools,
            tool_choice=tool_choice,
            response_format=fmt,
            stop=stop,
            extra_params=extra_params,
            stream=stream,
        )
        return msgs, model_cls, payload

    def _guard_messages(self, msgs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        assert self.guard is not None
        out = []
        for m in msgs:
            content = m.get("content")
            if isinstance(content, str):
                m = {**m, "content": self.guard.apply([content], stage="input")[0]}
            elif isinstance(content, list):
                parts = []
                for part in content:
                    if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                        part = {**part, "text": self.guard.apply([part["text"]], stage="input")[0]}
                    parts.append(part)
                m = {**m, "content": parts}
            out.append(m)
        return out

    # --- completions -------------------------------------------------------------

    def complete(
        self,
        prompt: str,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        stop: str | Sequence[str] | None = None,
        extra_params: Mapping[str, Any] | None = None,
        ab_key: str | None = None,
        timeout: float | None = None,
    ) -> CompletionResponse:
        """Complete a prompt on a completion endpoint (`llm/v1/completions`).

        Raises:
            InvalidRequestError: An empty prompt or bad parameters (nothing sent).
            APIStatusError: An error status from the last endpoint tried.
        """
        if not isinstance(prompt, str) or not prompt:
            raise InvalidRequestError("prompt must be a non-empty string")
        if self.guard is not None and self.guard.input != "off":
            prompt = self.guard.apply([prompt], stage="input")[0]
        payload: dict[str, Any] = {"prompt": prompt}
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        if temperature is not None:
            payload["temperature"] = temperature
        if stop is not None:
            payload["stop"] = stop
        payload.update(extra_params or {})
        start = self._http.clock.monotonic()
        with self._http.telemetry.span(
            f"text_completion {self.route}", lambda: self._span_attrs("text_completion", max_tokens, temperature)
        ):
            endpoint, response, _ = self._invoke(payload, prompt, max_tokens, ab_key, timeout, stream=False)
            body = response.json()
            try:
                choice = body["choices"][0]
            except (KeyError, IndexError, TypeError):
                raise APIResponseError(
                    "the endpoint's answer has no choices[0]: is it a completions endpoint?",
                    request_id=response.request_id,
                ) from None
            text = str(choice.get("text") or flatten_content((choice.get("message") or {}).get("content")))
            usage = usage_from(
                body.get("usage") if isinstance(body, Mapping) else None, prompt_text=prompt, completion_text=text
            )
            cost = self.prices.cost(endpoint, usage) if self.prices else None
            self.ledger.record(route=self.route, endpoint=endpoint, cost=cost, usage=usage)
            return CompletionResponse(
                text=text,
                finish_reason=choice.get("finish_reason"),
                usage=usage,
                cost=cost,
                endpoint=endpoint,
                route=self.route,
                request_id=response.request_id,
                latency_s=self._http.clock.monotonic() - start,
            )

    # --- the shared path -----------------------------------------------------------------------

    def _invoke(
        self,
        payload: dict[str, Any],
        prompt_text: str,
        max_tokens: int | None,
        ab_key: str | None,
        timeout: float | None,
        *,
        stream: bool,
    ) -> tuple[str, HttpResponse, list[str]]:
        plan = self.routing.plan(ab_key)
        if self.budget is not None or self.rate_limit is not None:
            worst_tokens = estimate_tokens(prompt_text) + (max_tokens or 0)
            if self.budget is not None and self.prices is not None:
                price = self.prices.get(plan[0])
                if price is not None:
                    worst = (
                        estimate_tokens(prompt_text) * price.input_per_million_tokens
                        + (max_tokens or 0) * price.output_per_million_tokens
                    ) / 1_000_000
                    self.budget.check(worst, route=self.route)
            if self.rate_limit is not None:
                self.rate_limit.acquire(self.route, tokens=worst_tokens)
        return self._send_plan(plan, payload, timeout, stream=stream)

    def _send_plan(
        self, plan: list[str], payload: dict[str, Any], timeout: float | None, *, stream: bool
    ) -> tuple[str, HttpResponse, list[str]]:
        deadline = timeout if timeout is not None else self.config.retry.deadline
        start = self._http.clock.monotonic()
        tried: list[str] = []
        for i, endpoint in enumerate(plan):
            quirks = self._quirks.get(endpoint)
            if quirks is None:
                quirks = self._quirks[endpoint] = quirks_for(endpoint)
            body = encode_payload(quirks.apply(endpoint, payload), endpoint=endpoint)
            last = i == len(plan) - 1
            remaining = deadline - (self._http.clock.monotonic() - start)
            try:
                response = self._http.request(
                    "POST",
                    f"/serving-endpoints/{endpoint}/invocations",
                    content=body,
                    idempotent=self.idempotent,
                    timeout=max(remaining, 0.001),
                    stream=stream,
                    attempts=None if last else 1,
                    traced=False,
                )
            except APIError as err:
                if isinstance(err, BadRequestError) and is_guardrail_block(err):
                    raise guardrail_error(err, endpoint) from err
                if last or not triggers_fallback(err) or remaining <= 0:
                    raise
                _log.info("endpoint %s failed (%s); falling back to %s", endpoint, type(err).__name__, plan[i + 1])
                tried.append(endpoint)
                continue
            return endpoint, response, tried
        raise AssertionError("unreachable: the last endpoint either answers or raises")  # pragma: no cover

    def _span_attrs(self, operation: str, max_tokens: int | None, temperature: float | None) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.system": "databricks",
            "gen_ai.request.model": next(iter(self.routing.arms)),
            "dbx_native.client": "gateway",
            "dbx_native.route": self.route,
        }
        if max_tokens is not None:
            attrs["gen_ai.request.max_tokens"] = max_tokens
        if temperature is not None:
            attrs["gen_ai.request.temperature"] = temperature
        return attrs

    @staticmethod
    def _result_attrs(usage: Usage, endpoint: str, tried: list[str], cost: float | None) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "gen_ai.response.model": endpoint,
            "gen_ai.usage.input_tokens": usage.prompt_tokens,
            "gen_ai.usage.output_tokens": usage.completion_tokens,
            "dbx_native.usage.estimated": usage.estimated,
            "dbx_native.endpoint": endpoint,
            "dbx_native.fallback_used": bool(tried),
        }
        if tried:
            attrs["dbx_native.fallbacks_tried"] = ",".join(tried)
        if cost is not None:
            attrs["dbx_native.cost"] = cost
        return attrs
