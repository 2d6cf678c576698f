"""CostRecord, Usage and Cost: validation and the exact JSON wire format."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from llmcost.types import MONEY_FIELDS, Cost, CostRecord, Usage, dumps_exact

money = st.one_of(
    st.none(),
    st.decimals(
        min_value=Decimal(0), max_value=Decimal(10_000), allow_nan=False, allow_infinity=False
    ),
    st.decimals(min_value=Decimal(0), max_value=Decimal(1), places=12),
)
counts = st.integers(min_value=0, max_value=10_000_000)
text = st.text(min_size=0, max_size=20)
aware_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
)


@st.composite
def records(draw: st.DrawFn) -> CostRecord:
    output = draw(counts)
    reasoning = draw(st.integers(min_value=0, max_value=output))
    input_tokens = draw(counts)
    cache_read = draw(st.integers(min_value=0, max_value=input_tokens))
    return CostRecord(
        provider=draw(st.sampled_from(["openai", "anthropic", "acme"])),
        operation=draw(st.sampled_from(["chat", "responses", "messages", "embeddings"])),
        model=draw(st.one_of(st.none(), text)),
        feature=draw(st.one_of(st.none(), text)),
        tags=draw(st.dictionaries(text, text, max_size=3)),
        timestamp=draw(aware_datetimes),
        input_tokens=input_tokens,
        cache_read_tokens=cache_read,
        output_tokens=output,
        reasoning_tokens=reasoning,
        latency_ms=draw(st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False))),
        priced=draw(st.booleans()),
        status=draw(st.sampled_from(["ok", "error"])),
        **{name: draw(money) for name in MONEY_FIELDS},
    )


@settings(max_examples=150, deadline=None)
@given(records())
def test_json_round_trip_is_lossless(record: CostRecord) -> None:
    """to_json/from_json gives back an equal record: exact Decimals and UTC datetimes."""
    back = CostRecord.from_json(record.to_json())
    assert back == record
    for name in MONEY_FIELDS:
        assert getattr(back, name) == getattr(record, name)
    assert back.timestamp.tzinfo is not None
    assert back.timestamp.utcoffset() == timedelta(0)


@settings(max_examples=100, deadline=None)
@given(st.decimals(min_value=Decimal(0), max_value=Decimal(1000), places=15))
def test_money_is_a_json_number_with_the_exact_digits(amount: Decimal) -> None:
    """Money goes on the wire as a JSON number (not a string) whose text is the Decimal."""
    line = CostRecord(provider="openai", operation="chat", total_cost_usd=amount).to_json()
    assert f'"total_cost_usd":{amount}' in line
    parsed = json.loads(line, parse_float=Decimal)
    assert not isinstance(parsed["total_cost_usd"], str)
    assert Decimal(parsed["total_cost_usd"]) == amount


def test_float_artefacts_never_appear() -> None:
    """0.1 + 0.2 style artefacts cannot occur: the digits are the Decimal's own."""
    record = CostRecord(provider="openai", operation="chat", total_cost_usd=Decimal("0.3"))
    assert '"total_cost_usd":0.3,' in record.to_json()
    assert "0.30000000000000004" not in record.to_json()


def test_naive_timestamp_is_rejected() -> None:
    """A timestamp without a time zone is an error, not a silent local-time guess."""
    with pytest.raises(ValidationError, match="timezone-aware"):
        CostRecord(provider="openai", operation="chat", timestamp=datetime(2026, 1, 1))


def test_timestamps_are_normalised_to_utc() -> None:
    """An aware timestamp in another zone is stored as the same instant in UTC."""
    plus_two = timezone(timedelta(hours=2))
    record = CostRecord(
        provider="openai", operation="chat", timestamp=datetime(2026, 1, 1, 12, tzinfo=plus_two)
    )
    assert record.timestamp == datetime(2026, 1, 1, 10, tzinfo=timezone.utc)
    assert record.timestamp.tzinfo == timezone.utc


def test_record_ids_are_unique() -> None:
    """Every record gets its own record_id, the idempotency key downstream."""
    ids = {CostRecord(provider="x", operation="chat").record_id for _ in range(100)}
    assert len(ids) == 100


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_tokens": 10, "cache_read_tokens": 8, "cache_write_tokens": 5}, "exceed input"),
        ({"cache_write_tokens": 5, "input_tokens": 5, "cache_write_1h_tokens": 6}, "1h_tokens"),
        ({"output_tokens": 3, "reasoning_tokens": 4}, "reasoning_tokens"),
        ({"input_tokens": 3, "input_audio_tokens": 4}, "input_audio_tokens"),
    ],
)
def test_usage_parts_larger_than_whole_are_rejected(kwargs: dict[str, int], message: str) -> None:
    """A part larger than its whole is a clear error naming both."""
    with pytest.raises(ValidationError, match=message):
        Usage(**kwargs)


def test_negative_token_counts_are_rejected() -> None:
    """Negative counts (a provider bug) are refused with the field named."""
    with pytest.raises(ValidationError, match="output_tokens"):
        Usage(output_tokens=-1)


def test_usage_derived_counts() -> None:
    """Uncached input excludes cache reads and writes; total counts each token once."""
    usage = Usage(input_tokens=100, cache_read_tokens=60, cache_write_tokens=10, output_tokens=7)
    assert usage.uncached_input_tokens == 30
    assert usage.total_tokens == 107


def test_record_usage_property_matches_fields() -> None:
    """record.usage gives back the token counts as a Usage."""
    record = CostRecord(
        provider="anthropic",
        operation="messages",
        input_tokens=50,
        cache_write_tokens=20,
        cache_write_1h_tokens=5,
        output_tokens=9,
    )
    assert record.usage == Usage(
        input_tokens=50, cache_write_tokens=20, cache_write_1h_tokens=5, output_tokens=9
    )


def test_unpriced_cost_is_none_not_zero() -> None:
    """An unknown price is None everywhere, never $0."""
    cost = Cost.unpriced("v1")
    assert cost.priced is False
    assert cost.total_cost_usd is None
    assert cost.input_cost_usd is None
    assert cost.catalog_version == "v1"


def test_dumps_exact_refuses_non_finite_money() -> None:
    """NaN or infinite money cannot be written as JSON: a clear error, not invalid JSON."""
    with pytest.raises(ValueError, match="non-finite"):
        dumps_exact({"total_cost_usd": Decimal("NaN")})
