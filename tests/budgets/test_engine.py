"""The budget engine's building blocks: amounts, the in-memory store, figures read after calls."""

from __future__ import annotations

from decimal import Decimal

import pytest

import llmcost
from llmcost import pricing, tokens
from llmcost._context import ensure_configured
from llmcost._recorder import Call, start_call
from llmcost.budgets import _estimate
from llmcost.budgets._amounts import EMPTY, Amounts, Limits, Totals
from llmcost.budgets._store import InMemoryBudgetStore
from llmcost.types import Usage

REQUEST = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "Which payment methods do you accept?"}],
    "max_tokens": 300,
}


@pytest.fixture(autouse=True)
def _configured() -> None:
    llmcost.configure()


def test_amounts_add_and_subtract_field_by_field() -> None:
    """Amounts are tuples, but + and - work per field, never as tuple concatenation."""
    a = Amounts(Decimal("0.25"), 10, 5, 1)
    b = Amounts(Decimal("0.05"), 3, 2, 1)
    assert a + b == Amounts(Decimal("0.30"), 13, 7, 2)
    assert a - b == Amounts(Decimal("0.20"), 7, 3, 0)
    assert (a + b).total_tokens == 20
    assert a.get("output_tokens") == 5
    assert EMPTY == Amounts() == Amounts(Decimal(0), 0, 0, 0)


def test_store_totals_are_snapshots() -> None:
    """Totals returned by the store never change afterwards, whatever happens to the key."""
    store = InMemoryBudgetStore()
    limits = Limits(cost_usd=Decimal(1))
    amount = Amounts(Decimal("0.4"), 100, 50, 1)
    assert store.reserve("k", amount, limits) is None
    before = store.read("k")
    settled = store.settle("k", amount, Amounts(Decimal("0.1"), 90, 20, 1))
    assert before == Totals(EMPTY, amount)
    assert settled == Totals(Amounts(Decimal("0.1"), 90, 20, 1), EMPTY)
    assert store.reserve("k", amount, limits) is None
    assert store.release("k", amount) == settled
    assert settled == Totals(Amounts(Decimal("0.1"), 90, 20, 1), EMPTY)
    assert store.read("never used") == Totals()


def test_a_refusal_carries_the_totals_before_it() -> None:
    """A refused reservation changes nothing and reports the totals it was checked against."""
    store = InMemoryBudgetStore()
    limits = Limits(input_tokens=100, total_tokens=120)
    assert store.reserve("k", Amounts(ZERO_COST, 60, 30, 1), limits) is None
    refusal = store.reserve("k", Amounts(ZERO_COST, 30, 1, 1), limits)
    assert refusal is not None
    assert refusal.dimension == "total_tokens"
    assert refusal.totals == Totals(EMPTY, Amounts(ZERO_COST, 60, 30, 1))
    assert store.read("k") == refusal.totals


ZERO_COST = Decimal(0)


def test_figures_include_calls_whose_records_are_still_being_made() -> None:
    """Reading a budget's figures waits for the records of calls that already returned."""
    with llmcost.budget(max_cost_usd=1, name="pending") as b:
        call = start_call("openai", "chat", "gpt-4o-mini", request=REQUEST)
        call.finish(Usage(input_tokens=40, output_tokens=120))
        # No explicit delivery: the figure itself runs what is pending.
        expected = pricing.cost(
            "gpt-4o-mini", Usage(input_tokens=40, output_tokens=120), provider="openai"
        ).total_cost_usd
        assert b.spent_usd == expected
        assert b.reserved_usd == 0
        assert [record.total_cost_usd for record in b.records] == [expected]
    with llmcost.budget(max_calls=5) as calls:
        unknown = start_call("openai", "chat", "not-a-model-anyone-sells", request=REQUEST)
        unknown.finish(Usage(input_tokens=1))
        assert calls.unpriced_calls == 1
        assert (calls.calls, calls.input_tokens) == (1, 1)


def test_budget_and_Budget_take_the_same_settings() -> None:
    """llmcost.budget() and llmcost.Budget() build identical budgets from the same options."""
    store = InMemoryBudgetStore()

    def on_warn(budget: llmcost.Budget) -> None:
        pass

    options = {
        "max_input_tokens": 1,
        "max_output_tokens": 2,
        "max_total_tokens": 3,
        "max_calls": 4,
        "on_exceed": "warn",
        "warn_at": 0.5,
        "on_warn": on_warn,
        "name": "same",
        "store": store,
        "estimator": "anthropic_api",
    }
    made = [llmcost.budget("0.10", **options), llmcost.Budget("0.10", **options)]  # type: ignore[arg-type]
    for b in made:
        assert b.limits == Limits(Decimal("0.10"), 1, 2, 3, 4)
        assert (b.on_exceed, b.warn_at, b.on_warn, b.name) == ("warn", 0.5, on_warn, "same")
        assert (b.store, b.key, b.estimator) == (store, "same", "anthropic_api")
    with pytest.raises(ValueError, match="max_cost_usd"):
        llmcost.budget(-1)
    with pytest.raises(TypeError, match="max_cost_usd"):
        llmcost.budget(True)


def test_the_plain_card_shortcut_prices_the_worst_case_like_the_full_path() -> None:
    """The worst case priced from the memoized plain card equals pricing.cost() exactly."""
    call = Call(ensure_configured(), "openai", "chat", "gpt-4o-mini", REQUEST, False, None)
    worst = _estimate.estimate(call, REQUEST)
    input_tokens = tokens.estimate_request_input_tokens("openai", "chat", REQUEST)
    full = pricing.cost(
        "gpt-4o-mini", Usage(input_tokens=input_tokens, output_tokens=300), provider="openai"
    )
    assert (worst.input_tokens, worst.output_tokens) == (input_tokens, 300)
    assert worst.cost_usd == full.total_cost_usd
    assert str(worst.cost_usd) == str(full.total_cost_usd)  # the same digits, not just equal
    # A data-residency call takes the keyed card, not the plain one.
    eu = Call(ensure_configured(), "openai", "chat", "gpt-4o-mini", REQUEST, False, "eu")
    eu_cost = pricing.cost(
        "gpt-4o-mini",
        Usage(input_tokens=input_tokens, output_tokens=300),
        provider="openai",
        data_residency="eu",
    ).total_cost_usd
    assert _estimate.estimate(eu, REQUEST).cost_usd == eu_cost


def test_warn_at_skips_a_zero_limit() -> None:
    """A limit of 0 has no warn level: it never warns at zero use."""
    seen: list[llmcost.Budget] = []
    with llmcost.budget(max_cost_usd=0, max_calls=10, on_warn=seen.append) as b:
        b._check_warn(b.totals())
    assert seen == []
