"""Amounts, limits and totals: what a budget counts, in exact Decimal dollars and integers."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

__all__ = [
    "DIMENSIONS",
    "EMPTY",
    "EMPTY_TOTALS",
    "ZERO",
    "Amounts",
    "Limits",
    "Refusal",
    "Totals",
    "overshoot",
]

ZERO = Decimal(0)
#: What a budget can limit, in the order they are checked (the first that overshoots is named).
DIMENSIONS = ("cost_usd", "input_tokens", "output_tokens", "total_tokens", "calls")


class Amounts(NamedTuple):
    """Cost, tokens and calls: what is spent, reserved, or asked for by one call.

    An immutable tuple; ``+`` and ``-`` work field by field.
    """

    cost_usd: Decimal = ZERO
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def get(self, dimension: str) -> Decimal | int:
        """The amount in one of :data:`DIMENSIONS`."""
        value: Decimal | int = getattr(self, dimension)
        return value

    def __add__(self, other: Amounts) -> Amounts:  # type: ignore[override]
        """Field by field (not tuple concatenation)."""
        return Amounts(
            self[0] + other[0], self[1] + other[1], self[2] + other[2], self[3] + other[3]
        )

    def __sub__(self, other: Amounts) -> Amounts:
        """Field by field."""
        return Amounts(
            self[0] - other[0], self[1] - other[1], self[2] - other[2], self[3] - other[3]
        )


EMPTY = Amounts()


class Limits:
    """A budget's limits; None means that dimension is not limited."""

    __slots__ = (
        "_items",
        "_needs_cost",
        "_needs_input",
        "calls",
        "cost_usd",
        "input_tokens",
        "output_tokens",
        "total_tokens",
    )

    def __init__(
        self,
        cost_usd: Decimal | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        total_tokens: int | None = None,
        calls: int | None = None,
    ) -> None:
        self.cost_usd = cost_usd
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.total_tokens = total_tokens
        self.calls = calls
        # Built once, without getattr or a generator: a budget is opened per request.
        items: list[tuple[str, Decimal | int]] = []
        if cost_usd is not None:
            items.append(("cost_usd", cost_usd))
        if input_tokens is not None:
            items.append(("input_tokens", input_tokens))
        if output_tokens is not None:
            items.append(("output_tokens", output_tokens))
        if total_tokens is not None:
            items.append(("total_tokens", total_tokens))
        if calls is not None:
            items.append(("calls", calls))
        self._items: tuple[tuple[str, Decimal | int], ...] = tuple(items)
        # What the admission must compute for this budget: pricing the worst case only for a
        # dollar limit, counting input tokens only for a limit they feed.
        self._needs_cost = cost_usd is not None
        self._needs_input = not (cost_usd is None and input_tokens is None and total_tokens is None)

    def items(self) -> tuple[tuple[str, Decimal | int], ...]:
        """The limited dimensions and their limits, in :data:`DIMENSIONS` order."""
        return self._items

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Limits) and self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        inner = ", ".join(f"{dimension}={limit!r}" for dimension, limit in self._items)
        return f"Limits({inner})"


class Totals(NamedTuple):
    """What a budget has spent (settled calls) and holds in reservations (calls in flight)."""

    spent: Amounts = EMPTY
    reserved: Amounts = EMPTY


EMPTY_TOTALS = Totals()


class Refusal(NamedTuple):
    """The first limit a reservation would overshoot, and the totals before it."""

    dimension: str
    limit: Decimal | int
    totals: Totals


def overshoot(limits: Limits, spent: Amounts, reserved: Amounts, amount: Amounts) -> str | None:
    """The first dimension where ``spent + reserved + amount`` would pass ``limits``, if any."""
    for dimension, limit in limits.items():
        if dimension == "total_tokens":
            used: Decimal | int = spent.total_tokens + reserved.total_tokens + amount.total_tokens
        else:
            used = spent.get(dimension) + reserved.get(dimension) + amount.get(dimension)
        if used > limit:
            return dimension
    return None
