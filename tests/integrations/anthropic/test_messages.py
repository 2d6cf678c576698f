"""Every patched method, sync and async, plain and beta: one record each, results intact."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import anthropic
import pytest
import wrapt

import llmcost
from llmcost.testing import (
    FakeAnthropicTransport,
    fake_anthropic_client,
    fake_async_anthropic_client,
)

MODEL = "claude-sonnet-4-6"
ASK: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "What is four plus five?"}],
}
TEXT = "Four plus five equals nine."
USAGE = {"input_tokens": 1200, "cache_read_tokens": 1000, "output_tokens": 50}
# 200 uncached x $3 + 1000 read x $0.30 + 50 output x $15, per million tokens.
COST = Decimal("0.00165")
TARGETS = ["create", "create_stream", "stream", "parse"]


def _resource(client: Any, namespace: str) -> Any:
    return client.messages if namespace == "messages" else client.beta.messages


def run_sync(resource: Any, target: str) -> str:
    if target == "create":
        return str(resource.create(**ASK).content[0].text)
    if target == "parse":
        return str(resource.parse(**ASK).content[0].text)
    if target == "create_stream":
        stream = resource.create(**ASK, stream=True)
        return "".join(e.delta.text for e in stream if e.type == "content_block_delta")
    with resource.stream(**ASK) as stream:
        return "".join(stream.text_stream)


async def run_async(resource: Any, target: str) -> str:
    if target == "create":
        return str((await resource.create(**ASK)).content[0].text)
    if target == "parse":
        return str((await resource.parse(**ASK)).content[0].text)
    if target == "create_stream":
        stream = await resource.create(**ASK, stream=True)
        return "".join([e.delta.text async for e in stream if e.type == "content_block_delta"])
    async with resource.stream(**ASK) as stream:
        return "".join([text async for text in stream.text_stream])


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("namespace", ["messages", "beta"])
@pytest.mark.parametrize("target", TARGETS)
def test_every_target_records_exactly_once(
    sink: llmcost.sinks.MemorySink, target: str, namespace: str, asynchronous: bool
) -> None:
    """Each call makes one priced record with the provider's ids and the user's text intact."""
    transport = FakeAnthropicTransport(usage=USAGE, text=TEXT)
    if asynchronous:
        client = fake_async_anthropic_client(transport=transport)
        text = asyncio.run(run_async(_resource(client, namespace), target))
    else:
        client = fake_anthropic_client(transport=transport)
        text = run_sync(_resource(client, namespace), target)

    assert text == TEXT
    assert len(transport.requests) == 1
    assert transport.requests[0].url.path == "/v1/messages"
    [record] = sink.records
    assert record.provider == "anthropic"
    assert record.operation == "messages"
    assert record.model == MODEL
    assert record.response_model == MODEL
    assert record.stream == (target in ("create_stream", "stream"))
    assert record.status == "ok"
    assert record.estimated is False
    assert record.replayed is True
    assert record.request_id == "req_fake_00000000000000000001"
    assert record.response_id == "msg_fake_00000000000000000001"
    assert (record.input_tokens, record.cache_read_tokens, record.output_tokens) == (1200, 1000, 50)
    assert record.total_cost_usd == COST
    assert record.priced_as == "claude-sonnet-4-6"
    assert record.latency_ms is not None
    assert record.latency_ms >= 0


def test_async_stream_returns_a_manager_not_a_coroutine(sink: llmcost.sinks.MemorySink) -> None:
    """``AsyncAnthropic().messages.stream()`` stays a plain call returning an async manager."""
    client = fake_async_anthropic_client(usage=USAGE)
    manager = client.messages.stream(**ASK)
    assert isinstance(manager, anthropic.AsyncMessageStreamManager)
    assert not asyncio.iscoroutine(manager)

    async def consume() -> None:
        async with manager as stream:
            await stream.until_done()

    asyncio.run(consume())
    assert len(sink.records) == 1


def test_stream_manager_and_stream_keep_their_types(sink: llmcost.sinks.MemorySink) -> None:
    """Users' isinstance checks still pass on what the patched methods return."""
    client = fake_anthropic_client(usage=USAGE)
    manager = client.messages.stream(**ASK)
    assert isinstance(manager, anthropic.MessageStreamManager)
    with manager as stream:
        assert type(stream) is anthropic.MessageStream
        stream.until_done()
    raw = client.messages.create(**ASK, stream=True)
    assert isinstance(raw, anthropic.Stream)
    raw.close()
    assert len(sink.records) == 2


def test_scope_and_tags_attribute_the_call(sink: llmcost.sinks.MemorySink) -> None:
    """A call inside track_cost is charged to that scope and feature."""
    client = fake_anthropic_client(usage=USAGE)
    with llmcost.track_cost(feature="support_chat") as scope:
        client.messages.create(**ASK)
    assert scope.total_cost_usd == COST
    assert sink.records[0].feature == "support_chat"


def test_stream_consumed_after_scope_closed_belongs_to_the_scope(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """Scopes are captured when the request is made, not when the stream ends."""
    client = fake_anthropic_client(usage=USAGE)
    with llmcost.track_cost(feature="late") as scope:
        stream = client.messages.create(**ASK, stream=True)
    for _ in stream:
        pass
    assert sink.records[0].feature == "late"
    assert scope.total_cost_usd == COST


def test_patched_methods_are_wrappers_until_uninstrumented(sink: llmcost.sinks.MemorySink) -> None:
    """instrument() patches the resource classes; uninstrument() restores the originals."""
    from anthropic.resources.beta.messages import messages as beta
    from anthropic.resources.messages import messages as first_party

    for cls in (first_party.Messages, first_party.AsyncMessages, beta.Messages):
        for name in ("create", "stream", "parse"):
            assert isinstance(vars(cls)[name], wrapt.FunctionWrapper)
        assert not isinstance(vars(cls)["count_tokens"], wrapt.FunctionWrapper)
    llmcost.uninstrument("anthropic")
    for cls in (first_party.Messages, first_party.AsyncMessages, beta.Messages):
        for name in ("create", "stream", "parse"):
            assert not isinstance(vars(cls)[name], wrapt.FunctionWrapper)
    fake_anthropic_client().messages.create(**ASK)
    assert sink.records == []
