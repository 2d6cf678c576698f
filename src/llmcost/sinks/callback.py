"""CallbackSink: hand each record to a function of yours."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmcost.types import CostRecord

__all__ = ["CallbackSink"]


class CallbackSink:
    """Call ``fn(record)`` for every record, on the thread that made the call.

    Keep ``fn`` fast: it runs inside the instrumented call's return path. If it raises, the
    error is counted and logged once, and the other sinks still receive the record.

    Example:
        >>> import llmcost
        >>> seen = []
        >>> llmcost.configure(sinks=[llmcost.sinks.CallbackSink(seen.append)])  # doctest: +SKIP
    """

    def __init__(self, fn: Callable[[CostRecord], object]) -> None:
        if not callable(fn):
            raise TypeError(f"CallbackSink needs a callable, got {fn!r}")
        self.fn = fn

    def emit(self, record: CostRecord) -> None:
        """Call the function with ``record``."""
        self.fn(record)

    def flush(self, timeout: float | None = None) -> bool:
        """Nothing is buffered."""
        return True

    def close(self, timeout: float | None = None) -> None:
        """Nothing to release."""
