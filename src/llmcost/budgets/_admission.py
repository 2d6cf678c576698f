"""Admission control before a call is sent, and settlement after: the recorder's one door.

The recorder (``llmcost._recorder``) calls exactly these, all in this module: :func:`admit`
before a call is sent, ``Reservation.settle`` / ``Reservation.release`` when it ends,
:func:`charge_record` for a record made by hand, and :func:`apply_policy` (via ``admit``).

Budgets work in three steps around each call:

1. **reserve**: the call's worst case (estimated input tokens × input rate + output ceiling ×
   output rate) is reserved on every budget the call touches (configured ones, then open
   ones, outermost first), atomically per store: one step per store covers every key the call
   touches there, so a shared store (Redis) admits a call in one round trip. If one budget
   cannot cover it, nothing stays reserved and :class:`~llmcost.BudgetExceeded` names that
   budget.
2. **settle**: when the record is made, the reservation is replaced by the record's real
   cost and tokens (once per record id).
3. **release**: a call that never produced a record frees its reservation.

Settling and releasing are idempotent: whichever comes first wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from llmcost import errors
from llmcost.budgets._amounts import EMPTY, ZERO, Amounts, Limits, Totals
from llmcost.budgets._estimate import Estimate, estimate
from llmcost.budgets._messages import exceeded, unpriceable
from llmcost.budgets._policy import apply_policy, forget_warnings
from llmcost.budgets._store import AtomicStore, Entry, atomic

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from llmcost._context import Config
    from llmcost._recorder import Call
    from llmcost.budgets._budget import Budget
    from llmcost.types import CostRecord

__all__ = [
    "BudgetReservation",
    "Reservation",
    "admit",
    "apply_policy",
    "charge_record",
    "forget_warnings",
    "reserve",
]


class Reservation(Protocol):
    """What a call holds on its budgets while it runs; settle or release it exactly once."""

    def settle(self, record: CostRecord, *, usage_unknown: bool = False) -> None: ...

    def release(self) -> None: ...


class Slot(NamedTuple):
    """One budget a call touches, with the store key it resolved to for this call."""

    budget: Budget
    entry: Entry
    #: False for a second budget on a store key an earlier one already charges.
    charged: bool


class Hold(NamedTuple):
    """What one store holds for a call: its token and the slots it covers."""

    store: AtomicStore
    token: object
    slots: list[Slot]


def _call_attribution(call: Call) -> tuple[Any, datetime]:
    scopes = call.scopes
    return (scopes[-1].attribution if scopes else call.config.attribution), call.timestamp


def _slots(
    budgets: Sequence[Budget], attribution: Callable[[], tuple[Any, datetime]]
) -> list[Slot]:
    """The budgets a call touches, each once, with its key; shared keys charged once.

    ``attribution()`` gives who the call is charged to and when: keyed budgets need it.
    """
    slots: list[Slot] = []
    seen: set[tuple[int, str]] = set()
    found: tuple[Any, datetime] | None = None
    for budget in budgets:
        if any(budget is slot.budget for slot in slots):
            continue  # the same budget entered twice counts once
        if budget.keyed and found is None:
            found = attribution()
        entry = budget._entry(*found) if found is not None else budget._entry(None, None)
        store_key = (id(budget.store), entry.key)
        slots.append(Slot(budget, entry, store_key not in seen))
        seen.add(store_key)
    return slots


def _by_store(slots: list[Slot]) -> list[tuple[AtomicStore, list[Slot]]]:
    """The charged slots grouped by store, in the order the stores first appear."""
    groups: dict[int, tuple[AtomicStore, list[Slot]]] = {}
    for slot in slots:
        if slot.charged:
            store = slot.budget.store
            group = groups.get(id(store))
            if group is None:
                group = groups[id(store)] = (atomic(store), [])
            group[1].append(slot)
    return list(groups.values())


class BudgetReservation:
    """The worst case of one call, reserved on each budget it touches.

    ``settle(record)`` replaces it by the record's real cost and tokens; ``release()`` drops
    it. Whichever comes first wins; the other is a no-op.
    """

    __slots__ = ("_amount", "_holds", "_slots", "_token")

    def __init__(self, slots: list[Slot], holds: list[Hold], amount: Amounts) -> None:
        self._slots = slots
        self._holds = holds
        self._amount = amount
        # One token, taken by whichever of settle/release comes first: list.pop is atomic,
        # so a stream finalised on another thread cannot settle and release both.
        self._token = [True]

    @property
    def open(self) -> bool:
        """Whether the reservation is still held (neither settled nor released)."""
        return bool(self._token)

    def settle(self, record: CostRecord, *, usage_unknown: bool = False) -> None:
        """Replace the reservation by what ``record`` says the call cost.

        With ``usage_unknown`` (the call was sent and billed, but its usage could not be read)
        each budget is charged what it reserved, the call's worst case: charging nothing would
        let a budget be overspent by calls whose cost llmcost failed to read.
        """
        try:
            self._token.pop()
        except IndexError:
            return  # already settled or released
        amount = self._amount
        if usage_unknown:
            actual = amount
        else:
            cost = record.total_cost_usd
            actual = Amounts(
                cost if cost is not None else ZERO, record.input_tokens, record.output_tokens, 1
            )
        _settle(self._slots, self._holds, amount, actual, record)

    def release(self) -> None:
        """Free the reservation: the call produced no record (never sent, or lost)."""
        try:
            self._token.pop()
        except IndexError:
            return
        for hold in self._holds:
            try:
                hold.store.release_all(
                    hold.token, [slot.entry for slot in hold.slots], self._amount
                )
            except errors.LLMCostError:
                pass  # the store reported its own failure (on_store_error)
            except Exception as exc:
                errors.report_internal_error("budget.release", exc)


def _settle(
    slots: list[Slot], holds: list[Hold], reserved: Amounts, actual: Amounts, record: CostRecord
) -> None:
    totals: dict[tuple[int, str], Totals] = {}
    for hold in holds:
        try:
            results = hold.store.settle_all(
                hold.token, [slot.entry for slot in hold.slots], reserved, actual, record.record_id
            )
        except errors.LLMCostError:
            continue  # the store reported its own failure (on_store_error)
        except Exception as exc:
            errors.report_internal_error("budget.settle", exc)
            continue
        for slot, result in zip(hold.slots, results, strict=True):
            totals[(id(slot.budget.store), slot.entry.key)] = result
    for slot in slots:
        try:
            slot.budget._settled(
                slot.entry.key, totals.get((id(slot.budget.store), slot.entry.key)), record
            )
        except Exception as exc:
            errors.report_internal_error("budget.settle", exc)


# --- admission ------------------------------------------------------------------------------------


def admit(call: Call, budgets: tuple[Any, ...], config: Config) -> Reservation | None:
    """Refuse the call before it is sent, or reserve its worst case on every open budget.

    Raises:
        UnknownModelError: the model has no price and ``unknown_model="raise"``.
        PolicyViolation: the configured :class:`~llmcost.Policy` forbids the call.
        BudgetExceeded: an open budget with ``on_exceed="raise"`` cannot cover the call.
    """
    if config.unknown_model == "raise" and call.model and not call.known_before_sending():
        # An Azure call names its deployment; a gateway call says how to price it.
        raise errors.UnknownModelError(
            call.deployment or call.model, call.provider, call.price_advice or None
        )
    if config.policy is not None:
        apply_policy(call, config.policy, config)
    if not budgets:
        return None
    request = call.request
    if call.request_overrides:
        request = {**request, **call.request_overrides}
    if len(budgets) == 1:
        limits = budgets[0].limits
        need_cost, need_input = limits._needs_cost, limits._needs_input
    else:
        need_cost = any(budget.limits._needs_cost for budget in budgets)
        need_input = any(budget.limits._needs_input for budget in budgets)
    try:
        worst = estimate(call, request, budgets, need_input=need_input, need_cost=need_cost)
    except Exception as exc:
        # A bug in estimation must never block a call: enforce call counts only.
        errors.report_internal_error("budget.estimate", exc)
        worst = Estimate(0, 0, ZERO, failed=True)
    return reserve(call, budgets, worst)


def _unenforceable(limits: Limits, worst: Estimate) -> str | None:
    """The limit of ``limits`` that ``worst`` cannot be checked against, if any."""
    if worst.cost_usd is None and limits.cost_usd is not None:
        return "cost_usd"
    if worst.output_tokens is None:
        if limits.output_tokens is not None:
            return "output_tokens"
        if limits.total_tokens is not None:
            return "total_tokens"
    return None


def reserve(call: Call, budgets: tuple[Any, ...], worst: Estimate) -> BudgetReservation:
    """Reserve ``worst`` on every budget ``call`` touches, or reserve nothing and raise."""
    if worst.failed:
        amount = Amounts(ZERO, 0, 0, 1)
    else:
        cost, output_tokens = worst.cost_usd, worst.output_tokens
        amount = Amounts(
            cost if cost is not None else ZERO,
            worst.input_tokens,
            output_tokens if output_tokens is not None else 0,
            1,
        )
    check_enforceable = not worst.failed and (worst.cost_usd is None or worst.output_tokens is None)
    slots = _slots(budgets, lambda: _call_attribution(call))
    overshoots: list[tuple[Budget, errors.BudgetExceeded]] = []
    if check_enforceable:
        for slot in slots:
            problem = _unenforceable(slot.budget.limits, worst)
            if problem is not None:
                error = unpriceable(slot.budget, problem, call, worst, slot.entry.key)
                if slot.budget.on_exceed == "raise":
                    raise error
                overshoots.append((slot.budget, error))
    holds: list[Hold] = []
    try:
        for store, group in _by_store(slots):
            try:
                token, refusals = store.reserve_all([slot.entry for slot in group], amount)
            except errors.LLMCostError:
                raise  # a store that refuses when it cannot be reached (on_store_error)
            except Exception as exc:
                errors.report_internal_error("budget.store", exc)
                continue  # a failing store never blocks a call
            blocking = None
            for slot, refusal in zip(group, refusals, strict=True):
                if refusal is None:
                    continue
                error = exceeded(slot.budget, refusal, amount, call, worst, slot.entry.key)
                if slot.entry.force:
                    overshoots.append((slot.budget, error))
                elif blocking is None:
                    blocking = error
            if blocking is not None:
                raise blocking
            holds.append(Hold(store, token, group))
    except BaseException:
        for hold in holds:
            with errors.internal_guard("budget.release"):
                hold.store.release_all(hold.token, [slot.entry for slot in hold.slots], amount)
        raise
    for budget, error in overshoots:
        budget._overshot(error)
    return BudgetReservation(slots, holds, amount)


def charge_record(budgets: tuple[Any, ...], record: CostRecord) -> None:
    """Add a record made without admission (``record_usage``) to the budgets' totals.

    Nothing was reserved and nothing can be refused: the cost is already incurred. Each budget
    (and each shared store key) is charged once.
    """
    slots = _slots(budgets, lambda: (record, record.timestamp))
    holds = [Hold(store, None, group) for store, group in _by_store(slots)]
    cost = record.total_cost_usd
    actual = Amounts(
        cost if cost is not None else ZERO, record.input_tokens, record.output_tokens, 1
    )
    _settle(slots, holds, EMPTY, actual, record)
