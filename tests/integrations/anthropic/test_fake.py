"""The fake Anthropic provider itself: what other tests, docs and the demo rely on."""

from __future__ import annotations

import asyncio
import json
import time

import anthropic
import pytest

from llmcost.testing import (
    FakeAnthropicTransport,
    fake_anthropic_client,
    fake_async_anthropic_client,
)

ASK = {
    "model": "claude-haiku-4-5",
    "max_tokens": 10,
    "messages": [{"role": "user", "content": "Hi"}],
}


def test_usage_is_translated_to_anthropic_terms() -> None:
    """llmcost input includes the cache; Anthropic's input_tokens does not."""
    client = fake_anthropic_client(
        usage={
            "input_tokens": 1500,
            "cache_read_tokens": 1000,
            "cache_write_tokens": 300,
            "cache_write_1h_tokens": 100,
            "output_tokens": 20,
        }
    )
    usage = client.messages.create(**ASK).usage
    assert (
        usage.input_tokens,
        usage.cache_read_input_tokens,
        usage.cache_creation_input_tokens,
    ) == (200, 1000, 300)
    assert usage.cache_creation is not None
    assert (
        usage.cache_creation.ephemeral_5m_input_tokens,
        usage.cache_creation.ephemeral_1h_input_tokens,
    ) == (200, 100)


def test_stream_has_the_real_event_sequence() -> None:
    """message_start with input usage, text deltas, a cumulative message_delta, message_stop."""
    transport = FakeAnthropicTransport(usage={"input_tokens": 30, "output_tokens": 8}, text="a b c")
    client = fake_anthropic_client(transport=transport)
    events = list(client.messages.create(**ASK, stream=True))
    assert [e.type for e in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[0].message.usage.input_tokens == 30
    assert events[0].message.usage.output_tokens == 1
    assert events[-2].usage.output_tokens == 8
    assert events[-2].usage.input_tokens is None
    assert json.loads(transport.requests[0].content)["stream"] is True


def test_repeat_usage_in_delta_repeats_input_and_cache() -> None:
    """The newer stream shape repeats input and cache counts in message_delta."""
    client = fake_anthropic_client(
        repeat_usage_in_delta=True,
        usage={"input_tokens": 50, "cache_read_tokens": 40, "output_tokens": 3},
    )
    delta = next(e for e in client.messages.create(**ASK, stream=True) if e.type == "message_delta")
    assert (delta.usage.input_tokens, delta.usage.cache_read_input_tokens) == (10, 40)


def test_every_response_is_marked_replayed_and_has_a_request_id() -> None:
    """The replay header and a request-id are on every response, errors included."""
    client = fake_anthropic_client()
    raw = client.messages.with_raw_response.create(**ASK)
    assert raw.headers["x-llmcost-replayed"] == "1"
    assert raw.headers["request-id"].startswith("req_fake_")
    failing = fake_anthropic_client(error="rate_limit", request_id="req_fixed")
    with pytest.raises(anthropic.RateLimitError) as caught:
        failing.messages.create(**ASK)
    assert caught.value.response.headers["x-llmcost-replayed"] == "1"
    assert caught.value.request_id == "req_fixed"


def test_requests_are_kept_in_order() -> None:
    """transport.requests lists every request received, bodies readable."""
    transport = FakeAnthropicTransport()
    client = fake_anthropic_client(transport=transport)
    client.messages.create(**ASK)
    client.messages.count_tokens(model="claude-haiku-4-5", messages=ASK["messages"])
    assert [r.url.path for r in transport.requests] == ["/v1/messages", "/v1/messages/count_tokens"]
    assert json.loads(transport.requests[0].content)["model"] == "claude-haiku-4-5"


def test_model_option_overrides_the_reported_model() -> None:
    """``model=`` is what responses report; by default the requested model is echoed."""
    assert fake_anthropic_client(model="claude-haiku-4-5-20251001").messages.create(
        **ASK
    ).model == ("claude-haiku-4-5-20251001")
    assert fake_anthropic_client().messages.create(**ASK).model == "claude-haiku-4-5"


def test_async_latency_does_not_block_the_loop() -> None:
    """Two concurrent async calls with 0.3 s latency each take about 0.3 s, not 0.6 s."""
    client = fake_async_anthropic_client(latency=0.3)

    async def two() -> float:
        started = time.perf_counter()
        await asyncio.gather(client.messages.create(**ASK), client.messages.create(**ASK))
        return time.perf_counter() - started

    assert asyncio.run(two()) < 0.55


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"usage": {"prompt_tokens": 3}}, "unknown field"),
        ({"usage": {"input_tokens": 3, "cache_read_tokens": 5}}, "exceed input_tokens"),
        ({"error": "teapot"}, "error must be one of"),
        ({"latency": -1}, "latency"),
    ],
)
def test_bad_options_are_refused_with_a_clear_error(
    options: dict[str, object], message: str
) -> None:
    """Bad fake options name what is wrong."""
    with pytest.raises((TypeError, ValueError), match=message):
        FakeAnthropicTransport(**options)  # type: ignore[arg-type]


def test_transport_and_options_are_exclusive() -> None:
    """Passing a transport and transport options together is an error."""
    with pytest.raises(TypeError, match="either transport"):
        fake_anthropic_client(transport=FakeAnthropicTransport(), text="x")
