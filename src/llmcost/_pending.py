"""Work that runs after a call returned, off the caller's path: pricing, the record, delivery.

An instrumented call hands what it learnt (the response object, the usage, the time it ended)
to :func:`defer` and returns to the user at once. The work runs

- on llmcost's delivery thread, started on first use: in a real application the provider
  call spends most of its time waiting on the network with the GIL released, and the thread
  builds and delivers the previous record in that time;
- or on the thread of whoever needs the result first: :func:`run_pending` runs everything
  deferred so far before a scope's or a budget's totals are read, before a budget admits a
  call, on ``llmcost.flush()``, ``shutdown()``, ``reset()``, ``stats()``, and at exit.

So a reader never sees a total that is missing a call that already returned, and a budget
never admits a call against a stale ``spent``: until a call is settled its worst case stays
reserved, and admission settles every pending call first.

Work runs in FIFO order under one lock, each item in a copy of the context of the thread
that deferred it (OpenTelemetry's current span, logging filters reading contextvars). Nested
deferral from inside the work runs inline. Under the test suite
(:data:`llmcost.errors.RAISE_INTERNAL_ERRORS`) an error of work that ran on the delivery
thread is kept and raised by the next :func:`run_pending` on another thread, so it fails the
test that caused it instead of vanishing with the thread.

:func:`defer` takes no lock of llmcost's and allocates little: it is also how ``__del__`` of a
dropped stream hands off its ending (garbage collection can run while this very thread holds
one of llmcost's locks, so an ending never runs there).
"""

from __future__ import annotations

import contextvars
import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from llmcost import errors

__all__ = ["defer", "defer_from_finalizer", "run_pending"]

logger = logging.getLogger("llmcost")

_Work = tuple[contextvars.Context, Callable[..., object], tuple[Any, ...]]

#: deque.append and popleft are atomic under the GIL and take no lock of ours.
_queue: deque[_Work] = deque()
_wake: queue.SimpleQueue[None] = queue.SimpleQueue()
_lock = threading.Lock()
_state: dict[str, Any] = {
    # The thread running work right now (under _lock): nested deferral there runs inline and
    # run_pending() there returns at once, so a sink that reads a scope total cannot deadlock.
    "runner": None,
    "busy": False,
    "worker": None,
    # A wake-up was sent and the delivery thread has not started on the queue yet: further
    # deferrals need not send another (each is a system call while the thread sleeps).
    "woken": False,
}
#: Errors of work that ran on the delivery thread under the test suite, raised by the next
#: run_pending() on another thread.
_kept_errors: list[BaseException] = []


_get_ident = threading.get_ident
_copy_context = contextvars.copy_context


def defer(fn: Callable[..., object], *args: Any) -> None:
    """Run ``fn(*args)`` soon, in a copy of the current context, on the delivery thread or
    at the next :func:`run_pending`, whichever comes first."""
    runner = _state["runner"]
    if runner is not None and runner == _get_ident():
        fn(*args)  # already running deferred work: keep its order, no second hop
        return
    _queue.append((_copy_context(), fn, args))
    if not (_state["busy"] or _state["woken"]):
        _state["woken"] = True
        try:
            if _state["worker"] is None:
                _start_worker()
            _wake.put(None)
        except Exception as exc:  # no thread (interpreter exit, a thread limit): never raise
            _state["woken"] = False
            _cannot_wake(exc)


def _cannot_wake(exc: Exception) -> None:
    # The work stays queued: the next reader, flush() or the exit hook runs it. Under the test
    # suite the error surfaces there; in production it is counted and logged once. It must
    # never reach the caller, whose own result or exception is on its way back.
    if errors.RAISE_INTERNAL_ERRORS:
        _kept_errors.append(exc)
    else:
        errors.report_internal_error("delivery_thread", exc)


def defer_from_finalizer(fn: Callable[..., object], *args: Any) -> None:
    """:func:`defer` for ``__del__``: never runs ``fn`` here, never takes a lock, never starts
    the delivery thread (garbage collection may run while this thread holds any lock)."""
    _queue.append((_copy_context(), fn, args))
    if _state["worker"] is not None:
        _wake.put(None)  # SimpleQueue.put is safe in finalizers and signal handlers


def pending() -> bool:
    """Whether deferred work is waiting or running."""
    return bool(_queue) or bool(_state["busy"])


def run_pending() -> None:
    """Run every piece of work deferred so far, here and now, and wait for work the delivery
    thread is running. Cheap when there is none.

    Raises:
        Exception: under the test suite only, the first error of that work (or of work the
            delivery thread ran since the last call).
    """
    if not (_queue or _state["busy"] or _kept_errors):
        return
    if _state["runner"] == threading.get_ident():
        return  # called from inside the work (a sink reading a total): it is running already
    with _lock:
        first = _run_all(keep=False)
    if _queue:
        _wake.put(None)  # deferred while this thread ran the queue: the delivery thread takes it
    if first is None and _kept_errors:
        first = _kept_errors.pop(0)
    if first is not None:
        raise first


def _run_all(*, keep: bool) -> BaseException | None:
    """Run the queue empty (under ``_lock``). Returns the first error under the test suite."""
    first: BaseException | None = None
    _state["busy"] = True
    _state["runner"] = threading.get_ident()
    try:
        while True:
            try:
                context, fn, args = _queue.popleft()
            except IndexError:
                break
            try:
                context.run(fn, *args)
            except BaseException as exc:  # the work is guarded; this is llmcost's own bug
                if not errors.RAISE_INTERNAL_ERRORS:
                    errors.report_internal_error("deferred", exc)
                elif keep:
                    _kept_errors.append(exc)
                elif first is None:
                    first = exc
    finally:
        _state["runner"] = None
        _state["busy"] = False
    return first


def _work_forever() -> None:
    while True:
        _wake.get()
        # Cleared before the queue is looked at, so work deferred from now on sends a wake-up
        # of its own unless this loop is sure to see it.
        _state["woken"] = False
        # Checked again after each run: work deferred while `busy` was still set sends no
        # wake-up of its own.
        while _queue:
            with _lock:
                try:
                    _run_all(keep=True)
                except BaseException:  # never let the thread die: nothing else would deliver
                    logger.debug("llmcost: the delivery thread hit an error", exc_info=True)


def _start_worker() -> None:
    with _start_lock:
        if _state["worker"] is not None:
            return
        worker = threading.Thread(target=_work_forever, name="llmcost-delivery", daemon=True)
        worker.start()
        _state["worker"] = worker


_start_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # The parent delivers what was pending at fork(); the child must not deliver it again. The
    # delivery thread does not survive fork(), and a lock it held would stay taken for ever.
    global _lock, _start_lock, _wake
    _queue.clear()
    _kept_errors.clear()
    _lock = threading.Lock()
    _start_lock = threading.Lock()
    _wake = queue.SimpleQueue()
    _state.update(runner=None, busy=False, worker=None, woken=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
