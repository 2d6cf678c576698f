"""Exact cost math over precomputed rate cards.

A :class:`RateCard` holds every rate one call needs (USD per 1M tokens, with fallbacks,
variants, multipliers and contract scale already applied), also as integers in units of
10**-scale USD per token, and which splits of a count change the price on it. It is built
once per model, period and set of options, and memoized. Pricing a call (:func:`price`) is
then integer products (exact by nature) and one Decimal division by a power of ten per
non-zero part, which is exact whenever the result fits the decimal precision: the default 28
digits for any real call; otherwise a private 80-digit context that traps Inexact is used,
so a cost is exact or an error, whatever decimal context the host application has set.

Where the time of one call goes, and why it is built this way: docs/performance.md#pricing.
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

from llmcost.types import Cost

if TYPE_CHECKING:
    from llmcost.types import Usage

__all__ = ["EXACT", "TOKEN_RATES", "ZERO", "RateCard", "plain_total", "price"]

# llmcost's own decimal context: wide, and trapping Inexact so that a cost or a rate is exact
# or an error. Rate cards are built in it, and a price is divided in it whenever the caller's
# context could round (narrower than the default) or the counts are huge. The caller's
# decimal context never changes a number llmcost computes.
EXACT = Context(prec=80, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
_CTX = EXACT
_MIN_PREC = 28

ZERO = Decimal(0)

#: The token rates of a full card (USD per 1M tokens), fallbacks applied.
TOKEN_RATES: tuple[str, ...] = (
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_long",
    "input_audio",
    "output_audio",
    "reasoning",
    "cache_read_audio",
    "input_image",
    "cache_read_image",
    "output_image",
)


class RateCard:
    """Resolved rates for one model, period and set of pricing options (immutable by use).

    ``tiers`` holds ``(above_input_tokens, RateCard)`` pairs, highest threshold first: when a
    call's total input is strictly above a threshold, the whole call uses that card (a cliff).
    ``web_search`` and ``web_search_preview`` are USD per search with OpenAI's ``web_search``
    and ``web_search_preview`` tools (Anthropic's searches use ``web_search``);
    ``web_search_tokens`` is a fixed block of input tokens billed with every ``web_search``
    search at the card's input rate.

    ``media_input``, ``long_writes`` and ``split_output`` say whether audio or image input
    (or their cached parts), 1-hour cache writes, and reasoning or audio or image output have
    rates of their own on this card, ``searches_billed`` whether a search costs anything;
    where not, :func:`price` does not read those counts.
    """

    __slots__ = (
        *TOKEN_RATES,
        "long_writes",
        "media_input",
        "searches_billed",
        "split_output",
        "tiers",
        "units",
        "web_search",
        "web_search_preview",
        "web_search_tokens",
        *(f"x_{name}" for name in TOKEN_RATES),
        "x_web_search",
        "x_web_search_preview",
    )

    def __init__(
        self,
        *,
        web_search: Decimal,
        web_search_preview: Decimal | None = None,
        web_search_tokens: int = 0,
        tiers: tuple[tuple[int, RateCard], ...] = (),
        **rates: Decimal,
    ) -> None:
        # Built in llmcost's own context, whatever the caller's (a product of exact decimals
        # would otherwise be rounded to the caller's precision and memoized for everyone).
        with localcontext(EXACT):
            self._init(web_search, web_search_preview, web_search_tokens, tiers, rates)

    def _init(
        self,
        web_search: Decimal,
        web_search_preview: Decimal | None,
        web_search_tokens: int,
        tiers: tuple[tuple[int, RateCard], ...],
        rates: dict[str, Decimal],
    ) -> None:
        missing = [name for name in ("input", "output") if name not in rates]
        unknown = sorted(set(rates) - set(TOKEN_RATES))
        if missing or unknown:
            raise TypeError(f"RateCard: missing rates {missing}, unknown rates {unknown}")
        inp, out, cache_read = rates["input"], rates["output"], rates.get("cache_read")
        full = {
            "input": inp,
            "output": out,
            "cache_read": inp if cache_read is None else cache_read,
            "cache_write": rates.get("cache_write", inp),
            "input_audio": rates.get("input_audio", inp),
            "output_audio": rates.get("output_audio", out),
            "reasoning": rates.get("reasoning", out),
            "input_image": rates.get("input_image", inp),
            "output_image": rates.get("output_image", out),
        }
        full["cache_write_long"] = rates.get("cache_write_long", full["cache_write"])
        full["cache_read_audio"] = rates.get("cache_read_audio", full["cache_read"])
        full["cache_read_image"] = rates.get("cache_read_image", full["cache_read"])
        for name in TOKEN_RATES:
            setattr(self, name, full[name])
        preview = web_search if web_search_preview is None else web_search_preview
        self.web_search = web_search
        self.web_search_preview = preview
        self.web_search_tokens = web_search_tokens
        self.tiers = tiers
        # Integer rates in units of 10**-scale USD per token (per request for web search), so
        # the hot path multiplies Python ints and makes one exact Decimal division per part.
        scale = max(
            [6, -_exponent(web_search), -_exponent(preview)]
            + [6 - _exponent(full[name]) for name in TOKEN_RATES]
        )
        per_token = Decimal(10) ** (scale - 6)
        for name in TOKEN_RATES:
            setattr(self, f"x_{name}", int(full[name] * per_token))
        self.x_web_search = int(web_search * Decimal(10) ** scale)
        self.x_web_search_preview = int(preview * Decimal(10) ** scale)
        self.units = Decimal(10) ** scale
        # Which splits change the price on this card. Where a part's rate equals its whole's
        # (reasoning billed as output, say), pricing the part apart or not gives the same
        # integer, so price() reads those counts only where this says they matter.
        self.media_input = (
            self.x_input_audio != self.x_input
            or self.x_input_image != self.x_input
            or self.x_cache_read_audio != self.x_cache_read
            or self.x_cache_read_image != self.x_cache_read
        )
        self.long_writes = self.x_cache_write_long != self.x_cache_write
        self.split_output = (
            self.x_reasoning != self.x_output
            or self.x_output_audio != self.x_output
            or self.x_output_image != self.x_output
        )
        self.searches_billed = bool(
            self.x_web_search or self.x_web_search_preview or web_search_tokens
        )

    # The integer rates and flags, declared for type checkers (set in _init).
    media_input: bool
    long_writes: bool
    split_output: bool
    searches_billed: bool
    x_input: int
    x_output: int
    x_cache_read: int
    x_cache_write: int
    x_cache_write_long: int
    x_input_audio: int
    x_output_audio: int
    x_reasoning: int
    x_cache_read_audio: int
    x_input_image: int
    x_cache_read_image: int
    x_output_image: int
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    cache_write_long: Decimal
    input_audio: Decimal
    output_audio: Decimal
    reasoning: Decimal
    cache_read_audio: Decimal
    input_image: Decimal
    cache_read_image: Decimal
    output_image: Decimal

    def as_dict(self) -> dict[str, Decimal]:
        """The token rates (USD per 1M tokens) and the per-request web search fees."""
        rates: dict[str, Decimal] = {name: getattr(self, name) for name in TOKEN_RATES}
        rates["web_search_per_request"] = self.web_search
        rates["web_search_preview_per_request"] = self.web_search_preview
        rates["web_search_tokens_per_request"] = Decimal(self.web_search_tokens)
        return rates


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int), f"not a finite rate: {value!r}"
    return min(exponent, 0)


# Integers below this have at most 28 digits: dividing them by a power of ten is exact in the
# default decimal context (precision 28).
_EXACT_LIMIT = 10**28


def price(card: RateCard, usage: Usage, priced_as: str, catalog_version: str) -> Cost:
    """Price ``usage`` with ``card``: each part exact, the total the exact sum of the parts.

    Each part is a whole number of 10**-scale USD (token counts times the card's integer
    rates), divided by 10**scale once, at the end. A count the card prices like its whole
    (reasoning at the output rate, say) is not read: splitting it off would give the same
    integer (the card's flags say which splits matter).
    """
    input_tokens = usage.input_tokens
    for threshold, tier_card in card.tiers:
        if input_tokens > threshold:
            card = tier_card
            break

    cache_read = usage.cache_read_tokens
    cache_write = usage.cache_write_tokens
    uncached = input_tokens - cache_read - cache_write
    if card.media_input and (usage.input_audio_tokens or usage.input_image_tokens):
        # Audio and image input are parts of input; their cached parts are parts of the
        # cache reads. What is left of them is uncached (capped at the uncached input,
        # should a provider count a cache write as audio).
        cached_audio = usage.cache_read_audio_tokens
        cached_image = usage.cache_read_image_tokens
        audio_in = min(usage.input_audio_tokens - cached_audio, uncached)
        image_in = min(usage.input_image_tokens - cached_image, uncached - audio_in)
        input_units = (
            card.x_input * (uncached - audio_in - image_in)
            + card.x_input_audio * audio_in
            + card.x_input_image * image_in
        )
        cache_read_units = (
            card.x_cache_read * (cache_read - cached_audio - cached_image)
            + card.x_cache_read_audio * cached_audio
            + card.x_cache_read_image * cached_image
        )
    else:
        input_units = card.x_input * uncached
        cache_read_units = card.x_cache_read * cache_read

    if card.long_writes:
        long_write = usage.cache_write_1h_tokens
        cache_write_units = (
            card.x_cache_write * (cache_write - long_write) + card.x_cache_write_long * long_write
        )
    else:
        cache_write_units = card.x_cache_write * cache_write

    output_tokens = usage.output_tokens
    if card.split_output:
        reasoning = usage.reasoning_tokens
        audio_out = usage.output_audio_tokens
        image_out = usage.output_image_tokens
        output_units = (
            card.x_output * (output_tokens - reasoning - audio_out - image_out)
            + card.x_reasoning * reasoning
            + card.x_output_audio * audio_out
            + card.x_output_image * image_out
        )
    else:
        output_units = card.x_output * output_tokens

    searches = usage.web_search_requests if card.searches_billed else 0
    if searches:
        preview = usage.web_search_preview_requests
        tool_units = (card.x_web_search + card.x_input * card.web_search_tokens) * (
            searches - preview
        ) + card.x_web_search_preview * preview
    else:
        tool_units = 0
    total_units = input_units + cache_read_units + cache_write_units + output_units + tool_units

    units = card.units
    if total_units >= _EXACT_LIMIT or getcontext().prec < _MIN_PREC:
        # Astronomically large counts, or a host context narrower than the default: divide in
        # a wide private context that raises rather than rounds.
        with localcontext(_CTX):
            return _cost(
                input_units,
                cache_read_units,
                cache_write_units,
                output_units,
                tool_units,
                total_units,
                units,
                priced_as,
                catalog_version,
            )
    return _cost(
        input_units,
        cache_read_units,
        cache_write_units,
        output_units,
        tool_units,
        total_units,
        units,
        priced_as,
        catalog_version,
    )


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
    return Cost(
        input_units / units if input_units else ZERO,
        cache_read_units / units if cache_read_units else ZERO,
        cache_write_units / units if cache_write_units else ZERO,
        output_units / units if output_units else ZERO,
        tool_units / units if tool_units else ZERO,
        total_units / units if total_units else ZERO,
        True,
        priced_as,
        catalog_version,
    )
