"""Stream helpers and early endings: every helper works, the record is made once."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from typing import Any

import anthropic
import pytest

import llmcost
from llmcost import tokens
from llmcost.testing import fake_anthropic_client, fake_async_anthropic_client

ASK: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "Hello"}],
}
USAGE = {"input_tokens": 300, "cache_read_tokens": 200, "output_tokens": 40}
TEXT = "one two three four"


def _text_stream(stream: Any) -> Any:
    return "".join(stream.text_stream)


def _final_message(stream: Any) -> Any:
    return stream.get_final_message().content[0].text


def _final_text(stream: Any) -> Any:
    return stream.get_final_text()


def _until_done(stream: Any) -> Any:
    stream.until_done()
    return stream.current_message_snapshot.content[0].text


def _events(stream: Any) -> Any:
    return "".join(e.text for e in stream if e.type == "text")


HELPERS: dict[str, Callable[[Any], Any]] = {
    "text_stream": _text_stream,
    "get_final_message": _final_message,
    "get_final_text": _final_text,
    "until_done": _until_done,
    "iterate": _events,
}


@pytest.mark.parametrize("helper", list(HELPERS))
@pytest.mark.parametrize("namespace", ["messages", "beta"])
def test_stream_helpers_work_and_record_once(
    sink: llmcost.sinks.MemorySink, helper: str, namespace: str
) -> None:
    """Whatever helper consumes the stream, the user gets the text and one exact record."""
    client = fake_anthropic_client(usage=USAGE, text=TEXT)
    resource = client.messages if namespace == "messages" else client.beta.messages
    with resource.stream(**ASK) as stream:
        assert HELPERS[helper](stream) == TEXT
        # The final message is still available, and reports the provider's usage.
        assert stream.get_final_message().usage.output_tokens == 40
        assert stream.request_id == "req_fake_00000000000000000001"
    [record] = sink.records
    assert (record.input_tokens, record.cache_read_tokens, record.output_tokens) == (300, 200, 40)
    assert record.estimated is False
    assert record.stream is True


def test_async_stream_helpers_record_once(sink: llmcost.sinks.MemorySink) -> None:
    """Async text_stream, get_final_message and until_done after one another: one record."""
    client = fake_async_anthropic_client(usage=USAGE, text=TEXT)

    async def consume() -> tuple[str, str]:
        async with client.beta.messages.stream(**ASK) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            await stream.until_done()
            final = await stream.get_final_text()
        return text, final

    assert asyncio.run(consume()) == (TEXT, TEXT)
    assert [r.output_tokens for r in sink.records] == [40]


def test_early_break_then_close_records_counts_seen_as_estimated(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """Closing before message_delta: message_start's counts, estimated=True."""
    client = fake_anthropic_client(usage=USAGE, text=TEXT)
    stream = client.messages.create(**ASK, stream=True)
    for event in stream:
        if event.type == "content_block_delta":
            break
    assert sink.records == []
    stream.close()
    stream.close()
    [record] = sink.records
    assert record.estimated is True
    assert (record.input_tokens, record.output_tokens) == (300, 1)
    assert record.status == "ok"


def test_leaving_the_with_block_early_records_once(sink: llmcost.sinks.MemorySink) -> None:
    """Leaving the stream helper's with-block mid-stream closes and records."""
    client = fake_anthropic_client(usage=USAGE, text=TEXT)
    with client.messages.stream(**ASK) as stream:
        for text in stream.text_stream:
            assert text == "one "
            break
    [record] = sink.records
    assert record.estimated is True
    assert record.response_id == "msg_fake_00000000000000000001"


def test_early_break_without_close_is_recorded_when_collected(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """A stream dropped after a break is recorded when the proxy goes away."""
    client = fake_anthropic_client(usage=USAGE, text=TEXT)

    def read_one() -> None:
        for _event in client.messages.create(**ASK, stream=True):
            break

    read_one()
    gc.collect()
    llmcost.flush()
    [record] = sink.records
    assert record.estimated is True
    assert (record.input_tokens, record.output_tokens) == (300, 1)


def test_stream_read_to_the_end_then_closed_records_once(sink: llmcost.sinks.MemorySink) -> None:
    """Exhaustion records; close() and the with-exit afterwards add nothing."""
    client = fake_anthropic_client(usage=USAGE)
    with client.messages.create(**ASK, stream=True) as stream:
        events = [event.type for event in stream]
    stream.close()
    assert events[0] == "message_start"
    assert events[-2:] == ["message_delta", "message_stop"]
    [record] = sink.records
    assert record.estimated is False


def test_stream_closed_before_any_event_is_recorded_with_estimated_input(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """Closed before message_start: billed for the prompt, estimated from it; never $0."""
    client = fake_anthropic_client(usage=USAGE)
    with client.messages.stream(**ASK):
        pass
    [record] = sink.records
    assert record.estimated is True
    assert record.priced is True
    expected = tokens.estimate_request_input_tokens("anthropic", "messages", ASK)
    assert expected > 0
    assert (record.input_tokens, record.output_tokens) == (expected, 0)
    assert record.total_cost_usd is not None
    assert record.total_cost_usd > 0
    assert record.request_id == "req_fake_00000000000000000001"


def test_create_stream_closed_before_any_event_is_recorded_with_estimated_input(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """create(stream=True).close() before any event: the same estimate, never $0 priced."""
    client = fake_anthropic_client(usage=USAGE)
    client.messages.create(**ASK, stream=True).close()
    [record] = sink.records
    expected = tokens.estimate_request_input_tokens("anthropic", "messages", ASK)
    assert (record.input_tokens, record.output_tokens, record.estimated) == (expected, 0, True)
    assert record.total_cost_usd is not None
    assert record.total_cost_usd > 0


def test_raw_stream_response_never_parsed_is_recorded_with_estimated_input(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """A raw streamed response closed unparsed: estimated from the request, not $0."""
    client = fake_anthropic_client(usage=USAGE)
    raw = client.messages.with_raw_response.create(**ASK, stream=True)
    raw.http_response.close()
    raw.close()
    [record] = sink.records
    expected = tokens.estimate_request_input_tokens("anthropic", "messages", ASK)
    assert (record.input_tokens, record.output_tokens, record.estimated) == (expected, 0, True)
    assert record.total_cost_usd is not None
    assert record.total_cost_usd > 0
    assert record.replayed is True


def test_raw_stream_response_dropped_unparsed_is_recorded_after_collection(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """Dropped without close(): the collector hands the ending off; flush records it."""
    client = fake_anthropic_client(usage=USAGE)

    def drop() -> None:
        client.messages.with_raw_response.create(**ASK, stream=True).http_response.close()

    drop()
    gc.collect()
    llmcost.flush()
    [record] = sink.records
    assert record.estimated is True
    assert record.total_cost_usd is not None
    assert record.total_cost_usd > 0


def test_async_early_close(sink: llmcost.sinks.MemorySink) -> None:
    """An async stream closed after its first event records message_start's counts."""
    client = fake_async_anthropic_client(usage=USAGE)

    async def consume() -> None:
        stream = await client.messages.create(**ASK, stream=True)
        async for _event in stream:
            break
        await stream.close()

    asyncio.run(consume())
    [record] = sink.records
    assert (record.input_tokens, record.output_tokens, record.estimated) == (300, 1, True)


def test_manager_never_entered_sends_and_records_nothing(sink: llmcost.sinks.MemorySink) -> None:
    """stream() only prepares the request: a manager never entered costs nothing."""
    client = fake_anthropic_client(usage=USAGE)
    manager = client.messages.stream(**ASK)
    assert isinstance(manager, anthropic.MessageStreamManager)
    del manager
    gc.collect()
