"""OpenAI usage blocks -> llmcost.Usage, for SDK objects and raw JSON alike."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.completion_usage import CompletionUsage
from openai.types.responses.response_usage import ResponseUsage

from llmcost.integrations import _openai_usage as mapping
from llmcost.testing import _openai as fake
from llmcost.types import Usage

from .conftest import body


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("chat_completion.json", Usage(input_tokens=15, output_tokens=31)),
        (
            "chat_reasoning.json",
            Usage(input_tokens=11, output_tokens=228, reasoning_tokens=192),
        ),
        (
            "chat_cached.json",
            Usage(input_tokens=1149, cache_read_tokens=1024, output_tokens=353),
        ),
        ("chat_audio.json", Usage(input_tokens=21, input_audio_tokens=2, output_tokens=1)),
    ],
)
def test_chat_bodies(name, expected):
    data = body(name)
    assert mapping.usage_for("chat", data) == expected
    assert mapping.chat_usage(CompletionUsage.model_validate(data["usage"])) == expected


def test_responses_and_embeddings_bodies():
    assert mapping.usage_for("responses", body("responses_reasoning.json")) == Usage(
        input_tokens=11, output_tokens=131, reasoning_tokens=64
    )
    assert mapping.usage_for("embeddings", body("embeddings.json")) == Usage(input_tokens=8)


def test_responses_cache_writes_and_long_retention():
    usage = ResponseUsage.model_validate(
        {
            "input_tokens": 5000,
            "input_tokens_details": {
                "cached_tokens": 1000,
                "cache_write_tokens": 3000,
                "cache_write_tokens_details": {"ttl_12h_tokens": 2000, "ttl_30m_tokens": 1000},
            },
            "output_tokens": 10,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 5010,
        }
    )
    assert mapping.responses_usage(usage) == Usage(
        input_tokens=5000,
        cache_read_tokens=1000,
        cache_write_tokens=3000,
        cache_write_1h_tokens=2000,
        output_tokens=10,
    )


def test_chat_cache_writes():
    data = {
        "prompt_tokens": 100,
        "completion_tokens": 1,
        "prompt_tokens_details": {"cached_tokens": 20, "cache_write_tokens": 50},
    }
    assert mapping.chat_usage(data) == Usage(
        input_tokens=100, cache_read_tokens=20, cache_write_tokens=50, output_tokens=1
    )


def test_web_search_calls_are_counted():
    data = body("responses_reasoning.json")
    data["output"].insert(0, {"type": "web_search_call", "id": "ws_1", "status": "completed"})
    assert mapping.usage_for("responses", data).web_search_requests == 1


def test_missing_usage_is_none():
    assert mapping.usage_for("chat", {"id": "x"}) is None


@pytest.mark.parametrize(
    ("usage", "message"),
    [
        ({"prompt_tokens": -1, "completion_tokens": 0}, "prompt_tokens is negative"),
        ({"prompt_tokens": "9", "completion_tokens": 0}, "prompt_tokens is not an integer"),
        ({"prompt_tokens": True, "completion_tokens": 0}, "prompt_tokens is not an integer"),
        ({"completion_tokens": 0}, "has no prompt_tokens"),
        (
            {
                "prompt_tokens": 5,
                "completion_tokens": 0,
                "prompt_tokens_details": {"cached_tokens": 9},
            },
            "parts larger than their whole",
        ),
    ],
)
def test_malformed_usage_names_the_field(usage, message):
    with pytest.raises(ValueError, match=message):
        mapping.chat_usage(usage)


counts = st.integers(min_value=0, max_value=10**9)


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    cache_read, cache_write, audio = draw(counts), draw(counts), draw(counts)
    input_tokens = cache_read + cache_write + audio + draw(counts)
    reasoning, output_audio = draw(counts), draw(counts)
    return Usage(
        input_tokens=input_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        input_audio_tokens=audio,
        output_tokens=reasoning + output_audio + draw(counts),
        reasoning_tokens=reasoning,
        output_audio_tokens=output_audio,
    )


@settings(max_examples=60, deadline=None)
@given(usages())
def test_fake_rendering_maps_back_exactly(usage):
    """What the fake provider renders in the chat shape maps back to the same Usage."""
    rendered = fake._chat_usage(usage.model_dump())
    assert mapping.chat_usage(rendered) == usage
    assert mapping.chat_usage(CompletionUsage.model_validate(rendered)) == usage
