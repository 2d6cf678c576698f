"""MemorySink: keeps records in a list, for tests, notebooks and scopes of your own."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmcost.types import CostRecord

__all__ = ["MemorySink"]


class MemorySink:
    """Collect every record in memory (thread-safe).

    Args:
        max_records: Keep at most this many of the newest records; older ones are dropped and
            counted in ``dropped``. None keeps everything.

    Example:
        >>> import llmcost
        >>> sink = llmcost.sinks.MemorySink()
        >>> llmcost.configure(sinks=[sink])  # doctest: +SKIP
        >>> sink.records  # doctest: +SKIP
        [CostRecord(...), ...]
    """

    #: Records reach this sink on the caller's thread, as soon as they are made (it does no
    #: I/O): every other sink gets them through llmcost's delivery thread.
    synchronous = True

    def __init__(self, max_records: int | None = None) -> None:
        if max_records is not None and max_records < 1:
            raise ValueError(f"max_records must be at least 1, got {max_records}")
        self.max_records = max_records
        self.dropped = 0
        self._records: list[CostRecord] = []
        self._lock = threading.Lock()

    @property
    def records(self) -> list[CostRecord]:
        """A copy of the records held, oldest first."""
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def emit(self, record: CostRecord) -> None:
        """Keep ``record``."""
        with self._lock:
            self._records.append(record)
            if self.max_records is not None and len(self._records) > self.max_records:
                del self._records[0]
                self.dropped += 1

    def clear(self) -> None:
        """Forget every record held."""
        with self._lock:
            self._records.clear()

    def flush(self, timeout: float | None = None) -> bool:
        """Nothing to deliver: records are in memory as soon as they are emitted."""
        return True

    def close(self) -> None:
        """Nothing to release; the records stay readable."""
