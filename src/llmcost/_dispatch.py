"""The one delivery path from a finished record to the sinks: one bounded queue per process.

The record is made on the caller's thread (usage, price, budgets, scopes); what remains is
the sinks' I/O, which must never slow the call. So, as OpenTelemetry's batch span processor
does, the caller appends ``(record, sinks)`` to one bounded queue and a single daemon thread
hands each record to each sink's ``emit``. A sink that declares ``synchronous = True``
(:class:`~llmcost.sinks.MemorySink`: a list append, no I/O) is called on the caller's thread
instead, so tests and notebooks read its records at once.

What can go wrong, and what happens:

* the queue is full (sinks slower than the calls, for long): the record is dropped for the
  queued sinks, counted (``records.dropped.queue_full``) and logged once;
* a sink raises: counted (``sink_errors``), reported once as an internal error, the other
  sinks still get the record;
* ``flush(timeout)`` and ``shutdown(timeout)`` return by their timeout;
* after ``os.fork()`` the child starts with an empty queue and a fresh thread (the parent's
  records are the parent's to deliver); at interpreter exit the queue gets one bounded flush.

The machinery (bounded deque, worker thread, markers for flush, fork and exit hooks) is
:class:`llmcost.sinks._batch.BatchWorker`, shared with the network sinks.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from llmcost import errors
from llmcost.sinks._batch import BatchWorker

if TYPE_CHECKING:
    from typing import TypeAlias

    from llmcost.sinks.base import Sink
    from llmcost.types import CostRecord

    #: A queued item: a record and the sinks it goes to, or work to run on the delivery thread.
    _Item: TypeAlias = tuple[CostRecord, tuple[Sink, ...]] | Callable[[], object]

__all__ = ["MAX_QUEUE", "deliver", "emit_now", "flush", "is_synchronous", "run_later", "stop"]

logger = logging.getLogger("llmcost")

#: Records waiting for their sinks, at the most: beyond it records are dropped and counted.
MAX_QUEUE = 20_000
_BATCH = 256
_INTERVAL = 0.05


_lock = threading.Lock()
_worker: BatchWorker[_Item] | None = None
_warned: set[str] = set()


def is_synchronous(sink: Sink) -> bool:
    """Whether ``sink`` takes records on the caller's thread (it said ``synchronous = True``)."""
    return getattr(sink, "synchronous", False) is True


def emit_now(record: CostRecord, sinks: Sequence[Sink]) -> None:
    """Hand ``record`` to ``sinks`` on this thread (synchronous sinks), each one guarded."""
    for sink in sinks:
        try:
            sink.emit(record)
        except Exception as exc:  # one failing sink must not starve the others
            errors.count("sink_errors")
            errors.count(f"sink_errors.{type(sink).__name__}")
            errors.report_internal_error(f"sink.{type(sink).__name__}", exc)


def _send(batch: list[_Item]) -> bool:
    for item in batch:
        if isinstance(item, tuple):
            emit_now(*item)
        else:
            try:
                item()
            except Exception as exc:
                errors.report_internal_error("delivery", exc)
    return True


def _on_drop(count: int, reason: str) -> None:
    errors.count("records.dropped", count)
    errors.count(f"records.dropped.{reason}", count)
    if reason not in _warned:
        _warned.add(reason)
        logger.warning(
            "llmcost dropped %d record(s) on their way to the sinks (%s); further drops are "
            "counted in llmcost.stats()['records.dropped.%s'] and summed up at shutdown",
            count,
            reason,
            reason,
        )


def _get_worker() -> BatchWorker[_Item]:
    global _worker
    worker = _worker
    if worker is None:
        with _lock:
            worker = _worker
            if worker is None:
                worker = _worker = BatchWorker(
                    _send,
                    name="delivery",
                    batch_size=_BATCH,
                    flush_interval=_INTERVAL,
                    max_queue=MAX_QUEUE,
                    on_drop=_on_drop,
                )
    return worker


def _on_delivery_thread() -> bool:
    return threading.current_thread().name == "llmcost-delivery"


def deliver(record: CostRecord, sinks: Sequence[Sink]) -> None:
    """Hand ``record`` to ``sinks`` on the delivery thread (never raises, never blocks)."""
    if not sinks:
        return
    if _on_delivery_thread():  # made by work run there (a dropped stream's ending): no queue
        emit_now(record, sinks)
        return
    _get_worker().put((record, tuple(sinks)))


def run_later(action: Callable[[], object]) -> None:
    """Run ``action`` on the delivery thread: for work that must not run where it was found
    (a garbage-collected stream's ending: the collector may run inside any lock)."""
    _get_worker().put(action)


def flush(timeout: float | None = None) -> bool:
    """Wait until every record queued so far reached its sinks; False if ``timeout`` passed."""
    worker = _worker
    if worker is None or _on_delivery_thread():
        return True
    return worker.flush(timeout)


def stop(timeout: float | None = None) -> None:
    """Deliver what is queued (within ``timeout``), stop the thread, and say what was lost."""
    global _worker
    with _lock:
        worker, _worker = _worker, None
    if worker is not None and not worker.close(timeout):
        logger.warning(
            "llmcost: %d record(s) still queued for the sinks were dropped at shutdown "
            "(timeout %ss)",
            worker.dropped_closed,
            timeout,
        )
    dropped = errors.stats().get("records.dropped", 0)
    if dropped:
        reasons = {
            name.rsplit(".", 1)[1]: value
            for name, value in errors.stats().items()
            if name.startswith("records.dropped.")
        }
        logger.warning("llmcost dropped %d record(s) in this process: %s", dropped, reasons)


def reset() -> None:
    """Stop the delivery thread without a word (for tests: :func:`llmcost.reset`)."""
    global _worker
    with _lock:
        worker, _worker = _worker, None
    _warned.clear()
    if worker is not None:
        worker.close(5.0)


def queued() -> int:
    """Records waiting for their sinks right now."""
    worker = _worker
    return 0 if worker is None else worker.queued
