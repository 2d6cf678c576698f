"""The pure Gemini readers: usage_metadata in llmcost terms, ids, embeddings, streams."""

from __future__ import annotations

import doctest
from decimal import Decimal
from typing import Any

import pytest
from google.genai import types
from hypothesis import given
from hypothesis import strategies as st

from llmcost.integrations import _gemini_usage
from llmcost.integrations._gemini_usage import (
    GeminiStream,
    MalformedUsage,
    embedding_usage,
    model_name,
    output_text,
    response_fields,
    usage_from_gemini,
)
from llmcost.pricing import cost


def test_docstring_examples() -> None:
    """The examples in the module's docstrings run and hold."""
    assert doctest.testmod(_gemini_usage).failed == 0


def test_sdk_object_and_json_read_alike() -> None:
    """The SDK's pydantic usage object and the API's JSON (snake_case) give the same usage."""
    data = {
        "prompt_token_count": 1607,
        "cached_content_token_count": 1000,
        "candidates_token_count": 95,
        "thoughts_token_count": 40,
        "tool_use_prompt_token_count": 3,
        "prompt_tokens_details": [
            {"modality": "TEXT", "token_count": 7},
            {"modality": "AUDIO", "token_count": 1600},
        ],
        "cache_tokens_details": [{"modality": "AUDIO", "token_count": 1000}],
        "candidates_tokens_details": [{"modality": "AUDIO", "token_count": 90}],
    }
    sdk = types.GenerateContentResponseUsageMetadata.model_validate(data)
    assert usage_from_gemini(sdk) == usage_from_gemini(data)
    usage = usage_from_gemini(sdk)
    assert usage is not None
    assert (usage.input_tokens, usage.cache_read_tokens) == (1610, 1000)
    # The cached audio is a cache read: only the other 600 audio tokens are audio input.
    assert usage.input_audio_tokens == 600
    assert (usage.output_tokens, usage.reasoning_tokens, usage.output_audio_tokens) == (135, 40, 90)


def test_tool_use_prompt_audio_counts_as_audio_input() -> None:
    """Audio in tool results is audio input too."""
    usage = usage_from_gemini(
        {
            "prompt_token_count": 10,
            "tool_use_prompt_token_count": 64,
            "tool_use_prompt_tokens_details": [{"modality": "AUDIO", "token_count": 64}],
        }
    )
    assert usage is not None
    assert (usage.input_tokens, usage.input_audio_tokens, usage.output_tokens) == (74, 64, 0)


@pytest.mark.parametrize("metadata", [None, {}, {"candidates_token_count": 4}])
def test_no_prompt_count_is_no_usage(metadata: Any) -> None:
    """Without a prompt count there is nothing to bill from: None, never a zero usage."""
    assert usage_from_gemini(metadata) is None


@pytest.mark.parametrize(
    ("metadata", "named"),
    [
        ({"prompt_token_count": -1}, "prompt_token_count"),
        ({"prompt_token_count": True}, "prompt_token_count"),
        ({"prompt_token_count": 5, "candidates_token_count": "7"}, "candidates_token_count"),
        ({"prompt_token_count": 5, "thoughts_token_count": 1.5}, "thoughts_token_count"),
        ({"prompt_token_count": 5, "prompt_tokens_details": "AUDIO"}, "prompt_tokens_details"),
        ({"prompt_token_count": 5, "cached_content_token_count": 6}, "cache_read_tokens"),
    ],
)
def test_malformed_usage_names_the_field(metadata: dict[str, Any], named: str) -> None:
    """A count that is not a count >= 0, or parts larger than the whole, is named."""
    with pytest.raises(MalformedUsage, match=named):
        usage_from_gemini(metadata)


def test_omitted_counts_are_zero() -> None:
    """The API leaves zero counts out of its JSON (proto3): an omitted count is 0 tokens."""
    usage = usage_from_gemini(
        {"prompt_token_count": 5, "prompt_tokens_details": [{"modality": "AUDIO"}]}
    )
    assert usage is not None
    assert (usage.input_tokens, usage.input_audio_tokens, usage.output_tokens) == (5, 0, 0)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gemini-2.5-flash", "gemini-2.5-flash"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("publishers/google/models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("projects/p/locations/global/publishers/google/models/gemini-3-pro", "gemini-3-pro"),
        ("models/", None),
        ("", None),
        (None, None),
        (42, None),
    ],
)
def test_model_name_drops_the_resource_path(name: Any, expected: str | None) -> None:
    """Resource paths resolve to the model id the catalog knows."""
    assert model_name(name) == expected


def test_response_fields_from_an_sdk_response() -> None:
    """Ids, the reported model, Vertex AI's traffic type and a request id header are read."""
    response = types.GenerateContentResponse.model_validate(
        {
            "response_id": "abc",
            "model_version": "gemini-2.5-flash",
            "usage_metadata": {"prompt_token_count": 1, "traffic_type": "ON_DEMAND_PRIORITY"},
            "sdk_http_response": {"headers": {"x-goog-request-id": "rq-1"}},
        }
    )
    assert response_fields(response) == {
        "response_id": "abc",
        "response_model": "gemini-2.5-flash",
        "service_tier": "priority",
        "request_id": "rq-1",
    }


@pytest.mark.parametrize(
    ("traffic", "tier"),
    [
        ("ON_DEMAND", "standard"),
        ("ON_DEMAND_FLEX", "flex"),
        ("PROVISIONED_THROUGHPUT", "provisioned_throughput"),
        ("SOMETHING_NEW", None),
        (None, None),
    ],
)
def test_traffic_type_as_service_tier(traffic: str | None, tier: str | None) -> None:
    """Known traffic types map to the tier that prices them; unknown ones are left out."""
    response = {"usage_metadata": {"prompt_token_count": 1, "traffic_type": traffic}}
    assert response_fields(response)["service_tier"] == tier


def test_response_fields_of_nothing() -> None:
    """An empty response reports no fields rather than failing."""
    assert set(response_fields({}).values()) == {None}


def test_output_text_includes_thoughts_and_skips_non_text() -> None:
    """Thought summaries are billed output, so their text counts; other parts do not."""
    response = {
        "candidates": [
            {
                "content": {
                    "parts": [
                        {"text": "Let me think. ", "thought": True},
                        {"function_call": {"name": "f", "args": {}}},
                        {"text": "Done."},
                    ]
                }
            },
            {"content": None},
        ]
    }
    assert output_text(response) == "Let me think. Done."
    assert output_text({}) == ""


def test_embedding_usage_from_either_platform() -> None:
    """Gemini API usage_metadata, or Vertex AI per-embedding statistics, or None."""
    gemini = {"embeddings": [{"values": [0.1]}], "usage_metadata": {"prompt_token_count": 9}}
    assert embedding_usage(gemini).input_tokens == 9  # type: ignore[union-attr]
    if "usage_metadata" in types.EmbedContentResponse.model_fields:  # google-genai >= 3.x
        sdk = types.EmbedContentResponse.model_validate(gemini)
        assert embedding_usage(sdk).input_tokens == 9  # type: ignore[union-attr]
    vertex = types.EmbedContentResponse.model_validate(
        {"embeddings": [{"statistics": {"token_count": 4.0}}, {"statistics": {"token_count": 3}}]}
    )
    usage = embedding_usage(vertex)
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (7, 0)
    assert embedding_usage({"embeddings": [{"values": [0.1]}]}) is None
    with pytest.raises(MalformedUsage, match="token_count"):
        embedding_usage({"embeddings": [{"statistics": {"token_count": 2.5}}]})


def test_stream_keeps_the_last_usage_and_the_ids() -> None:
    """Chunks without usage keep the last block; ids the last chunk omits come from the
    first; a finish reason on the last chunk says the stream was complete."""
    stream = GeminiStream()
    assert stream.usage() is None
    stream.feed(
        {
            "response_id": "r1",
            "model_version": "gemini-2.5-flash",
            "usage_metadata": {"prompt_token_count": 5},
        }
    )
    stream.feed({"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]})
    assert not stream.finished()
    stream.feed({"usage_metadata": {"prompt_token_count": 5, "candidates_token_count": 2}})
    stream.feed({"candidates": [{"finish_reason": "STOP"}]})
    assert stream.finished()
    usage = stream.usage()
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (5, 2)
    assert stream.fields() == {
        "response_id": "r1",
        "response_model": "gemini-2.5-flash",
        "service_tier": None,
        "request_id": None,
    }


counts = st.integers(min_value=0, max_value=10**9)


@given(
    prompt=counts,
    cached_share=st.floats(min_value=0, max_value=1),
    candidates=counts,
    thoughts=counts,
    tool=counts,
)
def test_usage_properties(
    prompt: int, cached_share: float, candidates: int, thoughts: int, tool: int
) -> None:
    """Input = prompt + tool results, output = answer + thoughts, nothing counted twice; the
    price's total is the exact sum of its parts."""
    cached = int(prompt * cached_share)
    usage = usage_from_gemini(
        {
            "prompt_token_count": prompt,
            "cached_content_token_count": cached,
            "candidates_token_count": candidates,
            "thoughts_token_count": thoughts,
            "tool_use_prompt_token_count": tool,
        }
    )
    assert usage is not None
    assert usage.input_tokens == prompt + tool
    assert usage.cache_read_tokens == cached
    assert usage.output_tokens == candidates + thoughts
    assert usage.reasoning_tokens == thoughts
    priced = cost("gemini-2.5-pro", usage, provider="gcp.gemini")
    parts = (priced.input_cost_usd, priced.cache_read_cost_usd, priced.output_cost_usd)
    assert priced.total_cost_usd == sum(parts, Decimal(0))  # type: ignore[arg-type]
    # The long-context cliff: above 200k input tokens, every token is at the higher rate.
    rate = Decimal("15") if usage.input_tokens > 200_000 else Decimal("10")
    assert priced.output_cost_usd == usage.output_tokens * rate / 1_000_000


@given(st.lists(st.tuples(counts, counts), min_size=1, max_size=20))
def test_stream_usage_is_the_last_chunk_never_a_sum(chunks: list[tuple[int, int]]) -> None:
    """Whatever the chunks report, the stream's usage is the last report."""
    stream = GeminiStream()
    for prompt, candidates in chunks:
        stream.feed(
            {
                "usage_metadata": {
                    "prompt_token_count": prompt,
                    "candidates_token_count": candidates,
                }
            }
        )
    usage = stream.usage()
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == chunks[-1]
