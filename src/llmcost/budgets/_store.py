"""Where budgets keep their totals: the store interface and the in-process default.

A store has two layers. The four methods of :class:`BudgetStore` (``reserve``, ``settle``,
``release``, ``read``, one key each) are all a custom store must write. The built-in stores
also take every budget a call touches in one step (:class:`AtomicStore`: ``reserve_all``,
``settle_all``, ``release_all``), which is what lets :class:`~llmcost.budgets.RedisBudgetStore`
admit a call in one round trip; :func:`atomic` adapts a four-method store to it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple, Protocol, runtime_checkable

from llmcost.budgets._amounts import (
    EMPTY,
    EMPTY_TOTALS,
    Amounts,
    Limits,
    Refusal,
    Totals,
    overshoot,
)

__all__ = ["AtomicStore", "BudgetStore", "Entry", "InMemoryBudgetStore", "atomic"]


class Entry(NamedTuple):
    """One budget key a call touches, as the store needs it to reserve."""

    key: str
    limits: Limits
    #: Warn mode: reserve even over a limit (the overshoot is still reported).
    force: bool = False
    #: Unix time after which nothing reads this key any more (its window ended); None: never.
    expires_at: float | None = None


@runtime_checkable
class BudgetStore(Protocol):
    """Where budgets keep their totals. The default keeps them in process memory.

    A store shared by several processes (a database, Redis) implements the same four methods;
    ``reserve`` must check and add atomically, so that concurrent callers can never push
    ``spent + reserved`` past a limit. Keys are budget names (or a unique id for unnamed
    budgets), with the window appended for windowed budgets.
    """

    def reserve(
        self, key: str, amount: Amounts, limits: Limits, *, force: bool = False
    ) -> Refusal | None:
        """Atomically add ``amount`` to the reservations of ``key`` if it fits every limit.

        Returns None when reserved. Otherwise returns the first limit it would overshoot and
        changes nothing, unless ``force`` is True (warn mode): then it reserves anyway and
        still returns the overshoot.
        """
        ...

    def settle(self, key: str, reserved: Amounts, actual: Amounts) -> Totals:
        """Replace a reservation by what the call really cost; return the new totals."""
        ...

    def release(self, key: str, reserved: Amounts) -> Totals:
        """Drop a reservation (the call produced no record); return the new totals."""
        ...

    def read(self, key: str) -> Totals:
        """The current totals of ``key`` (zero for a key never used)."""
        ...


class AtomicStore(Protocol):
    """Every key of one call in one step: what admission and settlement use."""

    def reserve_all(
        self, entries: Sequence[Entry], amount: Amounts
    ) -> tuple[object, list[Refusal | None]]:
        """Reserve ``amount`` on every entry, or on none.

        Returns a token for ``settle_all`` / ``release_all`` and, per entry, the limit it
        overshoots (or None). Nothing is reserved, and the token is None, when an entry
        without ``force`` overshoots.
        """
        ...

    def settle_all(
        self,
        token: object,
        entries: Sequence[Entry],
        reserved: Amounts,
        actual: Amounts,
        record_id: str,
    ) -> list[Totals]:
        """Swap the reservation for ``actual`` on every entry, once per ``record_id``.

        ``token`` None charges ``actual`` without a reservation (a record made by hand).
        """
        ...

    def release_all(self, token: object, entries: Sequence[Entry], reserved: Amounts) -> None:
        """Drop the reservation on every entry."""
        ...

    def read(self, key: str) -> Totals:
        """The current totals of ``key``."""
        ...


class InMemoryBudgetStore:
    """The default :class:`BudgetStore`: totals in a dict, one lock around every change.

    Each ``llmcost.budget()`` without a ``store`` or a window gets its own; pass one store
    and a ``name`` to several budgets (per request, per task) to make them share one running
    total. Keys of windows that ended are dropped as new ones are used.

    Example:
        >>> store = InMemoryBudgetStore()
        >>> store.reserve("team", Amounts(calls=1), Limits(calls=1)) is None
        True
        >>> store.reserve("team", Amounts(calls=1), Limits(calls=1)).dimension
        'calls'
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # key -> [spent, reserved]: immutable Amounts, replaced under the lock.
        self._state: dict[str, list[Amounts]] = {}
        # key -> unix time its window ended; swept when a new windowed key appears after the
        # earliest of them.
        self._expiry: dict[str, float] = {}
        self._next_sweep = float("inf")

    # -- one key ----------------------------------------------------------------------------

    def reserve(
        self, key: str, amount: Amounts, limits: Limits, *, force: bool = False
    ) -> Refusal | None:
        _token, refusals = self.reserve_all([Entry(key, limits, force)], amount)
        return refusals[0]

    def settle(self, key: str, reserved: Amounts, actual: Amounts) -> Totals:
        with self._lock:
            state = self._slot(key)
            state[0] = state[0] + actual
            state[1] = state[1] - reserved
            return Totals(state[0], state[1])

    def release(self, key: str, reserved: Amounts) -> Totals:
        with self._lock:
            state = self._slot(key)
            state[1] = state[1] - reserved
            return Totals(state[0], state[1])

    def read(self, key: str) -> Totals:
        with self._lock:
            state = self._state.get(key)
            return EMPTY_TOTALS if state is None else Totals(state[0], state[1])

    def clear(self) -> None:
        """Forget every key (``llmcost.reset()`` clears the shared in-process store)."""
        with self._lock:
            self._state.clear()
            self._expiry.clear()

    def keys(self) -> list[str]:
        """The keys with totals, sorted (for ``llmcost budgets status``)."""
        with self._lock:
            return sorted(self._state)

    # -- every key of a call ----------------------------------------------------------------

    def reserve_all(
        self, entries: Sequence[Entry], amount: Amounts
    ) -> tuple[object, list[Refusal | None]]:
        refusals: list[Refusal | None] = []
        with self._lock:
            blocked = False
            for entry in entries:
                state = self._slot(entry.key, entry.expires_at)
                spent, reserved = state
                dimension = overshoot(entry.limits, spent, reserved, amount)
                if dimension is None:
                    refusals.append(None)
                    continue
                limit: Decimal | int = getattr(entry.limits, dimension)
                refusals.append(Refusal(dimension, limit, Totals(spent, reserved)))
                blocked = blocked or not entry.force
            if blocked:
                return None, refusals
            for entry in entries:
                state = self._state[entry.key]
                state[1] = state[1] + amount
        return True, refusals

    def settle_all(
        self,
        token: object,
        entries: Sequence[Entry],
        reserved: Amounts,
        actual: Amounts,
        record_id: str,
    ) -> list[Totals]:
        held = reserved if token is not None else EMPTY
        with self._lock:
            totals = []
            for entry in entries:
                state = self._slot(entry.key, entry.expires_at)
                state[0] = state[0] + actual
                state[1] = state[1] - held
                totals.append(Totals(state[0], state[1]))
            return totals

    def release_all(self, token: object, entries: Sequence[Entry], reserved: Amounts) -> None:
        if token is None:
            return
        with self._lock:
            for entry in entries:
                state = self._slot(entry.key)
                state[1] = state[1] - reserved

    def _slot(self, key: str, expires_at: float | None = None) -> list[Amounts]:
        # Under the lock.
        state = self._state.get(key)
        if state is None:
            state = self._state[key] = [EMPTY, EMPTY]
            if expires_at is not None:
                self._expiry[key] = expires_at
                now = time.time()
                if now >= self._next_sweep:
                    self._drop_ended(now)
                self._next_sweep = min(self._next_sweep, expires_at)
        return state

    def _drop_ended(self, now: float) -> None:
        # A new window began: drop keys whose window ended and that hold nothing in flight.
        for key, ends in list(self._expiry.items()):
            if ends < now and self._state[key][1] == EMPTY:
                del self._expiry[key]
                del self._state[key]
        self._next_sweep = min(self._expiry.values(), default=float("inf"))


class _OneKeyAtATime:
    """A four-method :class:`BudgetStore` driven key by key, undoing on a refusal."""

    def __init__(self, store: BudgetStore) -> None:
        self.store = store

    def reserve_all(
        self, entries: Sequence[Entry], amount: Amounts
    ) -> tuple[object, list[Refusal | None]]:
        refusals: list[Refusal | None] = []
        done: list[Entry] = []
        try:
            for entry in entries:
                refusal = self.store.reserve(entry.key, amount, entry.limits, force=entry.force)
                refusals.append(refusal)
                if refusal is not None and not entry.force:
                    self.release_all(True, done, amount)
                    return None, refusals + [None] * (len(entries) - len(refusals))
                done.append(entry)
        except BaseException:
            self.release_all(True, done, amount)
            raise
        return True, refusals

    def settle_all(
        self,
        token: object,
        entries: Sequence[Entry],
        reserved: Amounts,
        actual: Amounts,
        record_id: str,
    ) -> list[Totals]:
        held = reserved if token is not None else EMPTY
        return [self.store.settle(entry.key, held, actual) for entry in entries]

    def release_all(self, token: object, entries: Sequence[Entry], reserved: Amounts) -> None:
        if token is not None:
            for entry in entries:
                self.store.release(entry.key, reserved)

    def read(self, key: str) -> Totals:
        return self.store.read(key)


def atomic(store: BudgetStore) -> AtomicStore:
    """``store`` itself when it reserves every key of a call in one step, else an adapter."""
    if callable(getattr(store, "reserve_all", None)):
        return store  # type: ignore[return-value]
    return _OneKeyAtATime(store)
