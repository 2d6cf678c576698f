"""Overhead of the OpenAI instrumentation, through the real SDK and a mock HTTP transport.

Run: ``python benchmarks/bench_openai.py``. Prints:

1. a non-streamed chat completion whose mock transport waits 2 ms (a stand-in for the
   network): the median call bare vs instrumented and their ratio (target: at most 1.05), and
   llmcost's added CPU time per call (``time.process_time``; target: at most 50 µs);
2. a streamed chat completion of many chunks: the extra time per chunk (target: at most 2 µs).

Bare and instrumented calls are interleaved in blocks so that drift of the machine affects
both alike. llmcost is configured with no sinks: what is measured is the wrapper, usage
extraction, pricing and the record, not a sink's I/O.
"""

from __future__ import annotations

import gc
import json
import statistics
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import openai

import llmcost

MESSAGES = [{"role": "user", "content": "Say hello"}]
CHAT_BODY = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1767225600,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 1200,
            "completion_tokens": 300,
            "total_tokens": 1500,
            "prompt_tokens_details": {"cached_tokens": 1000, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
        "service_tier": "default",
    }
).encode()
CHUNKS = 2000
#: What the mock transport waits before answering a non-streamed call (the "network").
NETWORK_SECONDS = 0.002


def _stream_body() -> bytes:
    base = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1767225600,
        "model": "gpt-4o-mini-2024-07-18",
        "service_tier": "default",
    }
    events = []
    for index in range(CHUNKS):
        delta = {"content": f" w{index}"}
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
        events.append({**base, "choices": [choice], "usage": None})
    usage = {"prompt_tokens": 10, "completion_tokens": CHUNKS, "total_tokens": CHUNKS + 10}
    events.append({**base, "choices": [], "usage": usage})
    text = "".join(f"data: {json.dumps(event)}\n\n" for event in events)
    return (text + "data: [DONE]\n\n").encode()


STREAM_BODY = _stream_body()


def _handler(request: httpx2.Request) -> httpx2.Response:
    if b'"stream":true' in request.content:
        return httpx2.Response(
            200,
            headers={"content-type": "text/event-stream", "x-request-id": "req_bench"},
            content=STREAM_BODY,
        )
    time.sleep(NETWORK_SECONDS)
    return httpx2.Response(
        200,
        headers={"content-type": "application/json", "x-request-id": "req_bench"},
        content=CHAT_BODY,
    )


def _client() -> openai.OpenAI:
    return openai.OpenAI(
        api_key="sk-bench",
        base_url="https://api.openai.com/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(_handler)),
    )


def _time_calls(client: openai.OpenAI, count: int, cpu: list[float] | None = None) -> list[float]:
    """Each call's own time; ``cpu`` gets the process CPU time per call of the block."""
    create = client.chat.completions.create
    timings = []
    cpu_started = time.process_time()
    for _ in range(count):
        started = time.perf_counter()
        create(model="gpt-4o-mini", messages=MESSAGES)
        timings.append(time.perf_counter() - started)
    llmcost.flush()
    if cpu is not None:
        cpu.append((time.process_time() - cpu_started) / count)
    return timings


def bench_chat(blocks: int = 30, per_block: int = 60) -> dict[str, float]:
    """Interleaved blocks of bare and instrumented calls; the medians of each block."""
    client = _client()
    _time_calls(client, 200)  # warm up the SDK
    llmcost.instrument("openai")
    _time_calls(client, 200)  # warm up llmcost (catalog, pricing caches)
    bare: list[float] = []
    instrumented: list[float] = []
    pair_ratios: list[float] = []
    bare_cpu: list[float] = []
    instrumented_cpu: list[float] = []
    for _ in range(blocks):
        llmcost.uninstrument()
        bare_block = _time_calls(client, per_block, bare_cpu)
        llmcost.instrument("openai")
        instrumented_block = _time_calls(client, per_block, instrumented_cpu)
        bare += bare_block
        instrumented += instrumented_block
        pair_ratios.append(statistics.median(instrumented_block) / statistics.median(bare_block))
    llmcost.uninstrument()
    return {
        "bare": statistics.median(bare),
        "instrumented": statistics.median(instrumented),
        "pair_ratio": statistics.median(pair_ratios),
        "best_ratio": min(instrumented) / min(bare),
        "bare_cpu": statistics.median(bare_cpu),
        "instrumented_cpu": statistics.median(instrumented_cpu),
    }


def _time_stream(client: openai.OpenAI, **kwargs: object) -> float:
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, **kwargs
    )
    started = time.perf_counter()
    for _chunk in stream:
        pass
    return time.perf_counter() - started


def bench_stream(repeats: int = 15) -> tuple[float, float]:
    """End to end: the same bytes parsed by the SDK, bare and instrumented."""
    client = _client()
    bare: list[float] = []
    instrumented: list[float] = []
    for _ in range(repeats):
        llmcost.uninstrument()
        # Bare: the user asks for usage, so both runs parse the very same bytes.
        bare.append(_time_stream(client, stream_options={"include_usage": True}))
        llmcost.instrument("openai")
        # Instrumented: llmcost injects include_usage and hides the usage chunk (the default).
        instrumented.append(_time_stream(client))
    llmcost.uninstrument()
    return min(bare), min(instrumented)


class _SDKLikeStream:
    """Iterates like ``openai.Stream`` (a generator behind ``__next__`` and ``__iter__``)."""

    def __init__(self, items: list[Any]) -> None:
        self._iterator = self.__stream__(items)

    def __stream__(self, items: list[Any]) -> Iterator[Any]:
        yield from items

    def __next__(self) -> Any:
        return self._iterator.__next__()

    def __iter__(self) -> Iterator[Any]:
        yield from self._iterator


def bench_chunk_overhead(repeats: int = 30) -> float:
    """llmcost's own cost per chunk: proxy + observer over already-parsed SDK chunks."""
    from openai.types.chat import ChatCompletionChunk

    from llmcost._recorder import start_call
    from llmcost.integrations._core import CallContext, StreamObserver
    from llmcost.integrations._streams import RecordingStream
    from llmcost.integrations.openai import ADAPTER

    events = [
        json.loads(line[len("data: ") :])
        for line in STREAM_BODY.decode().split("\n\n")
        if line.startswith("data: {")
    ]
    bare_times: list[float] = []
    llmcost_times: list[float] = []
    for _ in range(repeats):
        chunks = [ChatCompletionChunk.construct(**event) for event in events]
        started = time.perf_counter()
        for _chunk in _SDKLikeStream(chunks[:-1]):
            pass
        bare_times.append(time.perf_counter() - started)

        chunks = [ChatCompletionChunk.construct(**event) for event in events]
        ADAPTER.load()
        ctx = CallContext(ADAPTER, "chat", None, {"model": "gpt-4o-mini", "messages": MESSAGES})
        ctx.call = start_call("openai", "chat", "gpt-4o-mini", request=ctx.kwargs, stream=True)
        ctx.options["hide_usage_chunk"] = True
        stream = _SDKLikeStream(chunks)
        started = time.perf_counter()
        for _chunk in RecordingStream(stream, StreamObserver(ctx, stream)):
            pass
        llmcost_times.append(time.perf_counter() - started)
    return (min(llmcost_times) - min(bare_times)) / CHUNKS


def main() -> None:
    llmcost.configure(sinks=[])
    gc.disable()
    try:
        chat = bench_chat()
        print("non-streamed chat completion, 2 ms mock network (30 interleaved blocks of 60)")
        print(f"  bare          {chat['bare'] * 1e6:9.1f} µs (median)")
        print(f"  instrumented  {chat['instrumented'] * 1e6:9.1f} µs (median)")
        print(f"  ratio         {chat['instrumented'] / chat['bare']:9.3f}   (target <= 1.05)")
        print(f"  block ratio   {chat['pair_ratio']:9.3f}   (median of adjacent-block ratios)")
        print(f"  best ratio    {chat['best_ratio']:9.3f}   (fastest call each)")
        print("  process CPU time per call (median of the blocks):")
        print(f"  bare          {chat['bare_cpu'] * 1e6:9.1f} µs")
        print(f"  instrumented  {chat['instrumented_cpu'] * 1e6:9.1f} µs")
        added = (chat["instrumented_cpu"] - chat["bare_cpu"]) * 1e6
        print(f"  added         {added:9.1f} µs   (target <= 50 µs)")
        bare_stream, instrumented_stream = bench_stream()
        print(f"streamed chat completion, {CHUNKS} chunks through the SDK (best of 15)")
        per_sdk_chunk = bare_stream / CHUNKS * 1e6
        print(f"  bare          {bare_stream * 1e3:9.2f} ms ({per_sdk_chunk:.1f} µs/chunk)")
        print(f"  instrumented  {instrumented_stream * 1e3:9.2f} ms")
        print(f"  extra/chunk   {(instrumented_stream - bare_stream) / CHUNKS * 1e6:9.2f} µs")
        per_chunk = bench_chunk_overhead()
        print("llmcost's own cost per chunk (proxy + observer, chunks already parsed)")
        print(f"  extra/chunk   {per_chunk * 1e6:9.2f} µs   (target <= 2 µs)")
    finally:
        gc.enable()
        llmcost.reset()


if __name__ == "__main__":
    main()
