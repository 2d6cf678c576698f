"""Overhead of the Gemini instrumentation, through the real google-genai SDK and a mock transport.

The same method as ``bench_anthropic.py``: interleaved blocks of bare and instrumented
non-streamed ``generate_content`` calls (median call, and mean per call with the record work
up to ``llmcost.flush()``), and llmcost's own cost per streamed chunk (the recording proxy and
the chunk reader over already-parsed SDK chunks). Run: ``python benchmarks/bench_gemini.py``.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx2
from google import genai
from google.genai import types

import llmcost
from llmcost._recorder import start_call
from llmcost.integrations._core import CallContext, StreamObserver
from llmcost.integrations._streams import RecordingStream
from llmcost.integrations.gemini import ADAPTER, INTEGRATION
from llmcost.testing import fake_gemini_client

MODEL = "gemini-2.5-flash"
STREAM_WORDS = 1000


def _client() -> genai.Client:
    # A fixed, pre-encoded body: the benchmark measures the SDK and llmcost, not the fake.
    body = json.dumps(
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": "Four plus five is nine."}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 1019,
                "cachedContentTokenCount": 1000,
                "candidatesTokenCount": 9,
                "thoughtsTokenCount": 120,
                "totalTokenCount": 1148,
            },
            "modelVersion": MODEL,
            "responseId": "bench",
        }
    ).encode()
    headers = {"content-type": "application/json"}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=headers, content=body)

    return genai.Client(
        api_key="bench",
        http_options=types.HttpOptions(
            httpx_client=httpx2.Client(transport=httpx2.MockTransport(handler))
        ),
    )


def _instrument() -> None:
    llmcost.configure(sinks=[llmcost.sinks.MemorySink(max_records=1000)])
    llmcost.instrument("google.genai")
    assert INTEGRATION.patched


def _time_calls(call: Callable[[], object], count: int) -> tuple[list[float], float]:
    """Each call's own time, and the mean per call once the record work is done too."""
    timings = []
    block_started = time.perf_counter()
    for _ in range(count):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    llmcost.flush()
    return timings, (time.perf_counter() - block_started) / count


def bench_generate(blocks: int = 30, per_block: int = 100) -> dict[str, float]:
    """Interleaved blocks of bare and instrumented calls: median latency and mean cost."""
    client = _client()

    def call() -> object:
        return client.models.generate_content(model=MODEL, contents="What is four plus five?")

    _time_calls(call, 200)  # warm up the SDK
    _instrument()
    _time_calls(call, 200)  # warm up llmcost
    bare: list[float] = []
    instrumented: list[float] = []
    bare_means: list[float] = []
    instrumented_means: list[float] = []
    for _ in range(blocks):  # alternate to spread machine noise over both sides
        llmcost.uninstrument()
        timings, mean = _time_calls(call, per_block)
        bare += timings
        bare_means.append(mean)
        _instrument()
        timings, mean = _time_calls(call, per_block)
        instrumented += timings
        instrumented_means.append(mean)
    llmcost.uninstrument()
    return {
        "bare": statistics.median(bare),
        "instrumented": statistics.median(instrumented),
        "bare_mean": statistics.median(bare_means),
        "instrumented_mean": statistics.median(instrumented_means),
    }


def _median_per_call(fn: Callable[[], object], calls: int, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        gc.collect()
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - started) / calls)
    return statistics.median(samples)


class _Chunks:
    """A replayable iterator of real SDK chunk objects (no HTTP, no SSE decoding)."""

    def __init__(self, chunks: list[Any]) -> None:
        self._it = iter(chunks)

    def __next__(self) -> Any:
        return next(self._it)

    def __iter__(self) -> _Chunks:
        return self

    def close(self) -> None:
        pass


def bench_stream_chunks(rounds: int = 15) -> tuple[float, float, int]:
    client = fake_gemini_client(
        text=" ".join(["word"] * STREAM_WORDS), usage={"input_tokens": 50, "output_tokens": 2000}
    )
    llmcost.uninstrument()
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Hi"))
    _instrument()
    request = {"model": MODEL, "contents": "Hi"}

    def bare() -> None:
        for _ in _Chunks(chunks):
            pass

    def recorded() -> None:
        ctx = CallContext(ADAPTER, "generate_content", None, dict(request))
        ctx.call = start_call("gcp.gemini", "generate_content", MODEL, request=request, stream=True)
        stream = _Chunks(chunks)
        for _ in RecordingStream(stream, StreamObserver(ctx, stream)):
            pass

    per_bare = _median_per_call(bare, 5, rounds) / len(chunks)
    per_recorded = _median_per_call(recorded, 5, rounds) / len(chunks)
    llmcost.uninstrument()
    return per_bare, per_recorded, len(chunks)


def main() -> None:
    gc.disable()
    try:
        result = bench_generate()
    finally:
        gc.enable()
    bare, instrumented = result["bare"], result["instrumented"]
    print("models.generate_content (non-streamed, mock transport; 30 interleaved blocks of 100)")
    print(f"  bare          {bare * 1e6:9.1f} µs (median call)")
    print(f"  instrumented  {instrumented * 1e6:9.1f} µs (median call)")
    print(f"  ratio         {instrumented / bare:9.3f}   (target <= 1.03)")
    bare_mean, instrumented_mean = result["bare_mean"], result["instrumented_mean"]
    print("  mean per call with the record work included (CPU cost, not latency):")
    print(f"  bare          {bare_mean * 1e6:9.1f} µs")
    print(f"  instrumented  {instrumented_mean * 1e6:9.1f} µs")
    print(f"  extra         {(instrumented_mean - bare_mean) * 1e6:9.1f} µs per call")
    print(f"  ratio         {instrumented_mean / bare_mean:9.3f}")
    per_bare, per_recorded, count = bench_stream_chunks()
    print(f"stream proxy + chunk reader, {count} chunks already parsed")
    print(f"  bare iteration      {per_bare * 1e9:7.0f} ns/chunk")
    print(f"  recorded iteration  {per_recorded * 1e9:7.0f} ns/chunk")
    print(
        f"  extra               {(per_recorded - per_bare) * 1e9:7.0f} ns/chunk   (target <= 2000)"
    )


if __name__ == "__main__":
    main()
