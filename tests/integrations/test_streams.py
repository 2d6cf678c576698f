"""The shared stream proxy: the safety net when an observer fails, and endings after GC."""

from __future__ import annotations

import gc
import threading
from typing import Any

import pytest

import llmcost
from llmcost import _dispatch, _recorder
from llmcost.integrations import _streams
from llmcost.integrations._streams import RecordingStream


class Observer:
    """A stream observer that records what it is told, and can be made to fail at the end."""

    def __init__(self, call: _recorder.Call | None = None, *, fail: bool = False) -> None:
        self.call = call
        self.fail = fail
        self.items: list[Any] = []
        self.ends: list[tuple[BaseException | None, bool]] = []

    def on_item(self, item: Any) -> bool:
        self.items.append(item)
        return True

    def on_end(self, error: BaseException | None, completed: bool) -> None:
        self.ends.append((error, completed))
        if self.fail:
            raise RuntimeError("observer bug at the end")


@pytest.fixture
def sink() -> llmcost.sinks.MemorySink:
    memory = llmcost.sinks.MemorySink()
    llmcost.configure(sinks=[memory])
    return memory


@pytest.mark.usefixtures("swallow_internal_errors")
def test_an_observer_failing_at_the_end_still_ends_its_call(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """on_end raises: the user's loop is untouched, the call is recorded as unknown usage
    (unpriced, never $0) and its budget reservation is not leaked."""
    with llmcost.budget(max_cost_usd=1) as budget:
        call = _recorder.start_call("openai", "chat", "gpt-4o-mini", stream=True)
        assert budget.reserved_usd > 0
        stream = RecordingStream(iter([1, 2, 3]), Observer(call, fail=True))
        assert list(stream) == [1, 2, 3]
    [record] = sink.records
    assert (record.priced, record.estimated, record.total_cost_usd) == (False, True, None)
    assert budget.reserved_usd == 0
    assert budget.calls == 1
    assert llmcost.stats()["internal_errors.stream.end"] == 1


def test_an_observer_failing_at_the_end_fails_the_suite_after_ending_the_call(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """Under the test suite the error surfaces, but only after the call was ended."""
    call = _recorder.start_call("openai", "chat", "gpt-4o-mini", stream=True)
    stream = RecordingStream(iter([1]), Observer(call, fail=True))
    with pytest.raises(RuntimeError, match="observer bug"):
        list(stream)
    assert call.done
    assert len(sink.records) == 1


def test_garbage_collection_only_hands_the_ending_off(sink: llmcost.sinks.MemorySink) -> None:
    """__del__ never runs the observer (it may hold our locks): the delivery thread or the
    next reader does, after the collector is done."""
    collecting = threading.Event()
    during_collection: list[bool] = []

    class Watching(Observer):
        def on_end(self, error: BaseException | None, completed: bool) -> None:
            mine = threading.get_ident() == main_thread
            during_collection.append(mine and collecting.is_set())
            super().on_end(error, completed)

    main_thread = threading.get_ident()
    observer = Watching()
    stream = RecordingStream(iter([1, 2, 3]), observer)
    assert next(stream) == 1
    collecting.set()
    del stream
    gc.collect()
    collecting.clear()
    llmcost.flush(timeout=5)
    assert observer.ends == [(None, False)]
    assert during_collection == [False]


def test_flush_runs_the_endings_handed_off(sink: llmcost.sinks.MemorySink) -> None:
    """llmcost.flush() (also run at exit) runs pending endings too, once each."""
    observer = Observer()
    stream = RecordingStream(iter([1, 2]), observer)
    next(stream)
    del stream
    gc.collect()
    assert llmcost.flush() is True
    assert observer.ends == [(None, False)]
    llmcost.flush()
    assert observer.ends == [(None, False)]


def test_a_closed_stream_hands_nothing_off() -> None:
    """A proxy that already ended adds nothing to the pending endings when collected."""
    observer = Observer()
    stream = RecordingStream(iter([1]), observer)
    assert list(stream) == [1]
    del stream
    gc.collect()
    assert _dispatch.queued() == 0
    assert observer.ends == [(None, True)]


def test_nothing_is_handed_off_while_the_interpreter_exits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At interpreter exit a collected proxy records nothing and queues nothing."""
    observer = Observer()
    stream = RecordingStream(iter([1, 2]), observer)
    next(stream)
    with monkeypatch.context() as patch:
        patch.setattr(_streams.sys, "is_finalizing", lambda: True)
        stream.__del__()
    assert _dispatch.queued() == 0
    assert observer.ends == []


@pytest.mark.usefixtures("swallow_internal_errors")
def test_a_failing_pending_ending_does_not_stop_the_others() -> None:
    """Each pending ending is isolated: one failing is counted, the next still runs."""
    ran: list[str] = []

    def broken() -> None:
        raise RuntimeError("broken ending")

    _streams.defer(broken)
    _streams.defer(lambda: ran.append("second"))
    llmcost.flush(timeout=5)
    assert ran == ["second"]
    assert _dispatch.queued() == 0
    assert llmcost.stats()["internal_errors.stream.end"] == 1
