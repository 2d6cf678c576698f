"""HTTPSink against a real HTTP server on 127.0.0.1, with injected faults."""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmcost
from llmcost import errors
from llmcost.sinks._batch import BatchWorker
from llmcost.sinks.http import HTTPSink, encode_batch, encode_record, parse_retry_after
from llmcost.types import CostRecord

# --- a loopback receiver with scripted faults ---------------------------------------------


@dataclass
class Fault:
    """How the receiver answers one request."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    #: Keep the records even though the answer is a failure (a reply lost on the way back).
    store: bool = False
    #: Block the handler until this event is set.
    hold: threading.Event | None = None


@dataclass
class Received:
    at: float
    headers: dict[str, str]
    records: list[dict[str, Any]]
    status: int


class Receiver:
    """An ingestion endpoint that deduplicates by record_id, like a careful real one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[Received] = []
        self.unique: dict[str, dict[str, Any]] = {}
        self.duplicates = 0
        self.faults: deque[Fault] = deque()
        self.fault_for: Callable[[int], Fault] | None = None
        self.in_handler = threading.Semaphore(0)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    index = len(receiver.requests)
                    if receiver.faults:
                        fault = receiver.faults.popleft()
                    elif receiver.fault_for is not None:
                        fault = receiver.fault_for(index)
                    else:
                        fault = Fault()
                    if self.headers.get("Content-Encoding") == "gzip":
                        raw = gzip.decompress(raw)
                    records = json.loads(raw, parse_float=Decimal)["records"]
                    receiver.requests.append(
                        Received(time.monotonic(), dict(self.headers), records, fault.status)
                    )
                    if fault.status < 300 or fault.store:
                        for record in records:
                            if record["record_id"] in receiver.unique:
                                receiver.duplicates += 1
                            else:
                                receiver.unique[record["record_id"]] = record
                receiver.in_handler.release()
                if fault.hold is not None:
                    fault.hold.wait(10)
                if fault.delay:
                    time.sleep(fault.delay)
                self.send_response(fault.status)
                for name, value in fault.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(fault.body)))
                self.end_headers()
                self.wfile.write(fault.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the client gave up (timeout tests): nothing to report

        self.server = Server(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.server_bind()  # bound but not listening: connections are refused
        host, port = self.server.server_address[:2]
        self.url = f"http://{host}:{port}/ingest"
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.server.server_activate()
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        if self.thread is not None:
            self.server.shutdown()
            self.thread.join(5)
        self.server.server_close()

    @property
    def raw_record_count(self) -> int:
        with self.lock:
            return sum(len(r.records) for r in self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def idle_receiver() -> Iterator[Receiver]:
    """A receiver whose port refuses connections until the test calls start()."""
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def make_sink() -> Iterator[Callable[..., HTTPSink]]:
    sinks: list[HTTPSink] = []

    def make(url: str, **options: Any) -> HTTPSink:
        options.setdefault("flush_interval", 0.02)
        options.setdefault("backoff_base", 0.001)
        options.setdefault("timeout", 2.0)
        sink = HTTPSink(url, **options)
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.close(timeout=2.0)


def make_record(index: int = 0, **fields: Any) -> CostRecord:
    base: dict[str, Any] = {
        "provider": "openai",
        "operation": "chat",
        "model": "gpt-4o",
        "request_id": f"req_{index}",
        "feature": "support_chat",
        "project": "checkout",
        "environment": "production",
        "input_tokens": 1000 + index,
        "output_tokens": 100,
        "input_cost_usd": Decimal("0.0025"),
        "output_cost_usd": Decimal("0.001"),
        "total_cost_usd": Decimal("0.0035"),
        "priced": True,
        "latency_ms": 12.5,
    }
    base.update(fields)
    return CostRecord(**base)


# --- payload ---------------------------------------------------------------------------


def test_payload_round_trips_exactly_with_money_as_json_numbers(receiver, make_sink):
    """Every field arrives with its CostRecord name; money parses back to the same Decimal."""
    records = [
        make_record(0, total_cost_usd=Decimal("0.000000125"), input_cost_usd=Decimal("1E-7")),
        make_record(1, tags={"tier": "pro", "région": "eu-ouest"}, user_id="u-42"),
        make_record(2, total_cost_usd=None, input_cost_usd=None, output_cost_usd=None),
    ]
    sink = make_sink(receiver.url)
    for record in records:
        sink.emit(record)
    assert sink.flush(5)
    received = [r for request in receiver.requests for r in request.records]
    assert [CostRecord.model_validate(r) for r in received] == records
    body = encode_batch(records).decode()
    assert '"total_cost_usd":1.25E-7' in body
    assert '"input_cost_usd":1E-7' in body
    for name in ("provider", "model", "input_tokens", "output_tokens", "request_id", "feature"):
        assert name in received[0]
    assert received[0]["project"] == "checkout"
    assert received[0]["environment"] == "production"


_text = st.text(max_size=12)
_money = st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=12, min_value=0)


@settings(max_examples=60, deadline=None)
@given(
    feature=st.none() | _text,
    tags=st.dictionaries(_text, _text, max_size=3),
    total=_money,
    part=_money,
    latency=st.none() | st.floats(min_value=0, max_value=1e7, allow_nan=False),
    tokens=st.integers(min_value=0, max_value=10**9),
)
def test_fast_encoder_matches_to_json(feature, tags, total, part, latency, tokens):
    """The sink's encoder writes exactly the text of CostRecord.to_json()."""
    record = make_record(
        feature=feature,
        tags=tags,
        total_cost_usd=total,
        input_cost_usd=part,
        latency_ms=latency,
        input_tokens=tokens,
    )
    assert encode_record(record) == record.to_json()
    assert CostRecord.from_json(encode_record(record)) == record
    unpriced = make_record(total_cost_usd=None, input_cost_usd=None, output_cost_usd=None)
    batch = [record, unpriced, record]
    expected = '{"records":[' + ",".join(r.to_json() for r in batch) + "]}"
    assert encode_batch(batch).decode() == expected


def test_hand_built_records_fall_back_to_to_json():
    """Records made with model_construct (no validation) still encode exactly."""
    odd = [
        CostRecord.model_construct(**{**make_record(1).__dict__, "tags": {"total_cost_usd": None}}),
        CostRecord.model_construct(**{**make_record(2).__dict__, "latency_ms": Decimal("1.5")}),
    ]
    for record in odd:
        assert encode_record(record) == record.to_json()
    batch = [*odd, make_record(3)]
    expected = '{"records":[' + ",".join(r.to_json() for r in batch) + "]}"
    assert encode_batch(batch).decode() == expected


def test_gzip_bodies_are_compressed_and_decode_to_the_same_records(receiver, make_sink):
    """gzip=True sends Content-Encoding: gzip and the same records."""
    sink = make_sink(receiver.url, gzip=True)
    records = [make_record(i) for i in range(20)]
    for record in records:
        sink.emit(record)
    assert sink.flush(5)
    assert all(r.headers["Content-Encoding"] == "gzip" for r in receiver.requests)
    assert [CostRecord.model_validate(r) for r in receiver.unique.values()] == records


def test_batches_respect_batch_size_and_carry_an_idempotency_key(receiver, make_sink):
    """250 records with batch_size=100 go out as batches of at most 100, each with its key."""
    sink = make_sink(receiver.url, batch_size=100, flush_interval=0.05)
    for i in range(250):
        sink.emit(make_record(i))
    assert sink.flush(5)
    sizes = [len(r.records) for r in receiver.requests]
    assert sum(sizes) == 250
    assert max(sizes) <= 100
    keys = [r.headers["Idempotency-Key"] for r in receiver.requests]
    assert len(set(keys)) == len(keys)
    assert all(r.headers["Content-Type"] == "application/json" for r in receiver.requests)
    assert receiver.requests[0].headers["User-Agent"].startswith("llmcost")


def test_user_headers_are_sent(receiver, make_sink):
    """headers= adds request headers (authentication, typically)."""
    sink = make_sink(receiver.url, headers={"Authorization": "Bearer s3cret"})
    sink.emit(make_record())
    assert sink.flush(5)
    assert receiver.requests[0].headers["Authorization"] == "Bearer s3cret"


def test_a_partial_batch_is_sent_after_flush_interval_without_flush(receiver, make_sink):
    """A lone record does not wait for a full batch: it leaves within flush_interval."""
    sink = make_sink(receiver.url, batch_size=100, flush_interval=0.05)
    sink.emit(make_record())
    deadline = time.monotonic() + 3
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(receiver.unique) == 1


# --- faults ----------------------------------------------------------------------------


def test_a_run_of_500s_is_retried_with_the_same_key_until_recovery(receiver, make_sink):
    """Three 500s then a 200: one delivery, three retries, one Idempotency-Key throughout."""
    receiver.faults.extend([Fault(500), Fault(502), Fault(503), Fault(200)])
    sink = make_sink(receiver.url)
    records = [make_record(i) for i in range(5)]
    for record in records:
        sink.emit(record)
    assert sink.flush(5)
    assert [r.status for r in receiver.requests] == [500, 502, 503, 200]
    assert len({r.headers["Idempotency-Key"] for r in receiver.requests}) == 1
    assert all(len(r.records) == 5 for r in receiver.requests)
    stats = sink.stats()
    assert stats["sent"] == 5
    assert stats["retried"] == 3
    assert stats["dropped"] == 0


def test_backoff_grows_exponentially(receiver, make_sink):
    """Retry gaps roughly double: base 0.04 gives gaps in [0.02,0.04], [0.04,0.08], [0.08,0.16]."""
    receiver.faults.extend([Fault(500), Fault(500), Fault(500), Fault(200)])
    sink = make_sink(receiver.url, backoff_base=0.04)
    sink.emit(make_record())
    assert sink.flush(5)
    times = [r.at for r in receiver.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for attempt, gap in enumerate(gaps):
        low = 0.04 * 2**attempt * 0.5
        assert low * 0.9 <= gap <= low * 2 + 0.25, gaps  # generous: CI machines stall


def test_429_retry_after_is_honoured(receiver, make_sink):
    """A 429 with Retry-After: 1 delays the retry by about a second despite a 1 ms backoff."""
    receiver.faults.extend([Fault(429, headers={"Retry-After": "1"}), Fault(200)])
    sink = make_sink(receiver.url, backoff_base=0.001)
    sink.emit(make_record())
    assert sink.flush(5)
    first, second = receiver.requests
    assert second.at - first.at >= 0.95
    assert sink.stats()["retried"] == 1
    assert sink.stats()["sent"] == 1


def test_retry_after_is_capped_by_max_retry_after(receiver, make_sink):
    """A hostile Retry-After: 3600 waits only max_retry_after."""
    receiver.faults.extend([Fault(503, headers={"Retry-After": "3600"}), Fault(200)])
    sink = make_sink(receiver.url, max_retry_after=0.05)
    sink.emit(make_record())
    assert sink.flush(5)
    first, second = receiver.requests
    assert second.at - first.at < 1.0


def test_slow_response_past_timeout_is_retried_and_deduplicated(receiver, make_sink):
    """The server processes a request but answers after the client timed out: the retry has
    the same Idempotency-Key, and the receiver's record_id dedup counts each record once."""
    receiver.faults.extend([Fault(200, delay=0.6, store=True), Fault(200)])
    sink = make_sink(receiver.url, timeout=0.2)
    records = [make_record(i) for i in range(3)]
    for record in records:
        sink.emit(record)
    assert sink.flush(5)
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert receiver.duplicates == 3
    assert set(receiver.unique) == {r.record_id for r in records}
    assert sink.stats()["retried"] == 1
    assert sink.stats()["sent"] == 3


def test_connection_refused_until_the_server_comes_up(idle_receiver, make_sink):
    """Records wait through refused connections and arrive once the server listens."""
    sink = make_sink(idle_receiver.url, backoff_base=0.02, max_retries=10)
    records = [make_record(i) for i in range(4)]
    for record in records:
        sink.emit(record)
    deadline = time.monotonic() + 3
    while sink.stats()["retried"] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.stats()["retried"] >= 2
    assert sink.stats()["queued"] == 4
    idle_receiver.start()
    assert sink.flush(5)
    assert set(idle_receiver.unique) == {r.record_id for r in records}
    assert sink.stats()["sent"] == 4
    assert sink.stats()["dropped"] == 0


def test_4xx_drops_the_batch_without_retry_and_logs_status_and_body(receiver, make_sink, caplog):
    """400 is not retried: the batch is dropped, counted and logged with the response text."""
    receiver.faults.append(Fault(400, body=b"field 'model' is required"))
    sink = make_sink(receiver.url)
    for i in range(3):
        sink.emit(make_record(i))
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        assert sink.flush(5) is False
    assert len(receiver.requests) == 1
    stats = sink.stats()
    assert stats["dropped"] == 3
    assert stats["dropped_rejected"] == 3
    assert stats["failed_batches"] == 1
    assert stats["retried"] == 0
    assert errors.stats()["sink.http.dropped"] == 3
    message = caplog.text
    assert "400" in message
    assert "field 'model' is required" in message
    # The sink keeps working for the next batch.
    sink.emit(make_record(9))
    assert sink.flush(5)
    assert sink.stats()["sent"] == 1


def test_exhausted_retries_drop_and_count_the_batch(receiver, make_sink, caplog):
    """After max_retries the batch is given up, counted and logged; nothing is silent."""
    receiver.fault_for = lambda index: Fault(500)
    sink = make_sink(receiver.url, max_retries=2)
    for i in range(4):
        sink.emit(make_record(i))
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        assert sink.flush(5) is False
    assert len(receiver.requests) == 3
    assert sink.stats()["dropped_failed"] == 4
    assert sink.stats()["retried"] == 2
    assert errors.stats()["sink.http.dropped"] == 4
    assert "after 3 attempt(s)" in caplog.text
    assert "HTTP 500" in caplog.text


def test_ten_thousand_records_with_20_percent_failures_all_arrive_once(receiver, make_sink):
    """Every fifth request fails (half of them after the server kept the records): all 10,000
    records arrive, and the receiver's record_id dedup counts none twice."""

    def every_fifth_fails(index: int) -> Fault:
        if index % 5 != 4:
            return Fault(200)
        return Fault(503, store=True) if index % 10 == 4 else Fault(500)

    receiver.fault_for = every_fifth_fails
    sink = make_sink(receiver.url, batch_size=100, max_queue=20_000)
    records = [make_record(i) for i in range(10_000)]

    def produce(part: list[CostRecord]) -> None:
        for record in part:
            sink.emit(record)

    threads = [threading.Thread(target=produce, args=(records[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sink.flush(30)
    assert set(receiver.unique) == {r.record_id for r in records}
    assert len(receiver.unique) == 10_000
    assert receiver.duplicates > 0  # some failures had kept the records: dedup was needed
    assert receiver.raw_record_count == 10_000 + receiver.duplicates + sum(
        len(r.records) for r in receiver.requests if r.status == 500
    )
    failed_requests = sum(1 for r in receiver.requests if r.status >= 500)
    assert failed_requests >= len(receiver.requests) // 5
    stats = sink.stats()
    assert stats["sent"] == 10_000
    assert stats["dropped"] == 0
    assert stats["queued"] == 0
    assert stats["retried"] == failed_requests


def test_queue_overflow_is_counted_exactly_with_one_warning(receiver, make_sink, caplog):
    """With the worker stuck on a request, max_queue + 7 more emits drop exactly 7."""
    hold = threading.Event()
    receiver.faults.append(Fault(200, hold=hold))
    sink = make_sink(receiver.url, batch_size=10, max_queue=50, timeout=10)
    sink.emit(make_record(0))
    assert receiver.in_handler.acquire(timeout=5)  # the worker is now blocked on the server
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        for i in range(1, 58):
            sink.emit(make_record(i))
    stats = sink.stats()
    assert stats["dropped_queue_full"] == 7
    assert stats["dropped"] == 7
    assert stats["queued"] == 51
    assert errors.stats()["sink.http.dropped"] == 7
    warnings_logged = [r for r in caplog.records if "queue full" in r.getMessage()]
    assert len(warnings_logged) == 1
    hold.set()
    assert sink.flush(5)
    assert len(receiver.unique) == 51
    assert sink.stats()["sent"] == 51


# --- lifecycle -------------------------------------------------------------------------


def test_close_flushes_and_later_emits_are_ignored(receiver, make_sink):
    """close() delivers what is queued; a record emitted after close is not sent, but counted."""
    sink = make_sink(receiver.url, flush_interval=10)
    sink.emit(make_record(1))
    assert sink.close() is True
    sink.emit(make_record(2))
    assert len(receiver.unique) == 1
    assert sink.stats()["queued"] == 0
    assert sink.stats()["dropped"] == sink.stats()["dropped_closed"] == 1
    assert sink.flush(1) is True


def test_close_timeout_counts_what_could_not_be_delivered(receiver, make_sink):
    """An endpoint that keeps failing: close(timeout) stops retrying and counts the loss."""
    receiver.fault_for = lambda index: Fault(503)
    sink = make_sink(receiver.url, max_retries=100, backoff_base=0.05, batch_size=5)
    for i in range(12):
        sink.emit(make_record(i))
    started = time.monotonic()
    assert sink.close(timeout=0.3) is False
    assert time.monotonic() - started < 2
    deadline = time.monotonic() + 2
    while sink.stats()["dropped"] < 12 and time.monotonic() < deadline:
        time.sleep(0.01)
    stats = sink.stats()
    assert stats["dropped"] == 12
    assert stats["sent"] == 0
    assert errors.stats()["sink.http.dropped"] == 12


def test_configured_through_llmcost_and_flushed_by_llmcost_flush(receiver):
    """HTTPSink works as a configured sink: llmcost.flush() delivers its records."""
    sink = HTTPSink(receiver.url, flush_interval=10)
    llmcost.configure(sinks=[sink])
    record = make_record(3)
    sink.emit(record)
    assert llmcost.flush(5)
    assert list(receiver.unique) == [record.record_id]


def test_records_are_flushed_at_interpreter_exit(receiver):
    """A process that exits without flushing still delivers its queued records (atexit)."""
    script = textwrap.dedent(
        f"""
        from llmcost.sinks.http import HTTPSink
        from llmcost.types import CostRecord
        sink = HTTPSink({receiver.url!r}, flush_interval=60, batch_size=1000)
        for i in range(5):
            sink.emit(CostRecord(provider="openai", operation="chat", model="gpt-4o",
                                 request_id=f"exit-{{i}}"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert sorted(r["request_id"] for r in receiver.unique.values()) == [
        f"exit-{i}" for i in range(5)
    ]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_fork_child_runs_its_own_worker_and_does_not_resend_the_parents_queue(receiver, make_sink):
    """A forked child sends its own records on its own worker and connections; records the
    parent had queued at fork time are sent once, by the parent."""
    sink = make_sink(receiver.url, flush_interval=30, batch_size=1000)
    sink.emit(make_record(0, request_id="parent-before"))
    assert sink.flush(5)  # the worker thread and a keep-alive connection now exist
    sink.emit(make_record(1, request_id="parent-queued"))  # still queued at fork time
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            child_queued_before = sink.stats()["queued"]
            for i in range(3):
                sink.emit(make_record(10 + i, request_id=f"child-{i}"))
            delivered = sink.flush(5)
            code = 0 if delivered and child_queued_before == 0 else 2
            if sink.stats()["sent"] != 3:
                code = 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 0
    assert sink.flush(5)
    request_ids = sorted(r["request_id"] for r in receiver.unique.values())
    assert request_ids == ["child-0", "child-1", "child-2", "parent-before", "parent-queued"]
    assert receiver.duplicates == 0
    assert sink.stats()["sent"] == 2


# --- configuration and helpers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "ftp://example.com"}, "http:// or https://"),
        ({"url": "http://host:abc/"}, "not a valid URL"),
        ({"url": "https:///ingest"}, "no host"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_queue": -1}, "max_queue"),
        ({"timeout": 0}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"flush_interval": 0}, "flush_interval"),
        ({"backoff_base": -1}, "backoff_base"),
    ],
)
def test_bad_configuration_is_refused_with_the_setting_named(kwargs, message):
    """Invalid settings raise ValueError naming the setting."""
    url = kwargs.pop("url", "http://127.0.0.1:9/ingest")
    with pytest.raises(ValueError, match=message):
        HTTPSink(url, **kwargs)


def test_parse_retry_after_reads_seconds_and_http_dates():
    """Retry-After accepts delay-seconds and an HTTP-date; junk gives None."""
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)
    later = now + timedelta(seconds=30)
    http_date = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(http_date, now=now) == 30.0
    assert parse_retry_after("Sun, 22 Nov 2026 11:00:00 GMT", now=now) == 0.0  # in the past
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after(None) is None


def test_stats_has_the_documented_keys(receiver, make_sink):
    """stats() reports sent, retried, dropped (by reason), failed batches and queued."""
    sink = make_sink(receiver.url)
    assert set(sink.stats()) == {
        "sent",
        "sent_batches",
        "retried",
        "failed_batches",
        "dropped",
        "dropped_queue_full",
        "dropped_failed",
        "dropped_closed",
        "dropped_unencodable",
        "dropped_too_large",
        "dropped_rejected",
        "spooled",
        "queued",
    }
    assert all(value == 0 for value in sink.stats().values())


def test_importing_llmcost_sinks_does_not_import_httpx2():
    """The HTTP client is imported when an HTTPSink is created, not before."""
    code = (
        "import sys, llmcost, llmcost.sinks; llmcost.sinks.HTTPSink; "
        "assert 'httpx2' not in sys.modules, 'imported early'; "
        "llmcost.sinks.HTTPSink('http://127.0.0.1:9/x').close(); "
        "assert 'httpx2' in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr


# --- the batch worker on its own -----------------------------------------------------------


def make_worker(send: Callable[[list[int]], bool], drops: list[tuple[int, str]], **options: Any):
    options.setdefault("batch_size", 10)
    options.setdefault("flush_interval", 0.02)
    options.setdefault("max_queue", 100)
    return BatchWorker(send, name="test", on_drop=lambda n, why: drops.append((n, why)), **options)


def test_worker_delivers_in_order_in_batches_and_flush_reports_success():
    """Items reach send() in order, in batches of at most batch_size."""
    batches: list[list[int]] = []
    drops: list[tuple[int, str]] = []
    worker = make_worker(lambda batch: batches.append(batch) is None, drops)
    assert worker.flush(1) is True  # nothing emitted yet
    for i in range(35):
        assert worker.put(i)
    assert worker.flush(5) is True
    assert [i for batch in batches for i in batch] == list(range(35))
    assert max(len(batch) for batch in batches) <= 10
    assert worker.close(5) is True
    assert worker.close(5) is True  # idempotent
    assert drops == []
    assert worker.put(99) is False  # after close: dropped, and the drop is reported
    assert drops == [(1, "closed")]


def test_worker_survives_a_failing_send_and_counts_the_batch(swallow_internal_errors):
    """A bug in send() is counted as an internal error; the batch is counted as dropped and
    the worker goes on with the next batch."""
    delivered: list[int] = []

    def send(batch: list[int]) -> bool:
        if 0 in batch:
            raise RuntimeError("boom")
        delivered.extend(batch)
        return True

    drops: list[tuple[int, str]] = []
    worker = make_worker(send, drops, batch_size=3)
    for i in range(3):
        worker.put(i)
    assert worker.flush(5) is False
    for i in range(3, 6):
        worker.put(i)
    assert worker.flush(5) is True
    assert delivered == [3, 4, 5]
    assert drops == [(3, "send_failed")]
    assert errors.stats()["internal_errors.sink.test"] == 1
    worker.close(5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"max_queue": 0}, "max_queue"),
        ({"flush_interval": 0}, "flush_interval"),
    ],
)
def test_worker_rejects_bad_settings(options, message):
    """BatchWorker names the bad setting."""
    with pytest.raises(ValueError, match=message):
        make_worker(lambda batch: True, [], **options)


def test_retries_survive_a_time_monotonic_replaced_for_an_event_loop(receiver, make_sink):
    """A library that swaps ``time.monotonic`` for a clock that raises off its event loop's
    thread (anyio's test clock does) does not kill the sink's worker: what it could not send
    then is sent once the clock is back."""

    def loop_only_clock() -> float:
        raise RuntimeError("not on the event loop's thread")

    sink = make_sink(receiver.url, flush_interval=0.01, backoff_base=0.01)
    with mock.patch("time.monotonic", loop_only_clock):
        sink.emit(make_record())
        time.sleep(0.3)  # the worker tries to send under the replaced clock
    assert sink.flush(5)
    assert len(receiver.unique) == 1
    assert sink.stats()["sent"] == 1
