"""PII guard precision and recall on a labelled synthetic corpus with hard negatives, and its speed.

Speed is reported as a ratio against a baseline measured in the same run: one pass of a naive e-mail
regex over the same texts (the cheapest thing a guard could do).

    python benchmarks/bench_pii.py [--samples 4000]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from pii_corpus import KINDS, corpus

from dbx_native.gateway import PiiGuard


def score(samples: list, guard: PiiGuard) -> tuple[Counter[str], Counter[str], Counter[str]]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for sample in samples:
        found = guard.find(sample.text)
        matched = set()
        for kind, start, end in sample.spans:
            hit = next((f for f in found if f.kind == kind and f.start < end and start < f.end), None)
            if hit is None:
                fn[kind] += 1
            else:
                tp[kind] += 1
                matched.add(hit)
        for f in found:
            if f not in matched:
                fp[f.kind] += 1
    return tp, fp, fn


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=4000)
    args = parser.parse_args()
    samples = corpus(args.samples)
    guard = PiiGuard()
    tp, fp, fn = score(samples, guard)
    print(f"PII guard on {len(samples)} samples ({sum(len(s.spans) for s in samples)} labelled values)")
    print(f"{'kind':<18} {'precision':>9} {'recall':>7} {'tp':>5} {'fp':>4} {'fn':>4}")
    for kind in KINDS:
        p = tp[kind] / (tp[kind] + fp[kind]) if tp[kind] + fp[kind] else 1.0
        r = tp[kind] / (tp[kind] + fn[kind]) if tp[kind] + fn[kind] else 1.0
        print(f"{kind:<18} {p:>9.3f} {r:>7.3f} {tp[kind]:>5} {fp[kind]:>4} {fn[kind]:>4}")
    total_tp, total_fp, total_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    precision = total_tp / (total_tp + total_fp)
    recall = total_tp / (total_tp + total_fn)
    print(f"{'all':<18} {precision:>9.3f} {recall:>7.3f} {total_tp:>5} {total_fp:>4} {total_fn:>4}")
    print(f"TARGET precision >= 0.95: {'PASS' if precision >= 0.95 else 'FAIL'}")
    print(f"TARGET recall >= 0.95: {'PASS' if recall >= 0.95 else 'FAIL'}")

    texts = [s.text for s in samples]
    naive = re.compile(r"\S+@\S+")
    t0 = time.perf_counter()
    for text in texts:
        naive.findall(text)
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    for text in texts:
        guard.mask(text)
    ours = time.perf_counter() - t0
    kb = sum(len(t) for t in texts) / 1024
    print(f"\nmask: {ours / kb * 1e6:.0f} us per KB of text; {ours / base:.1f}x one naive e-mail regex pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
