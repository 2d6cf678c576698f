"""The usage fields that carry issue 17's billed dimensions: cached audio, image tokens and
web searches (Chat Completions search models, Responses ``tool_usage`` and tool kinds), read
from SDK objects and raw JSON, and priced end to end through the real SDK client."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from openai.types.completion_usage import CompletionUsage

import llmcost
from llmcost.integrations import _openai_usage as mapping
from llmcost.testing import FakeOpenAITransport, fake_openai_client
from llmcost.types import Usage

MESSAGES = [{"role": "user", "content": "Hi"}]

CHAT_USAGE = {
    "prompt_tokens": 10_000,
    "completion_tokens": 100,
    "total_tokens": 10_100,
    "prompt_tokens_details": {
        "cached_tokens": 6000,
        "audio_tokens": 5000,
        "image_tokens": 2000,
        "cached_tokens_details": {"audio_tokens": 4000, "image_tokens": 1000},
    },
}
CHAT_EXPECTED = Usage(
    input_tokens=10_000,
    cache_read_tokens=6000,
    input_audio_tokens=5000,
    input_image_tokens=2000,
    cache_read_audio_tokens=4000,
    cache_read_image_tokens=1000,
    output_tokens=100,
)


def test_cached_audio_and_image_details_are_read() -> None:
    """prompt_tokens_details.{audio,image}_tokens and cached_tokens_details.* map to their
    Usage parts, from JSON and from the SDK's object (details it does not declare included)."""
    assert mapping.chat_usage(CHAT_USAGE) == CHAT_EXPECTED
    assert mapping.chat_usage(CompletionUsage.model_validate(CHAT_USAGE)) == CHAT_EXPECTED


def test_cached_audio_larger_than_audio_is_refused_by_name() -> None:
    """A cached-audio count above the audio count is a provider inconsistency, named."""
    bad: dict[str, Any] = {
        **CHAT_USAGE,
        "prompt_tokens_details": {
            "cached_tokens": 6000,
            "audio_tokens": 10,
            "cached_tokens_details": {"audio_tokens": 4000},
        },
    }
    with pytest.raises(ValueError, match="cache_read_audio_tokens"):
        mapping.chat_usage(bad)


def test_responses_web_searches_prefer_the_billed_count() -> None:
    """tool_usage.web_search.num_requests (billable searches) wins over counting items."""
    body = {
        "usage": {"input_tokens": 10, "output_tokens": 5},
        "output": [{"type": "web_search_call"}] * 3,
        "tool_usage": {"web_search": {"num_requests": 2}, "image_gen": {}},
        "tools": [{"type": "web_search"}],
    }
    usage = mapping.usage_for("responses", body)
    assert usage is not None
    assert (usage.web_search_requests, usage.web_search_preview_requests) == (2, 0)
    del body["tool_usage"]
    assert mapping.web_search_counts(body) == (3, 0)


@pytest.mark.parametrize(
    ("tools", "preview"),
    [
        ([{"type": "web_search_preview"}], 2),
        ([{"type": "web_search_preview_2025_03_11"}], 2),
        ([{"type": "web_search"}], 0),
        ([{"type": "web_search"}, {"type": "web_search_preview"}], 0),
        ([], 0),
    ],
)
def test_preview_searches_follow_the_tools_offered(tools: list[Any], preview: int) -> None:
    """Searches are web_search_preview ones only when the response offers only that tool."""
    body = {"output": [{"type": "web_search_call"}] * 2, "tools": tools}
    assert mapping.web_search_counts(body) == (2, preview)


def test_a_malformed_search_count_is_named() -> None:
    """A non-integer billed search count raises, naming where it came from."""
    body = {
        "usage": {"input_tokens": 1, "output_tokens": 1},
        "tool_usage": {"web_search": {"num_requests": "2"}},
    }
    with pytest.raises(ValueError, match=r"tool_usage\.web_search\.num_requests"):
        mapping.usage_for("responses", body)


@pytest.mark.parametrize(
    ("model", "searches"),
    [
        ("gpt-4o-search-preview-2025-03-11", 1),
        ("gpt-4o-mini-search-preview", 1),
        ("gpt-5-search-api", 1),
        ("gpt-4o-mini", 0),
    ],
)
def test_chat_completions_from_search_models_made_one_search(model: str, searches: int) -> None:
    """Search models search before every answer: one billed search per chat completion."""
    body = {"model": model, "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    usage = mapping.usage_for("chat", body)
    assert usage is not None
    assert usage.web_search_requests == searches


def test_a_search_preview_chat_call_is_charged_its_search_fee(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """End to end through the real client: gpt-4o-search-preview's per-call fee ($25 per
    1,000) is on the record, counted as one web search."""
    client = fake_openai_client(
        transport=FakeOpenAITransport(
            usage={"input_tokens": 1000, "output_tokens": 100},
            model="gpt-4o-search-preview-2025-03-11",
        )
    )
    client.chat.completions.create(model="gpt-4o-search-preview", messages=MESSAGES)
    llmcost.flush()
    (record,) = sink.records
    assert record.web_search_requests == 1
    assert record.tool_cost_usd == Decimal("0.025")
    # $2.50 in, $10 out per 1M
    assert record.total_cost_usd == Decimal("0.0025") + Decimal("0.001") + Decimal("0.025")


def test_a_preview_tool_search_in_responses_is_charged_the_preview_fee(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """End to end: a Responses call on gpt-4.1 that ran two web_search_preview searches is
    charged $0.025 each; the same with the web_search tool, $0.01 each."""
    for tool in ("web_search_preview", "web_search"):
        transport = FakeOpenAITransport(
            body={
                "id": "resp_1",
                "object": "response",
                "created_at": 1,
                "model": "gpt-4.1-2025-04-14",
                "status": "completed",
                "output": [
                    {"type": "web_search_call", "id": f"ws_{i}", "status": "completed"}
                    for i in range(2)
                ],
                "tools": [{"type": tool}],
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "usage": {
                    "input_tokens": 0,
                    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                    "output_tokens": 0,
                    "output_tokens_details": {"reasoning_tokens": 0},
                    "total_tokens": 0,
                },
            }
        )
        client = fake_openai_client(transport=transport)
        client.responses.create(model="gpt-4.1", input="news?", tools=[{"type": tool}])  # type: ignore[list-item]
    llmcost.flush()
    preview, plain = sink.records
    assert (preview.web_search_requests, preview.web_search_preview_requests) == (2, 2)
    assert preview.tool_cost_usd == Decimal("0.05")
    assert (plain.web_search_requests, plain.web_search_preview_requests) == (2, 0)
    assert plain.tool_cost_usd == Decimal("0.02")


def test_a_streamed_search_preview_chat_call_is_charged_its_search_fee(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """Streams too: the model the chunks report makes the one search count."""
    client = fake_openai_client(
        transport=FakeOpenAITransport(
            usage={"input_tokens": 1000, "output_tokens": 100},
            model="gpt-4o-search-preview-2025-03-11",
        )
    )
    stream = client.chat.completions.create(
        model="gpt-4o-search-preview",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert list(stream)
    llmcost.flush()
    (record,) = sink.records
    assert record.stream is True
    assert record.web_search_requests == 1
    assert record.tool_cost_usd == Decimal("0.025")


def test_a_streamed_responses_call_counts_preview_searches(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """A streamed Responses call reads the searches and the tools from its final response."""
    completed = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "gpt-4.1-2025-04-14",
        "status": "completed",
        "output": [{"type": "web_search_call", "id": "ws_1", "status": "completed"}],
        "tools": [{"type": "web_search_preview"}],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "usage": {
            "input_tokens": 0,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 0,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 0,
        },
    }
    events = [
        {"type": kind, "sequence_number": i, "response": completed}
        for i, kind in enumerate(("response.created", "response.completed"))
    ]
    sse = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    client = fake_openai_client(transport=FakeOpenAITransport(sse=sse))
    assert list(
        client.responses.create(
            model="gpt-4.1", input="news?", tools=[{"type": "web_search_preview"}], stream=True
        )
    )
    llmcost.flush()
    (record,) = sink.records
    assert (record.web_search_requests, record.web_search_preview_requests) == (1, 1)
    assert record.tool_cost_usd == Decimal("0.025")
