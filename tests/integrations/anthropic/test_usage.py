"""Usage in llmcost terms: cache reads and writes, 1-hour writes, tiers, speed, tools, streams."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmcost
from llmcost.integrations._anthropic_usage import (
    MalformedUsage,
    StreamUsage,
    usage_from_anthropic,
)
from llmcost.testing import fake_anthropic_client, fake_async_anthropic_client

ASK: dict[str, Any] = {
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "Summarise the articles."}],
}
M = Decimal(1_000_000)


def _call(stream: bool, model: str = "claude-sonnet-4-6", **fake: Any) -> llmcost.CostRecord:
    client = fake_anthropic_client(**fake)
    if stream:
        with client.messages.stream(model=model, **ASK) as events:
            events.until_done()
    else:
        client.messages.create(model=model, **ASK)
    return _last()


_SINK: list[llmcost.sinks.MemorySink] = []


def _last() -> llmcost.CostRecord:
    [record] = _SINK[0].records[-1:]
    return record


@pytest.fixture(autouse=True)
def _remember_sink(sink: llmcost.sinks.MemorySink) -> Any:
    _SINK[:] = [sink]
    yield
    _SINK.clear()


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_cache_writes_split_5m_and_1h(stream: bool) -> None:
    """1-hour writes are a part of the writes, priced at their own rate."""
    record = _call(
        stream,
        usage={
            "input_tokens": 2000,
            "cache_write_tokens": 1500,
            "cache_write_1h_tokens": 1000,
            "output_tokens": 100,
        },
    )
    assert (record.input_tokens, record.cache_write_tokens, record.cache_write_1h_tokens) == (
        2000,
        1500,
        1000,
    )
    assert record.input_cost_usd == 500 * Decimal(3) / M
    assert record.cache_write_cost_usd == (500 * Decimal("3.75") + 1000 * Decimal(6)) / M
    assert record.output_cost_usd == 100 * Decimal(15) / M
    assert record.total_cost_usd == Decimal("0.010875")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_cache_reads_are_part_of_input(stream: bool) -> None:
    """Anthropic's input_tokens excludes cache reads; the record's includes them."""
    record = _call(
        stream, usage={"input_tokens": 1167, "cache_read_tokens": 1163, "output_tokens": 202}
    )
    assert (record.input_tokens, record.cache_read_tokens, record.cache_write_tokens) == (
        1167,
        1163,
        0,
    )
    assert record.cache_read_cost_usd == 1163 * Decimal("0.3") / M
    assert record.input_cost_usd == 4 * Decimal(3) / M


def test_stream_repeating_input_in_delta_is_not_double_counted() -> None:
    """Newer streams repeat input and cache counts in message_delta: counted once."""
    record = _call(
        True,
        repeat_usage_in_delta=True,
        usage={
            "input_tokens": 1200,
            "cache_read_tokens": 1000,
            "cache_write_tokens": 150,
            "output_tokens": 9,
        },
    )
    assert (record.input_tokens, record.cache_read_tokens, record.cache_write_tokens) == (
        1200,
        1000,
        150,
    )
    assert record.output_tokens == 9
    assert record.estimated is False


def test_delta_values_win_over_message_start(
    mock_client: Any, http: Any, bodies: Any, sink: llmcost.sinks.MemorySink
) -> None:
    """The last reported value of each field wins; output is replaced, never added."""
    events = bodies.stream(
        "claude-sonnet-4-6",
        {"input_tokens": 19, "cache_read_input_tokens": 0, "output_tokens": 1},
        {"input_tokens": 25, "cache_read_input_tokens": 100, "output_tokens": 9},
    )
    client = mock_client(http.stream(events))
    for _ in client.messages.create(model="claude-sonnet-4-6", stream=True, **ASK):
        pass
    [record] = sink.records
    assert (record.input_tokens, record.cache_read_tokens, record.output_tokens) == (125, 100, 9)


def test_legacy_delta_without_input_keeps_message_start_input(
    mock_client: Any, http: Any, bodies: Any, sink: llmcost.sinks.MemorySink
) -> None:
    """Modelled on a 2024 stream: start reports 17 in / 3 out, the delta 171 out in total."""
    events = bodies.stream(
        "claude-3-haiku-20240307",
        {"input_tokens": 17, "output_tokens": 3},
        {"output_tokens": 171},
    )
    client = mock_client(http.stream(events, request_id="req_01ProjectLegacyStream"))
    for _ in client.messages.create(model="claude-3-haiku-20240307", stream=True, **ASK):
        pass
    [record] = sink.records
    assert (record.input_tokens, record.output_tokens) == (17, 171)
    assert record.total_cost_usd == (17 * Decimal("0.25") + 171 * Decimal("1.25")) / M
    assert record.request_id == "req_01ProjectLegacyStream"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_batch_tier_is_priced_as_batch(stream: bool) -> None:
    """usage.service_tier == "batch" marks the record batch and halves the price."""
    record = _call(stream, service_tier="batch", usage={"input_tokens": 1000, "output_tokens": 100})
    assert record.service_tier == "batch"
    assert record.batch is True
    assert record.total_cost_usd == (1000 * Decimal(3) + 100 * Decimal(15)) / M / 2


def test_priority_tier_is_reported_as_served() -> None:
    """A tier the catalog has no price for is recorded as served and billed as standard."""
    record = _call(
        False, service_tier="priority", usage={"input_tokens": 1000, "output_tokens": 100}
    )
    assert record.service_tier == "priority"
    assert record.batch is False
    assert record.total_cost_usd == Decimal("0.0045")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_fast_mode_is_priced_at_the_fast_rate(stream: bool) -> None:
    """usage.speed == "fast" reaches the record and doubles the rate where the catalog says so."""
    record = _call(
        stream,
        model="claude-opus-4-8",
        speed="fast",
        usage={"input_tokens": 1000, "output_tokens": 100},
    )
    assert record.speed == "fast"
    assert record.total_cost_usd == (1000 * Decimal(5) + 100 * Decimal(25)) / M * 2


def test_inference_geo_is_recorded_and_priced() -> None:
    """US-only inference is recorded and carries the catalog's geo multiplier."""
    record = _call(False, inference_geo="us", usage={"input_tokens": 1000, "output_tokens": 100})
    assert record.inference_geo == "us"
    assert record.total_cost_usd == Decimal("0.0045") * Decimal("1.1")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_web_search_requests_are_priced_per_request(stream: bool) -> None:
    """server_tool_use.web_search_requests becomes web_search_requests and a tool cost."""
    record = _call(
        stream, usage={"input_tokens": 1000, "output_tokens": 100, "web_search_requests": 3}
    )
    assert record.web_search_requests == 3
    assert record.tool_cost_usd == Decimal("0.03")
    assert record.total_cost_usd == Decimal("0.0345")


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_thinking_tokens_are_reasoning_inside_output(stream: bool) -> None:
    """output_tokens_details.thinking_tokens is the reasoning part of the output."""
    record = _call(
        stream, usage={"input_tokens": 100, "output_tokens": 500, "reasoning_tokens": 380}
    )
    assert (record.output_tokens, record.reasoning_tokens) == (500, 380)
    assert record.output_cost_usd == 500 * Decimal(15) / M


def test_async_stream_cache_usage() -> None:
    """The async stream helper reports the same cache split as the sync one."""
    client = fake_async_anthropic_client(
        usage={"input_tokens": 1169, "cache_write_tokens": 1165, "output_tokens": 201}
    )

    async def consume() -> None:
        async with client.messages.stream(model="claude-sonnet-4-6", **ASK) as events:
            await events.get_final_message()

    asyncio.run(consume())
    record = _last()
    assert (record.input_tokens, record.cache_write_tokens, record.output_tokens) == (
        1169,
        1165,
        201,
    )


# --- the extraction functions on their own ----------------------------------------------------


counts = st.integers(min_value=0, max_value=10**9)


@settings(max_examples=60, deadline=None)
@given(plain=counts, read=counts, write_5m=counts, write_1h=counts, output=counts)
def test_usage_sum_is_exact(
    plain: int, read: int, write_5m: int, write_1h: int, output: int
) -> None:
    """input = plain + reads + writes; the 1-hour part never exceeds the writes."""
    usage = usage_from_anthropic(
        {
            "input_tokens": plain,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write_5m + write_1h,
            "cache_creation": {
                "ephemeral_5m_input_tokens": write_5m,
                "ephemeral_1h_input_tokens": write_1h,
            },
            "output_tokens": output,
        }
    )
    assert usage.input_tokens == plain + read + write_5m + write_1h
    assert usage.uncached_input_tokens == plain
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (read, write_5m + write_1h)
    assert usage.cache_write_1h_tokens == write_1h
    assert usage.output_tokens == output


@settings(max_examples=60, deadline=None)
@given(totals=st.lists(counts, min_size=1, max_size=6))
def test_repeated_deltas_keep_the_last_total(totals: list[int]) -> None:
    """However many cumulative deltas arrive, the output is the last one, never a sum."""
    state = StreamUsage()
    state.take({"input_tokens": 10, "output_tokens": 1}, output_required=True)
    for total in totals:
        state.take({"output_tokens": total})
    assert state.usage().output_tokens == totals[-1]
    assert state.usage().input_tokens == 10


@pytest.mark.parametrize(
    ("usage", "field"),
    [
        ({"input_tokens": "12", "output_tokens": 3}, "input_tokens"),
        ({"input_tokens": 12, "output_tokens": -1}, "output_tokens"),
        ({"input_tokens": 12, "output_tokens": True}, "output_tokens"),
        ({"output_tokens": 3}, "input_tokens"),
        (
            {"input_tokens": 1, "output_tokens": 3, "cache_read_input_tokens": 2.5},
            "cache_read_input_tokens",
        ),
    ],
)
def test_malformed_counts_name_the_field(usage: dict[str, Any], field: str) -> None:
    """A count that is not a non-negative int is refused with the field's name."""
    with pytest.raises(MalformedUsage, match=field):
        usage_from_anthropic(usage)


def test_inconsistent_breakdown_is_refused() -> None:
    """A 1-hour part larger than the writes it splits is a provider inconsistency."""
    with pytest.raises(MalformedUsage, match="inconsistent"):
        usage_from_anthropic(
            {
                "input_tokens": 1,
                "output_tokens": 1,
                "cache_creation_input_tokens": 5,
                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 9},
            }
        )
