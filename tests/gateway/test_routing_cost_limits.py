"""Routing (A/B, fallback order), prices and budgets, client-side rate limits, stream usage totals."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from dbx_native._core.clock import FakeClock
from dbx_native.errors import (
    APITimeoutError,
    BadRequestError,
    BudgetExceededError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
)
from dbx_native.gateway import Budget, CostLedger, Price, PriceTable, RateLimit, Usage
from dbx_native.gateway._routing import Routing, triggers_fallback
from dbx_native.gateway._wire import UsageAccumulator


def test_plan_is_the_chosen_arm_then_fallbacks_each_once() -> None:
    routing = Routing("a", fallbacks=["b", "a", "c", "b"])
    assert routing.plan() == ["a", "b", "c"]


def test_ab_split_follows_weights_and_sticky_keys_stick() -> None:
    routing = Routing({"small": 80, "large": 20})
    counts = Counter(routing.choose(ab_key=f"user-{i}") for i in range(5000))
    assert 0.76 < counts["small"] / 5000 < 0.84
    assert all(routing.choose(ab_key="user-42") == routing.choose(ab_key="user-42") for _ in range(20))
    assert routing.name == "ab:small|large"


def test_zero_weight_arm_is_never_chosen() -> None:
    routing = Routing({"on": 1, "off": 0})
    assert {routing.choose(ab_key=str(i)) for i in range(200)} == {"on"}


@pytest.mark.parametrize("route", ["", "bad name", "x" * 64, {"a": -1}, {"a": 0}, {}, 42, {"a/b": 1}])
def test_bad_routes_are_refused(route: object) -> None:
    with pytest.raises(InvalidRequestError):
        Routing(route)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("err", "falls_back"),
    [
        (RateLimitError("x", status_code=429), True),
        (ServiceUnavailableError("x", status_code=503), True),
        (ServerError("x", status_code=500), True),
        (APITimeoutError("x"), True),
        (BadRequestError("x", status_code=400), False),
        (NotFoundError("x", status_code=404), False),
    ],
)
def test_fallback_triggers(err: Exception, falls_back: bool) -> None:
    assert triggers_fallback(err) is falls_back


def test_price_table_cost_and_dbu_prices() -> None:
    table = PriceTable({"m": Price(input_per_million_tokens=2.0, output_per_million_tokens=10.0)})
    cost = table.cost("m", Usage(prompt_tokens=1000, completion_tokens=500, total_tokens=1500))
    assert cost is not None
    assert (cost.input, cost.output, cost.total) == pytest.approx((0.002, 0.005, 0.007))
    assert table.cost("other", Usage()) is None
    dbu = Price.from_dbu(input_dbu_per_million=10, output_dbu_per_million=30, price_per_dbu=0.07)
    assert (dbu.input_per_million_tokens, dbu.output_per_million_tokens) == pytest.approx((0.7, 2.1))


def test_estimated_usage_marks_the_cost_estimated() -> None:
    price = Price(input_per_million_tokens=1, output_per_million_tokens=1)
    assert price.cost(Usage(prompt_tokens=4, estimated=True)).estimated is True


def test_ledger_is_thread_safe_and_totals_by_route_endpoint_tag() -> None:
    ledger = CostLedger()
    price = Price(input_per_million_tokens=1_000_000, output_per_million_tokens=0)
    usage = Usage(prompt_tokens=1, total_tokens=1)

    def work() -> None:
        for _ in range(500):
            ledger.record(route="r", endpoint="e", cost=price.cost(usage), usage=usage, tags=["t"])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.calls == 4000
    assert ledger.total == pytest.approx(4000.0)
    assert ledger.by_route() == {"r": pytest.approx(4000.0)}
    assert ledger.by_tag() == {"t": pytest.approx(4000.0)}
    assert ledger.tokens_by_endpoint() == {"e": 4000}


def test_budget_refuses_a_call_that_could_pass_it() -> None:
    budget = Budget(1.0)
    budget.check(0.5, route="r")
    budget.ledger.record(
        route="r",
        endpoint="e",
        cost=Price(input_per_million_tokens=900_000, output_per_million_tokens=0).cost(Usage(prompt_tokens=1)),
        usage=Usage(),
    )
    assert budget.remaining == pytest.approx(0.1)
    with pytest.raises(BudgetExceededError, match="budget"):
        budget.check(0.2, route="r")


def test_rate_limit_waits_on_the_clock_or_raises() -> None:
    clock = FakeClock()
    limit = RateLimit(requests_per_minute=2, clock=clock)
    assert limit.acquire("r") == 0.0
    assert limit.acquire("r") == 0.0
    assert limit.acquire("r") == pytest.approx(30.0)  # one request returns every 30 s
    assert limit.acquire("other") == 0.0  # routes have their own buckets
    strict = RateLimit(requests_per_minute=1, wait=False, clock=clock)
    strict.acquire("r")
    with pytest.raises(RateLimitError) as info:
        strict.acquire("r")
    assert info.value.retry_after == pytest.approx(60.0)


def test_token_rate_limit_counts_tokens() -> None:
    clock = FakeClock()
    limit = RateLimit(tokens_per_minute=600, clock=clock)
    limit.acquire("r", tokens=500)
    assert limit.acquire("r", tokens=200) == pytest.approx(10.0)  # 100 tokens short at 10 tokens/s


@pytest.mark.parametrize(
    ("events", "prompt", "completion"),
    [
        ([{"prompt_tokens": 10, "completion_tokens": 5}], 10, 5),  # one final usage
        (
            [{"prompt_tokens": 10, "completion_tokens": 0}, {"prompt_tokens": 0, "completion_tokens": 7}],
            10,
            7,
        ),  # pieces
        (
            [{"prompt_tokens": 10, "completion_tokens": 1}, {"prompt_tokens": 10, "completion_tokens": 4}],
            10,
            4,
        ),  # running totals
        ([{"completion_tokens": 1}, {"completion_tokens": 1}, {"completion_tokens": 1}], 0, 3),  # per-chunk increments
    ],
)
def test_stream_usage_is_totalled_whatever_the_server_style(
    events: list[dict[str, int]], prompt: int, completion: int
) -> None:
    acc = UsageAccumulator()
    for event in events:
        acc.add(event)
    usage = acc.usage(prompt_text="", completion_text="")
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        prompt,
        completion,
        prompt + completion,
    )
    assert usage.estimated is False


def test_stream_without_usage_is_estimated_and_flagged() -> None:
    usage = UsageAccumulator().usage(prompt_text="x" * 40, completion_text="y" * 8)
    assert (usage.prompt_tokens, usage.completion_tokens, usage.estimated) == (10, 2, True)
