"""Exact cost math over precomputed rate cards.

A :class:`RateCard` holds every rate one call needs (USD per 1M tokens, with fallbacks,
variants, multipliers and contract scale already applied), also as integers in units of
10**-scale USD per token. Pricing a call is then integer products (exact by nature) and one
Decimal division by a power of ten per part, which is exact whenever the result fits the
decimal precision: the default 28 digits for any real call; otherwise a private 80-digit
context that traps Inexact is used, so a cost is exact or an error, whatever decimal context
the host application has set.
"""

from __future__ import annotations

from decimal import (
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    getcontext,
    localcontext,
)
from typing import TYPE_CHECKING

from llmcost.types import Cost, construct_trusted

if TYPE_CHECKING:
    from llmcost.types import Usage

__all__ = ["ZERO", "RateCard", "plain_total", "price"]

# Used when the caller's decimal context is too narrow or the counts are huge: wide, and
# trapping Inexact so that a cost is exact or an error.
_CTX = Context(prec=80, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
_MIN_PREC = 28

ZERO = Decimal(0)


class RateCard:
    """Resolved rates for one model, period and set of pricing options (immutable by use).

    ``tiers`` holds ``(above_input_tokens, RateCard)`` pairs, highest threshold first: when a
    call's total input is strictly above a threshold, the whole call uses that card (a cliff).
    """

    __slots__ = (
        "cache_read",
        "cache_write",
        "cache_write_long",
        "input",
        "input_audio",
        "output",
        "output_audio",
        "reasoning",
        "tiers",
        "units",
        "web_search",
        "x_cache_read",
        "x_cache_write",
        "x_cache_write_long",
        "x_input",
        "x_input_audio",
        "x_output",
        "x_output_audio",
        "x_reasoning",
        "x_web_search",
    )

    def __init__(
        self,
        *,
        input: Decimal,
        output: Decimal,
        cache_read: Decimal,
        cache_write: Decimal,
        cache_write_long: Decimal,
        input_audio: Decimal,
        output_audio: Decimal,
        reasoning: Decimal,
        web_search: Decimal,
        tiers: tuple[tuple[int, RateCard], ...] = (),
    ) -> None:
        self.input = input
        self.output = output
        self.cache_read = cache_read
        self.cache_write = cache_write
        self.cache_write_long = cache_write_long
        self.input_audio = input_audio
        self.output_audio = output_audio
        self.reasoning = reasoning
        self.web_search = web_search
        self.tiers = tiers
        # Integer rates in units of 10**-scale USD per token (per request for web search), so
        # the hot path multiplies Python ints and makes one exact Decimal division per part.
        token_rates = (
            input,
            output,
            cache_read,
            cache_write,
            cache_write_long,
            input_audio,
            output_audio,
            reasoning,
        )
        scale = max([6] + [6 - _exponent(rate) for rate in token_rates] + [-_exponent(web_search)])
        per_token = Decimal(10) ** (scale - 6)
        (
            self.x_input,
            self.x_output,
            self.x_cache_read,
            self.x_cache_write,
            self.x_cache_write_long,
            self.x_input_audio,
            self.x_output_audio,
            self.x_reasoning,
        ) = (int(rate * per_token) for rate in token_rates)
        self.x_web_search = int(web_search * Decimal(10) ** scale)
        self.units = Decimal(10) ** scale

    def as_dict(self) -> dict[str, Decimal]:
        """The token rates (USD per 1M tokens) and the per-request web search fee."""
        return {
            "input": self.input,
            "output": self.output,
            "cache_read": self.cache_read,
            "cache_write": self.cache_write,
            "cache_write_long": self.cache_write_long,
            "input_audio": self.input_audio,
            "output_audio": self.output_audio,
            "reasoning": self.reasoning,
            "web_search_per_request": self.web_search,
        }


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int), f"not a finite rate: {value!r}"
    return min(exponent, 0)


# Integers below this have at most 28 digits: dividing them by a power of ten is exact in the
# default decimal context (precision 28).
_EXACT_LIMIT = 10**28


def price(card: RateCard, usage: Usage, priced_as: str, catalog_version: str) -> Cost:
    """Price ``usage`` with ``card``: each part exact, the total the exact sum of the parts."""
    input_tokens = usage.input_tokens
    for threshold, tier_card in card.tiers:
        if input_tokens > threshold:
            card = tier_card
            break

    cache_read = usage.cache_read_tokens
    cache_write = usage.cache_write_tokens
    uncached = input_tokens - cache_read - cache_write
    # Audio input is a part of input; the usage does not say whether it was cached, so it is
    # taken from the uncached part first (cached audio costs the cached-text rate on every
    # model we know of).
    audio_in = usage.input_audio_tokens
    if audio_in:
        if audio_in > uncached:
            audio_in = uncached
        input_units = card.x_input * (uncached - audio_in) + card.x_input_audio * audio_in
    else:
        input_units = card.x_input * uncached
    cache_read_units = card.x_cache_read * cache_read
    long_write = usage.cache_write_1h_tokens
    cache_write_units = (
        card.x_cache_write * (cache_write - long_write) + card.x_cache_write_long * long_write
    )
    output_tokens = usage.output_tokens
    reasoning = usage.reasoning_tokens
    audio_out = usage.output_audio_tokens
    if reasoning or audio_out:
        output_units = (
            card.x_output * (output_tokens - reasoning - audio_out)
            + card.x_reasoning * reasoning
            + card.x_output_audio * audio_out
        )
    else:
        output_units = card.x_output * output_tokens
    tool_units = card.x_web_search * usage.web_search_requests
    total_units = input_units + cache_read_units + cache_write_units + output_units + tool_units

    parts = (
        input_units,
        cache_read_units,
        cache_write_units,
        output_units,
        tool_units,
        total_units,
        card.units,
        priced_as,
        catalog_version,
    )
    if total_units >= _EXACT_LIMIT or getcontext().prec < _MIN_PREC:
        # Astronomically large counts, or a host context narrower than the default: divide in
        # a wide private context that raises rather than rounds.
        with localcontext(_CTX):
            return _cost(*parts)
    return _cost(*parts)


def plain_total(
    card: RateCard, uncached_input: int, cache_write: int, cache_write_long: int, output: int
) -> Decimal | None:
    """The total :func:`price` gives for plain input, cache writes and output on ``card``.

    The same integer arithmetic and the same digits, without building a Usage or a Cost: for
    callers that need only the total many times a second (a budget's worst case). Returns None
    where only :func:`price` can answer exactly: a card with long-context tiers (the cliff
    depends on the whole usage), or sums too large for an exact division in the caller's
    decimal context.
    """
    if card.tiers:
        return None
    units = (
        card.x_input * uncached_input
        + card.x_cache_write * (cache_write - cache_write_long)
        + card.x_cache_write_long * cache_write_long
        + card.x_output * output
    )
    if units >= _EXACT_LIMIT or getcontext().prec < _MIN_PREC:
        return None
    return units / card.units if units else ZERO


def _cost(
    input_units: int,
    cache_read_units: int,
    cache_write_units: int,
    output_units: int,
    tool_units: int,
    total_units: int,
    units: Decimal,
    priced_as: str,
    catalog_version: str,
) -> Cost:
    # Dividing an integer by a power of ten gives the shortest exact form ("0.0035", "2.5",
    # "10"), and the total, divided from the integer sum, is the exact sum of the parts.
    # construct_trusted is model_construct without its per-field walk (~4 µs saved).
    return construct_trusted(
        Cost,
        {
            "input_cost_usd": input_units / units if input_units else ZERO,
            "cache_read_cost_usd": cache_read_units / units if cache_read_units else ZERO,
            "cache_write_cost_usd": cache_write_units / units if cache_write_units else ZERO,
            "output_cost_usd": output_units / units if output_units else ZERO,
            "tool_cost_usd": tool_units / units if tool_units else ZERO,
            "total_cost_usd": total_units / units if total_units else ZERO,
            "priced": True,
            "priced_as": priced_as,
            "catalog_version": catalog_version,
        },
    )
