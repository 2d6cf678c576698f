"""MemorySink, LoggingSink and CallbackSink."""

from __future__ import annotations

import logging
import threading

import pytest

import llmcost
from llmcost.sinks import CallbackSink, LoggingSink, MemorySink, Sink
from llmcost.sinks.logging import format_record
from llmcost.types import CostRecord


def test_every_sink_meets_the_protocol() -> None:
    """The built-in sinks are Sinks (runtime-checkable protocol)."""
    for sink in (MemorySink(), LoggingSink(), CallbackSink(print)):
        assert isinstance(sink, Sink)


def test_memory_sink_is_thread_safe_and_bounded() -> None:
    """Records from many threads all arrive; max_records keeps the newest and counts drops."""
    sink = MemorySink()
    record = CostRecord(provider="openai", operation="chat")

    def emit_many() -> None:
        for _ in range(500):
            sink.emit(record)

    threads = [threading.Thread(target=emit_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sink) == 2000

    bounded = MemorySink(max_records=2)
    records = [CostRecord(provider="openai", operation="chat") for _ in range(5)]
    for item in records:
        bounded.emit(item)
    assert bounded.records == records[-2:]
    assert bounded.dropped == 3
    bounded.clear()
    assert bounded.records == []
    with pytest.raises(ValueError, match="max_records"):
        MemorySink(max_records=0)


def test_logging_sink_line_and_structured_extra(caplog: pytest.LogCaptureFixture) -> None:
    """One human line per record on llmcost.records, the whole record under extra 'llmcost'."""
    llmcost.configure(sinks=[LoggingSink()])
    with caplog.at_level(logging.INFO, logger="llmcost.records"):
        record = llmcost.record_usage(
            provider="openai",
            model="gpt-4o",
            input_tokens=1200,
            cache_read_tokens=1000,
            output_tokens=300,
            feature="support_chat",
        )
        assert llmcost.flush(timeout=5)  # sinks get records on llmcost's delivery thread
    (log,) = [r for r in caplog.records if r.name == "llmcost.records"]
    message = log.getMessage()
    assert message.startswith("openai chat gpt-4o: 1200 in (1000 cached) / 300 out, $")
    assert "[feature=support_chat]" in message
    structured = log.llmcost  # type: ignore[attr-defined]
    assert structured["record_id"] == record.record_id
    assert structured["total_cost_usd"] == record.total_cost_usd


def test_logging_sink_skips_work_when_disabled(caplog: pytest.LogCaptureFixture) -> None:
    """Below the logger's level nothing is formatted or logged."""
    logger = logging.getLogger("llmcost.test.quiet")
    logger.setLevel(logging.WARNING)
    sink = LoggingSink(logger=logger, level=logging.INFO)
    with caplog.at_level(logging.WARNING, logger="llmcost.test.quiet"):
        sink.emit(CostRecord(provider="openai", operation="chat"))
    assert not caplog.records
    assert sink.flush() is True


def test_format_record_marks_unpriced_errors_and_estimates() -> None:
    """The human line says unpriced, estimated and the error type."""
    line = format_record(
        CostRecord(
            provider="acme",
            operation="chat",
            model="m",
            status="error",
            error_type="Timeout",
            estimated=True,
            tags={"k": "v"},
        )
    )
    assert "unpriced" in line
    assert "(estimated)" in line
    assert "error:Timeout" in line
    assert "[k=v]" in line


def test_callback_sink_calls_the_function() -> None:
    """CallbackSink hands each record to the function; a non-callable is refused."""
    seen: list[CostRecord] = []
    llmcost.configure(sinks=[CallbackSink(seen.append)])
    record = llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=3)
    assert llmcost.flush(timeout=5)  # sinks get records on llmcost's delivery thread
    assert seen == [record]
    with pytest.raises(TypeError, match="callable"):
        CallbackSink("not a function")  # type: ignore[arg-type]


def test_unknown_sink_attribute_is_a_clear_error() -> None:
    """llmcost.sinks.<typo> raises AttributeError naming it."""
    with pytest.raises(AttributeError, match="NoSuchSink"):
        _ = llmcost.sinks.NoSuchSink


def test_records_emitted_to_a_closed_file_sink_are_counted_and_said(
    tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    """A call in flight when its sink was closed loses its line loudly, never silently."""
    from pathlib import Path

    from llmcost.sinks import JSONLFileSink

    assert isinstance(tmp_path, Path)
    sink = JSONLFileSink(tmp_path / "costs.jsonl")
    sink.close()
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        for _ in range(3):
            sink.emit(CostRecord(provider="openai", operation="chat"))
    assert llmcost.stats()["sink.jsonl.dropped_after_close"] == 3
    assert len([r for r in caplog.records if "closed" in r.getMessage()]) == 1


def test_logging_sink_accepts_level_names_and_refuses_unknown_ones() -> None:
    """level="info" works like logging.INFO; a misspelt level is refused at once."""
    assert LoggingSink(level="info").level == logging.INFO
    assert LoggingSink(level=logging.DEBUG).level == logging.DEBUG
    with pytest.raises(ValueError, match="'loud'"):
        LoggingSink(level="loud")
