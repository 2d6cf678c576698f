"""Where the pytest plugin meets llmcost's internals: one small function each, so that a
change inside llmcost (the recorder's listeners, how records are made) is re-pointed here and
nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmcost.types import CostRecord


def listen(callback: Callable[[CostRecord], None]) -> Callable[[], None]:
    """Call ``callback`` with every record llmcost makes, from any thread, until the
    returned function is called."""
    from llmcost import _recorder

    return _recorder.add_listener(callback)


def settle() -> None:
    """Run the endings of streams a test dropped without closing (garbage collection hands
    them to llmcost's delivery thread), so they count against the test that made them."""
    import llmcost

    llmcost.flush(timeout=5.0)


def activate() -> None:
    """Switch llmcost on for the test if nobody did, keeping any configuration the user made,
    and patch the installed SDKs so their calls are recorded."""
    import llmcost

    llmcost.instrument()
