"""Money math never depends on the caller's decimal context.

Rates are exact Decimals from the data, rate cards are built (and memoized) in llmcost's own
context, and costs are divided in it whenever the caller's could round: a host application
that sets ``decimal.getcontext().prec = 6`` (or another rounding, or traps) changes nothing.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from llmcost.pricing import Catalog, cost, load_catalog, use_catalog
from llmcost.types import Usage

MODELS = ["o4-mini", "gpt-4o-mini", "gpt-realtime-mini", "claude-sonnet-4-5", "gpt-6-astra"]


def _fresh() -> Catalog:
    # Patching a field rebuilds the patched models, so their rate cards are not memoized yet.
    return load_catalog({"models": {name: {"note": "fresh"} for name in MODELS}})


def test_a_first_caller_at_precision_6_does_not_round_the_card_for_everyone() -> None:
    """The first call in a 6-digit context prices o4-mini priority at exactly $8 per 1M
    output tokens, and so does every later call, in any context."""
    use_catalog(_fresh())
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    with decimal.localcontext() as ctx:
        ctx.prec = 6
        first = cost("o4-mini", usage, service_tier="priority")
        assert decimal.getcontext().prec == 6  # the caller's context is left as it was
    later = cost("o4-mini", usage, service_tier="priority")
    assert first.output_cost_usd == later.output_cost_usd == Decimal(8)
    assert first.input_cost_usd == Decimal(2)
    assert first == later


def test_getcontext_prec_6_changes_nothing() -> None:
    """``decimal.getcontext().prec = 6`` set by the host: identical costs, exact digits."""
    usage = Usage(input_tokens=123_457, cache_read_tokens=3, output_tokens=98_765)
    reference = {model: cost(model, usage, service_tier="priority") for model in MODELS}
    context = decimal.getcontext()
    saved = context.prec
    try:
        context.prec = 6
        use_catalog(_fresh())
        for model in MODELS:
            got = cost(model, usage, service_tier="priority")
            assert got.model_dump(exclude={"catalog_version"}) == reference[model].model_dump(
                exclude={"catalog_version"}
            ), model
    finally:
        context.prec = saved


@settings(max_examples=60, deadline=None)
@given(
    model=st.sampled_from(MODELS),
    prec=st.integers(1, 40),
    rounding=st.sampled_from([decimal.ROUND_FLOOR, decimal.ROUND_CEILING, decimal.ROUND_05UP]),
    trap_inexact=st.booleans(),
    counts=st.tuples(*(st.integers(0, 5_000_000) for _ in range(3))),
    tier=st.sampled_from([None, "priority", "flex"]),
    batch=st.booleans(),
)
def test_any_caller_context_gives_the_same_cost(
    model: str,
    prec: int,
    rounding: str,
    trap_inexact: bool,
    counts: tuple[int, int, int],
    tier: str | None,
    batch: bool,
) -> None:
    """Property: precision, rounding mode and traps of the caller's context, at card build
    time and at pricing time, never change a cost."""
    input_tokens, cached, output = counts
    usage = Usage(
        input_tokens=input_tokens + cached, cache_read_tokens=cached, output_tokens=output
    )
    reference = cost(model, usage, service_tier=tier, batch=batch)
    with decimal.localcontext() as ctx:
        ctx.prec, ctx.rounding = prec, rounding
        ctx.traps[decimal.Inexact] = trap_inexact
        use_catalog(_fresh())
        got = cost(model, usage, service_tier=tier, batch=batch)
    use_catalog(None)
    assert got.model_dump(exclude={"catalog_version"}) == reference.model_dump(
        exclude={"catalog_version"}
    )
