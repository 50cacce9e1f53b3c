"""Embeddings for `GatewayClient`: batches sent with bounded concurrency, vectors returned in input order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from dbx_native.errors import APIResponseError, InvalidRequestError
from dbx_native.gateway._models import EmbeddingResponse, Usage
from dbx_native.gateway._routing import Routing
from dbx_native.gateway._wire import usage_from

if TYPE_CHECKING:
    from dbx_native._core.http import HttpClient, HttpResponse
    from dbx_native.gateway._cost import CostLedger, PriceTable

__all__ = ["EmbeddingsMixin"]

_MAX_EMBED_BATCH = 2048


class EmbeddingsMixin:
    """The `embed` verb; mixed into `GatewayClient`, which provides routing, transport and the ledger."""

    routing: Routing
    prices: PriceTable | None
    ledger: CostLedger
    _http: HttpClient

    if TYPE_CHECKING:  # provided by GatewayClient

        def _send_plan(
            self, plan: list[str], payload: dict[str, Any], timeout: float | None, *, stream: bool
        ) -> tuple[str, HttpResponse, list[str]]: ...

    def embed(
        self,
        texts: Sequence[str],
        *,
        route: str | None = None,
        batch_size: int = 64,
        max_concurrency: int = 4,
        timeout: float | None = None,
    ) -> EmbeddingResponse:
        """Embed texts in batches (bounded concurrency); vectors come back in input order.

        Args:
            texts: The texts.
            route: The embedding endpoint (defaults to this client's route).
            batch_size: Texts per request.
            max_concurrency: Requests in flight at once.
            timeout: Seconds for each batch, retries included.

        Raises:
            InvalidRequestError: No texts, a non-string text, or bad batch settings (nothing sent).
            APIResponseError: The endpoint answered a different number of vectors or mixed dimensions.
        """
        if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts:
            raise InvalidRequestError("texts must be a non-empty list of strings")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidRequestError(f"texts[{i}] must be a string, not {type(text).__name__}")
        if not 1 <= batch_size <= _MAX_EMBED_BATCH or max_concurrency < 1:
            raise InvalidRequestError(f"batch_size must be 1..{_MAX_EMBED_BATCH} and max_concurrency >= 1")
        routing = Routing(route) if route else self.routing
        batches = [list(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)]
        with self._http.telemetry.span(f"embeddings {routing.name}", {"gen_ai.operation.name": "embeddings"}):
            if len(batches) == 1 or max_concurrency == 1:
                results = [self._embed_batch(routing, b, timeout) for b in batches]
            else:
                with ThreadPoolExecutor(max_workers=min(max_concurrency, len(batches))) as pool:
                    results = list(pool.map(lambda b: self._embed_batch(routing, b, timeout), batches))
        vectors = [v for batch_vectors, _, _ in results for v in batch_vectors]
        dims = {len(v) for v in vectors}
        if len(dims) > 1:
            raise APIResponseError(f"the endpoint answered vectors of mixed dimensions {sorted(dims)}")
        usage = Usage(
            prompt_tokens=sum(u.prompt_tokens for _, u, _ in results),
            total_tokens=sum(u.total_tokens for _, u, _ in results),
            estimated=any(u.estimated for _, u, _ in results),
        )
        endpoint = results[0][2]
        self.ledger.record(
            route=routing.name,
            endpoint=endpoint,
            cost=self.prices.cost(endpoint, usage) if self.prices else None,
            usage=usage,
        )
        return EmbeddingResponse(vectors=vectors, dimension=dims.pop() if dims else 0, usage=usage, endpoint=endpoint)

    def _embed_batch(
        self, routing: Routing, batch: list[str], timeout: float | None
    ) -> tuple[list[list[float]], Usage, str]:
        endpoint, response = self._send_plan(routing.plan(), {"input": batch}, timeout, stream=False)[:2]
        body = response.json()
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, list) or len(data) != len(batch):
            raise APIResponseError(
                f"embedding endpoint {endpoint!r} answered {len(data) if isinstance(data, list) else 'no'} vectors "
                f"for {len(batch)} texts",
                request_id=response.request_id,
            )
        ordered = sorted(data, key=lambda d: d.get("index", 0))
        vectors = [[float(x) for x in d["embedding"]] for d in ordered]
        return vectors, usage_from(body.get("usage"), prompt_text="".join(batch), completion_text=""), endpoint
