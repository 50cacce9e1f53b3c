"""Prices, the cost ledger and budgets."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field

from dbx_native.errors import BudgetExceededError, InvalidRequestError
from dbx_native.gateway._models import Cost, Usage

__all__ = ["Budget", "CostLedger", "Price", "PriceTable"]


class Price(BaseModel):
    """Price of one endpoint per million tokens.

    Example:
        >>> Price(input_per_million_tokens=0.5, output_per_million_tokens=1.5).input_per_million_tokens
        0.5
        >>> Price.from_dbu(input_dbu_per_million=7.143, output_dbu_per_million=21.429, price_per_dbu=0.07).currency
        'USD'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_million_tokens: float = Field(ge=0.0)
    output_per_million_tokens: float = Field(ge=0.0)
    currency: str = "USD"

    @classmethod
    def from_dbu(
        cls,
        *,
        input_dbu_per_million: float,
        output_dbu_per_million: float,
        price_per_dbu: float,
        currency: str = "USD",
    ) -> Price:
        """A price from DBUs per million tokens and your workspace's own price of a DBU (not the list price)."""
        return cls(
            input_per_million_tokens=input_dbu_per_million * price_per_dbu,
            output_per_million_tokens=output_dbu_per_million * price_per_dbu,
            currency=currency,
        )

    def cost(self, usage: Usage) -> Cost:
        cost_in = usage.prompt_tokens * self.input_per_million_tokens / 1_000_000
        cost_out = usage.completion_tokens * self.output_per_million_tokens / 1_000_000
        return Cost(
            total=cost_in + cost_out, input=cost_in, output=cost_out, currency=self.currency, estimated=usage.estimated
        )


class PriceTable:
    """Prices by endpoint name.

    Args:
        prices: Endpoint name -> `Price`.
    """

    def __init__(self, prices: Mapping[str, Price]) -> None:
        for name, price in prices.items():
            if not isinstance(price, Price):
                raise InvalidRequestError(f"price for {name!r} must be a Price, not {type(price).__name__}")
        self._prices = dict(prices)

    def get(self, endpoint: str) -> Price | None:
        return self._prices.get(endpoint)

    def cost(self, endpoint: str, usage: Usage) -> Cost | None:
        """The cost of `usage` on `endpoint`; `None` when the table has no price for it."""
        price = self._prices.get(endpoint)
        return price.cost(usage) if price else None

    def __contains__(self, endpoint: object) -> bool:
        return endpoint in self._prices

    def __repr__(self) -> str:
        return f"PriceTable({sorted(self._prices)})"


class CostLedger:
    """Thread-safe running totals of cost and tokens, by route, endpoint and tag."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_route: defaultdict[str, float] = defaultdict(float)
        self._by_endpoint: defaultdict[str, float] = defaultdict(float)
        self._by_tag: defaultdict[str, float] = defaultdict(float)
        self._tokens: defaultdict[str, int] = defaultdict(int)
        self._total = 0.0
        self._calls = 0
        self._estimated_calls = 0

    def record(self, *, route: str, endpoint: str, cost: Cost | None, usage: Usage, tags: Iterable[str] = ()) -> None:
        amount = cost.total if cost else 0.0
        with self._lock:
            self._calls += 1
            self._estimated_calls += int(usage.estimated)
            self._total += amount
            self._by_route[route] += amount
            self._by_endpoint[endpoint] += amount
            for tag in tags:
                self._by_tag[tag] += amount
            self._tokens[endpoint] += usage.total_tokens

    @property
    def total(self) -> float:
        with self._lock:
            return self._total

    @property
    def calls(self) -> int:
        with self._lock:
            return self._calls

    def by_route(self) -> dict[str, float]:
        with self._lock:
            return dict(self._by_route)

    def by_endpoint(self) -> dict[str, float]:
        with self._lock:
            return dict(self._by_endpoint)

    def by_tag(self) -> dict[str, float]:
        with self._lock:
            return dict(self._by_tag)

    def tokens_by_endpoint(self) -> dict[str, int]:
        with self._lock:
            return dict(self._tokens)

    def __repr__(self) -> str:
        return f"CostLedger(total={self.total:.6f}, calls={self.calls})"


class Budget:
    """A spending limit checked before each call.

    A call whose worst-case cost (estimated prompt tokens plus `max_tokens` of output) would take the ledger
    past `limit` is not sent: `BudgetExceededError` is raised instead.

    Args:
        limit: The most the ledger may reach, in the prices' currency.
        ledger: The ledger to watch (a new one when omitted; the client records into it).
    """

    def __init__(self, limit: float, *, ledger: CostLedger | None = None) -> None:
        if limit < 0:
            raise InvalidRequestError(f"budget limit must be >= 0, not {limit!r}")
        self.limit = limit
        self.ledger = ledger or CostLedger()

    @property
    def spent(self) -> float:
        return self.ledger.total

    @property
    def remaining(self) -> float:
        return max(0.0, self.limit - self.spent)

    def check(self, worst_case: float, *, route: str) -> None:
        """Raise `BudgetExceededError` if spending `worst_case` more would pass the limit."""
        if self.spent + worst_case > self.limit:
            raise BudgetExceededError(
                f"route {route!r}: this call could cost up to {worst_case:.6f} and {self.spent:.6f} of the "
                f"{self.limit:.6f} budget is spent; raise the budget, lower max_tokens, or wait for a new budget period"
            )

    def __repr__(self) -> str:
        return f"Budget(limit={self.limit}, spent={self.spent:.6f})"
