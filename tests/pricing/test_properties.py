"""Invariants of the money math, checked with hypothesis over real catalog models."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from llmcost.pricing import cost, get_catalog
from llmcost.types import Cost, Usage

# Models covering every shape: flat, cached, tiered, audio, dated history, Anthropic 1h writes.
MODELS = [
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-5.5",
    "gpt-6.1-terra",
    "gpt-audio-mini",
    "o3",
    "text-embedding-3-large",
    "claude-sonnet-4-5",
    "claude-haiku-5-5",
    "claude-opus-4-8",
    "claude-3-haiku",
    "gpt-realtime-mini",
    "gpt-4.1-mini",
    "gpt-4o-search-preview",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
]
SETTINGS = settings(max_examples=100, deadline=None)
COUNT = st.integers(min_value=0, max_value=2_000_000)


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    """Any consistent usage: parts never exceed their whole."""
    input_tokens = draw(COUNT)
    cache_read = draw(st.integers(0, input_tokens))
    cache_write = draw(st.integers(0, input_tokens - cache_read))
    cache_write_1h = draw(st.integers(0, cache_write))
    input_audio = draw(st.integers(0, input_tokens))
    input_image = draw(st.integers(0, input_tokens - input_audio))
    cached_audio = draw(st.integers(0, min(input_audio, cache_read)))
    cached_image = draw(st.integers(0, min(input_image, cache_read - cached_audio)))
    output_tokens = draw(COUNT)
    reasoning = draw(st.integers(0, output_tokens))
    output_audio = draw(st.integers(0, output_tokens - reasoning))
    output_image = draw(st.integers(0, output_tokens - reasoning - output_audio))
    searches = draw(st.integers(0, 50))
    return Usage(
        input_tokens=input_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=cache_write_1h,
        input_audio_tokens=input_audio,
        input_image_tokens=input_image,
        cache_read_audio_tokens=cached_audio,
        cache_read_image_tokens=cached_image,
        output_tokens=output_tokens,
        reasoning_tokens=reasoning,
        output_audio_tokens=output_audio,
        output_image_tokens=output_image,
        web_search_requests=searches,
        web_search_preview_requests=draw(st.integers(0, searches)),
    )


OPTIONS = st.fixed_dictionaries(
    {
        "batch": st.booleans(),
        "service_tier": st.sampled_from([None, "flex", "priority", "default"]),
        "speed": st.sampled_from([None, "fast"]),
        "inference_geo": st.sampled_from([None, "us", "global"]),
        "data_residency": st.sampled_from([None, "eu"]),
    }
)


def parts(c: Cost) -> list[Decimal]:
    values = [
        c.input_cost_usd,
        c.cache_read_cost_usd,
        c.cache_write_cost_usd,
        c.output_cost_usd,
        c.tool_cost_usd,
    ]
    assert all(v is not None for v in values)
    return [v for v in values if v is not None]


@SETTINGS
@given(model=st.sampled_from(MODELS), usage=usages(), options=OPTIONS)
def test_total_is_exact_sum_of_parts(model: str, usage: Usage, options: dict) -> None:
    """total_cost_usd == the exact Decimal sum of the five parts, and nothing is negative."""
    c = cost(model, usage, **options)
    assert c.priced
    assert c.total_cost_usd == sum(parts(c), Decimal(0))
    assert all(p >= 0 for p in parts(c))


def below_cliff(model: str) -> int:
    m = get_catalog().resolve(model)
    assert m is not None
    threshold = m.long_context_threshold
    return threshold if threshold is not None else 2_000_000


FIELDS = [
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "input_audio_tokens",
    "output_tokens",
    "reasoning_tokens",
    "output_audio_tokens",
    "web_search_requests",
    "input_image_tokens",
    "cache_read_audio_tokens",
    "cache_read_image_tokens",
    "output_image_tokens",
    "web_search_preview_requests",
]
# Growing a part also grows its whole, so the usage stays consistent.
WHOLE = {
    "cache_read_tokens": ["input_tokens"],
    "cache_write_tokens": ["input_tokens"],
    "cache_write_1h_tokens": ["cache_write_tokens", "input_tokens"],
    "input_audio_tokens": ["input_tokens"],
    "reasoning_tokens": ["output_tokens"],
    "output_audio_tokens": ["output_tokens"],
    "input_image_tokens": ["input_tokens"],
    "cache_read_audio_tokens": ["cache_read_tokens", "input_audio_tokens", "input_tokens"],
    "cache_read_image_tokens": ["cache_read_tokens", "input_image_tokens", "input_tokens"],
    "output_image_tokens": ["output_tokens"],
    "web_search_preview_requests": ["web_search_requests"],
}


@SETTINGS
@given(
    model=st.sampled_from(MODELS),
    usage=usages(),
    field=st.sampled_from(FIELDS),
    extra=st.integers(1, 50_000),
    options=OPTIONS,
)
def test_cost_never_decreases_when_a_count_grows(
    model: str, usage: Usage, field: str, extra: int, options: dict
) -> None:
    """More of any token kind never costs less (staying on one side of a tier cliff)."""
    grown = usage.model_dump()
    grown[field] += extra
    for whole in WHOLE.get(field, []):
        grown[whole] += extra
    bigger = Usage(**grown)
    cliff = below_cliff(model)
    if (usage.input_tokens > cliff) != (bigger.input_tokens > cliff):
        return  # crossing the cliff is tested on its own below
    before = cost(model, usage, **options).total_cost_usd
    after = cost(model, bigger, **options).total_cost_usd
    assert before is not None
    assert after is not None
    assert after >= before


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from(["gpt-5.5", "claude-sonnet-4-5", "claude-haiku-5-5", "gpt-6.1-terra"]),
    output=st.integers(0, 100_000),
)
def test_crossing_the_cliff_reprices_the_whole_call(model: str, output: int) -> None:
    """One token over the threshold prices every token at the tier's rates (a cliff)."""
    m = get_catalog().resolve(model)
    assert m is not None
    assert m.long_context_threshold is not None
    threshold = m.long_context_threshold
    base, tier = m.card(), m.card().tiers[0][1]
    at = cost(model, Usage(input_tokens=threshold, output_tokens=output))
    over = cost(model, Usage(input_tokens=threshold + 1, output_tokens=output))
    million = Decimal(1_000_000)
    assert at.total_cost_usd == (base.input * threshold + base.output * output) / million
    assert over.total_cost_usd == (tier.input * (threshold + 1) + tier.output * output) / million
    assert over.total_cost_usd is not None
    assert at.total_cost_usd is not None
    assert over.total_cost_usd > at.total_cost_usd


@SETTINGS
@given(
    model=st.sampled_from(MODELS),
    usage=usages(),
    moved=st.integers(0, 100_000),
    options=OPTIONS,
)
def test_no_token_is_priced_twice(model: str, usage: Usage, moved: int, options: dict) -> None:
    """Moving k uncached tokens to cache reads changes the cost by exactly k x (read - input)."""
    # Keep audio and images out of the moved tokens, so only the text input rate is involved.
    text_uncached = (
        usage.uncached_input_tokens
        - (usage.input_audio_tokens - usage.cache_read_audio_tokens)
        - (usage.input_image_tokens - usage.cache_read_image_tokens)
    )
    moved = min(moved, max(text_uncached, 0))
    shifted = usage.model_copy(update={"cache_read_tokens": usage.cache_read_tokens + moved})
    m = get_catalog().resolve(model)
    assert m is not None
    card = m.card(**options)
    for threshold, tier_card in card.tiers:
        if usage.input_tokens > threshold:
            card = tier_card
            break
    before = cost(model, usage, **options)
    after = cost(model, shifted, **options)
    assert before.total_cost_usd is not None
    assert after.total_cost_usd is not None
    expected = moved * (card.cache_read - card.input) / Decimal(1_000_000)
    assert after.total_cost_usd - before.total_cost_usd == expected
    # ... and the input and cache-read parts moved by exactly their own rates.
    assert before.input_cost_usd is not None
    assert after.input_cost_usd is not None
    assert before.input_cost_usd - after.input_cost_usd == moved * card.input / Decimal(10**6)


HALF_BATCH = [
    m.id
    for m in get_catalog().models()
    if m.card(batch=True).input * 2 == m.card().input
    and m.card(batch=True).output * 2 == m.card().output
    and m.card(batch=True).cache_read * 2 == m.card().cache_read
]


def test_half_batch_models_exist() -> None:
    """Most models halve under batch (a sanity check on the data the next test uses)."""
    assert len(HALF_BATCH) > 40
    assert "claude-opus-4-8" in HALF_BATCH
    assert "gpt-5.5" in HALF_BATCH


@SETTINGS
@given(
    model=st.sampled_from(HALF_BATCH),
    usage=usages().map(lambda u: u.model_copy(update={"web_search_requests": 0})),
)
def test_batch_is_half_where_the_catalog_says_half(model: str, usage: Usage) -> None:
    """For models whose batch rates are half the standard rates, every part halves exactly."""
    standard = cost(model, usage)
    batch = cost(model, usage, batch=True)
    for full, half in zip(parts(standard), parts(batch), strict=True):
        assert half * 2 == full


TIER_FREE = [m.id for m in get_catalog().models() if not m.card().tiers]


@SETTINGS
@given(
    model=st.sampled_from(TIER_FREE),
    uncached=st.integers(0, 10**9),
    writes=st.integers(0, 10**8),
    long_share=st.floats(0, 1),
    output=st.integers(0, 10**7),
    variant=st.sampled_from([{}, {"batch": True}, {"service_tier": "priority"}]),
)
def test_plain_total_is_exactly_the_total_cost_gives(
    model: str, uncached: int, writes: int, long_share: float, output: int, variant: dict
) -> None:
    """The budget's shortcut and the full pricing path agree digit for digit."""
    from llmcost.pricing import plain_total

    long_writes = int(writes * long_share)
    usage = Usage(
        input_tokens=uncached + writes,
        cache_write_tokens=writes,
        cache_write_1h_tokens=long_writes,
        output_tokens=output,
    )
    full = cost(model, usage, **variant)
    card = get_catalog().resolve(model).card(**variant)  # type: ignore[union-attr]
    quick = plain_total(card, uncached, writes, long_writes, output)
    assert quick is not None
    assert str(quick) == str(full.total_cost_usd)


def _card_for(model: str, usage: Usage, options: dict) -> object:
    m = get_catalog().resolve(model)
    assert m is not None
    card = m.card(**options)
    for threshold, tier_card in card.tiers:
        if usage.input_tokens > threshold:
            return tier_card
    return card


@SETTINGS
@given(
    model=st.sampled_from(MODELS),
    usage=usages(),
    moved=st.integers(0, 100_000),
    kind=st.sampled_from(["audio", "image"]),
    options=OPTIONS,
)
def test_caching_audio_or_image_tokens_costs_exactly_the_rate_difference(
    model: str, usage: Usage, moved: int, kind: str, options: dict
) -> None:
    """Moving k uncached audio (image) input tokens into the cache reads changes the cost by
    exactly k x (cached audio (image) rate - audio (image) rate): no token priced twice."""
    whole, cached = f"input_{kind}_tokens", f"cache_read_{kind}_tokens"
    uncached_kind = getattr(usage, whole) - getattr(usage, cached)
    other = "image" if kind == "audio" else "audio"
    other_uncached = getattr(usage, f"input_{other}_tokens") - getattr(
        usage, f"cache_read_{other}_tokens"
    )
    if uncached_kind + other_uncached > usage.uncached_input_tokens:
        return  # counts that overlap the cache writes are capped (see price()): not this case
    moved = min(moved, uncached_kind)
    shifted = usage.model_copy(
        update={
            "cache_read_tokens": usage.cache_read_tokens + moved,
            cached: getattr(usage, cached) + moved,
        }
    )
    card = _card_for(model, usage, options)
    before = cost(model, usage, **options).total_cost_usd
    after = cost(model, shifted, **options).total_cost_usd
    assert before is not None
    assert after is not None
    rate, cached_rate = getattr(card, f"input_{kind}"), getattr(card, f"cache_read_{kind}")
    assert after - before == moved * (cached_rate - rate) / Decimal(1_000_000)


@SETTINGS
@given(model=st.sampled_from(MODELS), usage=usages(), options=OPTIONS)
def test_a_preview_search_costs_the_preview_fee_instead(
    model: str, usage: Usage, options: dict
) -> None:
    """Counting one web_search search as a web_search_preview one changes the tool cost by
    exactly (preview fee - web_search fee - the fixed token block at the input rate)."""
    if usage.web_search_preview_requests == usage.web_search_requests:
        return
    shifted = usage.model_copy(
        update={"web_search_preview_requests": usage.web_search_preview_requests + 1}
    )
    card = _card_for(model, usage, options)
    before = cost(model, usage, **options)
    after = cost(model, shifted, **options)
    assert before.tool_cost_usd is not None
    assert after.tool_cost_usd is not None
    block = card.web_search_tokens * card.input / Decimal(1_000_000)  # type: ignore[attr-defined]
    expected = card.web_search_preview - card.web_search - block  # type: ignore[attr-defined]
    assert after.tool_cost_usd - before.tool_cost_usd == expected
    assert after.total_cost_usd - before.total_cost_usd == expected  # type: ignore[operator]
