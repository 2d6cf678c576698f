"""The :class:`Sink` protocol every destination of cost records implements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from llmcost.types import CostRecord

__all__ = ["Sink"]


@runtime_checkable
class Sink(Protocol):
    """Where :class:`~llmcost.CostRecord` objects go.

    ``emit`` is called on the caller's thread for every record and must be fast: a sink that
    talks to the network enqueues and lets a worker send. ``flush`` waits until everything
    emitted so far is delivered (or ``timeout`` seconds pass) and says whether it all was.
    ``close`` flushes and releases resources; a record emitted after close is dropped,
    counted and logged once (a call still in flight when its sink was replaced or shut down).

    Example:
        >>> class PrintSink:
        ...     def emit(self, record): print(record.model, record.total_cost_usd)
        ...     def flush(self, timeout=None): return True
        ...     def close(self): pass
    """

    def emit(self, record: CostRecord) -> None: ...

    def flush(self, timeout: float | None = None) -> bool: ...

    def close(self) -> None: ...
