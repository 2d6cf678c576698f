"""The same OpenAI call bare, with llmcost, with Logfire and with OpenLLMetry, side by side.

Run: ``python benchmarks/bench_peers.py`` (peers are optional: ``pip install logfire
opentelemetry-instrumentation-openai opentelemetry-sdk`` into the same environment; a peer that
is not installed is reported as such).

Each variant runs in a process of its own (instrumentation cannot be undone cleanly), one
after the other in a rotating order, ``ROUNDS`` times, so drift of a shared machine hits every
variant alike. In each process: the real ``openai`` client on an ``httpx2.MockTransport`` whose
handler sleeps 2 ms (a stand-in for the network) and returns a recorded-shape chat completion;
``WARMUP`` calls, then ``CALLS`` timed ones. Per variant it reports the median call's latency
and the CPU time per call (``time.process_time``: what the instrumentation costs the machine,
which the 2 ms sleep does not hide), each as a range over the rounds, and both against bare.

Setups, each what the peer's docs show for a service that exports elsewhere:

- ``llmcost``: ``configure(sinks=[MemorySink(max_records=100)])`` + ``instrument("openai")``;
- ``logfire``: ``logfire.configure(send_to_logfire=False, console=False)`` +
  ``logfire.instrument_openai()``;
- ``openllmetry``: an SDK ``TracerProvider`` with a ``BatchSpanProcessor`` to an exporter that
  drops spans + ``OpenAIInstrumentor().instrument()``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

VARIANTS = ("bare", "llmcost", "logfire", "openllmetry")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CALLS = int(os.environ.get("BENCH_CALLS", "300"))
WARMUP = 50
NETWORK_SECONDS = 0.002


def _setup(variant: str) -> None:
    if variant == "llmcost":
        import llmcost

        llmcost.configure(sinks=[llmcost.sinks.MemorySink(max_records=100)])
        assert llmcost.instrument("openai") == ["openai"]
    elif variant == "logfire":
        import logfire

        logfire.configure(send_to_logfire=False, console=False)
        logfire.instrument_openai()
    elif variant == "openllmetry":
        from opentelemetry import trace
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        class Drop(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(Drop()))
        trace.set_tracer_provider(provider)
        OpenAIInstrumentor().instrument()


def child(variant: str) -> dict[str, Any]:
    """One variant in this process: the median call and the CPU per call, in µs."""
    import httpx2
    import openai
    from bench_openai import CHAT_BODY  # the same recorded-shape completion as bench_openai

    def handler(request: httpx2.Request) -> httpx2.Response:
        time.sleep(NETWORK_SECONDS)
        return httpx2.Response(
            200,
            content=CHAT_BODY,
            headers={"content-type": "application/json", "x-request-id": "req_bench"},
        )

    _setup(variant)
    client = openai.OpenAI(
        api_key="sk-bench",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    messages = [{"role": "user", "content": "Say hello"}]
    for _ in range(WARMUP):
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    timings = []
    cpu_started = time.process_time()
    for _ in range(CALLS):
        started = time.perf_counter()
        client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        timings.append(time.perf_counter() - started)
    cpu = (time.process_time() - cpu_started) / CALLS
    return {"median_us": statistics.median(timings) * 1e6, "cpu_us": cpu * 1e6}


def _installed(variant: str) -> bool:
    module = {"logfire": "logfire", "openllmetry": "opentelemetry.instrumentation.openai"}
    name = module.get(variant)
    if name is None:
        return True
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _run(variant: str) -> dict[str, Any] | None:
    done = subprocess.run(
        [sys.executable, __file__, "--child", variant],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        print(f"  {variant}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _span(values: list[float]) -> str:
    return f"{min(values):8.1f}–{max(values):<8.1f}"


def main() -> None:
    variants = [v for v in VARIANTS if _installed(v)]
    missing = [v for v in VARIANTS if v not in variants]
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for round_index in range(ROUNDS):
        order = variants[round_index % len(variants) :] + variants[: round_index % len(variants)]
        for variant in order:
            result = _run(variant)
            if result is not None:
                results[variant].append(result)
    print(
        f"OpenAI chat.completions.create, 2 ms mock network, {CALLS} calls per process, "
        f"{ROUNDS} rounds (ranges over rounds; ratios against bare of the same round)"
    )
    print(f"{'variant':<12} {'median call µs':<19} {'ratio':<15} {'CPU/call µs':<19} ratio")
    bare = results.get("bare", [])
    for variant in variants:
        runs = results[variant]
        if not runs or not bare:
            continue
        pairs = list(zip(runs, bare, strict=False))
        latency_ratio = [run["median_us"] / base["median_us"] for run, base in pairs]
        cpu_ratio = [run["cpu_us"] / base["cpu_us"] for run, base in pairs]
        print(
            f"{variant:<12} {_span([r['median_us'] for r in runs])} "
            f"{min(latency_ratio):.3f}–{max(latency_ratio):.3f}    "
            f"{_span([r['cpu_us'] for r in runs])} "
            f"{min(cpu_ratio):.2f}–{max(cpu_ratio):.2f}"
        )
    for variant in missing:
        print(f"{variant:<12} not installed")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2])))
    else:
        main()
