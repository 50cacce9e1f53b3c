"""BM25 scores of the local index, checked against the formula computed term by term, row by row."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dbx_native.local._vector_text import Bm25, rrf, tokens

WORDS = ["card", "declined", "refund", "Refund", "m_002", "twice", "ok", "chargeback", "x"]


def reference(documents: list[str], query: str, k1: float = 1.2, b: float = 0.75) -> list[float]:
    """BM25 as written in textbooks: one Python float expression per (term, document)."""
    counts = [Counter(tokens(doc)) for doc in documents]
    lengths = [sum(c.values()) for c in counts]
    avg = sum(lengths) / len(lengths) if documents and sum(lengths) else 1.0
    out = [0.0] * len(documents)
    for term in set(tokens(query)):
        having = [i for i, c in enumerate(counts) if term in c]
        if not having:
            continue
        idf = math.log(1 + (len(documents) - len(having) + 0.5) / (len(having) + 0.5))
        for i in having:
            tf = counts[i][term]
            out[i] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[i] / avg))
    return out


@settings(max_examples=150, deadline=None)
@given(
    documents=st.lists(st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join), min_size=1, max_size=40),
    query=st.lists(st.sampled_from([*WORDS, "absent"]), max_size=4).map(" ".join),
)
def test_scores_equal_the_formula_term_by_term(documents: list[str], query: str) -> None:
    got = Bm25(documents).scores(query)
    want = reference(documents, query)
    assert got.shape == (len(documents),)
    assert np.allclose(got, want, rtol=1e-12, atol=0.0)
    assert [s > 0 for s in got] == [w > 0 for w in want]


def test_a_word_in_every_document_still_scores_and_rarer_words_score_higher() -> None:
    docs = ["card declined", "card refund", "card ok", "card declined twice"] * 250
    scores = Bm25(docs).scores("card declined")
    assert (scores > 0).all()  # "card" is everywhere: a small positive idf, not zero
    assert scores[0] > scores[1] and scores[3] > scores[2]
    assert scores[0] > scores[3]  # the same matches in a longer document weigh less


def test_case_and_punctuation_do_not_matter_and_unknown_words_score_nothing() -> None:
    bm = Bm25(["Card DECLINED!", "refund issued"])
    assert bm.scores("card, declined").tolist() == bm.scores("CARD declined").tolist()
    assert bm.scores("nothing known").tolist() == [0.0, 0.0]


def test_rrf_adds_reciprocal_ranks() -> None:
    fused = rrf([[2, 0], [0]], 3)
    assert fused.tolist() == [1 / 62 + 1 / 61, 0.0, 1 / 61]
