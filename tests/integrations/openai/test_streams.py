"""Streams: the user sees exactly the chunks they would see without llmcost; one record each."""

from __future__ import annotations

import gc

import httpx2
import openai
import pytest

import llmcost
from llmcost.testing import FakeOpenAITransport
from llmcost.types import Usage

from .conftest import USAGE, body, consume, invoke, make_client

MESSAGES = [{"role": "user", "content": "Count to three"}]


async def _chunks(mode: str, transport: FakeOpenAITransport, **kwargs: object) -> list[dict]:
    client = make_client(mode, transport)
    stream = await invoke(
        client.chat.completions.create,
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        **kwargs,
    )
    return [chunk.to_dict() for chunk in await consume(stream)]


async def test_inject_mode_user_sees_identical_chunks(memory_sink, mode):
    """Chunk-for-chunk equality with and without llmcost (the usage chunk stays hidden)."""
    bare = await _chunks(mode, FakeOpenAITransport(usage=USAGE))
    assert memory_sink.records == []

    llmcost.instrument("openai")
    transport = FakeOpenAITransport(usage=USAGE)
    seen = await _chunks(mode, transport)

    assert seen == bare
    assert all("usage" not in chunk for chunk in seen)
    # llmcost asked for usage on the wire, and got the provider's exact counts.
    assert transport.request_json()["stream_options"] == {"include_usage": True}
    [record] = memory_sink.records
    assert record.usage == Usage(**USAGE)
    assert record.estimated is False


async def test_user_asked_for_usage_gets_every_chunk(sink, mode):
    """When the user set include_usage themselves, nothing is hidden or changed."""
    transport = FakeOpenAITransport(usage=USAGE)
    chunks = await _chunks(mode, transport, stream_options={"include_usage": True})
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 1200
    assert all("usage" in chunk for chunk in chunks)
    [record] = sink.records
    assert record.usage == Usage(**USAGE)


async def test_user_said_no_usage_is_respected_and_estimated(sink, mode):
    transport = FakeOpenAITransport(usage=USAGE)
    await _chunks(mode, transport, stream_options={"include_usage": False})
    assert transport.request_json()["stream_options"] == {"include_usage": False}
    [record] = sink.records
    assert record.estimated is True


async def test_other_stream_options_are_kept_when_injecting(sink, mode):
    transport = FakeOpenAITransport(usage=USAGE)
    chunks = await _chunks(mode, transport, stream_options={"include_obfuscation": False})
    assert transport.request_json()["stream_options"] == {
        "include_obfuscation": False,
        "include_usage": True,
    }
    assert all("obfuscation" not in chunk for chunk in chunks)
    assert sink.records[0].estimated is False


async def test_estimate_mode_never_changes_the_request(mode):
    sink = llmcost.sinks.MemorySink()
    llmcost.configure(sinks=[sink], stream_usage="estimate")
    llmcost.instrument("openai")
    transport = FakeOpenAITransport(usage=USAGE, text="one two three four")
    await _chunks(mode, transport)
    assert "stream_options" not in transport.request_json()
    [record] = sink.records
    assert record.estimated is True
    assert record.output_tokens == llmcost.tokens.count_tokens("one two three four", "gpt-4o-mini")
    assert record.input_tokens == llmcost.tokens.estimate_request_input_tokens(
        "openai", "chat", {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True}
    )
    assert record.total_cost_usd is not None
    assert record.total_cost_usd > 0


async def test_auto_mode_estimates_on_other_hosts(sink, mode):
    """A compatible server (not api.openai.com) may reject stream_options: never sent."""
    transport = FakeOpenAITransport(usage=USAGE)
    client = make_client(mode, transport, base_url="http://localhost:8000/v1")
    stream = await invoke(
        client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    await consume(stream)
    assert "stream_options" not in transport.request_json()
    assert sink.records[0].estimated is True


async def test_inject_mode_can_be_forced_for_other_hosts(mode):
    sink = llmcost.sinks.MemorySink()
    llmcost.configure(sinks=[sink], stream_usage="inject")
    llmcost.instrument("openai")
    transport = FakeOpenAITransport(usage=USAGE)
    client = make_client(mode, transport, base_url="http://localhost:8000/v1")
    await consume(
        await invoke(
            client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES, stream=True
        )
    )
    assert transport.request_json()["stream_options"] == {"include_usage": True}
    assert sink.records[0].usage == Usage(**USAGE)


async def test_legacy_completions_stream_hides_usage_chunk(sink, mode):
    transport = FakeOpenAITransport(usage=USAGE)
    client = make_client(mode, transport)
    stream = await invoke(
        client.completions.create, model="gpt-3.5-turbo-instruct", prompt="Hi", stream=True
    )
    chunks = await consume(stream)
    assert all(chunk.choices for chunk in chunks)
    assert "".join(chunk.choices[0].text for chunk in chunks) == transport.text
    assert sink.records[0].usage == Usage(**USAGE)


def test_early_break_is_recorded_with_estimated_counts(sink, transport):
    """A stream abandoned before its usage chunk: recorded once, estimated, after collection.

    The garbage collector only hands the ending off; it is recorded at the next flush (or
    the next call), never inside the collector.
    """
    client = make_client("sync", transport)
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            break
    assert sink.records == []
    del stream, chunk
    gc.collect()
    llmcost.flush()
    [record] = sink.records
    assert record.estimated is True
    assert record.stream is True
    assert record.status == "ok"
    assert record.output_tokens == llmcost.tokens.count_tokens("Hello", "gpt-4o-mini")
    assert record.response_id == "chatcmpl-fake0001"


async def test_close_records_once(sink, mode, transport):
    client = make_client(mode, transport)
    stream = await invoke(
        client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    if mode == "sync":
        next(stream)
        stream.close()
        stream.close()
    else:
        await stream.__anext__()
        await stream.close()
        await stream.close()
    [record] = sink.records
    assert record.estimated is True


async def test_with_exit_records_once(sink, mode, transport):
    client = make_client(mode, transport)
    stream = await invoke(
        client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    if mode == "sync":
        with stream as entered:
            assert entered is stream
            next(entered)
    else:
        async with stream as entered:
            assert entered is stream
            await entered.__anext__()
    [record] = sink.records
    assert record.stream is True
    assert record.estimated is True


async def test_exhausted_then_closed_is_still_one_record(sink, mode, transport):
    client = make_client(mode, transport)
    stream = await invoke(
        client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    await consume(stream)
    if mode == "sync":
        stream.close()
    else:
        await stream.close()
    assert len(sink.records) == 1
    assert sink.records[0].estimated is False


async def test_stream_keeps_sdk_type_and_response(sink, client, mode):

    stream = await invoke(
        client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    expected = openai.AsyncStream if mode == "async" else openai.Stream
    assert isinstance(stream, expected)
    assert stream.response.headers["x-request-id"] == "req_fake_0001"
    await consume(stream)


async def test_responses_stream_usage_from_completed_event(sink, mode):
    transport = FakeOpenAITransport(sse=body("responses_stream.sse"))
    client = make_client(mode, transport)
    stream = await invoke(client.responses.create, model="gpt-4.1", input="4+5?", stream=True)
    events = await consume(stream)
    assert events[-1].type == "response.completed"
    [record] = sink.records
    assert record.input_tokens == 13
    assert record.output_tokens == 9
    assert record.response_model == "gpt-4.1-2025-04-14"
    assert record.response_id == "resp_llmcostStream0001"
    assert record.service_tier == "default"
    assert record.estimated is False


async def test_chat_stream_body_modelled_on_real_api(sink, mode):
    """A stream shaped like the real API's with the usage chunk the user asked for."""
    transport = FakeOpenAITransport(sse=body("chat_stream_usage.sse"))
    client = make_client(mode, transport)
    stream = await invoke(
        client.chat.completions.create,
        model="gpt-4.1",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = await consume(stream)
    assert len(chunks) == 9
    [record] = sink.records
    assert (record.input_tokens, record.output_tokens) == (24, 7)
    assert record.response_model == "gpt-4.1-2025-04-14"


async def test_stream_broken_midway_is_an_error_priced_as_estimated(sink, mode):
    """Tokens streamed before a failure are priced (estimated); the error reaches the user."""

    transport = FakeOpenAITransport(usage=USAGE, fail_after_events=3)
    client = make_client(mode, transport)
    stream = await invoke(
        client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    # Which exception the SDK raises for a broken stream varies by release: the user gets
    # the SDK's own, and the record names it.
    with pytest.raises((openai.APIConnectionError, httpx2.ReadError)) as caught:
        await consume(stream)
    [record] = sink.records
    assert record.status == "error"
    assert record.error_type == type(caught.value).__name__
    assert record.estimated is True
    assert record.output_tokens > 0
    assert record.total_cost_usd is not None
    assert record.total_cost_usd > 0


async def test_user_exception_inside_with_block_is_not_a_failed_call(sink, mode, transport):
    client = make_client(mode, transport)
    stream = await invoke(
        client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES, stream=True
    )

    async def user_code() -> None:
        if mode == "sync":
            with stream:
                raise KeyError("user bug")
        async with stream:
            raise KeyError("user bug")

    with pytest.raises(KeyError):
        await user_code()
    [record] = sink.records
    assert record.status == "ok"


def test_stream_consumed_after_scope_closed_belongs_to_scope(sink, transport):
    client = make_client("sync", transport)
    with llmcost.track_cost(feature="digest", tier="pro") as scope:
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert scope.records == []
    list(stream)
    [record] = scope.records
    assert record.feature == "digest"
    assert record.tags == {"tier": "pro"}
    assert scope.total_cost_usd == record.total_cost_usd
