"""HTTPSink under injected faults: nothing lost, nothing hangs, nothing leaks."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmcost
from llmcost.sinks.http import HTTPSink, encode_batch, redact_url
from llmcost.types import CostRecord

KINDS = ("500", "503", "429", "reset", "stall", "stored_then_reset")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("llmcost") and record.levelno >= logging.WARNING
    ]


def test_ten_thousand_records_with_20_percent_mixed_failures_lose_nothing(
    fault_server, records, sinks_to_close
):
    """10,000 records, 20% of requests failing in six ways: all arrive, duplicates share a key."""
    rng = random.Random(16)

    def plan(index: int, body: bytes) -> str:
        # Called under the server's lock, in request order: the same run every time.
        return rng.choice(KINDS) if rng.random() < 0.2 else "ok"

    fault_server.plan = plan
    fault_server.stall_seconds = 0.6
    sink = HTTPSink(
        fault_server.url, flush_interval=0.05, timeout=0.3, backoff_base=0.01, backoff_max=0.1
    )
    sinks_to_close.append(sink)
    sent = records(10_000)
    for record in sent:
        sink.emit(record)

    assert sink.flush(timeout=90) is True

    assert set(fault_server.unique) == {str(record.record_id) for record in sent}
    assert all(fault_server.kinds[kind] >= 1 for kind in KINDS), fault_server.kinds
    # The receiver saw a record again only when a stored batch's answer was lost, and every
    # repeat carried the Idempotency-Key of its first delivery (and its own record_id).
    assert fault_server.duplicates >= 1
    assert fault_server.key_mismatches == 0
    stats = sink.stats()
    assert stats["dropped"] == 0
    assert stats["sent"] == 10_000
    assert stats["retried"] >= sum(fault_server.kinds[kind] for kind in KINDS)


def test_a_30s_outage_at_100_records_per_second_loses_nothing(
    fault_server, new_record, sinks_to_close
):
    """A 30 s outage at 100 records/s, scaled 10x in time: 0 lost, the queue rides it out.

    Scaled: the outage lasts 3 s at 1,000 records/s (the same 3,000 records pile up), and the
    backoff cap is 3 s instead of the default 30 s. The mechanism is the one production runs:
    connections refused, the head batch retried until the endpoint is back (no retry count
    to run out of; the default time budget is 300 s), the rest waiting in the queue.
    """
    sink = HTTPSink(fault_server.url, flush_interval=0.05, timeout=1.0, backoff_max=3.0)
    sinks_to_close.append(sink)
    stop = threading.Event()
    emitted: list[Any] = []

    def produce() -> None:
        # On a schedule, not a sleep per step: a busy machine oversleeping must not slow it.
        index = 0
        started = time.monotonic()
        while not stop.is_set() and (elapsed := time.monotonic() - started) < 6.0:
            while index < 1000 * elapsed:
                record = new_record(index)
                emitted.append(record)
                sink.emit(record)
                index += 1
            time.sleep(0.01)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        time.sleep(1.5)
        fault_server.go_down()
        time.sleep(3.0)
        during_outage = sink.stats()
        fault_server.come_up()
    finally:
        producer.join(15)
        stop.set()
    assert sink.flush(timeout=30) is True

    assert during_outage["retried"] >= 3  # the outage was real: the sink was retrying
    assert during_outage["queued"] >= 1000  # ... and records waited in the queue
    assert set(fault_server.unique) == {str(record.record_id) for record in emitted}
    assert len(emitted) >= 3000
    assert sink.stats()["dropped"] == 0


def test_a_batch_is_given_up_only_when_its_time_budget_is_spent(
    fault_server, records, sinks_to_close, caplog
):
    """max_retry_time bounds the retries of a batch; the loss is counted and warned once."""
    fault_server.go_down()
    sink = HTTPSink(
        fault_server.url,
        flush_interval=0.02,
        batch_size=10,
        max_retry_time=0.5,
        backoff_base=0.02,
        backoff_max=0.05,
    )
    sinks_to_close.append(sink)
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        started = time.monotonic()
        for record in records(20):
            sink.emit(record)
        assert sink.flush(timeout=5) is False
        elapsed = time.monotonic() - started
    stats = sink.stats()
    assert stats["dropped_failed"] == 20
    assert stats["retried"] >= 4  # retried for the whole budget, not a fixed count
    assert 0.9 <= elapsed < 4.0  # two batches, 0.5 s each
    assert len([m for m in _warnings(caplog) if "dropping a batch" in m]) == 1


def test_endpoint_down_at_exit_close_returns_within_its_timeout_and_logs_once(
    fault_server, records, caplog
):
    """close(timeout=2) with the endpoint down: back within 2.5 s, loss counted and logged once."""
    fault_server.go_down()
    sink = HTTPSink(fault_server.url, flush_interval=0.02, timeout=5.0)
    for record in records(1000):
        sink.emit(record)
    time.sleep(0.2)  # the worker is inside its retry loop
    with caplog.at_level(logging.INFO, logger="llmcost"):
        started = time.monotonic()
        assert sink.close(timeout=2) is False
        elapsed = time.monotonic() - started
    assert elapsed < 2.5
    stats = sink.stats()
    assert stats["dropped_closed"] == stats["dropped"] == 1000
    lines = _warnings(caplog)
    assert len(lines) == 1, lines
    assert "1000 dropped (closed=1000)" in lines[0]


def test_llmcost_shutdown_with_the_endpoint_down_returns_within_its_timeout(fault_server, caplog):
    """llmcost.shutdown(timeout=2) through the delivery queue: back in 2.5 s, one line of loss."""
    fault_server.go_down()
    llmcost.configure(sinks=[HTTPSink(fault_server.url, flush_interval=0.02, timeout=5.0)])
    for _ in range(1000):
        llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1)
    time.sleep(0.2)
    with caplog.at_level(logging.INFO, logger="llmcost"):
        started = time.monotonic()
        llmcost.shutdown(timeout=2)
        elapsed = time.monotonic() - started
    assert elapsed < 2.5
    lines = _warnings(caplog)
    assert len(lines) == 1, lines
    assert "1000 dropped (closed=1000)" in lines[0]
    assert llmcost.stats()["sink.http.dropped"] == 1000


def test_an_endpoint_that_accepts_but_never_answers_cannot_hold_close(
    fault_server, records, caplog
):
    """A stalled endpoint, a long request timeout: close(2) still returns in time, and says so."""
    fault_server.plan = lambda index, body: "stall"
    fault_server.stall_seconds = 10.0
    sink = HTTPSink(fault_server.url, flush_interval=0.02, timeout=30.0)
    for record in records(50):
        sink.emit(record)
    time.sleep(0.3)  # the request is in flight, blocked in the network
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        started = time.monotonic()
        assert sink.close(timeout=2) is False
        elapsed = time.monotonic() - started
    assert elapsed < 2.5
    assert sink.stats()["dropped_closed"] == 50
    assert len(_warnings(caplog)) == 1
    assert "50 dropped" in _warnings(caplog)[0]


def test_flush_returns_by_its_timeout_and_keeps_the_records(fault_server, records, sinks_to_close):
    """flush(1) with the endpoint down returns False in time; the records stay and arrive later."""
    fault_server.go_down()
    sink = HTTPSink(fault_server.url, flush_interval=0.02, backoff_base=0.02, backoff_max=0.1)
    sinks_to_close.append(sink)
    sent = records(300)
    for record in sent:
        sink.emit(record)
    started = time.monotonic()
    assert sink.flush(timeout=1) is False
    assert time.monotonic() - started < 1.5
    assert sink.stats()["queued"] == 300
    fault_server.come_up()
    assert sink.flush(timeout=10) is True
    assert len(fault_server.unique) == 300
    assert sink.stats()["dropped"] == 0


def test_flush_without_a_timeout_is_bounded_by_shutdown_timeout(fault_server, records):
    """flush() with no timeout (as llmcost.flush() calls it) returns after shutdown_timeout."""
    fault_server.go_down()
    sink = HTTPSink(fault_server.url, flush_interval=0.02, shutdown_timeout=0.5)
    for record in records(10):
        sink.emit(record)
    started = time.monotonic()
    assert sink.flush() is False
    assert time.monotonic() - started < 1.5
    sink.close(timeout=0.1)


def test_413_splits_the_batch_and_drops_only_the_record_too_large(
    fault_server, new_record, sinks_to_close, caplog
):
    """One 1.1 MB record in a batch of 100: 99 arrive, the big one is dropped and counted."""
    fault_server.plan = lambda index, body: "413" if len(body) > 1_000_000 else "ok"
    sink = HTTPSink(fault_server.url, flush_interval=10)
    sinks_to_close.append(sink)
    sent = [new_record(index) for index in range(99)]
    huge = new_record(99, tags={"blob": "x" * 1_100_000})
    sent.insert(50, huge)
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        for record in sent:
            sink.emit(record)
        assert sink.flush(timeout=10) is False  # one record could not be delivered
    assert set(fault_server.unique) == {str(r.record_id) for r in sent if r is not huge}
    stats = sink.stats()
    assert stats["dropped_too_large"] == stats["dropped"] == 1
    assert stats["sent"] == 99
    assert fault_server.kinds["413"] >= 2  # the whole batch, then the halves holding it
    assert any("413" in line for line in _warnings(caplog))


def test_a_record_that_cannot_be_encoded_is_dropped_alone(
    fault_server, new_record, sinks_to_close, caplog
):
    """A record whose money is NaN cannot be JSON: it alone is dropped and counted."""
    sink = HTTPSink(fault_server.url, flush_interval=10)
    sinks_to_close.append(sink)
    good = [new_record(index) for index in range(9)]
    bad = new_record(9).model_copy(update={"total_cost_usd": Decimal("NaN")})
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        for record in [*good[:4], bad, *good[4:]]:
            sink.emit(record)
        assert sink.flush(timeout=5) is False
    assert set(fault_server.unique) == {str(record.record_id) for record in good}
    assert sink.stats()["dropped_unencodable"] == sink.stats()["dropped"] == 1
    assert any(str(bad.record_id) in line for line in _warnings(caplog))


def test_a_lone_surrogate_in_a_tag_is_escaped_not_fatal(fault_server, new_record, sinks_to_close):
    """A tag with a lone surrogate arrives (as its JSON escape), and so does its batch."""
    sink = HTTPSink(fault_server.url, flush_interval=10)
    sinks_to_close.append(sink)
    odd = new_record(0, tags={"file": "report-\udc80.csv"})
    sent = [odd, *(new_record(index) for index in range(1, 100))]
    for record in sent:
        sink.emit(record)
    assert sink.flush(timeout=5) is True
    assert len(fault_server.unique) == 100
    assert fault_server.unique[str(odd.record_id)]["tags"] == {"file": "report-\udc80.csv"}


# --- spool ----------------------------------------------------------------------------------


def test_the_spool_keeps_what_close_could_not_deliver_for_the_next_sink(
    fault_server, records, tmp_path, caplog
):
    """Endpoint down at close: records go to the spool; the next sink on it delivers them."""
    fault_server.go_down()
    spool = tmp_path / "spool"
    first = HTTPSink(fault_server.url, flush_interval=0.02, spool_dir=spool)
    sent = records(250)
    for record in sent:
        first.emit(record)
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        assert first.close(timeout=0.5) is False
    assert first.stats()["spooled"] == 250
    assert first.stats()["dropped"] == 0
    assert "250 spooled to disk, 0 dropped" in _warnings(caplog)[0]
    assert [path.suffix for path in spool.iterdir()] == [".jsonl"]

    fault_server.come_up()
    second = HTTPSink(fault_server.url, flush_interval=0.02, spool_dir=spool)
    try:
        assert second.flush(timeout=10) is True
    finally:
        second.close(timeout=2)
    assert set(fault_server.unique) == {str(record.record_id) for record in sent}
    assert list(spool.iterdir()) == []


def test_the_spool_is_bounded_and_counts_what_did_not_fit(fault_server, records, tmp_path):
    """spool_max_bytes caps the spool; records beyond it are counted as dropped."""
    fault_server.go_down()
    line = len(records(1)[0].to_json()) + 1
    sink = HTTPSink(
        fault_server.url, flush_interval=0.02, spool_dir=tmp_path, spool_max_bytes=line * 10 + 5
    )
    for record in records(30):
        sink.emit(record)
    assert sink.close(timeout=0.3) is False
    stats = sink.stats()
    assert stats["spooled"] == 10
    assert stats["dropped_closed"] == 20
    lines = (tmp_path / next(p.name for p in tmp_path.iterdir())).read_text().splitlines()
    assert len(lines) == 10
    assert all(json.loads(text)["record_id"] for text in lines)


# --- credentials ----------------------------------------------------------------------------


def test_redact_url_hides_passwords_and_secret_query_values():
    """Passwords, lone user tokens and api_key/key/token/sig query values become ***."""
    assert redact_url("https://ci:hunter2@h.example/x?api_key=abc&team=t&token=zz") == (
        "https://ci:***@h.example/x?api_key=***&team=t&token=***"
    )
    assert redact_url("https://tok123@h.example/") == "https://***@h.example/"
    assert redact_url("https://h.example/x?key=k1&sig=s1") == "https://h.example/x?key=***&sig=***"
    assert redact_url("https://h.example/v1/costs") == "https://h.example/v1/costs"


def test_credentials_never_reach_repr_or_logs(fault_server, records, caplog):
    """URL passwords, query keys and bearer tokens echoed by the endpoint are redacted."""
    url = fault_server.url.replace("http://", "http://ci:hunter2@") + "?api_key=KEY-123456"
    echo = (
        b'{"error":"unauthorized","echo":{"Authorization":"Bearer sk-live-abcdef123456",'
        b'"url":"http://ci:hunter2@x/?api_key=KEY-123456"}}'
    )
    fault_server.plan = lambda index, body: "401"
    fault_server.error_body = echo
    sink = HTTPSink(
        url, headers={"Authorization": "Bearer sk-live-abcdef123456"}, flush_interval=0.02
    )
    with caplog.at_level(logging.DEBUG, logger="llmcost"):
        for record in records(3):
            sink.emit(record)
        sink.flush(timeout=5)
        sink.close(timeout=2)
    shown = repr(sink) + caplog.text
    assert "401" in caplog.text
    assert "unauthorized" in caplog.text  # the body is still useful ...
    for secret in ("hunter2", "KEY-123456", "sk-live-abcdef123456"):
        assert secret not in shown  # ... without the secrets in it
    assert sink.stats()["dropped_rejected"] == 3


@pytest.mark.parametrize(
    ("url", "headers", "warned"),
    [
        ("http://ingest.example.com/v1", {"Authorization": "Bearer t0ken-value"}, True),
        ("http://user:pw@ingest.example.com/v1", {}, True),
        ("http://ingest.example.com/v1?api_key=k", {}, True),
        ("https://ingest.example.com/v1", {"Authorization": "Bearer t0ken-value"}, False),
        ("http://127.0.0.1:9/v1", {"Authorization": "Bearer t0ken-value"}, False),
        ("http://localhost:9/v1", {"X-API-Key": "t0ken-value"}, False),
        ("http://ingest.example.com/v1", {"X-Team": "blue"}, False),
    ],
)
def test_credentials_over_plain_http_to_another_host_are_warned_about(url, headers, warned, caplog):
    """Credentials over http:// to a non-loopback host log a warning (without the secret)."""
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        sink = HTTPSink(url, headers=headers)
    sink.close(timeout=0.1)
    lines = [line for line in _warnings(caplog) if "plain http" in line]
    assert bool(lines) is warned
    assert "t0ken-value" not in caplog.text
    assert "pw@" not in caplog.text


# --- properties -----------------------------------------------------------------------------

# "Zq9" first: a secret must not be a word the redacted URL has anyway ("ingest", "blue").
_SECRET = st.text(
    alphabet=st.characters(categories=("L", "N"), max_codepoint=0x7F), min_size=3, max_size=30
).map(lambda text: "Zq9" + text)


@settings(max_examples=200, deadline=None)
@given(_SECRET, _SECRET, st.sampled_from(["api_key", "key", "token", "access_token", "sig"]))
def test_redacted_urls_never_contain_the_secret(password, value, name):
    """Whatever the password and the secret query value, neither survives redaction."""
    url = f"https://ci:{password}@ingest.example.com/v1?team=blue&{name}={value}"
    shown = redact_url(url)
    assert password not in shown
    assert value not in shown
    assert shown.startswith("https://ci:***@ingest.example.com/v1?team=blue&")


# Every code point, lone surrogates included (hypothesis leaves those out unless asked), with
# surrogates, controls and line separators drawn often.
_ANY_CHAR = st.one_of(
    st.characters(categories=("Cs", "Cc", "Zl", "Zp")), st.characters(exclude_categories=())
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.text(_ANY_CHAR, max_size=8), st.text(_ANY_CHAR, max_size=30), max_size=4),
    st.text(_ANY_CHAR),
)
def test_any_text_in_tags_and_feature_encodes_and_reads_back_the_same(tags, feature):
    """Surrogates, controls, quotes, backslashes: the body is UTF-8 JSON that parses back."""
    record = CostRecord(provider="openai", operation="chat", tags=tags, feature=feature)
    body = encode_batch([record])
    body.decode("utf-8")  # always valid UTF-8
    [parsed] = json.loads(body)["records"]
    assert parsed["tags"] == tags
    assert parsed["feature"] == feature


def test_an_endpoint_refusing_every_batch_is_logged_once_per_status(fault_server, records, caplog):
    """A revoked token (401 on every batch): one warning, then counts and the summary."""
    fault_server.plan = lambda index, body: "401"
    sink = HTTPSink(fault_server.url, flush_interval=0.01, batch_size=10)
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        for record in records(100):
            sink.emit(record)
        assert sink.flush(timeout=5) is False
        sink.close(timeout=1)
    lines = _warnings(caplog)
    assert fault_server.kinds["401"] == 10
    assert len(lines) == 2, lines  # the first 401, and the summary at close
    assert "HTTP 401" in lines[0]
    assert "100 dropped (rejected=100)" in lines[1]


def test_a_spool_larger_than_the_queue_stays_on_disk_for_later(fault_server, records, tmp_path):
    """Loading a spool never overflows the queue: what does not fit waits on disk."""
    fault_server.go_down()
    first = HTTPSink(fault_server.url, flush_interval=0.02, spool_dir=tmp_path)
    sent = records(30)
    for record in sent:
        first.emit(record)
    logging.getLogger("llmcost").disabled = True  # the expected summary line
    try:
        first.close(timeout=0.3)
    finally:
        logging.getLogger("llmcost").disabled = False
    fault_server.come_up()
    second = HTTPSink(fault_server.url, flush_interval=0.02, max_queue=20, spool_dir=tmp_path)
    assert second.flush(timeout=10) is True
    second.close(timeout=2)
    assert second.stats()["dropped"] == 0
    assert len(fault_server.unique) == 20
    third = HTTPSink(fault_server.url, flush_interval=0.02, spool_dir=tmp_path)
    assert third.flush(timeout=10) is True
    third.close(timeout=2)
    assert set(fault_server.unique) == {str(record.record_id) for record in sent}
    assert list(tmp_path.iterdir()) == []
