"""Trace export cost: per-call overhead of tracing a GatewayClient call, and exporter throughput into Delta.

Ratios against baselines measured in the same run (shared machines are noisy):

1. `GatewayClient.chat` on a loopback workspace with spans exported to Unity Catalog (`ExportingSpanProcessor`,
   export running in the background) against the same call with no tracer provider, calls alternated one by one
   (medians of the agent thread's CPU time). Target: under 5% overhead, with the `LeanTracerProvider` that
   `export_to_unity_catalog` installs by default; the OpenTelemetry SDK's provider is measured alongside (in place,
   between network waits, its span path costs ~150 us, 4-5x its cost in a tight loop: cold caches).
2. Spans/s through the whole export path (encode, OTLP/HTTP, decode, insert into a local Delta table) against
   inserting the same rows straight into the local catalog in the same batch sizes (the storage floor).

    python benchmarks/bench_monitoring.py [--calls 500] [--rounds 5] [--spans 20000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from dbx_native import DbxConfig, GatewayClient, RestClient
from dbx_native._core.telemetry import Telemetry
from dbx_native.local import LocalWorkspace
from dbx_native.local._otlp import TRACE_SCHEMA, rows_from_protobuf
from dbx_native.telemetry import LeanTracerProvider, export_to_unity_catalog

MESSAGES = [{"role": "user", "content": "Is merchant m_002 risky? Answer in one sentence."}]


def _serve_in_subprocess() -> tuple[subprocess.Popen[str], str, str]:
    """A local workspace in its own process, so its work (inserting spans into Delta) does not share our GIL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbx_native.cli", "local", "serve", "--port", "0", "--token", "bench-token"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    host = ""
    while not host:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the local workspace process exited before serving")
        if "serving on" in line:
            host = line.rsplit(" ", 1)[1].strip()
    return proc, host, "bench-token"


def tracing_overhead(calls: int, rounds: int) -> dict[str, float]:
    """Agent-thread CPU per traced call over the untraced call, for each tracer provider (medians, alternated)."""
    proc, host, token = _serve_in_subprocess()
    sink, sink_host, _ = _serve_in_subprocess()  # traces go to another workspace process, as to a remote one
    try:
        config = DbxConfig(host=host, token=token)
        sink_config = DbxConfig(host=sink_host, token=token)
        # An endpoint created over REST answers with the local default scripted reply.
        RestClient(config=config).post(
            "/api/2.0/serving-endpoints",
            body={"name": "chat", "config": {"served_entities": [{"name": "chat", "entity_name": "local.chat"}]}},
        )
        resource = Resource.create({"service.name": "bench"})
        providers = {"lean": LeanTracerProvider(resource), "sdk": TracerProvider(resource=resource)}
        exports = [
            export_to_unity_catalog(f"main.bench.{name}", config=sink_config, tracer_provider=provider)
            for name, provider in providers.items()
        ]
        clients = {"none": GatewayClient("chat", config=config)}
        for name, provider in providers.items():
            clients[name] = GatewayClient("chat", config=config)
            # No global provider in this process: point the client's span helper at this provider.
            clients[name]._http.telemetry = Telemetry(tracer_provider=provider)
        calls_of = {name: (lambda c=client: c.chat(MESSAGES)) for name, client in clients.items()}
        medians = alternate(calls_of, calls * rounds)
        for export in exports:
            export.shutdown(timeout=30)
    finally:
        for p in (proc, sink):
            p.terminate()
            p.wait(timeout=10)
    print("(chat and trace workspaces in separate processes; the exporter thread runs in this one)")
    print(f"GatewayClient.chat, {calls * rounds} calls each, alternated one by one; medians per call")
    print(f"{'tracer provider':<34} {'wall us':>9} {'agent-thread CPU us':>20} {'CPU vs none':>12}")
    base_cpu = medians["none"][1]
    labels = {"none": "none (no-op)", "lean": "LeanTracerProvider (default)", "sdk": "OpenTelemetry SDK"}
    for name, (wall, cpu) in medians.items():
        extra = f"{cpu / base_cpu:.3f}x +{cpu - base_cpu:.0f}us" if name != "none" else "1.000x"
        print(f"  {labels[name]:<32} {wall:>9.1f} {cpu:>20.1f} {extra:>12}")
    for export in exports:
        print(f"    ({export.table}: exported {export.counters.exported} spans, dropped {export.counters.dropped})")
    return {name: cpu / base_cpu for name, (_, cpu) in medians.items() if name != "none"}


def alternate(calls_of: dict[str, Callable[[], object]], calls: int) -> dict[str, tuple[float, float]]:
    """Median wall and agent-thread CPU per call (us) of calls made in turn, so load drift hits all alike."""
    samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in calls_of}
    for _ in range(50):
        for fn in calls_of.values():
            fn()
    for _ in range(calls):
        for name, fn in calls_of.items():
            wall, cpu = time.perf_counter(), time.thread_time()
            fn()
            samples[name][1].append(time.thread_time() - cpu)
            samples[name][0].append(time.perf_counter() - wall)
    return {
        name: (statistics.median(walls) * 1e6, statistics.median(cpus) * 1e6) for name, (walls, cpus) in samples.items()
    }


def span_cost(n: int = 5000, rounds: int = 5) -> None:
    """The agent-side cost of one GatewayClient-shaped span, without any network: no-op tracer vs SDK + exporter.

    Also the floor: a bare SDK span made current (start_span, attach, detach, end; no attributes) through the same
    provider, which no span helper can go below while spans are the SDK's.
    """
    from opentelemetry import context, trace

    from dbx_native.telemetry import ExportingSpanProcessor

    class _Discard:
        def send(self, spans: object) -> None:
            return None

        def shutdown(self) -> None:
            return None

    provider = TracerProvider()
    provider.add_span_processor(ExportingSpanProcessor(_Discard(), max_queue_size=n * 2))  # type: ignore[arg-type]
    traced = Telemetry(tracer_provider=provider)
    lean = LeanTracerProvider(shutdown_on_exit=False)
    lean.add_span_processor(ExportingSpanProcessor(_Discard(), max_queue_size=n * 2))  # type: ignore[arg-type]
    lean_traced = Telemetry(tracer_provider=lean)
    tracer = provider.get_tracer("dbx_native")
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "chat", "dbx_native.route": "chat"}
    result = {"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 20, "dbx_native.endpoint": "chat"}

    def helper(telemetry: Telemetry) -> None:
        for _ in range(n):
            with telemetry.span("chat chat", attrs) as span:
                if span.is_recording():
                    span.set_attributes(result)

    def floor() -> None:
        for _ in range(n):
            span = tracer.start_span("chat chat")
            token = context.attach(trace.set_span_in_context(span))
            context.detach(token)
            span.end()

    runs: dict[str, Callable[[], None]] = {
        "no-op": lambda: helper(Telemetry()),
        "lean + exporter queue": lambda: helper(lean_traced),
        "SDK + exporter queue": lambda: helper(traced),
        "bare SDK span floor": floor,
    }
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):  # interleaved, best of each
        for label, run in runs.items():
            start = time.thread_time()
            run()
            best[label] = min(best[label], (time.thread_time() - start) / n * 1e6)
    print("one span on the agent thread (us CPU): " + ", ".join(f"{k} {v:.1f}" for k, v in best.items()))


def throughput(spans: int, batch: int) -> float:
    with tempfile.TemporaryDirectory() as root:
        ws = LocalWorkspace(root=root)
        with ws.intercept():
            provider = LeanTracerProvider(shutdown_on_exit=False)
            export = export_to_unity_catalog(
                "main.bench.spans",
                config=ws.config,
                tracer_provider=provider,
                max_queue_size=spans,
                max_batch_size=batch,
                schedule_delay=0.01,
            )
            tracer = provider.get_tracer("bench")
            start = time.perf_counter()
            for i in range(spans):
                tracer.start_span("chat", attributes={"gen_ai.usage.input_tokens": i}).end()
            export.flush(timeout=300)
            exported_s = time.perf_counter() - start
            body = ws.requests[-1].body
            export.shutdown()
        assert export.counters.exported == spans, export.counters
        rows = rows_from_protobuf(body)
        ws.catalog.create_table("main.bench.direct", [], schema=TRACE_SCHEMA)
        start = time.perf_counter()
        for _ in range(max(1, spans // len(rows))):
            ws.catalog.insert_rows("main.bench.direct", rows)
        direct_s = (time.perf_counter() - start) / (max(1, spans // len(rows)) * len(rows)) * spans
        ws.catalog.close()
    ratio = direct_s / exported_s
    print(f"direct insert into the local Delta table    {spans / direct_s:9.0f} spans/s   1.00x")
    print(f"export_to_unity_catalog -> OTLP -> Delta    {spans / exported_s:9.0f} spans/s   {ratio:.2f}x")
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--spans", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=512)
    args = parser.parse_args()
    overhead = tracing_overhead(args.calls, args.rounds)
    rate = throughput(args.spans, args.batch)
    lean, sdk = overhead["lean"], overhead["sdk"]
    verdict = "PASS" if lean < 1.05 else "FAIL"
    print(
        f"TARGET tracing overhead, agent thread CPU (alternated) < 5%, with the provider export_to_unity_catalog "
        f"installs (lean): {verdict} ({(lean - 1) * 100:+.1f}%); with an SDK provider: {(sdk - 1) * 100:+.1f}% "
        "(no target: the SDK's own span lifecycle is ~5% of a loopback call)"
    )
    span_cost()
    print(f"TARGET export throughput >= 0.5x direct insert: {'PASS' if rate >= 0.5 else 'FAIL'} ({rate:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
