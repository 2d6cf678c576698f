"""Refusal messages a person can act on: which budget, which limit, what to change."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from llmcost import errors

if TYPE_CHECKING:
    from llmcost._recorder import Call
    from llmcost.budgets._amounts import Amounts, Refusal
    from llmcost.budgets._budget import Budget
    from llmcost.budgets._estimate import Estimate

__all__ = ["BudgetExceeded", "exceeded", "unpriceable"]

BudgetExceeded = errors.BudgetExceeded

_LIMIT_NAMES = {
    "cost_usd": "max_cost_usd",
    "input_tokens": "max_input_tokens",
    "output_tokens": "max_output_tokens",
    "total_tokens": "max_total_tokens",
    "calls": "max_calls",
}


# The advice ends differently when the budget is already in warn mode (the call was sent).
_WARN_MODE_ADVICE = {"raise": ", or use on_exceed='warn' to let such calls through.", "warn": "."}


def _money(value: Decimal | int) -> str:
    return f"${Decimal(value).normalize():f}" if value else "$0"


def _show(dimension: str, value: Decimal | int) -> str:
    return _money(value) if dimension == "cost_usd" else f"{int(value):,}"


def _what(call: Call) -> str:
    return f"{call.provider} {call.operation} call to {call.model!r}"


def _worst_case_text(worst: Estimate) -> str:
    output = "no output cap" if worst.output_tokens is None else f"{worst.output_tokens:,}"
    return f"≈{worst.input_tokens:,} input tokens + up to {output} output tokens"


def exceeded(
    budget: Budget, refusal: Refusal, amount: Amounts, call: Call, worst: Estimate, key: str
) -> BudgetExceeded:
    dimension = refusal.dimension
    spent = refusal.totals.spent.get(dimension)
    reserved = refusal.totals.reserved.get(dimension)
    asked = amount.get(dimension)
    limit = refusal.limit
    remaining = max(limit - spent - reserved, 0)
    if dimension == "calls":
        detail = (
            f"max_calls={limit} is used up ({spent} made, {reserved} in flight)"
            if remaining == 0
            else f"max_calls={limit} leaves room for {remaining} more"
        )
        advice = "Raise max_calls, or open a new budget for the next unit of work."
    else:
        label = "worst case" if dimension == "cost_usd" else "estimate"
        detail = (
            f"its {label} of {_show(dimension, asked)} ({_worst_case_text(worst)}) does not fit "
            f"in {_LIMIT_NAMES[dimension]}={_show(dimension, limit)} (spent "
            f"{_show(dimension, spent)}, reserved for calls in flight "
            f"{_show(dimension, reserved)}, "
            f"remaining {_show(dimension, remaining)})"
        )
        advice = (
            "Lower the request's max_tokens (max_completion_tokens / max_output_tokens) or "
            "shorten its input, or raise the budget's limit" + _WARN_MODE_ADVICE[budget.on_exceed]
        )
    return BudgetExceeded(
        f"llmcost budget {budget.describe(key)} refused the {_what(call)} before sending it: "
        f"{detail}. {advice}",
        budget_name=budget.name,
        limit=limit,
        spent=spent,
        reserved=reserved,
        estimate=asked,
        dimension=dimension,
    )


def unpriceable(
    budget: Budget, dimension: str, call: Call, worst: Estimate, key: str
) -> BudgetExceeded:
    totals = budget.store.read(key)
    limit: Decimal | int = getattr(budget.limits, dimension)
    if dimension == "cost_usd":
        detail = (
            f"its worst case cannot be priced ({worst.unpriced_reason}), so "
            f"max_cost_usd={_money(limit)} cannot be enforced"
        )
        if worst.model_known:
            advice = (
                "Set max_tokens (max_completion_tokens / max_output_tokens) on the request or "
                "Policy(default_max_tokens=...)"
            )
        else:
            advice = (
                "Add the model's price or an alias with configure(catalog=...), limit it with "
                "max_total_tokens instead"
            )
    else:
        detail = (
            f"the request sets no output cap and the catalog has no maximum output for "
            f"{call.model!r}, so {_LIMIT_NAMES[dimension]}={_show(dimension, limit)} cannot be "
            "enforced"
        )
        advice = (
            "Set max_tokens (max_completion_tokens / max_output_tokens) on the request or "
            "Policy(default_max_tokens=...)"
        )
    return BudgetExceeded(
        f"llmcost budget {budget.describe(key)} refused the {_what(call)} before sending it: "
        f"{detail}. {advice}{_WARN_MODE_ADVICE[budget.on_exceed]}",
        budget_name=budget.name,
        limit=limit,
        spent=totals.spent.get(dimension),
        reserved=totals.reserved.get(dimension),
        estimate=None,
        dimension=dimension,
    )
