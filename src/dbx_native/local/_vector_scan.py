"""Exact top-k vector search that reads an int8 copy of the vectors first, and float32 only for a few rows.

Exact search over a big float32 matrix is bound by memory bandwidth (100,000 x 384 floats are 154 MB per
query). An int8 copy is a quarter of that, and with a per-row error bound it still gives the float32 answer.

Scores: `dot_products` computes every float32 dot product `D` the store reports (with simsimd, row by row,
so a row gets the same bits wherever it sits: BLAS rounds the rows at the tail of a block differently, and the
L2 formula can blow a last-bit difference up). `similarity` turns them into scores and never decreases when
`D` grows (cosine divides by a positive norm product; L2 is `1 / (1 + max(|x|^2 - 2D + |q|^2, 0))`), so the
same formula applied to a float32 upper bound of `D` bounds the score.

Bound: each row `x` is stored as `s*c` (`s = max|x_j| / 127` as a float32, `c` int8 in [-127, 127]) with the
residual norm `r = ||x - s*c||`, the query likewise as `t*c_q` with `r_q = ||q - t*c_q||`. With `x~ = s*c`,
`q.x = t*s*(c_q.c) + (q - t*c_q).x~ + q.(x - x~)`, so by Cauchy-Schwarz `|q.x - a| <= ||q||*r + r_q*||x~||`
for `a = t*s*(c_q.c)` (`c_q.c` is an exact integer: simsimd sums int8 products in int32). Whatever its
summation order, a float32 dot product is within `gamma_d*sum|q_j*x_j| + d*2**-150 <= gamma_d*||q||*||x|| +
d*2**-150` of `q.x` (`gamma_d = d*u / (1 - d*u)`, `u = 2**-24`; the last term covers products that
underflow). The per-row terms are computed in float64, whose rounding sits far below an added
`1e-9*||q||*||x||`, and stored as float32 rounded up; the first pass runs in float32, its own roundings
covered by a margin described in `Int8Shadow`. So `D <= a + E`, `E = ||q||*(r + eta*||x||) + r_q*||x~|| +
margins`, `eta = gamma_d + 1e-9`.

Search: from a strided sample of the allowed rows (denser for a large k, such as the 400 vector ranks a hybrid
query fuses), the `2k` with the best upper bounds are scored exactly; the k-th best of those scores, `tau`, is
reached by at least `k` allowed rows, so a row whose upper bound is below `tau` cannot be in the top `k`. Only
the others are scored exactly. Rows the bound cannot vouch for (non-finite values, or `||q||*||x||` past 1e37,
where a float32 dot could overflow) get an infinite bound, so are always scored. When more than `MAX_FRACTION`
of the rows are left, the caller scans them all instead.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import numpy.typing as npt

try:
    import simsimd  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - the `local` extra installs it; without it the store scans in float32
    simsimd = None  # type: ignore[assignment,unused-ignore]

__all__ = [
    "AVAILABLE",
    "FEW_ALLOWED",
    "MAX_FRACTION",
    "MIN_ROWS",
    "Int8Shadow",
    "dot_products",
    "quantise",
    "similarity",
]

AVAILABLE: bool = simsimd is not None
"""Whether the int8 first pass can run (it needs simsimd's int8 kernels)."""
MIN_ROWS = 20_000
"""Below this many rows the float32 matrix (mostly) sits in cache: the store scores every row directly.

Measured at 384 dimensions (p50 per query, quiet machine): 2,000 rows 0.59 ms two-pass vs 0.34 ms direct;
10,000 rows 1.15 vs 1.08 ms; 20,000 rows 1.37 vs 2.02 ms. The crossover is near 10,000 rows; 20,000 keeps the
int8 copy (25% more memory) to stores where it clearly pays."""
MAX_FRACTION = 0.10
"""More candidates than this fraction of the rows: the second pass would cost more than a full scan."""
FEW_ALLOWED = 0.10
"""A filter that leaves at most this fraction of the rows: score those directly, with no first pass."""

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]
Mask = npt.NDArray[np.bool_]

_LEVELS = 127  # symmetric: -128 is never used, so |c_q . c| <= 127**2 * d
_SAFE_PRODUCT = 1e37  # ||q||*||x|| below this: no partial sum of a float32 dot can overflow (max 3.4e38)
_SAMPLE = 8192  # rows sampled to choose the threshold from
_DEPTH = 400  # the threshold sample is dense enough that stride * k <= allowed rows / 400 (see `_threshold`)
_THREADS = max(1, min(2, os.cpu_count() or 1))  # the scan is bandwidth-bound: two threads saturate it
_THREADED_BYTES = 4 << 20  # below this a scan sits in cache: a second thread costs more than it saves


def dot_products(matrix: F32, q: F32) -> F32:
    """Float32 dot products of each row of `matrix` with `q`: the numbers every score is made from.

    With simsimd each row's product is computed on its own, so a row gets the same bits wherever it sits
    (a BLAS `matrix @ q` blocks rows, and rows at the tail of a block round differently: the two passes of a
    search would then disagree in the last bit, which the L2 formula can blow up). Without simsimd: numpy.
    """
    if simsimd is None or not AVAILABLE or not len(matrix):
        dots: F32 = matrix @ q
        return dots
    threads = _THREADS if matrix.nbytes >= _THREADED_BYTES else 1
    return _cdist(q[None], matrix, threads, "float32")


def similarity(metric: str, dots: F32, norms: F32, qn: float) -> F32:
    """The store's scores from float32 dot products (both passes use this, so they agree bit for bit).

    Args:
        metric: `cosine` -> `(1 + cos) / 2`, `l2` -> `1 / (1 + d^2)`, `dot_product` -> the dot product.
        dots: Float32 dot products of the rows with the query.
        norms: The rows' float32 norms.
        qn: The query's norm (of its float32 vector).

    Returns:
        Float32 scores, non-decreasing in each dot product.
    """
    if metric == "dot_product":
        return dots
    if metric == "cosine":
        denom = norms * (qn or 1.0)
        cos: F32 = np.divide(dots, denom, out=np.zeros_like(dots), where=denom > 0)
        return (1.0 + cos) / 2.0
    d2 = np.maximum(norms**2 - 2 * dots + qn * qn, 0.0)
    scores: F32 = 1.0 / (1.0 + d2)
    return scores


def quantise(x: F32) -> tuple[npt.NDArray[np.int8], F32, F64, F64, F64]:
    """Symmetric int8 codes of rows `x` (m, d): `(codes, scale, residual norm, dequantised norm, norm)`.

    The scale is a float32 value and the residual is measured against exactly `scale * codes`. A row with a
    non-finite value gets zero codes and an infinite norm (the search always scores it exactly); a zero row
    gets zero codes, scale and residual.
    """
    x64 = x.astype(np.float64)
    finite = np.isfinite(x64).all(axis=1)
    x64[~finite] = 0.0
    scale = (np.abs(x64).max(axis=1) / _LEVELS).astype(np.float32)
    scale64 = scale.astype(np.float64)  # the inverse of a subnormal scale overflows a float32
    inverse = np.divide(1.0, scale64, out=np.zeros(len(scale)), where=scale64 > 0)
    codes = np.clip(np.rint(x64 * inverse[:, None]), -_LEVELS, _LEVELS)
    dequantised = codes * scale64[:, None]
    residual = np.linalg.norm(x64 - dequantised, axis=1)
    norm = np.linalg.norm(x64, axis=1)
    norm[~finite] = np.inf
    return codes.astype(np.int8), scale, residual, np.linalg.norm(dequantised, axis=1), norm


class Int8Shadow:
    """The int8 codes and bound terms of a store's rows, kept position for position with its float32 matrix.

    The first pass runs in float32 (half the memory traffic of float64). Its own rounding is covered by
    storing each row's error coefficients as `A >= e + 16u*(||x~|| + e)` and `B >= ||x~|| + 32u*(||x~|| + e)`,
    `e = r + eta*||x||`: since `|a| + E <= (||q|| + 2*r_q) * (||x~|| + e)`, the dozen float32 roundings in
    computing `a + ||q||*A + r_q*B` stay below `8u` of that, and an absolute `(d + 16) * 2**-149` covers
    underflow. Writes only mark positions stale (cheap per row); `refresh` quantises them in batches. The
    owner holds its lock around every call, as around its own arrays.

    Args:
        dimension: The vector size.
    """

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        u = 2.0**-24
        self._eta = dimension * u / (1 - dimension * u) + 1e-9 if dimension * u < 0.5 else np.inf
        self._tiny = (dimension + 16) * 2.0**-149
        # the int8 products sum exactly in simsimd's int32 below 2**31, and fit a float32 below 2**24
        self._out_dtype = "float32" if _LEVELS**2 * dimension < 2**24 else "float64"
        self.supported = _LEVELS**2 * dimension < 2**31
        self.codes = np.zeros((0, dimension), dtype=np.int8)
        self.scale = np.zeros(0, dtype=np.float32)
        self.coef_q = np.zeros(0, dtype=np.float32)  # A: multiplied by ||q||
        self.coef_rq = np.zeros(0, dtype=np.float32)  # B: multiplied by r_q
        self.norm = np.zeros(0, dtype=np.float32)  # ||x||, inf for a non-finite row
        self.fresh = np.zeros(0, dtype=bool)
        self.dirty = False
        self.max_norm = 0.0  # of every row quantised so far: an upper bound, so deletes need not lower it

    def grow(self, capacity: int, n: int) -> None:
        """Resize to `capacity` rows, keeping the first `n`."""
        codes = np.zeros((capacity, self.dimension), dtype=np.int8)
        codes[:n] = self.codes[:n]
        self.codes = codes
        for name in ("scale", "coef_q", "coef_rq", "norm", "fresh"):
            old = getattr(self, name)
            arr = np.zeros(capacity, dtype=old.dtype)
            arr[:n] = old[:n]
            setattr(self, name, arr)

    def mark(self, pos: int) -> None:
        """Row `pos` was written: quantise it again before the next search."""
        self.fresh[pos] = False
        self.dirty = True

    def move(self, src: int, dst: int) -> None:
        """Row `src` moved to position `dst` (a delete filling its hole with the last row)."""
        self.codes[dst] = self.codes[src]
        for arr in (self.scale, self.coef_q, self.coef_rq, self.norm, self.fresh):
            arr[dst] = arr[src]

    def refresh(self, vectors: F32, n: int, *, batch: int = 8192) -> None:
        """Quantise the stale rows among the first `n` of `vectors`."""
        if not self.dirty:
            return
        stale = np.flatnonzero(~self.fresh[:n])
        for start in range(0, len(stale), batch):
            pos = stale[start : start + batch]
            codes, scale, residual, deq_norm, norm = quantise(vectors[pos])
            err = residual + self._eta * np.where(np.isfinite(norm), norm, 0.0)
            spread = 16 * 2.0**-24 * (deq_norm + err)
            with np.errstate(over="ignore"):  # a norm past float32's range is stored as inf: always rescored
                self.coef_q[pos] = _up(err + spread)
                self.coef_rq[pos] = _up(deq_norm + 2 * spread)
                self.norm[pos] = norm
            self.codes[pos], self.scale[pos], self.fresh[pos] = codes, scale, True
            self.max_norm = max(self.max_norm, float(norm.max()))
        self.dirty = False

    def search(
        self, vectors: F32, norms: F32, q: F32, n: int, mask: Mask, k: int, metric: str
    ) -> tuple[Ints, F32] | None:
        """The rows that can be in the top `k` among those `mask` allows, with their exact float32 scores.

        Returns:
            `(positions, scores)` (positions ascending, `similarity` scores computed exactly as a full scan
            would), or `None` when a full float32 scan is the better plan (or the only exact one).
        """
        qn = float(np.linalg.norm(q))
        allowed = int(np.count_nonzero(mask))
        if allowed <= max(k, int(FEW_ALLOWED * n)):
            pos = np.flatnonzero(mask)
            return pos, _exact(vectors, norms, q, qn, metric, pos)
        if not self.supported or self.dirty or not np.isfinite(q).all():
            return None
        hi = self.upper_bounds(q, qn, norms, n, metric)
        if hi is None:
            return None
        tau = self._threshold(vectors, norms, q, qn, hi, mask, allowed, k, metric)
        keep = ~(hi < tau)  # NaN-safe: an upper bound that is not a number keeps its row
        keep &= mask
        pos = np.flatnonzero(keep)
        if len(pos) > MAX_FRACTION * n:
            return None
        return pos, _exact(vectors, norms, q, qn, metric, pos)

    def narrow(
        self, vectors: F32, norms: F32, q: F32, n: int, mask: Mask, k: int, metric: str
    ) -> tuple[F64, Mask] | None:
        """`search` as full-length float64 scores (`-inf` off the candidates) and the candidates' mask."""
        found = self.search(vectors, norms, q, n, mask, k, metric)
        if found is None:
            return None
        pos, exact = found
        scores, narrowed = np.full(n, -np.inf), np.zeros(n, dtype=bool)
        scores[pos], narrowed[pos] = exact, True
        return scores, narrowed

    def upper_bounds(self, q: F32, qn: float, norms: F32, n: int, metric: str) -> F32 | None:
        """Each row's score upper bound (`inf` or NaN for a row the bounds cannot vouch for)."""
        codes, t, r_q, _, q_norm = quantise(q[None])
        qn64 = float(q_norm[0])
        if qn64 > _SAFE_PRODUCT:
            return None
        threads = _THREADS if n * self.dimension >= _THREADED_BYTES else 1
        products = _cdist(codes, self.codes[:n], threads, self._out_dtype)
        dots = np.multiply(products, self.scale[:n], out=np.empty(n, dtype=np.float32))
        dots *= t[0]
        term = self.coef_q[:n] * qn64
        dots += term
        dots += np.multiply(self.coef_rq[:n], float(r_q[0]), out=term)
        dots += self._tiny
        with np.errstate(over="ignore", invalid="ignore"):  # past float32's range: inf or NaN, kept below
            if self.max_norm * qn64 >= _SAFE_PRODUCT or not np.isfinite(self.max_norm):
                dots[self.norm[:n] >= (_SAFE_PRODUCT / qn64 if qn64 > 0 else np.inf)] = np.inf
            return similarity(metric, dots, norms[:n], qn)

    def _threshold(
        self, vectors: F32, norms: F32, q: F32, qn: float, hi: F32, mask: Mask, allowed: int, k: int, metric: str
    ) -> float:
        """A score at least `k` allowed rows reach: the k-th best exact score among promising allowed rows.

        The rows are the best upper bounds of a strided sample (any allowed rows would give a valid
        threshold; promising ones give a tight one, and a sample is much cheaper to select from than all).
        """
        best = min(2 * k, allowed)  # a few spares, in case some bounds were loose
        # the sample's k-th best is about the (stride*k)-th best allowed row: for a large k (hybrid search asks
        # for 400) a sparse sample would set the threshold far below the true k-th score, so sample densely
        stride = max(1, min(allowed // _SAMPLE, allowed // (_DEPTH * k)))
        picks = np.arange(0, len(hi), stride) if allowed == len(hi) else np.flatnonzero(mask)[::stride]
        top = picks[np.argpartition(hi[picks], len(picks) - best)[len(picks) - best :]]
        exact = _exact(vectors, norms, q, qn, metric, top)
        return float(np.partition(exact, len(exact) - k)[len(exact) - k])


def _up(values: F64) -> F32:
    """Float32 values no smaller than `values` (non-negative): nudged up past the rounding of the cast."""
    out: F32 = (values * (1 + 2.0**-22) + 2.0**-149).astype(np.float32)
    return out


def _cdist(query: npt.NDArray[Any], matrix: npt.NDArray[Any], threads: int, out_dtype: str) -> npt.NDArray[Any]:
    # Not `out=`: simsimd 6.5 then returns None without a reference to it, and CPython before 3.12 (where
    # None is not immortal) aborts once None's count runs out.
    assert simsimd is not None
    result = simsimd.cdist(query, matrix, metric="dot", threads=threads, out_dtype=out_dtype)  # type: ignore[arg-type]
    row: npt.NDArray[Any] = np.asarray(result).reshape(-1)
    return row


def _exact(vectors: F32, norms: F32, q: F32, qn: float, metric: str, pos: Ints) -> F32:
    return similarity(metric, dot_products(vectors[pos], q), norms[pos], qn)
