"""Which endpoints a call tries, in which order: a weighted A/B choice, then ordered fallbacks.

Fallbacks happen on 429, 5xx, timeouts and lost connections, never on other 4xx (a bad request is bad on
every endpoint). Each endpoint is tried at most once per call (no loops), and one deadline covers them all.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping, Sequence

from dbx_native.errors import APIConnectionError, InvalidRequestError, RateLimitError, ServerError

__all__ = ["Routing", "triggers_fallback"]

_ENDPOINT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _check_endpoint(name: str, what: str) -> str:
    if not isinstance(name, str) or not name or not set(name) <= _ENDPOINT_CHARS or len(name) > 63:
        raise InvalidRequestError(
            f"{what} {name!r} is not a serving endpoint name (letters, digits, '-', '_', '.'; at most 63 characters)"
        )
    return name


def triggers_fallback(err: BaseException) -> bool:
    """Whether the next endpoint should be tried after `err`."""
    return isinstance(err, RateLimitError | ServerError | APIConnectionError)


class Routing:
    """The endpoints of one route.

    Args:
        route: An endpoint name, or a mapping of endpoint name to weight for an A/B split.
        fallbacks: Endpoints to try, in order, when the chosen one fails with a fallback-worthy error.
    """

    def __init__(self, route: str | Mapping[str, float], fallbacks: Sequence[str] = ()) -> None:
        if isinstance(route, str):
            self.arms: dict[str, float] = {_check_endpoint(route, "route"): 1.0}
        elif isinstance(route, Mapping) and route:
            self.arms = {}
            for name, weight in route.items():
                if not isinstance(weight, int | float) or weight < 0:
                    raise InvalidRequestError(f"A/B weight for {name!r} must be a number >= 0, not {weight!r}")
                self.arms[_check_endpoint(name, "A/B endpoint")] = float(weight)
            if sum(self.arms.values()) <= 0:
                raise InvalidRequestError("A/B weights add up to 0: give at least one endpoint a positive weight")
        else:
            raise InvalidRequestError("route must be an endpoint name or a {endpoint: weight} mapping")
        self.fallbacks = [_check_endpoint(f, "fallback") for f in fallbacks]
        self.name = next(iter(self.arms)) if len(self.arms) == 1 else "ab:" + "|".join(self.arms)
        self._total = sum(self.arms.values())

    def choose(self, ab_key: str | None = None, rng: Callable[[], float] = random.random) -> str:
        """The A/B arm for this call; the same `ab_key` always gets the same arm."""
        if len(self.arms) == 1:
            return next(iter(self.arms))
        if ab_key is not None:
            digest = hashlib.blake2b(ab_key.encode(), digest_size=8).digest()
            point = int.from_bytes(digest, "big") / 2**64 * self._total
        else:
            point = rng() * self._total
        for name, weight in self.arms.items():
            if point < weight:
                return name
            point -= weight
        return next(reversed(self.arms))  # float rounding at the very top

    def plan(self, ab_key: str | None = None, rng: Callable[[], float] = random.random) -> list[str]:
        """The endpoints to try, in order: the chosen arm, then the fallbacks (each once)."""
        chosen = self.choose(ab_key, rng)
        order = [chosen]
        for name in self.fallbacks:
            if name not in order:
                order.append(name)
        return order

    def __repr__(self) -> str:
        return f"Routing(arms={self.arms!r}, fallbacks={self.fallbacks!r})"
