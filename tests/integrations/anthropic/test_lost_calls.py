"""Sent calls whose recording went wrong, and whose exception is whose.

A call that was sent is always recorded (estimated, or unpriced when its usage is unknown)
and its budget reservation always settled; only the SDK's and the transport's errors fail a
call; garbage collection only hands endings off.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import wrapt

import llmcost
from llmcost import _dispatch, tokens
from llmcost.integrations import _anthropic_usage
from llmcost.integrations import anthropic as integration
from llmcost.testing import fake_anthropic_client, fake_async_anthropic_client

from .conftest import sse

ASK: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "Hello"}],
}
USAGE = {"input_tokens": 300, "cache_read_tokens": 200, "output_tokens": 40}
TEXT = "one two three four"


def _input_estimate() -> int:
    return tokens.estimate_request_input_tokens("anthropic", "messages", ASK)


def _raise(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("llmcost bug")


# --- internal errors after the SDK call ------------------------------------------------------


@pytest.mark.usefixtures("swallow_internal_errors")
@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_recording_a_message_crashing_still_records_and_settles(
    sink: llmcost.sinks.MemorySink, monkeypatch: pytest.MonkeyPatch, asynchronous: bool
) -> None:
    """A bug after create() returned: the user gets the message, the call is recorded with
    estimated counts, the budget reservation is settled."""
    monkeypatch.setattr(integration.AnthropicAdapter, "read", _raise)
    with llmcost.budget(max_cost_usd=1) as budget:
        if asynchronous:
            message = asyncio.run(fake_async_anthropic_client(text=TEXT).messages.create(**ASK))
        else:
            message = fake_anthropic_client(text=TEXT).messages.create(**ASK)
    assert message.content[0].text == TEXT
    [record] = sink.records
    assert record.estimated is True
    assert record.input_tokens == _input_estimate()
    assert record.output_tokens == tokens.count_tokens(TEXT, "claude-sonnet-4-6")
    assert (budget.reserved_usd, budget.calls) == (0, 1)
    assert llmcost.stats()["internal_errors.anthropic.record"] == 1


@pytest.mark.usefixtures("swallow_internal_errors")
def test_a_stream_end_crashing_still_records_and_settles(
    sink: llmcost.sinks.MemorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug while ending a stream: recorded with counts estimated from the request and the
    streamed text, never leaked."""
    monkeypatch.setattr(_anthropic_usage.StreamUsage, "meta", _raise)
    client = fake_anthropic_client(usage=USAGE, text=TEXT)
    with llmcost.budget(max_cost_usd=1) as budget, client.messages.stream(**ASK) as stream:
        assert stream.get_final_text() == TEXT
    [record] = sink.records
    assert (record.priced, record.estimated) == (True, True)
    assert record.input_tokens == _input_estimate()
    assert record.output_tokens == tokens.count_tokens(TEXT, "claude-sonnet-4-6")
    assert record.request_id == "req_fake_00000000000000000001"
    assert (budget.reserved_usd, budget.calls, budget.unpriced_calls) == (0, 1, 0)
    assert llmcost.stats()["internal_errors.stream.end"] == 1


@pytest.mark.usefixtures("swallow_internal_errors")
@pytest.mark.parametrize("how", ["create", "stream"])
def test_a_stream_that_cannot_be_observed_is_recorded_as_unknown(
    sink: llmcost.sinks.MemorySink, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """The recorder cannot be attached: the user reads the stream unobserved, the call is
    recorded unpriced and the reservation settled."""
    monkeypatch.setattr(integration.AnthropicAdapter, "stream_reader", _raise)
    client = fake_anthropic_client(usage=USAGE, text=TEXT)
    with llmcost.budget(max_cost_usd=1) as budget:
        if how == "create":
            events = list(client.messages.create(**ASK, stream=True))
            assert events[-1].type == "message_stop"
        else:
            with client.messages.stream(**ASK) as stream:
                assert stream.get_final_text() == TEXT
    [record] = sink.records
    assert (record.priced, record.total_cost_usd) == (False, None)
    assert (budget.reserved_usd, budget.calls) == (0, 1)


@pytest.mark.usefixtures("swallow_internal_errors")
def test_inconsistent_stream_usage_is_recorded_unpriced(
    sink: llmcost.sinks.MemorySink, mock_client: Any, http: Any, bodies: Any
) -> None:
    """Thinking larger than the output it is part of: recorded unpriced, not dropped."""
    events = bodies.stream(
        "claude-sonnet-4-6",
        {"input_tokens": 10, "output_tokens": 1},
        {"output_tokens": 2, "output_tokens_details": {"thinking_tokens": 5}},
    )
    with mock_client(http.stream(events)).messages.stream(**ASK) as stream:
        stream.until_done()
    [record] = sink.records
    assert (record.priced, record.estimated, record.total_cost_usd) == (False, True, None)
    assert llmcost.stats()["anthropic.usage_malformed"] == 1


# --- whose exception is it -------------------------------------------------------------------


def test_the_users_own_exception_inside_a_stream_is_not_a_failed_call(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """A KeyError of the user's loop: the call did not fail; what was seen is recorded."""
    client = fake_anthropic_client(usage=USAGE, text=TEXT)

    def users_loop() -> None:
        with client.messages.create(**ASK, stream=True) as stream:
            for _event in stream:
                raise KeyError("the user's bug")

    with pytest.raises(KeyError, match="the user's bug"):
        users_loop()
    [record] = sink.records
    assert (record.status, record.error_type) == ("ok", None)
    assert (record.input_tokens, record.output_tokens, record.estimated) == (300, 1, True)


def test_a_transport_error_mid_stream_fails_the_call(
    sink: llmcost.sinks.MemorySink, mock_client: Any, bodies: Any
) -> None:
    """A read error mid-stream is a failed call, whatever exception the SDK turns it into
    (anthropic < 2.17 lets httpx2's ReadError through, 2.17 wraps it in APIConnectionError):
    the user gets the SDK's exception unchanged and the record names its type."""
    events = bodies.stream(
        "claude-sonnet-4-6", {"input_tokens": 50, "output_tokens": 1}, {"output_tokens": 9}
    )
    body = sse(events)
    half = body.index(b"event: content_block_delta")

    def handler(request: httpx2.Request) -> httpx2.Response:
        def pieces() -> Iterator[bytes]:
            yield body[:half]
            raise httpx2.ReadError("connection reset", request=request)

        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=pieces())

    stream = mock_client(handler).messages.create(**ASK, stream=True)
    with pytest.raises(Exception) as caught:
        for _event in stream:
            pass
    assert "connection reset" in str(caught.value) or isinstance(
        caught.value.__cause__, httpx2.ReadError
    )
    [record] = sink.records
    assert (record.status, record.error_type) == ("error", type(caught.value).__name__)
    assert (record.input_tokens, record.estimated) == (50, True)


# --- garbage collection ----------------------------------------------------------------------


def test_a_manager_never_entered_releases_its_reservation_outside_the_collector(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """Never entered, nothing sent: the release is handed off by the collector, then run."""
    client = fake_anthropic_client(usage=USAGE)
    with llmcost.budget(max_cost_usd=1) as budget:
        manager = client.messages.stream(**ASK)
        assert budget.reserved_usd > 0
        del manager
        gc.collect()  # hands the release off (never done inside the collector) ...
        llmcost.flush()  # ... to the delivery thread or, here, the first reader
        assert budget.reserved_usd == 0
    assert sink.records == []
    assert budget.calls == 0


def test_nothing_is_done_while_the_interpreter_exits(
    sink: llmcost.sinks.MemorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At interpreter exit the proxies' __del__ neither records nor queues anything."""
    client = fake_anthropic_client(usage=USAGE)
    manager = client.messages.stream(**ASK)
    raw = client.messages.with_raw_response.create(**ASK, stream=True)
    raw.http_response.close()
    with monkeypatch.context() as patch:
        patch.setattr(integration.sys, "is_finalizing", lambda: True)
        manager.__del__()
        raw.__del__()
    assert _dispatch.queued() == 0
    assert sink.records == []
    raw.close()  # the test's own clean-up: recorded now, outside finalisation
    manager.__enter__().close()
    assert len(sink.records) == 2


# --- what is patched -------------------------------------------------------------------------


def test_copied_resource_methods_are_wrapped_exactly_once(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """Bedrock's and Vertex's beta classes copy the first-party functions: each is wrapped
    once, so one call makes one record."""
    for module_name, sync_class, async_class in integration._RESOURCES:
        module = __import__(module_name, fromlist=["_"])
        for class_name in (sync_class, async_class):
            for method in ("create", "parse", "stream"):
                patched = vars(getattr(module, class_name))[method]
                assert isinstance(patched, wrapt.FunctionWrapper), (module_name, method)
                assert not isinstance(patched.__wrapped__, wrapt.FunctionWrapper)


def test_the_stream_wrappers_share_one_factory() -> None:
    """Sync and async stream() wrappers differ only in the manager proxy they return."""
    assert integration._stream.__code__ is integration._astream.__code__
