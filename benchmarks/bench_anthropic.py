"""Overhead of the Anthropic instrumentation, through the real SDK and a mock transport.

Targets (issue 5): non-streamed ``messages.create`` instrumented / bare <= 1.03; extra cost
per streamed event <= 2 µs. Run: ``python benchmarks/bench_anthropic.py``.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2

import llmcost
from llmcost._recorder import start_call
from llmcost.integrations._core import CallContext, StreamObserver
from llmcost.integrations._streams import RecordingStream
from llmcost.integrations.anthropic import ADAPTER, INTEGRATION
from llmcost.testing import FakeAnthropicTransport

ASK: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "What is four plus five?"}],
}
STREAM_WORDS = 1000


def _client() -> anthropic.Anthropic:
    # A fixed, pre-encoded body: the benchmark measures the SDK and llmcost, not the fake.
    body = json.dumps(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-6",
            "content": [{"type": "text", "text": "Four plus five equals nine."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 19,
                "cache_read_input_tokens": 1000,
                "cache_creation_input_tokens": 0,
                "output_tokens": 9,
                "service_tier": "standard",
            },
        }
    ).encode()
    headers = {"content-type": "application/json", "request-id": "req_bench"}

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=headers, content=body)

    return anthropic.Anthropic(
        api_key="sk-ant-bench",
        base_url="https://api.anthropic.com",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def _median_per_call(fn: Callable[[], object], calls: int, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        gc.collect()
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - started) / calls)
    return statistics.median(samples)


def _instrument() -> None:
    llmcost.configure(sinks=[llmcost.sinks.MemorySink(max_records=1000)])
    llmcost.instrument("anthropic")
    assert INTEGRATION.patched


def _time_calls(call: Callable[[], object], count: int) -> tuple[list[float], float]:
    """Each call's own time, and the mean per call once the records made later are made too."""
    timings = []
    block_started = time.perf_counter()
    for _ in range(count):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    llmcost.flush()  # the deferred pricing, record and delivery, counted in the mean
    return timings, (time.perf_counter() - block_started) / count


def bench_create(blocks: int = 30, per_block: int = 100) -> dict[str, float]:
    """Interleaved blocks of bare and instrumented calls: median latency and mean cost."""
    client = _client()

    def call() -> object:
        return client.messages.create(**ASK)

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


class _Events:
    """A replayable iterator of real SDK event objects (no HTTP, no SSE decoding)."""

    def __init__(self, events: list[Any]) -> None:
        self._it = iter(events)
        self.response = None

    def __next__(self) -> Any:
        return next(self._it)

    def __iter__(self) -> _Events:
        return self

    def close(self) -> None:
        pass


def bench_stream_events(rounds: int = 15) -> tuple[float, float, int]:
    transport = FakeAnthropicTransport(
        text=" ".join(["word"] * STREAM_WORDS), usage={"input_tokens": 50, "output_tokens": 2000}
    )
    client = anthropic.Anthropic(
        api_key="sk-ant-bench",
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )
    llmcost.uninstrument()
    events = list(client.messages.create(**ASK, stream=True))
    _instrument()

    def bare() -> None:
        for _ in _Events(events):
            pass

    def recorded() -> None:
        ctx = CallContext(ADAPTER, "messages", None, dict(ASK))
        ctx.call = start_call("anthropic", "messages", ASK["model"], request=ASK, stream=True)
        stream = _Events(events)
        for _ in RecordingStream(stream, StreamObserver(ctx, stream)):
            pass

    per_bare = _median_per_call(bare, 5, rounds) / len(events)
    per_recorded = _median_per_call(recorded, 5, rounds) / len(events)
    return per_bare, per_recorded, len(events)


def bench_stream_sdk(rounds: int = 5) -> tuple[float, float, int]:
    """End to end: the SDK's own SSE decoding plus the proxy, per event."""
    transport = FakeAnthropicTransport(
        text=" ".join(["word"] * STREAM_WORDS), usage={"input_tokens": 50, "output_tokens": 2000}
    )
    client = anthropic.Anthropic(
        api_key="sk-ant-bench", max_retries=0, http_client=httpx2.Client(transport=transport)
    )

    def consume() -> None:
        for _ in client.messages.create(**ASK, stream=True):
            pass

    llmcost.uninstrument()
    count = sum(1 for _ in client.messages.create(**ASK, stream=True))
    bare = _median_per_call(consume, 1, rounds) / count
    _instrument()
    recorded = _median_per_call(consume, 1, rounds) / count
    llmcost.uninstrument()
    return bare, recorded, count


def main() -> None:
    gc.disable()
    try:
        create = bench_create()
    finally:
        gc.enable()
    bare, instrumented = create["bare"], create["instrumented"]
    print("messages.create (non-streamed, mock transport; 30 interleaved blocks of 100 calls)")
    print(f"  bare          {bare * 1e6:9.1f} µs (median call)")
    print(f"  instrumented  {instrumented * 1e6:9.1f} µs (median call)")
    print(f"  ratio         {instrumented / bare:9.3f}   (target <= 1.03)")
    bare_mean, instrumented_mean = create["bare_mean"], create["instrumented_mean"]
    print("  mean per call with the deferred record work included (CPU cost, not latency):")
    print(f"  bare          {bare_mean * 1e6:9.1f} µs")
    print(f"  instrumented  {instrumented_mean * 1e6:9.1f} µs")
    print(f"  ratio         {instrumented_mean / bare_mean:9.3f}")
    per_bare, per_recorded, count = bench_stream_events()
    print(f"stream proxy + usage observer, {count} events")
    print(f"  bare iteration      {per_bare * 1e9:7.0f} ns/event")
    print(f"  recorded iteration  {per_recorded * 1e9:7.0f} ns/event")
    print(
        f"  extra               {(per_recorded - per_bare) * 1e9:7.0f} ns/event   (target <= 2000)"
    )
    sdk_bare, sdk_recorded, sdk_count = bench_stream_sdk()
    print(f"streamed messages.create through the SDK, {sdk_count} events")
    print(f"  bare          {sdk_bare * 1e6:7.2f} µs/event")
    print(f"  instrumented  {sdk_recorded * 1e6:7.2f} µs/event")
    print(f"  extra         {(sdk_recorded - sdk_bare) * 1e9:7.0f} ns/event")


if __name__ == "__main__":
    main()
