"""CostRecord, Usage and Cost: validation and the exact JSON wire format."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from llmcost.types import (
    MONEY_FIELDS,
    Cost,
    CostRecord,
    Usage,
    dumps_exact,
)

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


class _Tokens(IntEnum):
    SEVEN = 7


usage_counts = st.dictionaries(
    st.one_of(st.sampled_from(sorted(Usage.model_fields)), st.sampled_from(["tokens", "Input"])),
    st.one_of(
        st.integers(min_value=-3, max_value=5_000),
        st.sampled_from([True, 1.0, 2.5, "7", None, _Tokens.SEVEN]),
    ),
    max_size=9,
)


def _outcome(build: Callable[[], Usage]) -> tuple[str, object]:
    try:
        usage = build()
    except ValidationError as exc:
        return "refused", str(exc)
    return "built", (usage, list(usage.__dict__.items()), usage.model_fields_set)


@settings(max_examples=300, deadline=None)
@given(usage_counts)
def test_usage_from_counts_is_usage_without_a_second_validation(counts: dict[str, object]) -> None:
    """The fast constructor accepts, refuses and converts exactly what Usage(**counts) does."""
    expected = _outcome(lambda: Usage(**counts))  # type: ignore[arg-type]
    assert _outcome(lambda: Usage.from_counts(counts)) == expected
    if expected[0] == "built":
        built = Usage.from_counts(counts)
        assert list(built.__dict__) == list(Usage.model_fields)
        assert all(type(value) is int for value in built.__dict__.values())


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


# --- the generated to_json encoder against the reference encoding -----------------------------

# Text that exercises every escape json knows: quotes, backslashes, control characters, the
# JavaScript line separators, non-ASCII (kept as is: ensure_ascii=False) and astral characters.
_TRICKY = '"\\/\b\f\n\r\t\x00\x01\x1f\x7f\x80\u2028\u2029é€😀'
any_text = st.text(st.one_of(st.characters(), st.sampled_from(_TRICKY)), max_size=12)
optional_text = st.one_of(st.none(), any_text)
any_money = st.one_of(
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.decimals(min_value=Decimal(0), max_value=Decimal(1), places=12),
    st.sampled_from(
        [Decimal(text) for text in ("0", "-0", "0E-8", "1E-7", "1E+3", "0.000", "123.4500")]
    ),
)
any_latency = st.one_of(
    st.none(),
    st.floats(),  # NaN and the infinities included: json writes NaN / Infinity for them
    st.sampled_from([0.0, -0.0, 1e-7, 1e20, 5e-324, 1.7976931348623157e308, 812.5]),
)
any_timestamp = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30))]),
)
_OPTIONAL_TEXT_FIELDS = [
    name
    for name, field in CostRecord.model_fields.items()
    if field.annotation == (str | None) and name not in ("request_id",)
]
_COUNT_FIELDS = [name for name, field in CostRecord.model_fields.items() if field.annotation is int]
_FLAG_FIELDS = [name for name, field in CostRecord.model_fields.items() if field.annotation is bool]


@st.composite
def any_records(draw: st.DrawFn) -> CostRecord:
    """Validated records with every field drawn, values chosen to stress the encoder."""
    return CostRecord(
        record_id=draw(st.one_of(st.just("7589f97f-9b93-41df-8ec0-8ffabbc5a9d7"), any_text)),
        request_id=draw(optional_text),
        timestamp=draw(any_timestamp),
        provider=draw(any_text),
        operation=draw(any_text),
        tags=draw(st.dictionaries(any_text, any_text, max_size=4)),
        latency_ms=draw(any_latency),
        status=draw(st.sampled_from(["ok", "error"])),
        **{name: draw(optional_text) for name in _OPTIONAL_TEXT_FIELDS},
        **{name: draw(st.integers(0, 10**30)) for name in _COUNT_FIELDS},
        **{name: draw(st.booleans()) for name in _FLAG_FIELDS},
        **{name: draw(any_money) for name in MONEY_FIELDS},
    )


@settings(max_examples=300, deadline=None)
@given(any_records())
def test_to_json_is_exact_json_that_reads_back_equal(record: CostRecord) -> None:
    """For any text, count, float, flag, timestamp and Decimal shape: to_json is the JSON the
    standard library reads, money as exact numbers, and it reads back equal."""
    text = record.to_json()
    data = json.loads(text, parse_float=Decimal)
    assert list(data) == list(CostRecord.model_fields)
    for name in MONEY_FIELDS:
        value = getattr(record, name)
        assert (data[name] is None) if value is None else (Decimal(data[name]) == value)
    latency = record.latency_ms
    if latency is None or math.isfinite(latency):
        assert CostRecord.from_json(text) == record


def _outcome(encode: Callable[[], str]) -> tuple[str, str]:
    try:
        return ("text", encode())
    except Exception as exc:  # the exception itself is what is compared
        return (type(exc).__name__, str(exc))


class _Label(str):
    pass


class _Count(IntEnum):
    ONE = 1


class _Money(Decimal):
    pass


class _When(datetime):
    pass


class _Tags(dict):  # type: ignore[type-arg]
    pass


_BASE = CostRecord(
    provider="openai",
    operation="chat",
    model="gpt-4o",
    tags={"tier": "pro"},
    input_tokens=10,
    total_cost_usd=Decimal("0.5"),
    latency_ms=1.5,
    timestamp=datetime(2026, 11, 22, 1, 2, 3, 456, tzinfo=timezone.utc),
)
_ODD_VALUES: list[tuple[str, object]] = [
    ("model", _Label("gpt-4o")),
    ("model", 5),
    ("provider", None),
    ("status", "paused"),
    ("input_tokens", True),
    ("input_tokens", _Count.ONE),
    ("input_tokens", 1.5),
    ("input_tokens", -3),
    ("input_tokens", 10**5000),  # beyond int's str() digit limit: the same ValueError
    ("priced", 1),
    ("latency_ms", float("nan")),
    ("latency_ms", float("-inf")),
    ("latency_ms", 7),
    ("latency_ms", "fast"),
    ("total_cost_usd", Decimal("NaN")),
    ("total_cost_usd", Decimal("-Infinity")),
    ("total_cost_usd", _Money("0.25")),
    ("total_cost_usd", 0.25),
    ("total_cost_usd", 3),
    ("feature", Decimal("1.5")),  # a Decimal outside the money fields
    ("timestamp", _When(2026, 1, 1, tzinfo=timezone.utc)),
    ("timestamp", datetime(2026, 1, 1)),  # naive
    ("timestamp", "2026-01-01T00:00:00+00:00"),
    ("tags", {1: "one", "two": 2, "none": None}),
    ("tags", {"cost": Decimal("1")}),
    ("tags", _Tags(tier="pro")),
    ("tags", {}),
    ("tags", ["a", "b"]),
]


def test_to_json_of_a_typical_record_is_unchanged() -> None:
    """A pinned line: the wire layout itself (field order, spelling of every value kind)."""
    record = _BASE.model_copy(
        update={"record_id": "r-1", "feature": 'say "hi"\n', "cache_read_cost_usd": Decimal("0E-8")}
    )
    assert record.to_json() == (
        '{"record_id":"r-1","request_id":null,"response_id":null,'
        '"timestamp":"2026-11-22T01:02:03.000456+00:00","provider":"openai","operation":"chat",'
        '"model":"gpt-4o","response_model":null,"priced_as":null,"deployment":null,'
        '"endpoint_host":null,"feature":"say \\"hi\\"\\n",'
        '"project":null,"environment":null,"user_id":null,"tags":{"tier":"pro"},'
        '"input_tokens":10,"cache_read_tokens":0,"cache_write_tokens":0,'
        '"cache_write_1h_tokens":0,"output_tokens":0,"reasoning_tokens":0,'
        '"input_audio_tokens":0,"output_audio_tokens":0,"web_search_requests":0,'
        '"cache_read_audio_tokens":0,"input_image_tokens":0,"cache_read_image_tokens":0,'
        '"output_image_tokens":0,"web_search_preview_requests":0,'
        '"input_cost_usd":null,"cache_read_cost_usd":0E-8,"cache_write_cost_usd":null,'
        '"output_cost_usd":null,"tool_cost_usd":null,"total_cost_usd":0.5,"priced":false,'
        '"estimated":false,"replayed":false,"implausible":false,"cost_source":null,'
        '"latency_ms":1.5,'
        '"stream":false,"status":"ok",'
        '"error_type":null,"service_tier":null,"batch":false,"speed":null,"inference_geo":null,'
        '"data_residency":null,"catalog_version":null,"trace_id":null,"span_id":null}'
    )
