"""Profile and drift statistics for the local monitors, in plain Python (no scipy).

Definitions, so that results can be checked by hand:

- Quantiles use linear interpolation between order statistics (numpy's default, `method="linear"`).
- `stddev` is the sample standard deviation (n - 1), as Spark's `stddev`.
- Kolmogorov-Smirnov: the two-sample statistic `D = max |F1(x) - F2(x)|` over every observed `x`; the
  p-value is the asymptotic Kolmogorov distribution at `(sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) * D` with
  `ne = n * m / (n + m)` (Stephens' correction, as in Numerical Recipes' `kstwo`).
- Population stability index: `sum((p - q) * ln(p / q))` over the categories of both samples, `p` the share
  in the window, `q` in the comparison; a share of zero counts as `PSI_EPSILON` so the sum stays finite.
- Jensen-Shannon distance: `sqrt(JSD)` with base-2 logarithms, so it lies in [0, 1].
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

__all__ = [
    "PSI_EPSILON",
    "frequencies",
    "js_distance",
    "ks_test",
    "mean_stddev",
    "population_stability_index",
    "quantiles",
]

PSI_EPSILON = 1e-4
"""Share used for a category absent from one side, so that the PSI of a new category is large but finite."""


def mean_stddev(values: Sequence[float]) -> tuple[float | None, float | None]:
    """The mean and the sample standard deviation (`None` when there are too few values)."""
    n = len(values)
    if n == 0:
        return None, None
    mean = math.fsum(values) / n
    if n == 1:
        return mean, None
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance)


def quantiles(sorted_values: Sequence[float], probabilities: Sequence[float]) -> list[float]:
    """Quantiles of already sorted values by linear interpolation (numpy's default)."""
    n = len(sorted_values)
    out: list[float] = []
    for p in probabilities:
        position = p * (n - 1)
        low = math.floor(position)
        high = min(low + 1, n - 1)
        fraction = position - low
        out.append(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction)
    return out


def ks_test(sample: Sequence[float], reference: Sequence[float]) -> tuple[float, float]:
    """The two-sample Kolmogorov-Smirnov statistic and its asymptotic p-value.

    Example:
        >>> ks_test([1.0, 2.0, 3.0, 4.0], [3.0, 4.0, 5.0, 6.0])[0]
        0.5
    """
    a, b = sorted(sample), sorted(reference)
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        raise ValueError("the Kolmogorov-Smirnov test needs values on both sides")
    i = j = 0
    d = 0.0
    while i < n and j < m:
        x = min(a[i], b[j])
        while i < n and a[i] <= x:
            i += 1
        while j < m and b[j] <= x:
            j += 1
        d = max(d, abs(i / n - j / m))
    effective = math.sqrt(n * m / (n + m))
    return d, _kolmogorov_q((effective + 0.12 + 0.11 / effective) * d)


def _kolmogorov_q(lam: float) -> float:
    """P(K > lam) for the Kolmogorov distribution: 2 * sum((-1)^(k-1) * exp(-2 k^2 lam^2))."""
    if lam < 1e-3:
        return 1.0
    total, sign = 0.0, 1.0
    for k in range(1, 101):
        term = sign * math.exp(-2.0 * k * k * lam * lam)
        total += term
        if abs(term) < 1e-12:
            break
        sign = -sign
    return min(1.0, max(0.0, 2.0 * total))


def frequencies(values: Sequence[Hashable]) -> dict[Hashable, float]:
    """Share of each distinct value."""
    counts = Counter(values)
    n = len(values)
    return {k: c / n for k, c in counts.items()} if n else {}


def population_stability_index(sample: Sequence[Hashable], reference: Sequence[Hashable]) -> float:
    """PSI of the categories of `sample` against `reference`.

    Example:
        >>> round(population_stability_index(["a", "a", "b", "b"], ["a", "a", "a", "b"]), 6)
        0.274653
    """
    p, q = frequencies(sample), frequencies(reference)
    total = 0.0
    for key in set(p) | set(q):
        pi = max(p.get(key, 0.0), PSI_EPSILON)
        qi = max(q.get(key, 0.0), PSI_EPSILON)
        total += (pi - qi) * math.log(pi / qi)
    return total


def js_distance(sample: Sequence[Hashable], reference: Sequence[Hashable]) -> float:
    """Jensen-Shannon distance (base 2) between the category distributions of two samples.

    Example:
        >>> js_distance(["a"], ["b"])
        1.0
    """
    p, q = frequencies(sample), frequencies(reference)
    divergence = 0.0
    for key in set(p) | set(q):
        pi, qi = p.get(key, 0.0), q.get(key, 0.0)
        mi = (pi + qi) / 2
        if pi > 0:
            divergence += 0.5 * pi * math.log2(pi / mi)
        if qi > 0:
            divergence += 0.5 * qi * math.log2(qi / mi)
    return math.sqrt(max(divergence, 0.0))
