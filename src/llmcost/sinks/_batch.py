"""A background worker that drains a bounded in-memory queue in batches.

Network sinks use it so that ``emit()`` on the caller's thread only appends to a deque; one
daemon thread per sink takes batches off the queue and hands them to a ``send`` function.

Design, in the order things can go wrong:

* The queue is bounded. When it is full the new item is dropped, counted exactly, and the
  sink's ``on_drop`` callback says so (the sink decides how loudly).
* ``flush(timeout)`` and ``close(timeout)`` put a marker into the queue and wait for the worker
  to reach it: the queue is FIFO, so everything queued before the marker has been handled.
* ``flush(timeout)`` and ``close(timeout)`` return by their timeout, whatever ``send`` is doing:
  a send blocked in the network is abandoned (the thread is a daemon), never waited for.
* After ``os.fork()`` the child must not reuse the parent's thread, locks or queued items (the
  parent still owns and sends those). A fork hook gives every live worker fresh state; the
  child's thread starts on its first ``put``.
* At interpreter exit every live worker gets one bounded flush; what cannot be delivered in
  time is counted and reported instead of vanishing with the daemon thread. A
  ``multiprocessing`` child ends with ``os._exit``, which skips ``atexit``; it runs
  ``multiprocessing.util`` finalizers first, so the same flush is registered there too.
* Every item lost is counted under its reason; for an owner that names itself (``describe``),
  :meth:`BatchWorker.close` logs them all in one line.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections import deque

# Bound once, like ``threading``'s own clock: a test or a library that replaces
# ``time.monotonic`` for its event loop thread (a virtual clock that raises elsewhere) must not
# stop the delivery thread, and llmcost's timeouts are real time.
from time import monotonic as _monotonic
from typing import TYPE_CHECKING, Generic, TypeVar

from llmcost.errors import report_internal_error

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["BatchWorker"]

logger = logging.getLogger("llmcost.sinks")

T = TypeVar("T")

#: Reasons passed to ``on_drop``.
DROP_OVERFLOW = "queue_full"
DROP_SEND_FAILED = "send_failed"
DROP_CLOSED = "closed"


class _Marker:
    """A flush or stop request travelling through the queue behind the items it covers."""

    __slots__ = ("done", "lost_before", "ok", "stop")

    def __init__(self, *, stop: bool, lost_before: int) -> None:
        self.done = threading.Event()
        self.stop = stop
        self.lost_before = lost_before
        self.ok = False


_live_workers: weakref.WeakSet[BatchWorker[object]] = weakref.WeakSet()
_hooks_lock = threading.Lock()
_hooks_installed = False


class _MultiprocessingHook:
    """The object ``multiprocessing.util.register_after_fork`` keeps the hook alive with."""


_mp_hook = _MultiprocessingHook()


def _install_process_hooks() -> None:
    # Installed once, on the first worker: importing llmcost must have no side effects.
    global _hooks_installed
    with _hooks_lock:
        if _hooks_installed:
            return
        _hooks_installed = True
    atexit.register(_flush_all_at_exit)
    if hasattr(os, "register_at_fork"):  # POSIX only
        os.register_at_fork(after_in_child=_reinit_all_after_fork)
    import multiprocessing.util

    # A multiprocessing child clears the finalizers it inherited, runs the after-fork hooks,
    # runs the target, then its finalizers, then os._exit (no atexit). Registering the exit
    # flush as a finalizer in every such child (and here, for spawned children that create
    # their sinks themselves) is what makes a child deliver before it ends.
    _register_exit_finalizer()
    multiprocessing.util.register_after_fork(_mp_hook, _register_exit_finalizer_after_fork)


def _register_exit_finalizer() -> None:
    import multiprocessing.util

    multiprocessing.util.Finalize(None, _flush_all_at_exit, exitpriority=10)


def _register_exit_finalizer_after_fork(_hook: object) -> None:
    _register_exit_finalizer()


def _reinit_all_after_fork() -> None:
    global _hooks_lock
    _hooks_lock = threading.Lock()  # a parent thread may have held it at fork()
    for worker in list(_live_workers):
        worker._reinit_after_fork()


def _flush_all_at_exit() -> None:
    # Two passes: flush every worker, then close them. One worker may feed another (the
    # delivery dispatcher hands records to an HTTPSink's worker), and closing the fed one first
    # would drop what the feeder still held. Each worker's exit_timeout counts from the start.
    workers = [worker for worker in list(_live_workers) if not worker._closed]
    started = _monotonic()
    for closing in (False, True):
        for worker in workers:
            left = max(0.0, started + worker._exit_timeout - _monotonic())
            try:
                if closing:
                    worker._close_at_exit(left)
                else:
                    worker.flush(left)
            except Exception as exc:  # never raise out of an atexit hook
                logger.error("llmcost: error while flushing %s at exit: %r", worker.name, exc)


class BatchWorker(Generic[T]):
    """Bounded queue plus one daemon thread that sends items in batches.

    Args:
        send: Called on the worker thread with a non-empty list of at most ``batch_size``
            items; returns True when the batch was delivered and False when it was given up
            (the caller has already logged why). It may call :meth:`sleep` to back off.
        name: Used for the thread name and log messages.
        batch_size: Largest batch handed to ``send``.
        flush_interval: Longest time, in seconds, an item waits for a batch to fill up.
        max_queue: Most items held in memory; beyond this ``put`` drops.
        on_drop: Called with ``(count, reason)`` whenever items are lost: ``"queue_full"``
            (from ``put``, on the caller's thread), ``"send_failed"``, ``"closed"``, or a
            reason of the owner's passed to :meth:`count_drop`.
        after_fork_in_child: Called in a forked child so the owner can drop state it must not
            share with the parent (an HTTP connection pool, for example).
        on_stop: Called on the worker thread when it stops, to release what ``send`` opened
            there (the thread owns it, so nothing is closed under a request in flight).
        exit_timeout: Seconds the interpreter-exit flush may take.
        describe: How the closing summary line names the owner, e.g. ``"HTTPSink(https://…)"``;
            None: ``close`` logs no summary (the owner reports its losses itself).
        spill: Called (on the thread that closes) with the items ``close`` gives up on; returns
            how many of them it kept elsewhere (an on-disk spool). Those are not drops.

    Example:
        >>> worker = BatchWorker(lambda batch: True, name="demo", batch_size=10,
        ...                      flush_interval=0.5, max_queue=100, on_drop=lambda n, why: None)
        >>> worker.put("item")
        True
        >>> worker.flush(timeout=2.0)
        True
        >>> worker.close()
        True
    """

    def __init__(
        self,
        send: Callable[[list[T]], bool],
        *,
        name: str,
        batch_size: int,
        flush_interval: float,
        max_queue: int,
        on_drop: Callable[[int, str], None],
        after_fork_in_child: Callable[[], None] | None = None,
        on_stop: Callable[[], None] | None = None,
        exit_timeout: float = 5.0,
        describe: str | None = None,
        spill: Callable[[list[T]], int] | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size!r}")
        if max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, got {max_queue!r}")
        if not flush_interval > 0:
            raise ValueError(f"flush_interval must be a positive number, got {flush_interval!r}")
        self.name = name
        self._send = send
        self._batch_size = batch_size
        self._flush_interval = float(flush_interval)
        self._max_queue = max_queue
        self._on_drop = on_drop
        self._after_fork_in_child = after_fork_in_child
        self._on_stop = on_stop
        self._exit_timeout = exit_timeout
        self._describe = describe
        self._spill = spill
        self._closed = False
        self._init_state()
        _install_process_hooks()
        _live_workers.add(self)  # type: ignore[arg-type]

    def _init_state(self) -> None:
        # Everything a forked child must not inherit lives here.
        self._queue: deque[T | _Marker] = deque()
        self._wakeup = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._force = False
        self._abort = threading.Event()
        self._in_flight = 0
        self._in_flight_batch: list[T] = []
        self._in_flight_claimed = False
        self._partial_drops = 0  # items of the batch in flight that send dropped on its own
        # Counters. Written by the worker thread only, except ``drops`` (under _lock).
        self.sent_items = 0
        self.sent_batches = 0
        self.failed_batches = 0
        self.spilled = 0
        #: Items lost, by reason.
        self.drops: dict[str, int] = {}
        self._lost = 0  # items given up after acceptance: failed sends and close
        self._summarised = False

    @property
    def dropped_overflow(self) -> int:
        """Items refused because the queue was full."""
        return self.drops.get(DROP_OVERFLOW, 0)

    @property
    def dropped_failed(self) -> int:
        """Items of batches ``send`` gave up on."""
        return self.drops.get(DROP_SEND_FAILED, 0)

    @property
    def dropped_closed(self) -> int:
        """Items still undelivered when ``close`` gave up (or put after close)."""
        return self.drops.get(DROP_CLOSED, 0)

    @property
    def dropped(self) -> int:
        """Items lost, all reasons together."""
        return sum(self.drops.values())

    def _add_drops(self, count: int, reason: str) -> None:
        # Under self._lock.
        if count > 0:
            self.drops[reason] = self.drops.get(reason, 0) + count

    # --- caller side -----------------------------------------------------------------------

    def put(self, item: T) -> bool:
        """Queue ``item`` without blocking; False when it was dropped or the worker is closed."""
        if self._closed:
            # A call still in flight when its sink was closed (configure() replaced it, or
            # shutdown()): the record is lost, so it is counted and said, never silent.
            with self._lock:
                self._add_drops(1, DROP_CLOSED)
            self._on_drop(1, DROP_CLOSED)
            return False
        queue = self._queue
        if len(queue) >= self._max_queue:
            with self._lock:
                self._add_drops(1, DROP_OVERFLOW)
            self._on_drop(1, DROP_OVERFLOW)
            return False
        queue.append(item)
        if self._thread is None:
            self._start()
        # Wake the worker only when a batch is ready: setting an Event costs more than the
        # append itself, and the worker wakes on its own every flush_interval.
        if len(queue) >= self._batch_size and not self._wakeup.is_set():
            self._wakeup.set()
        return True

    @property
    def queued(self) -> int:
        """Items waiting in the queue or being sent right now."""
        pending = sum(1 for item in list(self._queue) if not isinstance(item, _Marker))
        return pending + self._in_flight

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued before this call was handled; True if all delivered."""
        if self._thread is None or not self._thread.is_alive():
            return self._nothing_pending()
        marker = self._enqueue_marker(stop=False)
        if not marker.done.wait(timeout):
            return False
        return marker.ok

    def close(self, timeout: float | None = None) -> bool:
        """Flush, stop the thread and refuse further items; True if everything was delivered.

        Returns by ``timeout``: when it passes first, retries stop, whatever is still queued or
        in flight is counted as dropped (reason ``"closed"``, unless ``spill`` kept it) and
        False is returned. With ``describe``, the drops of the worker's whole life are then
        logged in one line.
        """
        deadline = None if timeout is None else _monotonic() + max(0.0, timeout)
        with self._lock:
            if self._closed:
                return self._nothing_pending()
            self._closed = True
        try:
            thread = self._thread
            if thread is None or not thread.is_alive():
                return self._abandon() == 0
            marker = self._enqueue_marker(stop=True)
            if marker.done.wait(_remaining(deadline)):
                thread.join(_remaining(deadline))
                return marker.ok
            self._abandon()
            return False
        finally:
            self._log_summary()

    def count_drop(self, count: int, reason: str) -> None:
        """Count ``count`` items of the batch being sent as lost for ``reason``.

        For ``send`` to call when it drops part of a batch on its own (a record it cannot
        encode, say) and delivers the rest: those items are then neither sent nor failed.
        """
        if count <= 0:
            return
        with self._lock:
            if self._in_flight_claimed:
                return  # close() gave up on this batch and counted all of it already
            self._add_drops(count, reason)
            self._partial_drops += count
            self._lost += count
        self._on_drop(count, reason)

    def summary(self) -> str:
        """The counters in one line, e.g. ``"120 sent, 3 dropped (queue_full=3)"``."""
        with self._lock:
            drops = {reason: count for reason, count in sorted(self.drops.items()) if count}
        text = f"{self.sent_items} sent"
        if self.spilled:
            text += f", {self.spilled} spooled to disk"
        total = sum(drops.values())
        if total:
            reasons = ", ".join(f"{reason}={count}" for reason, count in drops.items())
            text += f", {total} dropped ({reasons})"
        else:
            text += ", 0 dropped"
        return text

    def sleep(self, seconds: float) -> bool:
        """Back off on the worker thread; False (at once) when the worker is being abandoned."""
        return not self._abort.wait(seconds)

    @property
    def aborted(self) -> bool:
        """True once ``close`` gave up waiting: ``send`` should stop retrying."""
        return self._abort.is_set()

    # --- internals -------------------------------------------------------------------------

    def _nothing_pending(self) -> bool:
        return not any(not isinstance(item, _Marker) for item in list(self._queue))

    def _enqueue_marker(self, *, stop: bool) -> _Marker:
        marker = _Marker(stop=stop, lost_before=self._lost)
        self._queue.append(marker)  # markers ignore max_queue: they carry no data
        self._force = True
        self._wakeup.set()
        return marker

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            thread = threading.Thread(target=self._run, name=f"llmcost-{self.name}", daemon=True)
            self._thread = thread
        thread.start()

    def _abandon(self) -> int:
        """Stop retrying and count everything not yet delivered as lost; return that count."""
        with self._lock:
            self._abort.set()
            left: list[T] = []  # oldest first: the batch in flight, then the queue
            if self._in_flight and not self._in_flight_claimed:
                # The worker may still finish this batch; it checks the claim and skips its
                # own accounting, so every item is counted exactly once.
                self._in_flight_claimed = True
                left.extend(self._in_flight_batch[self._partial_drops :])
            while self._queue:
                item = self._queue.popleft()
                if isinstance(item, _Marker):
                    item.done.set()
                else:
                    left.append(item)
        self._wakeup.set()
        kept = 0
        if left and self._spill is not None:
            try:
                kept = max(0, min(len(left), self._spill(left)))
            except Exception as exc:  # a full disk must not turn a close into a crash
                report_internal_error(f"sink.{self.name}.spill", exc)
        lost = len(left) - kept
        with self._lock:
            self.spilled += kept
            self._add_drops(lost, DROP_CLOSED)
            self._lost += lost + kept
        if lost:
            self._on_drop(lost, DROP_CLOSED)
        return lost + kept

    def _log_summary(self) -> None:
        with self._lock:
            if self._summarised:
                return
            self._summarised = True
            anything_lost = any(self.drops.values()) or self.spilled
        if anything_lost and self._describe is not None:
            logger.warning("llmcost %s closed: %s", self._describe, self.summary())

    def _take(self) -> tuple[list[T], list[_Marker]]:
        batch: list[T] = []
        markers: list[_Marker] = []
        queue = self._queue
        limit = self._batch_size
        while len(batch) < limit:
            try:
                item = queue.popleft()
            except IndexError:
                break
            if isinstance(item, _Marker):
                markers.append(item)
                break  # send what came before the marker, then answer it
            batch.append(item)
        return batch, markers

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self._on_stop is not None:
                self._on_stop()

    def _loop(self) -> None:
        deadline = _monotonic() + self._flush_interval
        while True:
            if len(self._queue) < self._batch_size and not self._force:
                self._wakeup.wait(max(0.0, deadline - _monotonic()))
            self._wakeup.clear()
            now = _monotonic()
            force = self._force or now >= deadline
            self._force = False
            if force:
                deadline = now + self._flush_interval
            stop = False
            # A timed or requested flush drains everything; otherwise only full batches go.
            while self._queue and (force or len(self._queue) >= self._batch_size):
                batch, markers = self._take()
                if batch:
                    self._send_batch(batch)
                for marker in markers:
                    marker.ok = self._lost == marker.lost_before
                    marker.done.set()
                    stop = stop or marker.stop
                if stop:
                    # An item that raced past close() into the queue is counted, not lost.
                    self._abandon()
                    return
            if self._abort.is_set() and not self._queue:
                return

    def _send_batch(self, batch: list[T]) -> None:
        with self._lock:
            self._in_flight = len(batch)
            self._in_flight_batch = batch
            self._in_flight_claimed = False
            self._partial_drops = 0
        delivered = False
        try:
            delivered = not self._abort.is_set() and self._send(batch)
        except Exception as exc:  # the worker must outlive a bug in send
            self._finish_batch(batch, delivered=False)
            report_internal_error(f"sink.{self.name}", exc)
            return
        self._finish_batch(batch, delivered=delivered)

    def _finish_batch(self, batch: list[T], *, delivered: bool) -> None:
        with self._lock:
            claimed = self._in_flight_claimed
            remaining = len(batch) - self._partial_drops  # count_drop() counted the others
            self._in_flight = 0
            self._in_flight_batch = []
            self._in_flight_claimed = False
            self._partial_drops = 0
            if claimed:
                return  # close() already counted these
            if delivered:
                # A batch send dropped whole (count_drop) was given up, not sent.
                self.sent_items += remaining
                if remaining:
                    self.sent_batches += 1
                else:
                    self.failed_batches += 1
                return
            self.failed_batches += 1
            self._add_drops(remaining, DROP_SEND_FAILED)
            self._lost += remaining
        if remaining:
            self._on_drop(remaining, DROP_SEND_FAILED)

    def _reinit_after_fork(self) -> None:
        # In the child: the parent's queued items are the parent's to send; sending them
        # here too would deliver them twice. Locks may have been held by a parent thread.
        self._init_state()
        if self._after_fork_in_child is not None:
            self._after_fork_in_child()

    def _close_at_exit(self, timeout: float | None = None) -> None:
        if self._closed:
            return
        # Logs the one summary line if anything was lost.
        self.close(self._exit_timeout if timeout is None else timeout)


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - _monotonic())
