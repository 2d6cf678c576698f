"""The error a shared budget store raises when it cannot be reached and must not admit."""

from __future__ import annotations

from llmcost import errors

__all__ = ["BudgetStoreUnavailable"]


class BudgetStoreUnavailable(errors.LLMCostError):
    """The budget store could not be reached and ``on_store_error="closed"``: not sent.

    Example:
        >>> from llmcost.budgets import BudgetStoreUnavailable
        >>> issubclass(BudgetStoreUnavailable, Exception)
        True
    """
