"""Issue 17's corrected rates and new billed dimensions, as hand-computed exact Decimals.

Each case names the rate it pins (USD per 1M tokens, or USD per search) and where it was read;
the data file carries the same source and checked date.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from llmcost.pricing import cost, get_catalog
from llmcost.types import Usage

D = Decimal

# (model, usage, options, (input, cache_read, cache_write, output, tool))
CASES: dict[str, tuple[str, dict[str, int], dict[str, Any], tuple[str, ...]]] = {
    # gpt-4o-audio-preview: text $2.50 / $10, audio $40 in / $80 out (OpenAI model page)
    "4o-audio-preview-audio": (
        "gpt-4o-audio-preview-2025-06-03",
        {
            "input_tokens": 1500,
            "input_audio_tokens": 1000,
            "output_tokens": 700,
            "output_audio_tokens": 500,
        },
        {},
        # 500 x 2.5 + 1000 x 40 = 41250; 200 x 10 + 500 x 80 = 42000 (per 1M)
        ("0.04125", "0", "0", "0.042", "0"),
    ),
    # gpt-4o-mini-audio-preview: text $0.15 / $0.60, audio $10 / $20
    "4o-mini-audio-preview-audio": (
        "gpt-4o-mini-audio-preview",
        {
            "input_tokens": 1000,
            "input_audio_tokens": 1000,
            "output_tokens": 1000,
            "output_audio_tokens": 1000,
        },
        {},
        ("0.01", "0", "0", "0.02", "0"),
    ),
    # gpt-realtime-mini: cached audio $0.30 (not the $0.06 cached-text rate), image $0.80,
    # cached image $0.08, audio $10, text $0.60 / cached $0.06
    "realtime-mini-cached-audio-and-images": (
        "gpt-realtime-mini",
        {
            "input_tokens": 10_000,
            "cache_read_tokens": 6000,
            "cache_read_audio_tokens": 4000,
            "cache_read_image_tokens": 1000,
            "input_audio_tokens": 5000,
            "input_image_tokens": 2000,
            "output_tokens": 100,
        },
        {},
        # uncached 4000 = 1000 audio x 10 + 1000 image x 0.8 + 2000 text x 0.6 = 12000
        # cached 6000 = 4000 audio x 0.3 + 1000 image x 0.08 + 1000 text x 0.06 = 1340
        ("0.012", "0.00134", "0", "0.00024", "0"),
    ),
    # gpt-realtime: image input $5, cached image $0.50 (both datasets)
    "realtime-images": (
        "gpt-realtime",
        {
            "input_tokens": 3000,
            "input_image_tokens": 3000,
            "cache_read_tokens": 1000,
            "cache_read_image_tokens": 1000,
        },
        {},
        ("0.01", "0.0005", "0", "0", "0"),
    ),
    # o4-mini priority: $2 / $0.50 / $8 exactly, not a rounded 1.818... multiplier
    "o4-mini-priority-exact": (
        "o4-mini",
        {
            "input_tokens": 1_000_000,
            "cache_read_tokens": 1_000_000 // 2,
            "output_tokens": 1_000_000,
        },
        {"service_tier": "priority"},
        ("1", "0.25", "0", "8", "0"),
    ),
    "4o-mini-priority-exact": (
        "gpt-4o-mini",
        {"input_tokens": 1_000_000, "output_tokens": 1_000_000},
        {"service_tier": "priority"},
        ("0.25", "0", "0", "1", "0"),
    ),
    # web search $10 per 1,000 calls where it was $0
    "o3-pro-search": ("o3-pro", {"web_search_requests": 2}, {}, ("0", "0", "0", "0", "0.02")),
    "5-search-api-search": (
        "gpt-5-search-api",
        {"web_search_requests": 2},
        {},
        ("0", "0", "0", "0", "0.02"),
    ),
    "5.3-codex-search": (
        "gpt-5.3-codex",
        {"web_search_requests": 2},
        {},
        ("0", "0", "0", "0", "0.02"),
    ),
    # search previews in Chat Completions: a per-call fee, $25 per 1,000
    "4o-search-preview-fee": (
        "gpt-4o-search-preview-2025-03-11",
        {"input_tokens": 100, "web_search_requests": 1, "web_search_preview_requests": 1},
        {},
        ("0.00025", "0", "0", "0", "0.025"),
    ),
    "4o-mini-search-preview-fee": (
        "gpt-4o-mini-search-preview",
        {"web_search_requests": 4},
        {},
        ("0", "0", "0", "0", "0.1"),
    ),
    # gpt-4.1: web_search $0.01 per call, web_search_preview $0.025 per call
    "4.1-both-tools": (
        "gpt-4.1",
        {"web_search_requests": 3, "web_search_preview_requests": 1},
        {},
        ("0", "0", "0", "0", "0.045"),
    ),
    # gpt-4.1-mini with web_search: $0.01 + a fixed block of 8,000 input tokens at $0.40
    "4.1-mini-fixed-block": (
        "gpt-4.1-mini",
        {"web_search_requests": 2},
        {},
        ("0", "0", "0", "0", "0.0264"),
    ),
    # ... and the preview tool has no block: $0.025 per call
    "4.1-mini-preview-no-block": (
        "gpt-4.1-mini",
        {"web_search_requests": 2, "web_search_preview_requests": 2},
        {},
        ("0", "0", "0", "0", "0.05"),
    ),
    # the block is billed at the variant's input rate: gpt-4o-mini batch input $0.075
    "4o-mini-fixed-block-batch": (
        "gpt-4o-mini",
        {"web_search_requests": 1},
        {"batch": True},
        ("0", "0", "0", "0", "0.0106"),
    ),
    # computer-use-preview: $3 / $12 (both datasets)
    "computer-use-preview": (
        "computer-use-preview-2025-03-11",
        {"input_tokens": 1000, "output_tokens": 1000},
        {},
        ("0.003", "0", "0", "0.012", "0"),
    ),
    # Bedrock geographic cross-region profiles: 10% above the global rate (AWS); web search
    # is not marked up. Sonnet 4.5: $3 / $15
    "bedrock-us-sonnet-4-5": (
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        {"input_tokens": 1000, "output_tokens": 1000, "web_search_requests": 1},
        {},
        ("0.0033", "0", "0", "0.0165", "0.01"),
    ),
    "bedrock-global-sonnet-4-5": (
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        {"input_tokens": 1000, "output_tokens": 1000},
        {},
        ("0.003", "0", "0", "0.015", "0"),
    ),
    "bedrock-in-region-sonnet-4-5": (
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        {"input_tokens": 1000},
        {},
        ("0.003", "0", "0", "0", "0"),
    ),
    # older models have no regional premium
    "bedrock-us-3-5-sonnet": (
        "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
        {"input_tokens": 1000},
        {},
        ("0.003", "0", "0", "0", "0"),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_corrected_rate(case: str) -> None:
    """Each corrected rate gives the hand-computed parts; the total is their exact sum."""
    model, counts, options, expected = CASES[case]
    result = cost(model, Usage(**counts), **options)
    got = (
        result.input_cost_usd,
        result.cache_read_cost_usd,
        result.cache_write_cost_usd,
        result.output_cost_usd,
        result.tool_cost_usd,
    )
    assert got == tuple(D(x) for x in expected)
    assert result.total_cost_usd == sum((D(x) for x in expected), D(0))


def test_regional_prices_keep_the_catalog_id() -> None:
    """A regional Bedrock id is priced as the model it names (priced_as stays the id)."""
    regional = cost("eu.anthropic.claude-opus-4-8", Usage(input_tokens=1))
    assert regional.priced_as == "claude-opus-4-8"
    assert get_catalog().resolve("eu.anthropic.claude-opus-4-8").rates["input"] == D("5.5")  # type: ignore[union-attr]


def test_every_rate_is_written_exactly() -> None:
    """No rate of any model, variant or tier carries a rounded fraction: every rate the
    catalog can produce has at most six decimal places per 1M tokens."""
    for model in get_catalog().models():
        for options in (
            {},
            {"batch": True},
            *({"service_tier": tier} for tier in model.service_tiers),
        ):
            card = model.card(**options)  # type: ignore[arg-type]
            for tier_card in (card, *(c for _, c in card.tiers)):
                for name, rate in tier_card.as_dict().items():
                    exponent = rate.as_tuple().exponent
                    assert isinstance(exponent, int)
                    assert exponent >= -6, (model.id, options, name)


def test_no_multiplier_is_a_rounded_fraction() -> None:
    """Variant multipliers in the data are short decimals (1.75, 0.5), never 1.8181...; a
    fraction is written as the published rates instead."""
    import json
    from importlib import resources

    data_dir = resources.files("llmcost.pricing") / "data"
    for name in ("openai.json", "anthropic.json"):
        text = (data_dir / name).read_text(encoding="utf-8")
        for line in text.splitlines():
            if '"multiplier"' in line:
                value = json.loads("{" + line.strip().rstrip(",") + "}")["multiplier"]
                assert len(value.partition(".")[2]) <= 4, (name, value)
