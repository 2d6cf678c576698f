"""Budgets that act before money is spent.

Public: :func:`budget` (also ``llmcost.budget``), :class:`Budget`, the stores
(:class:`BudgetStore`, :class:`InMemoryBudgetStore`, :class:`RedisBudgetStore`) and
:class:`BudgetStoreUnavailable`. Inside, private modules do one job each: ``_amounts``
(amounts, limits, totals), ``_store`` (the store interface, the in-memory store), ``_redis``
(the Redis store; imports redis-py when first used), ``_keys`` (keys and windows),
``_estimate`` (the worst case), ``_admission`` (admission, reservations, settlement: what the
recorder calls), ``_messages`` (refusals a person can act on), ``_policy`` (the model policy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmcost.budgets._amounts import Amounts, Limits, Totals
from llmcost.budgets._budget import Budget, budget, shared_memory_store
from llmcost.budgets._errors import BudgetStoreUnavailable
from llmcost.budgets._store import BudgetStore, InMemoryBudgetStore

if TYPE_CHECKING:
    from llmcost.budgets._redis import RedisBudgetStore

__all__ = [
    "Amounts",
    "Budget",
    "BudgetStore",
    "BudgetStoreUnavailable",
    "InMemoryBudgetStore",
    "Limits",
    "RedisBudgetStore",
    "Totals",
    "budget",
    "shared_memory_store",
]


def __getattr__(name: str) -> Any:
    # The Redis store imports redis-py: only when someone asks for it.
    if name == "RedisBudgetStore":
        from llmcost.budgets._redis import RedisBudgetStore

        return RedisBudgetStore
    raise AttributeError(f"module 'llmcost.budgets' has no attribute {name!r}")
