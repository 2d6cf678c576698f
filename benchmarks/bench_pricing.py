"""Benchmark: llmcost.pricing.cost() for an already-resolved model, beside genai-prices.

Run: ``python benchmarks/bench_pricing.py``. Prints the median time per call (µs) of several
runs of many calls each. Target: cost() <= 5 µs per call (median) on a 2-core machine.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from collections.abc import Callable

from llmcost.pricing import cost
from llmcost.types import Usage

CALLS = 20_000
RUNS = 15

CASES = [
    ("gpt-4o (plain)", "gpt-4o", "openai", Usage(input_tokens=1200, output_tokens=300), {}),
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
        {},
    ),
    (
        "gpt-5.5 (reasoning, flex)",
        "gpt-5.5",
        "openai",
        Usage(input_tokens=5000, cache_read_tokens=1000, output_tokens=2000, reasoning_tokens=1500),
        {"service_tier": "flex"},
    ),
]


def median_us(fn: Callable[[], object]) -> float:
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        for _ in range(CALLS):
            fn()
        samples.append((time.perf_counter() - start) / CALLS * 1e6)
    return statistics.median(samples)


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
    )
    genai_prices.calc_price(gp_usage, model, provider_id=provider)  # warm its caches

    def run() -> object:
        return genai_prices.calc_price(gp_usage, model, provider_id=provider)

    return run


def main() -> int:
    print(
        f"python {platform.python_version()} on {platform.machine()}, {CALLS} calls x {RUNS} runs"
    )
    print(f"{'case':40} {'llmcost µs':>11} {'genai-prices µs':>16}")
    worst = 0.0
    for label, model, provider, usage, options in CASES:
        cost(model, usage, provider=provider, **options)  # resolve + build the rate card once

        def ours(
            model: str = model,
            usage: Usage = usage,
            provider: str = provider,
            options: dict = options,
        ) -> object:
            return cost(model, usage, provider=provider, **options)

        ours_us = median_us(ours)
        worst = max(worst, ours_us)
        theirs = genai_prices_fn(model, provider, usage)
        theirs_us = f"{median_us(theirs):16.2f}" if theirs else f"{'(not installed)':>16}"
        print(f"{label:40} {ours_us:11.2f} {theirs_us}")
    verdict = "OK" if worst <= 5.0 else "OVER TARGET"
    print(f"worst median: {worst:.2f} µs per call (target <= 5 µs): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
