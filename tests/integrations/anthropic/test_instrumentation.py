"""instrument()/uninstrument(), free endpoints, raw-response access and the off switch."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic

import llmcost
from llmcost.integrations._wrapping import instrument_integration
from llmcost.integrations.anthropic import INTEGRATION
from llmcost.testing import (
    FakeAnthropicTransport,
    fake_anthropic_client,
    fake_async_anthropic_client,
)

ASK: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "Hello"}],
}
USAGE = {"input_tokens": 1000, "output_tokens": 100}


def test_count_tokens_is_free_and_never_recorded(sink: llmcost.sinks.MemorySink) -> None:
    """count_tokens goes to the API but makes no record, sync, async and beta."""
    transport = FakeAnthropicTransport(usage=USAGE)
    client = fake_anthropic_client(transport=transport)
    assert (
        client.messages.count_tokens(model=ASK["model"], messages=ASK["messages"]).input_tokens
        == 1000
    )
    client.beta.messages.count_tokens(model=ASK["model"], messages=ASK["messages"])
    aclient = fake_async_anthropic_client(transport=transport)
    asyncio.run(aclient.messages.count_tokens(model=ASK["model"], messages=ASK["messages"]))
    assert [r.url.path for r in transport.requests] == ["/v1/messages/count_tokens"] * 3
    assert sink.records == []


def test_instrumenting_twice_still_records_once(sink: llmcost.sinks.MemorySink) -> None:
    """instrument() is idempotent: no double patch, no double record."""
    assert llmcost.instrument("anthropic") == ["anthropic"]
    assert instrument_integration(INTEGRATION) is True
    patched = len(INTEGRATION.applied)
    llmcost.instrument()
    assert len(INTEGRATION.applied) == patched
    fake_anthropic_client(usage=USAGE).messages.create(**ASK)
    assert len(sink.records) == 1


def test_targets_cover_bedrock_and_vertex_beta_copies(sink: llmcost.sinks.MemorySink) -> None:
    """Every resource class holding the messages methods is patched, count_tokens never."""
    patched = {(owner.__module__, owner.__name__, name) for owner, name, *_ in INTEGRATION.applied}
    for module in (
        "anthropic.resources.messages.messages",
        "anthropic.resources.beta.messages.messages",
        "anthropic.lib.bedrock._beta_messages",
        "anthropic.lib.vertex._beta_messages",
    ):
        for cls in ("Messages", "AsyncMessages"):
            for name in ("create", "parse", "stream"):
                assert (module, cls, name) in patched
    assert not any(name == "count_tokens" for _, _, name in patched)
    assert len(patched) == len(INTEGRATION.applied) == 24


def test_uninstrument_restores_and_stops_recording(sink: llmcost.sinks.MemorySink) -> None:
    """After uninstrument() the SDK is the original and calls are not recorded."""
    original = INTEGRATION.applied[0][2]
    owner, name = INTEGRATION.applied[0][:2]
    llmcost.uninstrument("anthropic")
    assert vars(owner)[name] is original
    client = fake_anthropic_client(usage=USAGE)
    client.messages.create(**ASK)
    with client.messages.stream(**ASK) as stream:
        stream.until_done()
    assert sink.records == []


def test_switched_off_llmcost_passes_calls_through(sink: llmcost.sinks.MemorySink) -> None:
    """After shutdown() the wrappers return the SDK's own objects, unproxied."""
    llmcost.shutdown()
    client = fake_anthropic_client(usage=USAGE)
    stream = client.messages.create(**ASK, stream=True)
    assert type(stream) is anthropic.Stream
    stream.close()
    assert type(client.messages.stream(**ASK)) is anthropic.MessageStreamManager
    assert sink.records == []


def test_with_raw_response_is_recorded_and_still_parses(sink: llmcost.sinks.MemorySink) -> None:
    """The raw response keeps its headers and parse(); the call is recorded once."""
    client = fake_anthropic_client(usage=USAGE, request_id="req_01ProjectRaw")
    raw = client.messages.with_raw_response.create(**ASK)
    assert raw.headers["request-id"] == "req_01ProjectRaw"
    assert raw.parse().usage.output_tokens == 100
    [record] = sink.records
    assert record.request_id == "req_01ProjectRaw"
    assert record.replayed is True
    assert (record.input_tokens, record.output_tokens) == (1000, 100)


def test_with_raw_response_stream_records_when_parsed_and_read(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """A raw streamed response is recorded from the stream its parse() returns."""
    client = fake_anthropic_client(usage=USAGE)
    raw = client.messages.with_raw_response.create(**ASK, stream=True)
    stream = raw.parse()
    assert raw.parse() is stream
    assert [e.type for e in stream][-1] == "message_stop"
    [record] = sink.records
    assert (record.output_tokens, record.estimated) == (100, False)


def test_with_streaming_response_is_recorded(sink: llmcost.sinks.MemorySink) -> None:
    """with_streaming_response: the body is read once, for the user and for the record."""
    client = fake_anthropic_client(usage=USAGE)
    with client.messages.with_streaming_response.create(**ASK) as response:
        assert response.parse().content[0].text
    assert [r.output_tokens for r in sink.records] == [100]


def test_async_with_raw_response_is_recorded(sink: llmcost.sinks.MemorySink) -> None:
    """The async raw response is parsed with await, once."""
    client = fake_async_anthropic_client(usage=USAGE)

    async def call() -> int:
        raw = await client.beta.messages.with_raw_response.create(**ASK)
        return int((await raw.parse()).usage.input_tokens)

    assert asyncio.run(call()) == 1000
    assert len(sink.records) == 1


def test_async_raw_stream_closed_unread_is_recorded_once(sink: llmcost.sinks.MemorySink) -> None:
    """A raw streamed response closed without reading is recorded, estimated, once."""
    client = fake_async_anthropic_client(usage=USAGE)

    async def call() -> None:
        raw = await client.messages.with_raw_response.create(**ASK, stream=True)
        await raw.close()
        await raw.close()

    asyncio.run(call())
    [record] = sink.records
    assert record.estimated is True
