"""Keyword scoring for the local index: BM25 over text columns, and reciprocal-rank fusion for hybrid search."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["Bm25", "rrf", "tokens"]

_WORD = re.compile(r"\w+")

RRF_K = 60
"""The usual reciprocal-rank-fusion constant (Cormack et al., 2009)."""


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return [t.lower() for t in _WORD.findall(text)]


class Bm25:
    """BM25 (k1=1.2, b=0.75) over a fixed list of documents; rebuilt when the index changes.

    Example:
        >>> bm = Bm25(["card declined twice", "refund issued", "card ok"])
        >>> [round(float(s), 3) > 0 for s in bm.scores("declined card")]
        [True, False, True]
    """

    def __init__(self, documents: Sequence[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        postings: dict[str, tuple[list[int], list[int]]] = {}
        lengths = np.zeros(len(documents), dtype=np.float64)
        for i, doc in enumerate(documents):
            counts = Counter(tokens(doc))
            lengths[i] = sum(counts.values())
            for term, tf in counts.items():
                rows, tfs = postings.setdefault(term, ([], []))
                rows.append(i)
                tfs.append(tf)
        # Arrays per term: a query term in most documents is scored in one numpy expression, not a Python loop.
        self._postings = {
            term: (np.array(rows, dtype=np.intp), np.array(tfs, dtype=np.float64))
            for term, (rows, tfs) in postings.items()
        }
        self._lengths = lengths
        self._avg = float(lengths.mean()) if len(documents) and lengths.sum() else 1.0
        self._n = len(documents)

    def scores(self, query: str) -> npt.NDArray[np.float64]:
        """The BM25 score of every document for `query` (0 where no query term occurs)."""
        out = np.zeros(self._n, dtype=np.float64)
        k1, b = self.k1, self.b
        for term in set(tokens(query)):
            posting = self._postings.get(term)
            if posting is None:
                continue
            rows, tf = posting
            idf = math.log(1 + (self._n - len(rows) + 0.5) / (len(rows) + 0.5))
            norm = tf + k1 * (1 - b + b * self._lengths[rows] / self._avg)
            out[rows] += idf * tf * (k1 + 1) / norm  # each row once per term: no repeated index
        return out


def rrf(rankings: Sequence[Sequence[int]], n: int) -> npt.NDArray[np.float64]:
    """Reciprocal-rank fusion: each ranking (best first) adds `1 / (RRF_K + rank)` to its rows' scores."""
    fused = np.zeros(n, dtype=np.float64)
    for ranking in rankings:
        for rank, row in enumerate(ranking, start=1):
            fused[row] += 1.0 / (RRF_K + rank)
    return fused
