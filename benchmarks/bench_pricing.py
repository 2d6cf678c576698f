"""Benchmark: llmcost.pricing.cost() for an already-resolved model, beside genai-prices.

Run: ``python benchmarks/bench_pricing.py``. Prints the median time per call (µs) of several
runs of many calls each (process CPU time), llmcost and genai-prices' ``calc_price`` on the
same usage, their runs interleaved (side by side in one process, so machine load hits both
alike). Targets:
cost() <= 5 µs per call (median) on a 2-core machine, and >= 30x faster than calc_price in
every case. Exits 1 when a target is missed.

``python benchmarks/bench_pricing.py --pieces`` times the pieces of one call instead (the
first case, each piece alone, process CPU time): where the time of cost() goes.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal, getcontext

from llmcost.pricing import cost
from llmcost.types import Usage

CALLS = 20_000
RUNS = 15
THEIR_CALLS = 1_000  # calc_price is ~100x slower: fewer calls per run, same number of runs

# label, model, provider, usage, service tier
CASES: list[tuple[str, str, str, Usage, str | None]] = [
    ("gpt-4o (plain)", "gpt-4o", "openai", Usage(input_tokens=1200, output_tokens=300), None),
    (
        "claude-sonnet-4-5 (cache read+write)",
        "claude-sonnet-4-5",
        "anthropic",
        Usage(
            input_tokens=12_000,
            cache_read_tokens=8000,
            cache_write_tokens=2000,
            cache_write_1h_tokens=500,
            output_tokens=700,
        ),
        None,
    ),
    (
        "gpt-5.5 (reasoning, flex)",
        "gpt-5.5",
        "openai",
        Usage(input_tokens=5000, cache_read_tokens=1000, output_tokens=2000, reasoning_tokens=1500),
        "flex",
    ),
    (
        "gpt-realtime-mini (cached audio, images)",
        "gpt-realtime-mini",
        "openai",
        Usage(
            input_tokens=10_000,
            cache_read_tokens=6000,
            cache_read_audio_tokens=4000,
            input_audio_tokens=5000,
            input_image_tokens=1000,
            output_tokens=500,
        ),
        None,
    ),
    (
        "gpt-4.1-mini (web search, fixed block)",
        "gpt-4.1-mini",
        "openai",
        Usage(input_tokens=3000, output_tokens=400, web_search_requests=2),
        None,
    ),
]


def one_run_us(fn: Callable[[], object], calls: int) -> float:
    # CPU time of this process, not wall time: on a shared machine a run that is descheduled
    # part-way would otherwise count other processes' work against whichever side it hit.
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) / calls * 1e6


def side_by_side(
    ours: Callable[[], object], theirs: Callable[[], object] | None
) -> tuple[float, float | None]:
    """Median µs per call of each, their runs interleaved."""
    mine: list[float] = []
    other: list[float] = []
    for _ in range(RUNS):
        mine.append(one_run_us(ours, CALLS))
        if theirs is not None:
            other.append(one_run_us(theirs, THEIR_CALLS))
    return statistics.median(mine), statistics.median(other) if other else None


def genai_prices_fn(model: str, provider: str, usage: Usage) -> Callable[[], object] | None:
    try:
        import genai_prices
        from genai_prices import Usage as GPUsage
    except ImportError:
        return None
    gp_usage = GPUsage(
        input_tokens=usage.input_tokens,
        cache_read_tokens=usage.cache_read_tokens or None,
        cache_write_tokens=usage.cache_write_tokens or None,
        output_tokens=usage.output_tokens,
        input_audio_tokens=usage.input_audio_tokens or None,
        cache_audio_read_tokens=usage.cache_read_audio_tokens or None,
    )
    genai_prices.calc_price(gp_usage, model, provider_id=provider)  # warm its caches

    def run() -> object:
        return genai_prices.calc_price(gp_usage, model, provider_id=provider)

    return run


def pieces() -> int:
    """Median µs of each piece of one cost() call (the first case), timed alone."""
    from pydantic import BaseModel, ConfigDict

    from llmcost.pricing import get_catalog
    from llmcost.pricing._math import price
    from llmcost.types import Cost

    class PydanticCost(BaseModel):  # Cost as it was: a frozen pydantic model, validated
        model_config = ConfigDict(frozen=True)
        input_cost_usd: Decimal | None = None
        cache_read_cost_usd: Decimal | None = None
        cache_write_cost_usd: Decimal | None = None
        output_cost_usd: Decimal | None = None
        tool_cost_usd: Decimal | None = None
        total_cost_usd: Decimal | None = None
        priced: bool = False
        priced_as: str | None = None
        catalog_version: str | None = None

    case, model, provider, usage, _ = CASES[0]
    result = cost(model, usage, provider=provider)
    found = get_catalog().resolve(model, provider)
    assert found is not None
    card = found.card()
    fields = dict(vars(result))
    values = tuple(fields.values())
    units = card.units
    rows: list[tuple[str, Callable[[], object]]] = [
        ("cost(), the whole call", lambda: cost(model, usage, provider=provider)),
        ("price(card, usage): the arithmetic and the Cost", lambda: price(card, usage, model, "")),
        ("Cost(...) from ready Decimals", lambda: Cost(*values)),
        (
            "  for comparison: the pydantic Cost, model_validate",
            lambda: PydanticCost.model_validate(fields),
        ),
        ("one exact division, int / 10**scale", lambda: 3_000_000_000 / units),
        ("one Usage count read", lambda: usage.output_tokens),
        ("decimal.getcontext().prec", lambda: getcontext().prec),
        ("the card for an option (ModelPrice.card)", lambda: found.card(service_tier="flex")),
        ("an empty call (the timing loop's own share)", lambda: None),
    ]
    print(f"{case}: median of {RUNS} interleaved runs of {CALLS} calls, process CPU time")
    times: dict[str, list[float]] = {label: [] for label, _ in rows}
    for _ in range(RUNS):  # interleaved, so that the machine's load hits every piece alike
        for label, fn in rows:
            times[label].append(one_run_us(fn, CALLS))
    for label, runs in times.items():
        print(f"{label:54} {statistics.median(runs):6.3f} µs")
    return 0


def main() -> int:
    print(
        f"python {platform.python_version()} on {platform.machine()}, {RUNS} interleaved runs "
        f"of {CALLS} llmcost / {THEIR_CALLS} genai-prices calls"
    )
    print(f"{'case':42} {'llmcost µs':>11} {'genai-prices µs':>16} {'ratio':>7}")
    worst = 0.0
    worst_ratio: float | None = None
    for label, model, provider, usage, service_tier in CASES:
        cost(model, usage, provider=provider, service_tier=service_tier)  # resolve, build once

        # Keyword arguments written out, as the recorder calls cost() (a ** unpacking here
        # would time the harness's dict merge, about 0.3 µs, as part of cost()).
        def ours(
            model: str = model,
            usage: Usage = usage,
            provider: str = provider,
            service_tier: str | None = service_tier,
        ) -> object:
            return cost(model, usage, provider=provider, service_tier=service_tier)

        ours_us, theirs_us = side_by_side(ours, genai_prices_fn(model, provider, usage))
        worst = max(worst, ours_us)
        if theirs_us is None:
            print(f"{label:42} {ours_us:11.2f} {'(not installed)':>16}")
            continue
        ratio = theirs_us / ours_us
        worst_ratio = ratio if worst_ratio is None else min(worst_ratio, ratio)
        print(f"{label:42} {ours_us:11.2f} {theirs_us:16.2f} {ratio:6.1f}x")
    fast = worst <= 5.0
    print(f"worst median: {worst:.2f} µs per call (target <= 5 µs): {'OK' if fast else 'OVER'}")
    ahead = worst_ratio is None or worst_ratio >= 30
    if worst_ratio is not None:
        verdict = "OK" if ahead else "UNDER"
        print(f"smallest ratio: {worst_ratio:.1f}x genai-prices (target >= 30x): {verdict}")
    return 0 if fast and ahead else 1


if __name__ == "__main__":
    sys.exit(pieces() if "--pieces" in sys.argv[1:] else main())
