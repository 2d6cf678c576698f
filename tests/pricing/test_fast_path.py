"""pricing.cost()'s fast path gives exactly what the straightforward formula gives.

price() skips the counts a rate card prices like their whole (reasoning at the output rate,
audio at the input rate ...) and works in integers of 10**-scale USD. The reference below
does neither: every part is every count times its own rate per 1M tokens, in Decimal, in a
wide context. The two must agree to the digit (same value, same exponent) for every model
of the catalog, every option and any usage.
"""

from __future__ import annotations

import decimal
from decimal import Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from llmcost.pricing import cost, get_catalog
from llmcost.pricing._math import EXACT, RateCard
from llmcost.types import Cost, Usage

ALL_MODELS = sorted(m.id for m in get_catalog().models())
MILLION = Decimal(1_000_000)
COUNT = st.integers(min_value=0, max_value=3_000_000)


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    """Any consistent usage, most counts often zero (the shape of real calls)."""

    def part(upper: int) -> int:
        return draw(st.one_of(st.just(0), st.integers(0, max(upper, 0))))

    input_tokens = draw(COUNT)
    cache_read = part(input_tokens)
    cache_write = part(input_tokens - cache_read)
    input_audio = part(input_tokens)
    input_image = part(input_tokens - input_audio)
    cached_audio = part(min(input_audio, cache_read))
    output_tokens = draw(COUNT)
    reasoning = part(output_tokens)
    output_audio = part(output_tokens - reasoning)
    searches = part(20)
    return Usage(
        input_tokens=input_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=part(cache_write),
        input_audio_tokens=input_audio,
        input_image_tokens=input_image,
        cache_read_audio_tokens=cached_audio,
        cache_read_image_tokens=part(min(input_image, cache_read - cached_audio)),
        output_tokens=output_tokens,
        reasoning_tokens=reasoning,
        output_audio_tokens=output_audio,
        output_image_tokens=part(output_tokens - reasoning - output_audio),
        web_search_requests=searches,
        web_search_preview_requests=part(searches),
    )


OPTIONS = st.fixed_dictionaries(
    {
        "batch": st.booleans(),
        "service_tier": st.sampled_from([None, "flex", "priority", "default", "batch"]),
        "speed": st.sampled_from([None, "fast"]),
        "inference_geo": st.sampled_from([None, "us"]),
        "data_residency": st.sampled_from([None, "eu"]),
    }
)


def _shortest(value: Decimal) -> Decimal:
    """The digits cost() gives: no trailing zeros after the point, no positive exponent."""
    with localcontext(EXACT):
        value = value.normalize()
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        return value.quantize(Decimal(1)) if exponent > 0 else value


def reference(card: RateCard, u: Usage) -> dict[str, Decimal]:
    """Every count times its own rate, each split always applied, plain Decimal arithmetic."""
    for threshold, tier_card in card.tiers:
        if u.input_tokens > threshold:
            card = tier_card
            break
    with localcontext(EXACT):
        uncached = u.input_tokens - u.cache_read_tokens - u.cache_write_tokens
        # Uncached audio and image input, capped at the uncached input as price() documents.
        audio = min(u.input_audio_tokens - u.cache_read_audio_tokens, uncached)
        image = min(u.input_image_tokens - u.cache_read_image_tokens, uncached - audio)
        cached_text = u.cache_read_tokens - u.cache_read_audio_tokens - u.cache_read_image_tokens
        text_out = (
            u.output_tokens - u.reasoning_tokens - u.output_audio_tokens - u.output_image_tokens
        )
        plain_searches = u.web_search_requests - u.web_search_preview_requests
        parts = {
            "input_cost_usd": (
                card.input * (uncached - audio - image)
                + card.input_audio * audio
                + card.input_image * image
            )
            / MILLION,
            "cache_read_cost_usd": (
                card.cache_read * cached_text
                + card.cache_read_audio * u.cache_read_audio_tokens
                + card.cache_read_image * u.cache_read_image_tokens
            )
            / MILLION,
            "cache_write_cost_usd": (
                card.cache_write * (u.cache_write_tokens - u.cache_write_1h_tokens)
                + card.cache_write_long * u.cache_write_1h_tokens
            )
            / MILLION,
            "output_cost_usd": (
                card.output * text_out
                + card.reasoning * u.reasoning_tokens
                + card.output_audio * u.output_audio_tokens
                + card.output_image * u.output_image_tokens
            )
            / MILLION,
            "tool_cost_usd": card.web_search * plain_searches
            + card.input * card.web_search_tokens * plain_searches / MILLION
            + card.web_search_preview * u.web_search_preview_requests,
        }
        parts["total_cost_usd"] = sum(parts.values(), Decimal(0))
    return {name: _shortest(value) for name, value in parts.items()}


def _amounts(c: Cost) -> dict[str, Decimal | None]:
    return c.model_dump(exclude={"priced", "priced_as", "catalog_version"})


@settings(max_examples=400, deadline=None)
@given(model=st.sampled_from(ALL_MODELS), usage=usages(), options=OPTIONS)
def test_fast_path_is_the_straightforward_formula_to_the_digit(
    model: str, usage: Usage, options: dict
) -> None:
    """Every catalog model, option and usage: each part and the total have the value and the
    digits (str) of the straightforward Decimal formula."""
    found = get_catalog().resolve(model)
    assert found is not None
    got = cost(model, usage, **options)
    want = reference(found.card(**options), usage)
    assert got.priced
    assert got.priced_as == found.id
    assert {name: str(value) for name, value in _amounts(got).items()} == {
        name: str(value) for name, value in want.items()
    }


@settings(max_examples=100, deadline=None)
@given(
    model=st.sampled_from(ALL_MODELS),
    usage=usages(),
    prec=st.integers(1, 27),
    rounding=st.sampled_from([decimal.ROUND_FLOOR, decimal.ROUND_CEILING]),
)
def test_fast_path_in_a_narrow_caller_context(
    model: str, usage: Usage, prec: int, rounding: str
) -> None:
    """The same digits when the caller's decimal context could round (every catalog model)."""
    found = get_catalog().resolve(model)
    assert found is not None
    want = reference(found.card(), usage)
    with decimal.localcontext() as context:
        context.prec = prec
        context.rounding = rounding
        got = cost(model, usage)
    assert {name: str(value) for name, value in _amounts(got).items()} == {
        name: str(value) for name, value in want.items()
    }


def test_every_split_flag_is_exercised_by_the_catalog() -> None:
    """The catalog has cards where each split matters and cards where none does, so the
    properties above run both sides of every branch of price()."""
    cards = [m.card() for m in get_catalog().models()]
    for flag in ("media_input", "long_writes", "split_output", "searches_billed"):
        values = {getattr(card, flag) for card in cards}
        assert values == {True, False}, flag


def test_a_split_priced_alike_is_not_read() -> None:
    """gpt-4o prices reasoning, audio and image output at its output rate: moving output
    tokens between those kinds changes nothing, to the digit."""
    card = get_catalog().resolve("gpt-4o").card()  # type: ignore[union-attr]
    assert not card.split_output
    assert not card.media_input
    plain = cost("gpt-4o", Usage(input_tokens=1000, output_tokens=900))
    split = cost(
        "gpt-4o",
        Usage(
            input_tokens=1000,
            input_audio_tokens=400,
            output_tokens=900,
            reasoning_tokens=300,
            output_audio_tokens=200,
        ),
    )
    assert plain == split
    assert str(split.output_cost_usd) == "0.009"
