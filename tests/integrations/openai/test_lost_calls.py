"""Calls that were sent but whose recording went wrong: always ended, never $0, never leaked.

An internal error after the SDK call must not lose the record nor keep the budget
reservation for ever; a response llmcost cannot read is unpriced, not free.
"""

from __future__ import annotations

import gc
from typing import Any

import pytest

import llmcost
from llmcost import tokens
from llmcost.integrations import _core, _openai_usage
from llmcost.integrations import openai as integration
from llmcost.testing import FakeOpenAITransport

from .conftest import consume, invoke, make_client

MESSAGES = [{"role": "user", "content": "Hello"}]
CHAT = {"model": "gpt-4o-mini", "messages": MESSAGES}


def _input_estimate() -> int:
    return tokens.estimate_request_input_tokens("openai", "chat", CHAT)


@pytest.mark.usefixtures("swallow_internal_errors")
async def test_usage_extraction_crashing_still_records_and_releases_the_budget(
    sink: Any, mode: str, transport: FakeOpenAITransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug while reading the usage of a returned response: the user gets the response,
    the call is recorded with estimated counts, the reservation is settled."""

    def broken(operation: str, body: Any) -> Any:
        raise RuntimeError("usage reader bug")

    monkeypatch.setattr(_openai_usage, "usage_for", broken)
    client = make_client(mode, transport)
    with llmcost.budget(max_cost_usd=1) as budget:
        response = await invoke(client.chat.completions.create, **CHAT)
    assert response.choices[0].message.content == transport.text
    [record] = sink.records
    assert record.estimated is True
    assert record.input_tokens == _input_estimate()
    assert record.output_tokens == tokens.count_tokens(transport.text, "gpt-4o-mini")
    assert record.response_id == response.id
    assert (budget.reserved_usd, budget.calls) == (0, 1)
    assert llmcost.stats()["internal_errors.openai.record"] == 1


def test_usage_extraction_crashing_fails_the_suite_after_recording(
    sink: Any, transport: FakeOpenAITransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the test suite the bug surfaces, but the call was ended first."""

    def broken(operation: str, body: Any) -> Any:
        raise RuntimeError("usage reader bug")

    monkeypatch.setattr(_openai_usage, "usage_for", broken)
    client = make_client("sync", transport)
    with llmcost.budget(max_cost_usd=1) as budget, pytest.raises(RuntimeError, match="usage"):
        client.chat.completions.create(**CHAT)
    assert len(sink.records) == 1
    assert budget.reserved_usd == 0


@pytest.mark.usefixtures("swallow_internal_errors")
async def test_a_stream_that_cannot_be_wrapped_is_recorded_as_unknown(
    sink: Any, mode: str, transport: FakeOpenAITransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream goes to the user unobserved: its usage is unknown (unpriced, not $0)."""

    def broken(ctx: Any, stream: Any) -> Any:
        raise RuntimeError("observer bug")

    monkeypatch.setattr(integration.OpenAIAdapter, "stream_reader", broken)
    client = make_client(mode, transport)
    with llmcost.budget(max_cost_usd=1) as budget:
        stream = await invoke(client.chat.completions.create, **CHAT, stream=True)
        chunks = await consume(stream)
    assert chunks
    [record] = sink.records
    assert (record.priced, record.estimated, record.total_cost_usd) == (False, True, None)
    assert (budget.reserved_usd, budget.calls, budget.unpriced_calls) == (0, 1, 1)


@pytest.mark.usefixtures("swallow_internal_errors")
async def test_metadata_failing_at_the_end_of_a_stream_still_records(
    sink: Any, mode: str, transport: FakeOpenAITransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ctx.meta() raising inside the stream's end: recorded from what was streamed."""

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("meta bug")

    monkeypatch.setattr(_core.CallContext, "meta", broken)
    client = make_client(mode, transport)
    with llmcost.budget(max_cost_usd=1) as budget:
        stream = await invoke(client.chat.completions.create, **CHAT, stream=True)
        chunks = await consume(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == transport.text
    [record] = sink.records
    assert record.estimated is True
    assert record.output_tokens == tokens.count_tokens(text, "gpt-4o-mini")
    assert (budget.reserved_usd, budget.calls) == (0, 1)
    assert llmcost.stats()["internal_errors.stream.end"] == 1


@pytest.mark.usefixtures("swallow_internal_errors")
async def test_estimation_failing_at_the_end_of_a_stream_records_unknown_usage(
    sink: Any, mode: str, transport: FakeOpenAITransport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No usage in the stream and ctx.estimate() raising: unpriced, not lost, not leaked."""
    llmcost.configure(sinks=[sink], stream_usage="estimate")

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tokenizer bug")

    monkeypatch.setattr(_core.CallContext, "estimate", broken)
    client = make_client(mode, transport)
    with llmcost.budget(max_cost_usd=1) as budget:
        stream = await invoke(client.chat.completions.create, **CHAT, stream=True)
        await consume(stream)
    [record] = sink.records
    assert (record.priced, record.estimated, record.total_cost_usd) == (False, True, None)
    assert record.request_id == "req_fake_0001"
    assert (budget.reserved_usd, budget.calls, budget.unpriced_calls) == (0, 1, 1)


@pytest.mark.usefixtures("swallow_internal_errors")
async def test_estimation_failing_for_a_response_without_usage_records_unknown_usage(
    sink: Any, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body without usage that cannot be estimated either: unpriced, never $0."""

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("tokenizer bug")

    monkeypatch.setattr(_core.CallContext, "estimate", broken)
    body = {
        "id": "chatcmpl-nousage",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi"},
                "finish_reason": "stop",
            }
        ],
    }
    client = make_client(mode, FakeOpenAITransport(body=body))
    with llmcost.budget(max_cost_usd=1) as budget:
        await invoke(client.chat.completions.create, **CHAT)
    [record] = sink.records
    assert (record.priced, record.total_cost_usd, record.response_id) == (
        False,
        None,
        "chatcmpl-nousage",
    )
    assert budget.reserved_usd == 0


def test_unread_raw_stream_dropped_is_recorded_after_collection(
    sink: Any, transport: FakeOpenAITransport
) -> None:
    """A raw streamed response never parsed: the collector hands it off, flush records it."""
    client = make_client("sync", transport)
    raw = client.chat.completions.with_raw_response.create(**CHAT, stream=True)
    raw.http_response.close()
    del raw
    gc.collect()
    llmcost.flush()
    [record] = sink.records
    assert (record.estimated, record.output_tokens) == (True, 0)
    assert record.input_tokens == _input_estimate()


def test_streaming_response_dropped_without_close_is_recorded_after_collection(
    sink: Any, transport: FakeOpenAITransport
) -> None:
    """A with_streaming_response result dropped unread and unclosed: billed, so recorded."""
    client = make_client("sync", transport)
    with llmcost.budget(max_cost_usd=1) as budget:
        manager = client.chat.completions.with_streaming_response.create(**CHAT)
        response = manager.__enter__()
        del response, manager
        gc.collect()
        llmcost.flush()
    [record] = sink.records
    assert (record.estimated, record.input_tokens) == (True, _input_estimate())
    assert budget.reserved_usd == 0


# --- background responses --------------------------------------------------------------------

QUEUED = {
    "id": "resp_background01",
    "object": "response",
    "created_at": 1763800000,
    "status": "queued",
    "background": True,
    "model": "gpt-4o-mini",
    "output": [],
    "usage": None,
}


async def test_background_response_is_recorded_as_unknown_usage(sink: Any, mode: str) -> None:
    """responses.create(background=True) answers before any token is counted: the record
    is unpriced and estimated (its later retrieval is not followed), never a $0 'ok'."""
    transport = FakeOpenAITransport(body=QUEUED)
    client = make_client(mode, transport)
    with llmcost.budget(max_cost_usd=1) as budget:
        response = await invoke(
            client.responses.create, model="gpt-4o-mini", input="Write a report", background=True
        )
    assert response.status == "queued"
    [record] = sink.records
    assert (record.priced, record.estimated, record.total_cost_usd) == (False, True, None)
    assert (record.response_id, record.status) == ("resp_background01", "ok")
    assert llmcost.stats().get("openai.usage_missing", 0) == 0
    assert (budget.reserved_usd, budget.unpriced_calls) == (0, 1)


# --- response headers ------------------------------------------------------------------------


class _Unreadable:
    def get(self, name: str, default: Any = None) -> Any:
        raise KeyError(name)


def test_header_facts_never_raise() -> None:
    """Headers llmcost cannot read give no facts; nothing escapes."""
    assert _core.header_facts(_Unreadable(), "x-request-id") == {}
    assert _core.header_facts(None, "x-request-id") == {}
    assert _core.header_facts(
        {"x-request-id": "r1", "x-llmcost-replayed": "1"}, "x-request-id"
    ) == {
        "request_id": "r1",
        "replayed": True,
    }
