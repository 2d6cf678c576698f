"""Property tests of reservation accounting: exact Decimals, limits never passed at admission."""

from __future__ import annotations

import uuid
from decimal import Decimal
from types import SimpleNamespace

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import llmcost
from llmcost.budgets import _admission, _amounts, _store
from llmcost.budgets._admission import BudgetReservation
from llmcost.budgets._amounts import Amounts, Totals
from llmcost.budgets._estimate import Estimate

CALL = SimpleNamespace(provider="openai", operation="chat", model="gpt-4o-mini")
money = st.decimals(min_value=0, max_value=Decimal("0.5"), places=6, allow_nan=False)
counts = st.integers(min_value=0, max_value=5_000)


def fits(totals: Totals, amount: Amounts, limits: _amounts.Limits) -> bool:
    return all(
        totals.spent.get(d) + totals.reserved.get(d) + amount.get(d) <= limit
        for d, limit in limits.items()
    )


class ReservationMachine(RuleBasedStateMachine):
    """Random admits, settles and releases on two nested budgets, against a simple model."""

    @initialize(
        cost=st.decimals(min_value=0, max_value=2, places=6, allow_nan=False),
        calls=st.integers(min_value=0, max_value=20),
        tokens=st.integers(min_value=0, max_value=40_000),
        inner_cost=st.decimals(min_value=0, max_value=2, places=6, allow_nan=False),
    )
    def open_budgets(self, cost: Decimal, calls: int, tokens: int, inner_cost: Decimal) -> None:
        self.outer = llmcost.budget(
            cost, max_calls=calls, max_total_tokens=tokens, warn_at=None, name="outer"
        )
        self.inner = llmcost.budget(inner_cost, warn_at=None, name="inner")
        self.open: list[tuple[BudgetReservation, Amounts]] = []
        self.closed: list[BudgetReservation] = []
        self.model = {id(self.outer): Totals(), id(self.inner): Totals()}

    @rule(cost=money, input_tokens=counts, output_tokens=counts)
    def admit(self, cost: Decimal, input_tokens: int, output_tokens: int) -> None:
        amount = Amounts(cost, input_tokens, output_tokens, 1)
        before = {b: b.totals() for b in (self.outer, self.inner)}
        try:
            reservation = _admission.reserve(
                CALL,  # type: ignore[arg-type]
                (self.outer, self.inner),
                Estimate(input_tokens, output_tokens, cost),
            )
        except llmcost.BudgetExceeded as error:
            refused_by = error.budget_name
        else:
            refused_by = None
        if refused_by is not None:
            # The outermost budget that cannot cover the call is the one named.
            if refused_by == "outer":
                assert not fits(before[self.outer], amount, self.outer.limits)
            else:
                assert refused_by == "inner"
                assert fits(before[self.outer], amount, self.outer.limits)
                assert not fits(before[self.inner], amount, self.inner.limits)
            # Nothing changed on either budget.
            assert {b: b.totals() for b in (self.outer, self.inner)} == before
            return
        for budget in (self.outer, self.inner):
            assert fits(before[budget], amount, budget.limits)
            old = self.model[id(budget)]
            self.model[id(budget)] = Totals(old.spent, old.reserved + amount)
        self.open.append((reservation, amount))

    @precondition(lambda self: bool(self.open))
    @rule(data=st.data(), cost=money, input_tokens=counts, output_tokens=counts)
    def settle(
        self, data: st.DataObject, cost: Decimal, input_tokens: int, output_tokens: int
    ) -> None:
        index = data.draw(st.integers(min_value=0, max_value=len(self.open) - 1))
        reservation, amount = self.open.pop(index)
        record = SimpleNamespace(
            record_id=uuid.uuid4().hex,
            total_cost_usd=cost,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )
        reservation.settle(record)  # type: ignore[arg-type]
        actual = Amounts(cost, input_tokens, output_tokens, 1)
        for budget in (self.outer, self.inner):
            old = self.model[id(budget)]
            self.model[id(budget)] = Totals(old.spent + actual, old.reserved - amount)
        self.closed.append(reservation)

    @precondition(lambda self: bool(self.open))
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(min_value=0, max_value=len(self.open) - 1))
        reservation, amount = self.open.pop(index)
        reservation.release()
        for budget in (self.outer, self.inner):
            old = self.model[id(budget)]
            self.model[id(budget)] = Totals(old.spent, old.reserved - amount)
        self.closed.append(reservation)

    @precondition(lambda self: bool(self.closed))
    @rule(data=st.data())
    def settle_or_release_again(self, data: st.DataObject) -> None:
        reservation = data.draw(st.sampled_from(self.closed))
        if data.draw(st.booleans()):
            reservation.release()
        else:
            late = SimpleNamespace(
                record_id=uuid.uuid4().hex,
                total_cost_usd=Decimal(1),
                input_tokens=1,
                output_tokens=1,
            )
            reservation.settle(late)  # type: ignore[arg-type]

    @invariant()
    def totals_match_the_model(self) -> None:
        for budget in (self.outer, self.inner):
            totals = budget.totals()
            assert totals == self.model[id(budget)]
            reserved = totals.reserved
            assert reserved.cost_usd >= 0
            assert reserved.calls >= 0
            assert reserved.input_tokens >= 0
            assert reserved.output_tokens >= 0
            assert reserved.calls == sum(1 for _ in self.open)


ReservationMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None
)
TestReservations = ReservationMachine.TestCase


def test_store_refusal_leaves_totals_unchanged() -> None:
    """A refused reserve changes nothing; a forced one reserves and reports the overshoot."""
    store = _store.InMemoryBudgetStore()
    limits = _amounts.Limits(cost_usd=Decimal(1))
    assert store.reserve("k", Amounts(Decimal("0.6")), limits) is None
    refusal = store.reserve("k", Amounts(Decimal("0.5")), limits)
    assert refusal is not None
    assert refusal.dimension == "cost_usd"
    assert refusal.totals.reserved.cost_usd == Decimal("0.6")
    assert store.read("k").reserved.cost_usd == Decimal("0.6")
    forced = store.reserve("k", Amounts(Decimal("0.5")), limits, force=True)
    assert forced is not None
    assert store.read("k").reserved.cost_usd == Decimal("1.1")
    assert store.settle("k", Amounts(Decimal("0.6")), Amounts(Decimal("0.25"), calls=1)) == Totals(
        Amounts(Decimal("0.25"), calls=1), Amounts(Decimal("0.5"))
    )
    assert store.release("k", Amounts(Decimal("0.5"))).reserved == Amounts()
    assert isinstance(store, _store.BudgetStore)
