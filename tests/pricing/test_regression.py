"""Hand-computed costs across every pricing dimension, as exact Decimals.

Each expected amount is worked out by hand from the catalog's rates (USD per 1M tokens) in the
comment beside it, so a change to the data or the math that moves any price fails here.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from llmcost.pricing import cost
from llmcost.types import Usage

D = Decimal


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# (id, model, usage, options, (input, cache_read, cache_write, output, tool))
CASES: list[tuple[str, str, dict[str, int], dict[str, Any], tuple[str, str, str, str, str]]] = [
    # gpt-4o: $2.50 in, $1.25 cached, $10 out
    (
        "4o-plain",
        "gpt-4o",
        {"input_tokens": 1000, "output_tokens": 100},
        {},
        ("0.0025", "0", "0", "0.001", "0"),
    ),
    (
        "4o-cache-read",
        "gpt-4o",
        {"input_tokens": 1000, "cache_read_tokens": 200, "output_tokens": 100},
        {},
        ("0.002", "0.00025", "0", "0.001", "0"),
    ),
    # OpenAI cache writes without a published write rate cost the input rate.
    (
        "4o-cache-write-at-input-rate",
        "gpt-4o",
        {"input_tokens": 1000, "cache_write_tokens": 1000},
        {},
        ("0", "0", "0.0025", "0", "0"),
    ),
    # batch: $1.25 in, $5 out; the Batch table has no cached rate, so cached stays $1.25
    (
        "4o-batch",
        "gpt-4o",
        {"input_tokens": 1000, "output_tokens": 100},
        {"batch": True},
        ("0.00125", "0", "0", "0.0005", "0"),
    ),
    (
        "4o-batch-cached-not-discounted",
        "gpt-4o",
        {"input_tokens": 1000, "cache_read_tokens": 400},
        {"batch": True},
        ("0.00075", "0.0005", "0", "0", "0"),
    ),
    # priority x1.7: $4.25 / $17; OpenAI's "fast" is served as priority
    (
        "4o-priority",
        "gpt-4o",
        {"input_tokens": 1000, "output_tokens": 100},
        {"service_tier": "priority"},
        ("0.00425", "0", "0", "0.0017", "0"),
    ),
    (
        "4o-fast-is-priority",
        "gpt-4o",
        {"input_tokens": 1000, "output_tokens": 100},
        {"service_tier": "fast"},
        ("0.00425", "0", "0", "0.0017", "0"),
    ),
    # gpt-4o has no flex price: served and billed as standard
    (
        "4o-flex-unavailable",
        "gpt-4o",
        {"input_tokens": 1000, "output_tokens": 100},
        {"service_tier": "flex"},
        ("0.0025", "0", "0", "0.001", "0"),
    ),
    (
        "4o-default-tier",
        "gpt-4o",
        {"input_tokens": 1000, "output_tokens": 100},
        {"service_tier": "default"},
        ("0.0025", "0", "0", "0.001", "0"),
    ),
    # the 2024-05-13 snapshot has its own price: $5 / $15
    (
        "4o-2024-05-13",
        "gpt-4o-2024-05-13",
        {"input_tokens": 1000, "output_tokens": 100},
        {},
        ("0.005", "0", "0", "0.0015", "0"),
    ),
    # o3: $2 / $8; reasoning is part of output, priced as output
    (
        "o3-reasoning",
        "o3",
        {"input_tokens": 2000, "output_tokens": 1000, "reasoning_tokens": 800},
        {},
        ("0.004", "0", "0", "0.008", "0"),
    ),
    # o3 before the 2025-06-10 cut: $10 in, $2.50 cached, $40 out
    (
        "o3-before-cut",
        "o3",
        {"input_tokens": 2000, "cache_read_tokens": 1000, "output_tokens": 1000},
        {"at": utc(2025, 5, 1)},
        ("0.01", "0.0025", "0", "0.04", "0"),
    ),
    (
        "o3-at-cut",
        "o3",
        {"input_tokens": 1000},
        {"at": utc(2025, 6, 10)},
        ("0.002", "0", "0", "0", "0"),
    ),
    # gpt-5.6-terra: $2.50/$15 until 2026-07-30, then $2/$12
    (
        "terra-before-change",
        "gpt-5.6-terra",
        {"input_tokens": 1000, "output_tokens": 1000},
        {"at": utc(2026, 7, 29, 23, 59, 59)},
        ("0.0025", "0", "0", "0.015", "0"),
    ),
    (
        "terra-after-change",
        "gpt-5.6-terra",
        {"input_tokens": 1000, "output_tokens": 1000},
        {"at": utc(2026, 7, 30)},
        ("0.002", "0", "0", "0.012", "0"),
    ),
    # gpt-5.5: $5/$0.50/$30; above 272K input the whole call is $10/$1/$45
    (
        "5.5-at-threshold",
        "gpt-5.5",
        {"input_tokens": 272_000, "output_tokens": 1000},
        {},
        ("1.36", "0", "0", "0.03", "0"),
    ),
    (
        "5.5-over-threshold",
        "gpt-5.5",
        {"input_tokens": 272_001, "output_tokens": 1000},
        {},
        ("2.72001", "0", "0", "0.045", "0"),
    ),
    (
        "5.5-long-cached",
        "gpt-5.5",
        {"input_tokens": 300_000, "cache_read_tokens": 100_000},
        {},
        ("2", "0.1", "0", "0", "0"),
    ),
    (
        "5.5-flex",
        "gpt-5.5",
        {"input_tokens": 1000, "output_tokens": 1000},
        {"service_tier": "flex"},
        ("0.0025", "0", "0", "0.015", "0"),
    ),
    # priority publishes flat $12.50/$75 with no long-context surcharge
    (
        "5.5-priority-long",
        "gpt-5.5",
        {"input_tokens": 300_000, "output_tokens": 1000},
        {"service_tier": "priority"},
        ("3.75", "0", "0", "0.075", "0"),
    ),
    # batch halves the long-context rates too: $5 / $22.50
    (
        "5.5-batch-long",
        "gpt-5.5",
        {"input_tokens": 300_000, "output_tokens": 1000},
        {"batch": True},
        ("1.5", "0", "0", "0.0225", "0"),
    ),
    # data residency: +10% ($5.50 / $33)
    (
        "5.5-residency-eu",
        "gpt-5.5",
        {"input_tokens": 1000, "output_tokens": 1000},
        {"data_residency": "eu"},
        ("0.0055", "0", "0", "0.033", "0"),
    ),
    # gpt-6.1-terra: 30-minute writes $1.25, 12-hour writes $2.50 (the long-retention part)
    (
        "6.1-terra-cache-retention",
        "gpt-6.1-terra",
        {"input_tokens": 10_000, "cache_write_tokens": 4000, "cache_write_1h_tokens": 1000},
        {},
        ("0.006", "0", "0.00625", "0", "0"),
    ),
    # gpt-6.2-sol ultrafast: 3x through 2027-02-28, 6x from 2027-03-01 ($2 / $10 base)
    (
        "6.2-sol-ultrafast-now",
        "gpt-6.2-sol",
        {"input_tokens": 1000, "output_tokens": 1000},
        {"service_tier": "ultrafast", "at": utc(2026, 12, 1)},
        ("0.006", "0", "0", "0.03", "0"),
    ),
    (
        "6.2-sol-ultrafast-march",
        "gpt-6.2-sol",
        {"input_tokens": 1000, "output_tokens": 1000},
        {"service_tier": "ultrafast", "at": utc(2027, 3, 1)},
        ("0.012", "0", "0", "0.06", "0"),
    ),
    # claude-sonnet-4-5: $3 in, $0.30 read, $3.75 5m write, $6 1h write, $15 out, $0.01/search
    (
        "sonnet-4.5-everything",
        "claude-sonnet-4-5",
        {
            "input_tokens": 12_000,
            "cache_read_tokens": 8000,
            "cache_write_tokens": 2000,
            "cache_write_1h_tokens": 500,
            "output_tokens": 700,
            "web_search_requests": 2,
        },
        {},
        ("0.006", "0.0024", "0.008625", "0.0105", "0.02"),
    ),
    # above 200K: $6 / $22.50
    (
        "sonnet-4.5-long",
        "claude-sonnet-4-5",
        {"input_tokens": 250_000, "output_tokens": 1000},
        {},
        ("1.5", "0", "0", "0.0225", "0"),
    ),
    # claude-haiku-5-5: $0.10/$0.50, 5x above 100K
    (
        "haiku-5.5-at-cliff",
        "claude-haiku-5-5",
        {"input_tokens": 100_000, "output_tokens": 1000},
        {},
        ("0.01", "0", "0", "0.0005", "0"),
    ),
    (
        "haiku-5.5-over-cliff",
        "claude-haiku-5-5",
        {"input_tokens": 100_001, "output_tokens": 1000},
        {},
        ("0.0500005", "0", "0", "0.0025", "0"),
    ),
    # claude-opus-4-8: $5/$25; fast mode 2x; US-only inference 1.1x (they stack)
    (
        "opus-4.8-fast",
        "claude-opus-4-8",
        {"input_tokens": 1000, "output_tokens": 1000},
        {"speed": "fast"},
        ("0.01", "0", "0", "0.05", "0"),
    ),
    (
        "opus-4.8-fast-us",
        "claude-opus-4-8",
        {"input_tokens": 1000, "output_tokens": 1000},
        {"speed": "fast", "inference_geo": "us"},
        ("0.011", "0", "0", "0.055", "0"),
    ),
    (
        "opus-4.8-batch",
        "claude-opus-4-8",
        {"input_tokens": 1000, "output_tokens": 1000},
        {"batch": True},
        ("0.0025", "0", "0", "0.0125", "0"),
    ),
    # batch halves cache rates too: read $0.25, 5m write $3.125, 1h write $5
    (
        "opus-4.8-batch-cache",
        "claude-opus-4-8",
        {
            "input_tokens": 10_000,
            "cache_read_tokens": 5000,
            "cache_write_tokens": 2000,
            "cache_write_1h_tokens": 1000,
        },
        {"batch": True},
        ("0.0075", "0.00125", "0.008125", "0", "0"),
    ),
    # Anthropic reports batch processing as service_tier="batch"
    (
        "opus-4.8-tier-batch",
        "claude-opus-4-8",
        {"input_tokens": 1000, "output_tokens": 1000},
        {"service_tier": "batch"},
        ("0.0025", "0", "0", "0.0125", "0"),
    ),
    # web search is not discounted by batch
    (
        "opus-4.8-batch-search",
        "claude-opus-4-8",
        {"web_search_requests": 1},
        {"batch": True},
        ("0", "0", "0", "0", "0.01"),
    ),
    # claude-opus-4-6: long-context surcharge (2x / 1.5x above 200K) until 2026-03-13
    (
        "opus-4.6-long-before",
        "claude-opus-4-6",
        {"input_tokens": 300_000, "output_tokens": 1000},
        {"at": utc(2026, 3, 1)},
        ("3", "0", "0", "0.0375", "0"),
    ),
    (
        "opus-4.6-long-after",
        "claude-opus-4-6",
        {"input_tokens": 300_000, "output_tokens": 1000},
        {"at": utc(2026, 4, 1)},
        ("1.5", "0", "0", "0.025", "0"),
    ),
    # claude-3-haiku ($0.25/$1.25) gets Anthropic's provider-wide 50% batch default
    (
        "claude-3-haiku-batch",
        "claude-3-haiku",
        {"input_tokens": 1_000_000, "output_tokens": 1_000_000},
        {"batch": True},
        ("0.125", "0", "0", "0.625", "0"),
    ),
    # claude-mythos-preview has no batch price: batch calls cost standard ($10/$50)
    (
        "mythos-preview-batch",
        "claude-mythos-preview",
        {"input_tokens": 1000, "output_tokens": 1000},
        {"batch": True},
        ("0.01", "0", "0", "0.05", "0"),
    ),
    (
        "fable-5.2-fast",
        "claude-fable-5-2",
        {"input_tokens": 1000, "output_tokens": 1000},
        {"speed": "fast"},
        ("0.016", "0", "0", "0.08", "0"),
    ),
    # gpt-audio-mini: text $0.60/$2.40, audio $10/$20
    (
        "audio-mini",
        "gpt-audio-mini",
        {
            "input_tokens": 1000,
            "input_audio_tokens": 600,
            "output_tokens": 500,
            "output_audio_tokens": 300,
        },
        {},
        ("0.00624", "0", "0", "0.00648", "0"),
    ),
    (
        "embedding",
        "text-embedding-3-small",
        {"input_tokens": 1_000_000},
        {},
        ("0.02", "0", "0", "0", "0"),
    ),
    (
        "embedding-batch",
        "text-embedding-3-small",
        {"input_tokens": 1_000_000},
        {"batch": True},
        ("0.01", "0", "0", "0", "0"),
    ),
    (
        "3.5-1106-batch-is-standard",
        "gpt-3.5-turbo-1106",
        {"input_tokens": 1000, "output_tokens": 1000},
        {"batch": True},
        ("0.001", "0", "0", "0.002", "0"),
    ),
    (
        "haiku-4.5-searches-only",
        "claude-haiku-4-5",
        {"web_search_requests": 3},
        {},
        ("0", "0", "0", "0", "0.03"),
    ),
]


@pytest.mark.parametrize(
    ("model", "usage", "options", "expected"),
    [pytest.param(m, u, o, e, id=i) for i, m, u, o, e in CASES],
)
def test_hand_computed_cost(
    model: str, usage: dict[str, int], options: dict[str, Any], expected: tuple[str, ...]
) -> None:
    """Every part and the total equal the hand-computed Decimal, digit for digit."""
    result = cost(model, Usage(**usage), **options)
    parts = (
        result.input_cost_usd,
        result.cache_read_cost_usd,
        result.cache_write_cost_usd,
        result.output_cost_usd,
        result.tool_cost_usd,
    )
    assert parts == tuple(D(x) for x in expected)
    assert result.total_cost_usd == sum((D(x) for x in expected), D(0))
    assert result.priced is True
    assert result.priced_as is not None


def test_enough_cases() -> None:
    """The regression table keeps at least 30 cases."""
    assert len(CASES) >= 30


def test_results_have_minimal_digits() -> None:
    """Amounts carry no trailing zeros: 1M gpt-4o input tokens cost exactly Decimal('2.5')."""
    result = cost("gpt-4o", Usage(input_tokens=1_000_000, output_tokens=1000))
    assert str(result.input_cost_usd) == "2.5"
    assert str(result.output_cost_usd) == "0.01"
    assert str(result.total_cost_usd) == "2.51"


def test_unknown_model_is_unpriced_not_zero() -> None:
    """An unknown model gives priced=False and None amounts, never $0."""
    result = cost("acme-llm-9000", Usage(input_tokens=10, output_tokens=10))
    assert result.priced is False
    assert result.total_cost_usd is None
    assert result.input_cost_usd is None
    assert result.catalog_version


def test_naive_datetime_is_utc() -> None:
    """A naive ``at`` is read as UTC when choosing the price period."""
    naive = cost("o3", Usage(input_tokens=1000), at=datetime(2025, 6, 9, 23, 59))
    aware = cost("o3", Usage(input_tokens=1000), at=utc(2025, 6, 9, 23, 59))
    assert naive.input_cost_usd == aware.input_cost_usd == D("0.01")


def test_exact_under_a_narrow_decimal_context() -> None:
    """A host that lowers the decimal precision does not make costs round."""
    import decimal

    with decimal.localcontext() as ctx:
        ctx.prec = 3
        result = cost("claude-haiku-5-5", Usage(input_tokens=100_001, output_tokens=1000))
    assert result.input_cost_usd == D("0.0500005")
    assert result.total_cost_usd == D("0.0525005")


def test_huge_counts_stay_exact() -> None:
    """Counts far beyond any real call are still priced exactly (the wide-context path)."""
    n = 10**20 + 7
    result = cost("gpt-4o", Usage(input_tokens=n, output_tokens=n))
    assert result.input_cost_usd == D(n) * D("2.5") / D(10**6)
    assert result.total_cost_usd == D(n) * D("12.5") / D(10**6)


def test_long_context_batch_is_half_of_long_context_standard() -> None:
    """Above the 272K cliff, batch and flex halve the long-context rates, not the base ones."""
    from llmcost.pricing import cost
    from llmcost.types import Usage

    usage = Usage(input_tokens=272_001, output_tokens=1_000)
    standard = cost("gpt-5.5-pro", usage)
    assert standard.total_cost_usd == Decimal("16.32006") + Decimal("0.27")
    for variant in ({"batch": True}, {"service_tier": "flex"}):
        half = cost("gpt-5.5-pro", usage, **variant)  # type: ignore[arg-type]
        assert half.total_cost_usd is not None
        assert half.total_cost_usd * 2 == standard.total_cost_usd


def test_an_absurd_rate_is_a_catalog_error_naming_the_field() -> None:
    """1e400 dollars per million tokens is a typo: refused with file, model and field."""
    from llmcost.errors import CatalogError
    from llmcost.pricing import load_catalog

    with pytest.raises(CatalogError, match=r"rates\.input"):
        load_catalog({"models": {"gpt-4o": {"rates": {"input": Decimal("1E+400")}}}})
