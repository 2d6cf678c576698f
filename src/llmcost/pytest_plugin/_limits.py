"""Money, limits and failure messages of the pytest plugin."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmcost.types import CostRecord

_ZERO = Decimal(0)

# --- money and limits -------------------------------------------------------------------------


def _parse_usd(value: object, name: str) -> Decimal:
    """A non-negative dollar amount from a number or a string such as ``"0.50"`` or ``"$2"``."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a dollar amount such as 0.50, got {value!r}")
    text = str(value).strip().removeprefix("$")
    try:
        # str() first so a float such as 0.1 means the dollar amount a person wrote.
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{name}: expected a dollar amount such as 0.50, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{name}: expected a non-negative dollar amount, got {value!r}")
    return amount


def _parse_count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}: expected a non-negative whole number, got {value!r}")
    return value


def _usd(amount: Decimal) -> str:
    """``$0.00027``, ``$12.50``: every digit of the exact amount, and at least the cents."""
    text = f"{amount:,f}"
    if "." in text:
        text = text.rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def _model_name(record: CostRecord) -> str:
    return record.model or record.response_model or "(unknown model)"


def _record_tokens(record: CostRecord) -> int:
    return record.input_tokens + record.output_tokens


@dataclass(frozen=True)
class _Limits:
    """What a test may spend; any of the three may be unset."""

    usd: Decimal | None = None
    tokens: int | None = None
    calls: int | None = None

    @classmethod
    def parse(
        cls, usd: object = None, tokens: object = None, calls: object = None, *, where: str
    ) -> _Limits:
        return cls(
            usd=None if usd is None else _parse_usd(usd, f"{where} usd"),
            tokens=None if tokens is None else _parse_count(tokens, f"{where} tokens"),
            calls=None if calls is None else _parse_count(calls, f"{where} calls"),
        )

    def problems(self, records: list[CostRecord]) -> list[str]:
        """Why ``records`` break these limits; empty when they do not."""
        found = []
        if self.usd is not None:
            total = sum((r.total_cost_usd for r in records if r.total_cost_usd is not None), _ZERO)
            if total > self.usd:
                found.append(f"cost {_usd(total)} is over the {_usd(self.usd)} limit")
            unpriced = [r for r in records if r.total_cost_usd is None]
            if unpriced:
                # An unknown price is never $0: the ceiling cannot be shown to hold.
                models = sorted({f"{_model_name(r)!r} ({r.provider})" for r in unpriced})
                found.append(
                    f"{len(unpriced)} call(s) have no price, so the {_usd(self.usd)} limit "
                    f"cannot be checked: {', '.join(models)}; add prices with "
                    "llmcost.configure(catalog=...)"
                )
        if self.tokens is not None:
            tokens = sum(_record_tokens(r) for r in records)
            if tokens > self.tokens:
                found.append(f"{tokens:,} tokens is over the {self.tokens:,} token limit")
        if self.calls is not None and len(records) > self.calls:
            found.append(f"{len(records)} calls is over the {self.calls} call limit")
        return found


def _costliest_calls(records: list[CostRecord], limit: int = 5) -> list[str]:
    def key(record: CostRecord) -> tuple[bool, Decimal]:
        # Unpriced calls first: their cost is unknown, so they may well be the costliest.
        cost = record.total_cost_usd
        return (cost is None, cost if cost is not None else _ZERO)

    lines = []
    for record in sorted(records, key=key, reverse=True)[:limit]:
        cost = "unpriced" if record.total_cost_usd is None else _usd(record.total_cost_usd)
        feature = f" feature={record.feature}" if record.feature else ""
        replayed = " (replayed)" if record.replayed else ""
        lines.append(
            f"  {cost:>12}  {record.provider} {record.operation} {_model_name(record)}"
            f"{feature}  {record.input_tokens:,} in / {record.output_tokens:,} out{replayed}"
        )
    if len(records) > limit:
        lines.append(f"  ... and {len(records) - limit} more")
    return lines


def _failure_message(title: str, problems: list[str], records: list[CostRecord]) -> str:
    lines = [f"{title}: " + "; ".join(problems)]
    if records:
        lines.append("costliest calls:")
        lines.extend(_costliest_calls(records))
    return "\n".join(lines)
