"""The PII guard on the labelled synthetic corpus the benchmark uses (smaller): precision and recall hold."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_pii import score
from pii_corpus import KINDS, corpus

from dbx_native.gateway import PiiGuard


def test_precision_and_recall_on_the_labelled_corpus() -> None:
    tp, fp, fn = score(corpus(1000, seed=11), PiiGuard())
    for kind in KINDS:
        assert tp[kind] > 0, kind
        assert tp[kind] / (tp[kind] + fn[kind]) >= 0.95, (kind, fn[kind])
    precision = sum(tp.values()) / (sum(tp.values()) + sum(fp.values()))
    assert precision >= 0.97, dict(fp)
