"""Every patched method, sync and async, streamed and not: exactly one exact record each."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from llmcost import pricing
from llmcost.types import Usage

from .conftest import USAGE, consume, invoke, resolve

MESSAGES = [{"role": "user", "content": "Say hello"}]


class Greeting(pydantic.BaseModel):
    greeting: str


# (operation, method path, request kwargs, can stream)
TARGETS: list[tuple[str, str, dict[str, Any], bool]] = [
    ("chat", "chat.completions.create", {"model": "gpt-4o-mini", "messages": MESSAGES}, True),
    ("chat", "chat.completions.parse", {"model": "gpt-4o-mini", "messages": MESSAGES}, False),
    ("responses", "responses.create", {"model": "gpt-4.1-nano", "input": "Say hello"}, True),
    ("responses", "responses.parse", {"model": "gpt-4.1-nano", "input": "Say hello"}, False),
    (
        "embeddings",
        "embeddings.create",
        {"model": "text-embedding-3-small", "input": ["a", "b"]},
        False,
    ),
    (
        "completions",
        "completions.create",
        {"model": "gpt-3.5-turbo-instruct", "prompt": "Say hello"},
        True,
    ),
]

CASES = [
    pytest.param(op, path, kwargs, stream, id=f"{path}-{'stream' if stream else 'plain'}")
    for op, path, kwargs, can_stream in TARGETS
    for stream in ((False, True) if can_stream else (False,))
]


def expected_usage(operation: str) -> Usage:
    if operation == "embeddings":
        return Usage(input_tokens=USAGE["input_tokens"])
    return Usage(**USAGE)


@pytest.mark.parametrize(("operation", "path", "kwargs", "stream"), CASES)
async def test_each_target_records_one_exact_record(
    sink, client, transport, mode, operation, path, kwargs, stream
):
    """One call -> one record with the provider's usage, ids, model and price."""
    request = dict(kwargs)
    if stream:
        request["stream"] = True
    result = await invoke(resolve(client, path), **request)
    if stream:
        items = await consume(result)
        assert items
    else:
        assert result.usage is not None

    assert len(transport.requests) == 1
    [record] = sink.records
    assert record.provider == "openai"
    assert record.operation == operation
    assert record.model == kwargs["model"]
    assert record.response_model == kwargs["model"]
    assert record.request_id == "req_fake_0001"
    assert record.replayed is True
    assert record.stream is stream
    assert record.status == "ok"
    assert record.estimated is False
    assert record.usage == expected_usage(operation)
    assert record.latency_ms is not None
    assert record.latency_ms >= 0
    if operation != "embeddings":
        assert record.response_id is not None
    price = pricing.cost(kwargs["model"], expected_usage(operation), provider="openai")
    assert record.priced is price.priced
    assert record.total_cost_usd == price.total_cost_usd
    if operation == "completions":
        # Legacy Completions models are priced (gpt-3.5-turbo-instruct: $1.50 in, $2 out).
        assert record.priced is True


async def test_parse_returns_parsed_model_and_records_once(sink, client, transport):
    """chat.completions.parse posts directly (not via create): still exactly one record."""
    transport.text = '{"greeting": "hello"}'
    completion = await invoke(
        client.chat.completions.parse,
        model="gpt-4o-mini",
        messages=MESSAGES,
        response_format=Greeting,
    )
    assert completion.choices[0].message.parsed == Greeting(greeting="hello")
    assert len(sink.records) == 1
    assert sink.records[0].operation == "chat"


async def test_responses_parse_with_text_format(sink, client, transport):
    transport.text = '{"greeting": "hi"}'
    response = await invoke(
        client.responses.parse, model="gpt-4.1-nano", input="hi", text_format=Greeting
    )
    assert response.output_parsed == Greeting(greeting="hi")
    [record] = sink.records
    assert record.operation == "responses"
    assert record.usage == Usage(**USAGE)


def test_raw_response_is_recorded_once(sink, transport):
    from llmcost.testing import fake_openai_client

    client = fake_openai_client(transport=transport)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert raw.headers["x-request-id"] == "req_fake_0001"
    completion = raw.parse()
    assert completion.usage.prompt_tokens == 1200
    [record] = sink.records
    assert record.request_id == "req_fake_0001"
    assert record.response_id == completion.id
    assert record.usage == Usage(**USAGE)


def test_raw_response_stream_is_not_changed_and_recorded_once(sink, transport):
    """A raw stream is never injected (the user may read the raw lines); parse() records."""
    from llmcost.testing import fake_openai_client

    client = fake_openai_client(transport=transport)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    assert "stream_options" not in transport.request_json()
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == transport.text
    [record] = sink.records
    assert record.stream is True
    assert record.estimated is True
    assert record.output_tokens > 0


def test_streaming_response_parse_and_with_exit(sink, transport):
    from llmcost.testing import fake_openai_client

    client = fake_openai_client(transport=transport)
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    ) as response:
        assert response.headers["x-request-id"] == "req_fake_0001"
        completion = response.parse()
    assert completion.usage.completion_tokens == 300
    [record] = sink.records
    assert record.usage == Usage(**USAGE)
    assert record.estimated is False


def test_streaming_response_json_records_usage(sink, transport):
    from llmcost.testing import fake_openai_client

    client = fake_openai_client(transport=transport)
    with client.embeddings.with_streaming_response.create(
        model="text-embedding-3-small", input="hi"
    ) as response:
        data = response.json()
    assert data["usage"]["prompt_tokens"] == 1200
    [record] = sink.records
    assert record.operation == "embeddings"
    assert record.input_tokens == 1200


def test_streaming_response_never_read_is_estimated(sink, transport):
    from llmcost.testing import fake_openai_client

    client = fake_openai_client(transport=transport)
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    ):
        pass
    [record] = sink.records
    assert record.estimated is True
    assert record.input_tokens > 0


async def test_async_streaming_response_stream(sink, transport):
    from llmcost.testing import fake_async_openai_client

    client = fake_async_openai_client(transport=transport)
    async with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    ) as response:
        stream = await response.parse()
        chunks = [chunk async for chunk in stream]
    assert chunks
    [record] = sink.records
    assert record.stream is True
    assert record.request_id == "req_fake_0001"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_chat_stream_helper_records_once(sink, client, transport, mode):
    """.stream() reaches create exactly once; the helper's events are unchanged."""
    if mode == "sync":
        with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
            events = [event.type for event in stream]
            final = stream.get_final_completion()
    else:
        async with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
            events = [event.type async for event in stream]
            final = await stream.get_final_completion()
    assert "content.done" in events
    assert final.choices[0].message.content == transport.text
    # The usage chunk llmcost asked for stays hidden, as if llmcost were not there.
    assert final.usage is None
    [record] = sink.records
    assert record.usage == Usage(**USAGE)
    assert record.stream is True


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_responses_stream_helper_records_once(sink, client, transport, mode):
    if mode == "sync":
        with client.responses.stream(model="gpt-4.1-nano", input="hi") as stream:
            text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
            final = stream.get_final_response()
    else:
        async with client.responses.stream(model="gpt-4.1-nano", input="hi") as stream:
            text = "".join(
                [e.delta async for e in stream if e.type == "response.output_text.delta"]
            )
            final = await stream.get_final_response()
    assert text == transport.text
    assert final.usage.input_tokens == 1200
    [record] = sink.records
    assert record.operation == "responses"
    assert record.usage == Usage(**USAGE)


def test_chat_stream_helper_left_early_is_recorded_at_exit(sink, transport):
    from llmcost.testing import fake_openai_client

    client = fake_openai_client(transport=transport)
    with client.chat.completions.stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        for _event in stream:
            break
        assert sink.records == []
    [record] = sink.records
    assert record.estimated is True
    assert record.stream is True
