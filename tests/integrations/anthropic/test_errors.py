"""Failed calls, refused calls and malformed usage: the user's outcome never changes."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import anthropic
import pytest

import llmcost
from llmcost import tokens
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


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_overloaded_529_is_reraised_and_recorded_as_error(
    sink: llmcost.sinks.MemorySink, stream: bool
) -> None:
    """The SDK's OverloadedError reaches the user unchanged; the record is a free error."""
    client = fake_anthropic_client(error="overloaded", request_id="req_01ProjectOverloaded")
    with pytest.raises(anthropic.OverloadedError) as caught:
        client.messages.create(**ASK, stream=stream)
    assert caught.value.status_code == 529
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": "req_01ProjectOverloaded",
    }
    [record] = sink.records
    assert (record.status, record.error_type) == ("error", "OverloadedError")
    assert record.request_id == "req_01ProjectOverloaded"
    assert record.replayed is True
    assert record.total_cost_usd == Decimal(0)
    assert record.stream is stream


def test_server_error_on_stream_helper_is_recorded_once(sink: llmcost.sinks.MemorySink) -> None:
    """A 500 when the stream helper is entered: one error record, exception unchanged."""
    client = fake_anthropic_client(error="server_error")
    with pytest.raises(anthropic.InternalServerError), client.messages.stream(**ASK):
        pass  # pragma: no cover - entering raises
    [record] = sink.records
    assert (record.status, record.error_type) == ("error", "InternalServerError")


def test_timeout_is_reraised_and_recorded(sink: llmcost.sinks.MemorySink) -> None:
    """An HTTP timeout becomes the SDK's APITimeoutError, recorded as an error."""
    client = fake_anthropic_client(error="timeout")
    with pytest.raises(anthropic.APITimeoutError):
        client.messages.create(**ASK)
    [record] = sink.records
    assert (record.status, record.error_type) == ("error", "APITimeoutError")
    assert record.request_id is None


def test_async_timeout_is_reraised_and_recorded(sink: llmcost.sinks.MemorySink) -> None:
    """The async client fails the same way."""
    client = fake_async_anthropic_client(error="timeout")
    with pytest.raises(anthropic.APITimeoutError):
        asyncio.run(client.messages.create(**ASK))
    [record] = sink.records
    assert record.error_type == "APITimeoutError"


def test_error_event_mid_stream_records_what_was_seen(sink: llmcost.sinks.MemorySink) -> None:
    """An SSE error after message_start: the SDK's error is raised, the input seen is priced."""
    client = fake_anthropic_client(
        error_after_events=3, usage={"input_tokens": 1000, "output_tokens": 40}
    )
    stream = client.messages.create(**ASK, stream=True)
    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError):
        seen.extend(event.type for event in stream)
    assert seen == ["message_start", "content_block_start"]
    [record] = sink.records
    assert record.status == "error"
    assert record.estimated is True
    assert (record.input_tokens, record.output_tokens) == (1000, 1)
    assert record.total_cost_usd == (1000 * Decimal(3) + 15) / Decimal(1_000_000)


def test_refused_call_is_never_sent(sink: llmcost.sinks.MemorySink) -> None:
    """start_call's refusal propagates before any HTTP request, for every target."""
    llmcost.configure(sinks=[sink], unknown_model="raise")
    transport = FakeAnthropicTransport()
    client = fake_anthropic_client(transport=transport)
    unknown = {**ASK, "model": "claude-from-the-future-9"}
    with pytest.raises(llmcost.UnknownModelError):
        client.messages.create(**unknown)
    with pytest.raises(llmcost.UnknownModelError):
        client.messages.create(**unknown, stream=True)
    with pytest.raises(llmcost.UnknownModelError):
        client.messages.stream(**unknown)
    with pytest.raises(llmcost.UnknownModelError):
        client.beta.messages.parse(**unknown)
    aclient = fake_async_anthropic_client(transport=transport)
    with pytest.raises(llmcost.UnknownModelError):
        asyncio.run(aclient.messages.create(**unknown))
    with pytest.raises(llmcost.UnknownModelError):
        aclient.messages.stream(**unknown)
    assert transport.requests == []
    assert sink.records == []


def test_malformed_usage_is_the_providers_input_not_an_internal_error(
    sink: llmcost.sinks.MemorySink,
    mock_client: Any,
    http: Any,
    bodies: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A count sent as a string (the SDK's own tests send one): even under the test suite it
    is no internal error; one warning names the field, and the call is recorded estimated."""
    body = bodies.message("claude-sonnet-4-6", {"input_tokens": "lots", "output_tokens": 3})
    client = mock_client(http.json(body))
    client.messages.create(**ASK)
    [record] = sink.records
    assert record.estimated is True
    assert llmcost.stats()["anthropic.usage_malformed"] == 1
    assert "internal_errors" not in llmcost.stats()
    assert "input_tokens" in caplog.text


def test_malformed_usage_in_production_returns_the_message(
    sink: llmcost.sinks.MemorySink, mock_client: Any, http: Any, bodies: Any
) -> None:
    """The user gets the message; the call is recorded estimated (never from the broken
    block, never dropped); the failure is counted."""
    body = bodies.message("claude-sonnet-4-6", {"input_tokens": -4, "output_tokens": 3})
    client = mock_client(http.json(body))
    message = client.messages.create(**ASK)
    assert message.content[0].text == "Four plus five equals nine."
    [record] = sink.records
    assert record.estimated is True
    assert record.input_tokens == tokens.estimate_request_input_tokens("anthropic", "messages", ASK)
    assert record.output_tokens == tokens.count_tokens(
        "Four plus five equals nine.", "claude-sonnet-4-6"
    )
    assert record.total_cost_usd is not None
    assert record.total_cost_usd > 0
    assert (record.request_id, record.response_id) == (
        "req_01ProjectJson",
        "msg_01ProjectCreate000000001",
    )
    assert llmcost.stats()["anthropic.usage_malformed"] == 1


def test_malformed_stream_usage_keeps_every_event(
    sink: llmcost.sinks.MemorySink, mock_client: Any, http: Any, bodies: Any
) -> None:
    """A broken message_start usage: the user still sees the whole stream; the call is
    recorded with unknown usage (unpriced, never $0); the failure is counted."""
    events = bodies.stream(
        "claude-sonnet-4-6", {"input_tokens": None, "output_tokens": 1}, {"output_tokens": 9}
    )
    client = mock_client(http.stream(events))
    with client.messages.stream(**ASK) as stream:
        assert stream.get_final_text() == "Four plus five equals nine. "
    [record] = sink.records
    assert (record.priced, record.estimated, record.total_cost_usd) == (False, True, None)
    assert (record.input_tokens, record.output_tokens) == (0, 0)
    assert record.request_id == "req_01ProjectSse"
    assert llmcost.stats()["anthropic.usage_malformed"] == 1


@pytest.mark.usefixtures("swallow_internal_errors")
def test_missing_usage_on_a_message_is_counted(
    sink: llmcost.sinks.MemorySink, mock_client: Any, http: Any, bodies: Any
) -> None:
    """A message without usage at all is not priced as $0: it is estimated and counted
    (an expected case, not an internal error)."""
    body = bodies.message("claude-sonnet-4-6", {"input_tokens": 1, "output_tokens": 1})
    del body["usage"]
    message = mock_client(http.json(body)).messages.create(**ASK)
    assert message.id == "msg_01ProjectCreate000000001"
    [record] = sink.records
    assert record.estimated is True
    assert record.input_tokens == tokens.estimate_request_input_tokens("anthropic", "messages", ASK)
    assert record.output_tokens > 0
    assert llmcost.stats()["anthropic.usage_missing"] == 1
    assert "internal_errors" not in llmcost.stats()
