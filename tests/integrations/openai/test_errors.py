"""Failed calls, malformed usage, budgets and policy: the user's view never changes."""

from __future__ import annotations

import openai
import pytest

import llmcost
from llmcost.testing import FakeOpenAITransport
from llmcost.types import Usage

from .conftest import USAGE, body, consume, invoke, make_client

MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, openai.InternalServerError), (429, openai.RateLimitError)],
)
async def test_status_error_is_recorded_at_zero_cost_and_reraised(sink, mode, status, error):
    transport = FakeOpenAITransport(status_code=status, request_id="req_failed_1")
    client = make_client(mode, transport)
    with pytest.raises(error) as caught:
        await invoke(client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.status_code == status
    [record] = sink.records
    assert record.status == "error"
    assert record.error_type == error.__name__
    assert record.request_id == "req_failed_1"
    assert record.replayed is True
    assert record.usage == Usage()
    assert record.total_cost_usd == 0
    assert record.estimated is False


async def test_timeout_is_recorded_and_reraised(sink, mode):
    transport = FakeOpenAITransport(error="timeout")
    client = make_client(mode, transport)
    with pytest.raises(openai.APITimeoutError):
        await invoke(client.embeddings.create, model="text-embedding-3-small", input="hi")
    [record] = sink.records
    assert record.status == "error"
    assert record.error_type == "APITimeoutError"
    assert record.total_cost_usd == 0


async def test_client_side_validation_error_fails_the_call(sink, mode, transport):
    """The SDK raises before sending: an error record (cost 0) and nothing on the wire."""
    client = make_client(mode, transport)
    with pytest.raises(TypeError):
        await invoke(client.chat.completions.create, model="gpt-4o-mini")
    assert transport.requests == []
    [record] = sink.records
    assert record.status == "error"
    assert record.error_type == "TypeError"


async def test_malformed_usage_keeps_response_and_is_counted(sink, mode, caplog):
    """A negative count is the provider's bad input, not llmcost's bug: counted, named in one
    warning, the call recorded estimated; no internal error."""
    bad = body("chat_completion.json")
    bad["usage"]["prompt_tokens"] = -5
    transport = FakeOpenAITransport(body=bad)
    client = make_client(mode, transport)
    completion = await invoke(
        client.chat.completions.create, model="gpt-3.5-turbo", messages=MESSAGES
    )
    assert completion.usage.prompt_tokens == -5  # the user still gets the response as sent
    stats = llmcost.stats()
    assert "internal_errors" not in stats
    assert stats["openai.usage_malformed"] == 1
    assert "prompt_tokens" in caplog.text
    assert "openai.usage_malformed" in caplog.text
    [record] = sink.records
    assert record.estimated is True
    assert record.input_tokens > 0


async def test_missing_usage_is_estimated_and_counted(sink, mode):
    no_usage = body("chat_completion.json")
    del no_usage["usage"]
    client = make_client(mode, FakeOpenAITransport(body=no_usage))
    completion = await invoke(
        client.chat.completions.create, model="gpt-3.5-turbo", messages=MESSAGES
    )
    assert completion.usage is None
    assert llmcost.stats()["openai.usage_missing"] == 1
    [record] = sink.records
    assert record.estimated is True
    assert record.output_tokens == llmcost.tokens.count_tokens(
        completion.choices[0].message.content, "gpt-3.5-turbo-0125"
    )


async def test_malformed_stream_usage_is_counted(sink, mode):
    sse = body("chat_stream_usage.sse").replace('"prompt_tokens":24', '"prompt_tokens":null')
    client = make_client(mode, FakeOpenAITransport(sse=sse))
    stream = await invoke(
        client.chat.completions.create,
        model="gpt-4.1",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = await consume(stream)
    assert len(chunks) == 9
    assert llmcost.stats()["openai.usage_malformed"] == 1
    assert "internal_errors" not in llmcost.stats()
    assert sink.records[0].estimated is True


async def test_budget_refusal_sends_nothing(sink, mode, transport):
    client = make_client(mode, transport)
    with llmcost.budget(max_cost_usd="0.000001"), pytest.raises(llmcost.BudgetExceeded):
        await invoke(
            client.chat.completions.create,
            model="gpt-4o",
            messages=MESSAGES,
            max_completion_tokens=4000,
        )
    assert transport.requests == []
    assert sink.records == []


async def test_budget_settles_with_the_real_cost(sink, mode, transport):
    client = make_client(mode, transport)
    with llmcost.budget(max_cost_usd="1") as spent:
        await invoke(
            client.chat.completions.create,
            model="gpt-4o-mini",
            messages=MESSAGES,
            max_completion_tokens=400,
        )
    assert spent.spent_usd == sink.records[0].total_cost_usd


async def test_policy_violation_sends_nothing(mode, transport):
    llmcost.configure(
        environment="development",
        policy=llmcost.Policy(allowed_models={"development": ["gpt-*-mini"]}),
    )
    llmcost.instrument("openai")
    client = make_client(mode, transport)
    with pytest.raises(llmcost.PolicyViolation):
        await invoke(client.chat.completions.create, model="gpt-4o", messages=MESSAGES)
    assert transport.requests == []


async def test_policy_default_cap_is_sent(mode, transport):
    llmcost.configure(policy=llmcost.Policy(default_max_tokens=256))
    llmcost.instrument("openai")
    client = make_client(mode, transport)
    await invoke(client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES)
    assert transport.request_json()["max_completion_tokens"] == 256


async def test_unknown_model_raise_sends_nothing(mode, transport):
    llmcost.configure(unknown_model="raise")
    llmcost.instrument("openai")
    client = make_client(mode, transport)
    with pytest.raises(llmcost.UnknownModelError):
        await invoke(client.chat.completions.create, model="my-own-model", messages=MESSAGES)
    assert transport.requests == []


async def test_usage_parts_mapping(sink, mode):
    """Audio, cache writes and their long-retention part land in their own fields."""
    usage = {
        "input_tokens": 2000,
        "cache_read_tokens": 500,
        "cache_write_tokens": 1000,
        "cache_write_1h_tokens": 400,
        "output_tokens": 100,
        "reasoning_tokens": 40,
    }
    client = make_client(mode, FakeOpenAITransport(usage=usage))
    await invoke(client.responses.create, model="gpt-4.1-nano", input="hi")
    assert sink.records[0].usage == Usage(**usage)
    client = make_client(
        mode,
        FakeOpenAITransport(usage={**USAGE, "input_audio_tokens": 7, "output_audio_tokens": 3}),
    )
    await invoke(client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES)
    record = sink.records[1]
    assert (record.input_audio_tokens, record.output_audio_tokens) == (7, 3)


@pytest.mark.parametrize(
    ("path", "kwargs", "name"),
    [
        (
            "responses.create",
            {"model": "gpt-4.1-nano", "input": "4+5?"},
            "responses_reasoning.json",
        ),
        ("completions.create", {"model": "gpt-3.5-turbo-instruct", "prompt": "4+5?"}, None),
    ],
)
async def test_missing_usage_estimates_every_operation(sink, mode, path, kwargs, name):
    from llmcost.testing._openai import _body

    data = body(name) if name else _body(FakeOpenAITransport(), "completions", kwargs, 1)
    del data["usage"]
    client = make_client(mode, FakeOpenAITransport(body=data))
    target = client
    for part in path.split("."):
        target = getattr(target, part)
    await invoke(target, **kwargs)
    [record] = sink.records
    assert record.estimated is True
    assert record.output_tokens > 0
    assert record.input_tokens > 0


async def test_streamed_tool_call_arguments_are_estimated(sink, mode):
    chunk = (
        '{"id":"chatcmpl-t","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini",'
        '"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function",'
        '"function":{"name":"get_weather","arguments":"{\\"city\\": \\"Paris\\"}"}}]},'
        '"finish_reason":null}]}'
    )
    client = make_client(mode, FakeOpenAITransport(sse=f"data: {chunk}\n\ndata: [DONE]\n\n"))
    stream = await invoke(
        client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    await consume(stream)
    [record] = sink.records
    assert record.estimated is True
    assert record.output_tokens == llmcost.tokens.count_tokens('{"city": "Paris"}', "gpt-4o-mini")


async def test_async_streaming_response_text_records_usage(sink):
    client = make_client("async", FakeOpenAITransport(usage=USAGE))
    async with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    ) as response:
        text = await response.text()
    assert '"prompt_tokens":1200' in text.replace(" ", "")
    assert sink.records[0].usage == Usage(**USAGE)
