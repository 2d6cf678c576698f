"""The ``llm_cost`` fixture's object: the LLM calls made during one test."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from llmcost.pytest_plugin._limits import (
    _ZERO,
    _failure_message,
    _Limits,
    _model_name,
    _record_tokens,
)
from llmcost.pytest_plugin._seams import settle

if TYPE_CHECKING:
    from llmcost.types import CostRecord

__all__ = ["LLMCost"]


class LLMCost:
    """The LLM calls made during one test, returned by the ``llm_cost`` fixture.

    Calls are collected from the start of the test's setup to the end of its teardown, from
    every thread. Totals are exact Decimals; a call whose model has no price is in
    :attr:`unpriced` and never counted as $0.

    Example:
        .. code-block:: python

            def test_search_cost(llm_cost):
                search("red shoes")
                assert llm_cost.calls == 1
                assert llm_cost.by_feature()["search"] < Decimal("0.001")
                llm_cost.assert_under(usd=0.01, tokens=5_000)
    """

    def __init__(self, nodeid: str = "") -> None:
        self.nodeid = nodeid
        self._records: list[CostRecord] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LLMCost(calls={self.calls}, total_usd={self.total_usd})"

    def _add(self, record: CostRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[CostRecord]:
        """Every :class:`~llmcost.CostRecord` made during the test so far, oldest first."""
        settle()
        with self._lock:
            return list(self._records)

    @property
    def calls(self) -> int:
        """How many LLM calls were recorded."""
        return len(self.records)

    @property
    def total_usd(self) -> Decimal:
        """The cost of every priced call, live and replayed."""
        return sum((r.total_cost_usd for r in self.records if r.total_cost_usd is not None), _ZERO)

    @property
    def live_usd(self) -> Decimal:
        """The cost of the calls a live provider answered (money actually spent)."""
        return sum(
            (
                r.total_cost_usd
                for r in self.records
                if r.total_cost_usd is not None and not r.replayed
            ),
            _ZERO,
        )

    @property
    def replayed_usd(self) -> Decimal:
        """The cost of the calls answered by a fake transport or a recording."""
        return self.total_usd - self.live_usd

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens of every call."""
        return sum(_record_tokens(r) for r in self.records)

    @property
    def unpriced(self) -> list[CostRecord]:
        """The calls whose model has no price in the catalog (their cost is unknown)."""
        return [r for r in self.records if r.total_cost_usd is None]

    def by_model(self) -> dict[str, Decimal]:
        """Cost per requested model, costliest first (unpriced models are absent)."""
        return self._group(_model_name)

    def by_feature(self) -> dict[str | None, Decimal]:
        """Cost per ``feature`` tag, costliest first; None holds the untagged calls."""
        return self._group(lambda record: record.feature)

    def _group(self, key: Callable[[CostRecord], Any]) -> dict[Any, Decimal]:
        totals: dict[Any, Decimal] = {}
        for record in self.records:
            if record.total_cost_usd is not None:
                name = key(record)
                totals[name] = totals.get(name, _ZERO) + record.total_cost_usd
        return dict(sorted(totals.items(), key=lambda item: item[1], reverse=True))

    def assert_under(
        self,
        usd: float | str | Decimal | None = None,
        tokens: int | None = None,
        calls: int | None = None,
    ) -> None:
        """Fail the test when the calls so far cost more than ``usd`` dollars, used more than
        ``tokens`` tokens or were more than ``calls`` calls.

        With a ``usd`` limit, a call whose model has no price also fails the assertion: its
        cost is unknown, so the limit cannot be shown to hold.

        Raises:
            AssertionError: a limit is exceeded; the message lists the costliest calls.
            ValueError: no limit was given, or a limit is not a non-negative number.

        Example:
            >>> LLMCost().assert_under(usd="0.01", calls=3)
        """
        if usd is None and tokens is None and calls is None:
            raise ValueError("assert_under() needs at least one of usd=, tokens=, calls=")
        limits = _Limits.parse(usd, tokens, calls, where="assert_under()")
        records = self.records
        problems = limits.problems(records)
        if problems:
            raise AssertionError(_failure_message("LLM cost limit exceeded", problems, records))
