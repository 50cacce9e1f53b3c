"""VectorMemory and the local AI Search index, as ratios against baselines measured in the same run.

1. Local exact search over N x 384 vectors (default 100,000): p50 of `LocalVectorStore.query` against a
   bare numpy matmul + argpartition over the same matrix. Target: p50 under 10 ms.
2. `VectorMemory.add` throughput (messages/s, embedder excluded) against bare `requests.post` upserts of the
   same rows to the same in-process workspace.
3. Remote `VectorMemory.search` per call against a bare `requests.Session` query to the same loopback server.

    python benchmarks/bench_vector.py [--rows 100000] [--queries 200] [--calls 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import requests

from dbx_native import DbxConfig
from dbx_native.local import LocalWorkspace
from dbx_native.local._vector_store import LocalVectorStore
from dbx_native.vector import VectorMemory

DIM = 384
INDEX = "main.bench.memory"


def p50_ms(fn: Callable[[], object], n: int) -> float:
    for _ in range(min(10, n)):
        fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def local_search(rows: int, queries: int) -> bool:
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(rows, DIM)).astype(np.float32)
    store = LocalVectorStore(dimension=DIM)
    batch = 10_000
    for start in range(0, rows, batch):
        store.upsert({"id": f"r{i}", "seq": i, "embedding": matrix[i]} for i in range(start, min(rows, start + batch)))
    qs = rng.normal(size=(queries, DIM)).astype(np.float32)
    it = iter(range(10**9))

    def bare() -> object:
        q = qs[next(it) % queries]
        scores = matrix @ q
        top = np.argpartition(-scores, 10)[:10]
        return top[np.argsort(-scores[top])]

    def ours() -> object:
        return store.query(vector=qs[next(it) % queries], k=10)

    floor, mine = p50_ms(bare, queries), p50_ms(ours, queries)
    print(f"local exact search, {rows:,} x {DIM}, k=10")
    print(f"  bare numpy matmul+argpartition p50 {floor:7.2f} ms   (floor)")
    print(f"  LocalVectorStore.query         p50 {mine:7.2f} ms   ratio {mine / floor:5.2f}x")
    ok = mine < 10.0
    print(f"  target p50 < 10 ms: {'PASS' if ok else 'FAIL'}")
    if floor >= 10.0:
        print("  note: the bare matmul alone is over 10 ms here: exact search reads the whole matrix, so this")
        print("  machine's memory bandwidth, not the store, sets the time (the ratio is the store's own cost)")
    return ok


def add_throughput(messages: int) -> bool:
    ws = LocalWorkspace()
    vec = [1.0] + [0.0] * (DIM - 1)
    with ws.intercept():
        mem = VectorMemory(INDEX, endpoint="bench", embed=lambda texts: [vec] * len(texts), config=ws.config)
        mem.ensure_index()
        texts = [f"message {i} about a declined card payment" for i in range(messages)]
        start = time.perf_counter()
        for i in range(0, messages, 100):
            mem.add("conv", texts[i : i + 100])
        ours = messages / (time.perf_counter() - start)
        url = f"{ws.host}/api/2.0/vector-search/indexes/{INDEX}/upsert-data"
        headers = {"Authorization": f"Bearer {ws.client_token()}"}
        session = requests.Session()
        start = time.perf_counter()
        for i in range(0, messages, 100):
            rows = [
                {"id": f"b:{j}", "conversation_id": "b", "seq": j, "role": "user", "text": texts[j],
                 "created_at": 0.0, "metadata": "{}", "embedding": vec}
                for j in range(i, min(messages, i + 100))
            ]  # fmt: skip
            session.post(url, json={"inputs_json": json.dumps(rows)}, headers=headers).raise_for_status()
        bare = messages / (time.perf_counter() - start)
    ratio = bare / ours
    print(f"add throughput, {messages:,} messages in batches of 100 (in-process workspace)")
    print(f"  bare requests upsert-data      {bare:9.0f} msg/s (floor)")
    print(f"  VectorMemory.add               {ours:9.0f} msg/s ratio {ratio:5.2f}x slower")
    ok = ratio < 1.5
    print(f"  target under 1.5x the bare upsert cost: {'PASS' if ok else 'FAIL'}")
    return ok


def remote_search(calls: int) -> bool:
    ws = LocalWorkspace()
    vec = [1.0] + [0.0] * (DIM - 1)
    with ws.serve() as server:
        config = DbxConfig(host=server.host, token=server.token)
        mem = VectorMemory(INDEX, endpoint="bench", embed=lambda texts: [vec] * len(texts), config=config)
        mem.ensure_index()
        mem.add("conv", [f"note {i} on merchant risk" for i in range(200)])
        url = f"{server.host}/api/2.0/vector-search/indexes/{INDEX}/query"
        headers = {"Authorization": f"Bearer {server.token}"}
        body = {"columns": mem._result_columns(), "query_type": "ANN", "query_vector": vec, "num_results": 5}
        session = requests.Session()
        floor = p50_ms(lambda: session.post(url, json=body, headers=headers).json(), calls)
        ours = p50_ms(lambda: mem.search("merchant risk", k=5), calls)
        mem.close()
    print(f"remote search over the loopback server, k=5, {calls} calls")
    print(f"  bare requests.Session          p50 {floor:7.2f} ms   (floor)")
    print(f"  VectorMemory.search            p50 {ours:7.2f} ms   ratio {ours / floor:5.2f}x")
    ok = ours / floor < 1.5
    print(f"  target under 1.5x the bare call: {'PASS' if ok else 'FAIL'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    results = [local_search(args.rows, args.queries), add_throughput(args.messages), remote_search(args.calls)]
    print(f"{sum(results)}/{len(results)} targets met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
