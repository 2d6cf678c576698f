"""Records made after the call returned (llmcost._pending): order, readers, errors, threads."""

from __future__ import annotations

import os
import sys
import threading
import time
from decimal import Decimal

import pytest

import llmcost
from llmcost import _pending, _recorder, errors
from llmcost.sinks import CallbackSink, MemorySink
from llmcost.types import CostRecord, Usage


def _finish(model: str = "gpt-4o-mini", input_tokens: int = 1000, output_tokens: int = 100) -> None:
    call = _recorder.start_call("openai", "chat", model, request={"max_tokens": output_tokens})
    call.finish(Usage(input_tokens=input_tokens, output_tokens=output_tokens))


def test_work_runs_in_the_order_it_was_deferred(memory_sink: MemorySink) -> None:
    """One queue, one runner at a time: sinks see records in the order calls finished."""
    for index in range(50):
        _finish(input_tokens=index + 1)
    assert [r.input_tokens for r in memory_sink.records] == list(range(1, 51))


def test_the_delivery_thread_delivers_without_anyone_reading() -> None:
    """Nobody reads a total: llmcost's own thread still makes and delivers the record."""
    delivered = threading.Event()
    seen: list[int] = []

    def emit(record: CostRecord) -> None:
        seen.append(threading.get_ident())
        delivered.set()

    llmcost.configure(sinks=[CallbackSink(emit)])
    _finish()
    assert delivered.wait(timeout=10)
    assert seen[0] != threading.get_ident()


def test_no_wake_up_is_lost_when_many_threads_defer_at_once() -> None:
    """A wake-up is sent only when none is outstanding: whatever the interleaving, the
    delivery thread still runs everything with nobody reading."""
    done: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: [_pending.defer(done.append, 1) for _ in range(500)],
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = time.monotonic() + 10
    while _pending.pending() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert len(done) == 2000
    # One more after a quiet moment: the thread was asleep and must be woken again.
    _pending.defer(done.append, 1)
    deadline = time.monotonic() + 10
    while _pending.pending() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert len(done) == 2001


def test_one_wake_up_is_sent_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deferring while a wake-up is outstanding sends no other: each is a system call."""
    _pending.defer(lambda: None)  # the delivery thread exists
    _pending.run_pending()
    deadline = time.monotonic() + 10
    while (_pending._state["woken"] or _pending._state["busy"]) and time.monotonic() < deadline:
        time.sleep(0.001)  # let it consume its wake-up and go back to sleep
    real = _pending._wake

    class CountingWake:
        """Counts wake-ups and keeps them from the real thread, which waits on as before."""

        puts = 0

        def put(self, item: None) -> None:
            CountingWake.puts += 1

        def get(self) -> None:
            return real.get()

    monkeypatch.setattr(_pending, "_wake", CountingWake())
    # Restored to False afterwards: the wake-up counted here never reached the thread.
    monkeypatch.setitem(_pending._state, "woken", False)
    done: list[int] = []
    for index in range(100):
        _pending.defer(done.append, index)
    assert CountingWake.puts == 1
    _pending.run_pending()
    assert done == list(range(100))


def test_scope_totals_wait_for_records_in_the_making() -> None:
    """A total read right after the call includes it, delivery thread or not."""
    llmcost.configure()
    with llmcost.track_cost(feature="f") as scope:
        for _ in range(20):
            _finish()
    assert scope.calls == 20
    assert scope.total_cost_usd == 20 * Decimal("0.00021")
    assert scope.input_tokens == 20_000


def test_a_sink_reading_a_total_inside_emit_does_not_deadlock() -> None:
    """A sink reading a scope inside emit runs on the runner: it sees the totals so far."""
    totals: list[int] = []
    with llmcost.track_cost(feature="f") as scope:
        llmcost.configure(sinks=[CallbackSink(lambda record: totals.append(scope.calls))])
        _finish()
        _finish()
        llmcost.flush()
    assert totals == [1, 2]


def test_work_deferred_from_inside_the_work_runs_inline_in_order() -> None:
    """Nested deferral (an integration's deferred reading calls finish) adds no second hop."""
    order: list[str] = []

    def outer() -> None:
        order.append("outer start")
        _pending.defer(order.append, "inner")
        order.append("outer end")

    _pending.defer(outer)
    _pending.defer(order.append, "next")
    _pending.run_pending()
    assert order == ["outer start", "inner", "outer end", "next"]


def test_work_runs_in_the_context_of_the_thread_that_deferred_it() -> None:
    """Contextvars (OpenTelemetry's current span, logging filters) are the caller's."""
    import contextvars

    marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="none")
    seen: list[str] = []
    token = marker.set("caller")
    try:
        _pending.defer(lambda: seen.append(marker.get()))
    finally:
        marker.reset(token)
    _pending.run_pending()
    assert seen == ["caller"]


def test_an_error_on_the_delivery_thread_fails_the_next_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under the suite, a bug hit on llmcost's thread is raised where someone waits."""
    from llmcost import pricing

    def broken_cost(*args: object, **kwargs: object) -> object:
        raise ZeroDivisionError("pricing bug")

    monkeypatch.setattr(pricing, "cost", broken_cost)
    llmcost.configure()
    _finish()
    with pytest.raises(ZeroDivisionError):
        llmcost.flush()
    llmcost.flush()  # raised once, not again


@pytest.mark.usefixtures("swallow_internal_errors")
def test_in_production_an_error_of_the_work_is_counted_and_the_rest_runs(
    memory_sink: MemorySink,
) -> None:
    """One broken piece of work is counted; the records after it are still made."""

    def broken() -> None:
        raise RuntimeError("bug")

    _pending.defer(broken)
    _finish()
    assert len(memory_sink.records) == 1
    assert llmcost.stats()["internal_errors.deferred"] == 1


def test_a_budget_admits_against_settled_costs_not_reserved_worst_cases() -> None:
    """Calls that returned but are not settled yet hold their worst case: admission settles
    them first, so a budget that the real costs fit is not refused on stale reservations."""
    llmcost.configure()
    request = {"max_tokens": 10_000, "messages": [{"role": "user", "content": "hi"}]}
    with llmcost.budget(max_cost_usd="0.01") as budget:
        for _ in range(5):
            call = _recorder.start_call("openai", "chat", "gpt-4o-mini", request=request)
            # worst case ~$0.006 each: two could never be reserved at once under $0.01
            call.finish(Usage(input_tokens=10, output_tokens=10))
        assert budget.calls == 5
        assert budget.reserved_usd == 0
        assert budget.spent_usd == 5 * Decimal("0.0000075")


def test_record_usage_is_delivered_before_it_returns_and_after_earlier_calls(
    memory_sink: MemorySink,
) -> None:
    """The manual path delivers at once, behind the instrumented calls still in the making."""
    _finish(input_tokens=1)
    seen: list[int] = []
    llmcost.configure(sinks=[memory_sink, CallbackSink(lambda r: seen.append(r.input_tokens))])
    _finish(input_tokens=2)
    llmcost.record_usage(provider="openai", model="gpt-4o-mini", input_tokens=3)
    assert seen == [2, 3]
    assert [r.input_tokens for r in memory_sink.records] == [1, 2, 3]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() only")
def test_a_forked_child_does_not_deliver_the_parents_pending_records(tmp_path: object) -> None:
    """Work pending at fork() belongs to the parent: the child drops its copy, and its own
    calls are delivered by a delivery thread of its own."""
    import pathlib

    assert isinstance(tmp_path, pathlib.Path)
    path = tmp_path / "costs.jsonl"
    llmcost.configure(sinks=[llmcost.sinks.JSONLFileSink(path)])
    blocker = threading.Event()
    _pending.defer(blocker.wait, 10)  # keeps the delivery thread busy, so work stays queued
    _finish(input_tokens=1)
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            _finish(input_tokens=2)
            llmcost.flush()
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    blocker.set()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    llmcost.flush()
    inputs = sorted(record.input_tokens for record in llmcost.read_records(path))
    assert inputs == [1, 2]


def test_pending_work_is_made_at_interpreter_exit(tmp_path: object) -> None:
    """A script that exits right after its last call still gets every record written."""
    import pathlib
    import subprocess
    import textwrap

    assert isinstance(tmp_path, pathlib.Path)
    path = tmp_path / "costs.jsonl"
    script = textwrap.dedent(
        f"""
        import llmcost
        from llmcost import _recorder
        from llmcost.types import Usage

        llmcost.configure(sinks=[llmcost.sinks.JSONLFileSink({str(path)!r})])
        for tokens in range(1, 201):
            call = _recorder.start_call("openai", "chat", "gpt-4o-mini")
            call.finish(Usage(input_tokens=tokens))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(list(llmcost.read_records(path))) == 200


def test_stats_count_records_still_in_the_making() -> None:
    """stats() waits for the records of calls that already returned."""
    llmcost.configure()
    for _ in range(3):
        _finish()
    assert errors.stats()["records"] == 3
