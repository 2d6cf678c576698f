"""BatchWorker, the base of every background delivery: its timeouts and its accounting."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from llmcost.sinks._batch import BatchWorker


def _worker(send: Any, drops: list[tuple[int, str]], **options: Any) -> BatchWorker[int]:
    options.setdefault("batch_size", 10)
    options.setdefault("flush_interval", 0.01)
    options.setdefault("max_queue", 1000)
    options.setdefault("describe", "TestSink(x)")
    return BatchWorker(send, name="test", on_drop=lambda n, why: drops.append((n, why)), **options)


def test_close_returns_by_its_timeout_while_send_is_blocked(caplog):
    """A send stuck in the network cannot hold close(): it returns in time and counts the rest."""
    release = threading.Event()
    started = threading.Event()

    def send(batch: list[int]) -> bool:
        started.set()
        release.wait(30)
        return True

    drops: list[tuple[int, str]] = []
    worker = _worker(send, drops)
    for item in range(25):
        worker.put(item)
    assert started.wait(5)
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        begun = time.monotonic()
        assert worker.close(timeout=0.5) is False
        elapsed = time.monotonic() - begun
    release.set()
    assert elapsed < 1.5  # the send would block 30 s
    assert worker.drops == {"closed": 25}  # the batch in flight and the 15 behind it
    assert sum(n for n, _ in drops) == 25
    assert [r.getMessage() for r in caplog.records] == [
        "llmcost TestSink(x) closed: 0 sent, 25 dropped (closed=25)"
    ]


def test_flush_returns_by_its_timeout_and_delivers_later():
    """flush(timeout) gives up waiting, not the items: they are sent when send recovers."""
    healthy = threading.Event()
    delivered: list[int] = []

    def send(batch: list[int]) -> bool:
        while not healthy.is_set():
            if not worker.sleep(0.01):
                return False
        delivered.extend(batch)
        return True

    worker = _worker(send, [])
    for item in range(5):
        worker.put(item)
    begun = time.monotonic()
    assert worker.flush(timeout=0.3) is False
    assert time.monotonic() - begun < 1.3  # the send would wait forever
    healthy.set()
    assert worker.flush(timeout=5) is True
    assert delivered == [0, 1, 2, 3, 4]
    assert worker.close(timeout=2) is True


def test_count_drop_takes_part_of_a_batch_out_of_the_sent_count():
    """send may drop some items itself: they are counted by reason, the rest as sent."""

    def send(batch: list[int]) -> bool:
        odd = [item for item in batch if item % 2]
        worker.count_drop(len(odd), "odd")
        return True

    drops: list[tuple[int, str]] = []
    worker = _worker(send, drops)
    for item in range(10):
        worker.put(item)
    assert worker.flush(timeout=5) is False  # not everything arrived
    assert worker.sent_items == 5
    assert worker.drops == {"odd": 5}
    assert drops == [(5, "odd")]
    worker.close(timeout=2)


def test_spill_keeps_what_close_gives_up_and_the_rest_is_counted(caplog):
    """Items close() gives up go to spill; what it could not keep is dropped and counted."""
    kept: list[int] = []

    def spill(items: list[int]) -> int:
        kept.extend(items[:7])
        return 7

    def send(batch: list[int]) -> bool:
        worker.sleep(30)
        return False

    worker = _worker(send, [], spill=spill)
    for item in range(20):
        worker.put(item)
    time.sleep(0.1)
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        assert worker.close(timeout=0.2) is False
    assert worker.spilled == 7
    assert worker.drops == {"closed": 13}
    assert kept == list(range(7))
    assert "7 spooled to disk, 13 dropped (closed=13)" in caplog.text


def test_the_summary_is_logged_once_whatever_closes_it(caplog):
    """close() twice and the exit flush: one summary line, not three."""
    worker = _worker(lambda batch: False, [], flush_interval=0.01)
    for item in range(3):
        worker.put(item)
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        worker.flush(timeout=2)
        worker.close(timeout=1)
        worker.close(timeout=1)
        worker._close_at_exit()
    assert len(caplog.records) == 1
    assert "3 dropped (send_failed=3)" in caplog.records[0].getMessage()


def test_nothing_lost_means_no_summary_line(caplog):
    """A clean close logs nothing."""
    worker = _worker(lambda batch: True, [])
    worker.put(1)
    with caplog.at_level(logging.DEBUG, logger="llmcost"):
        assert worker.close(timeout=2) is True
    assert caplog.records == []


def test_without_describe_the_owner_reports_its_losses_itself(caplog):
    """No describe: close() counts the drops but logs nothing (the owner has its own words)."""
    worker = _worker(lambda batch: False, [], describe=None)
    worker.put(1)
    with caplog.at_level(logging.DEBUG, logger="llmcost"):
        worker.flush(timeout=2)
        worker.close(timeout=1)
    assert worker.drops == {"send_failed": 1}
    assert caplog.records == []
