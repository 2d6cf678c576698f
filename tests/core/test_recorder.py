"""The recorder: the one choke point from usage to a priced, attributed record in the sinks."""

from __future__ import annotations

import decimal
import logging
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

import llmcost
from llmcost import _context, _recorder, errors
from llmcost.sinks import CallbackSink, MemorySink
from llmcost.types import CostRecord, Usage


def test_record_usage_prices_and_fills_every_field(memory_sink: MemorySink) -> None:
    """The manual path returns a priced record and hands the same record to the sinks."""
    record = llmcost.record_usage(
        provider="openai",
        model="gpt-4o",
        input_tokens=1000,
        output_tokens=100,
        cache_read_tokens=400,
        feature="search",
        request_id="req_1",
        customer="acme",
    )
    assert memory_sink.records == [record]
    assert record.priced is True
    assert record.priced_as is not None
    assert record.catalog_version
    assert record.feature == "search"
    assert record.request_id == "req_1"
    assert record.tags == {"customer": "acme"}
    assert (record.input_tokens, record.cache_read_tokens, record.output_tokens) == (1000, 400, 100)
    parts = [
        record.input_cost_usd,
        record.cache_read_cost_usd,
        record.cache_write_cost_usd,
        record.output_cost_usd,
        record.tool_cost_usd,
    ]
    assert all(isinstance(part, Decimal) for part in parts)
    assert record.total_cost_usd == sum(parts, Decimal(0))
    assert record.timestamp.tzinfo is not None
    assert record.status == "ok"


def test_record_usage_rejects_bad_usage_and_records_nothing(memory_sink: MemorySink) -> None:
    """Negative counts or parts larger than the whole: a clear error and no record."""
    with pytest.raises(ValueError, match="input_tokens"):
        llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=-5)
    with pytest.raises(ValueError, match="cache_read_tokens"):
        llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=5, cache_read_tokens=6)
    assert memory_sink.records == []


def test_record_usage_timestamp_must_be_aware(memory_sink: MemorySink) -> None:
    """A naive timestamp is refused; an aware one is kept (in UTC)."""
    with pytest.raises(ValueError, match="timezone-aware"):
        llmcost.record_usage(provider="openai", model="gpt-4o", timestamp=datetime(2026, 1, 1))
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    record = llmcost.record_usage(provider="openai", model="gpt-4o", timestamp=when)
    assert record.timestamp == when


def test_unknown_model_warns_once_and_is_never_zero(
    memory_sink: MemorySink, caplog: pytest.LogCaptureFixture
) -> None:
    """Default policy: one warning per model name, cost None and priced False, never $0."""
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        first = llmcost.record_usage(provider="acme", model="mystery-1", input_tokens=10)
        llmcost.record_usage(provider="acme", model="mystery-1", input_tokens=10)
        llmcost.record_usage(provider="acme", model="mystery-2", input_tokens=10)
    assert first.priced is False
    assert first.total_cost_usd is None
    assert first.input_cost_usd is None
    warnings = [r.getMessage() for r in caplog.records if "no price" in r.getMessage()]
    assert len(warnings) == 2
    assert "mystery-1" in warnings[0]
    assert llmcost.stats()["records.unpriced"] == 3


def test_unknown_model_raise_policy() -> None:
    """unknown_model='raise' refuses with UnknownModelError naming the model."""
    sink = MemorySink()
    llmcost.configure(sinks=[sink], unknown_model="raise")
    with pytest.raises(llmcost.UnknownModelError, match="mystery-1"):
        llmcost.record_usage(provider="acme", model="mystery-1", input_tokens=10)
    assert sink.records == []


def test_unknown_model_raise_refuses_before_the_call_is_sent() -> None:
    """For instrumented calls the refusal comes at start_call, before anything is sent."""
    sink = MemorySink()
    llmcost.configure(sinks=[sink], unknown_model="raise")
    with pytest.raises(llmcost.UnknownModelError):
        _recorder.start_call("acme", "chat", "mystery-1")
    call = _recorder.start_call("openai", "chat", "gpt-4o")
    call.finish(Usage(input_tokens=1))
    assert [record.model for record in sink.records] == ["gpt-4o"]


def test_unknown_model_ignore_policy(
    memory_sink: MemorySink, caplog: pytest.LogCaptureFixture
) -> None:
    """unknown_model='ignore' records unpriced without a warning."""
    llmcost.configure(sinks=[memory_sink], unknown_model="ignore")
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        record = llmcost.record_usage(provider="acme", model="mystery-1", input_tokens=10)
    assert record.total_cost_usd is None
    assert not caplog.records


def test_configure_rejects_bad_options() -> None:
    """Misspelt policies and non-sinks are refused with the bad value named."""
    with pytest.raises(ValueError, match="'sometimes'"):
        llmcost.configure(unknown_model="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'always'"):
        llmcost.configure(stream_usage="always")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="emit"):
        llmcost.configure(sinks=[object()])  # type: ignore[list-item]


def test_response_model_is_priced_before_the_requested_name(memory_sink: MemorySink) -> None:
    """A deployment alias is requested, the provider reports the real model: price that."""
    call = _recorder.start_call("openai", "chat", "my-azure-deployment")
    call.finish(
        Usage(input_tokens=1_000_000), response_model="gpt-4o-mini-2024-07-18", request_id="r"
    )
    [record] = memory_sink.records
    assert record.priced is True
    assert record.model == "my-azure-deployment"
    assert record.response_model == "gpt-4o-mini-2024-07-18"
    assert record.total_cost_usd == Decimal("0.15")


def test_a_call_is_recorded_once(memory_sink: MemorySink) -> None:
    """finish/fail after the first record are no-ops (a stream closed twice, say)."""
    call = _recorder.start_call("openai", "chat", "gpt-4o", stream=True)
    call.finish(Usage(input_tokens=10, output_tokens=1))
    call.finish(Usage(input_tokens=20, output_tokens=2))
    call.fail(RuntimeError("late"))
    call.finish_unknown()
    [record] = memory_sink.records
    assert (record.stream, record.input_tokens, record.status) == (True, 10, "ok")


def test_failed_call_costs_nothing_without_streamed_tokens(memory_sink: MemorySink) -> None:
    """A call that raised is recorded as an error with a $0 cost, not estimated."""
    call = _recorder.start_call("openai", "chat", "gpt-4o")
    call.fail(TimeoutError("slow"))
    [record] = memory_sink.records
    assert (record.status, record.error_type) == ("error", "TimeoutError")
    assert record.total_cost_usd == Decimal(0)
    assert record.estimated is False


def test_failed_stream_prices_what_was_streamed_as_estimated(memory_sink: MemorySink) -> None:
    """Tokens streamed before a failure are priced and flagged estimated."""
    call = _recorder.start_call("openai", "chat", "gpt-4o", stream=True)
    call.fail(ConnectionError("reset"), Usage(input_tokens=1000, output_tokens=100))
    [record] = memory_sink.records
    assert record.status == "error"
    assert record.estimated is True
    assert record.total_cost_usd == Decimal("0.0035")


def test_scopes_are_captured_when_the_call_starts(memory_sink: MemorySink) -> None:
    """A stream consumed after its scope closed still belongs to that scope."""
    with llmcost.track_cost(feature="streaming") as scope:
        call = _recorder.start_call("openai", "chat", "gpt-4o", stream=True)
    call.finish(Usage(input_tokens=10))
    [record] = memory_sink.records
    assert record.feature == "streaming"
    assert scope.calls == 1


def test_a_raising_sink_is_isolated(
    swallow_internal_errors: None, caplog: pytest.LogCaptureFixture
) -> None:
    """One sink raising does not stop the others; the failure is counted and logged once."""

    def explode(record: CostRecord) -> None:
        raise OSError("disk full")

    good = MemorySink()
    llmcost.configure(sinks=[CallbackSink(explode), good])
    with caplog.at_level(logging.ERROR, logger="llmcost"):
        for _ in range(3):
            llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1)
        assert llmcost.flush(timeout=5)  # the callback sink gets records on the delivery thread
    assert len(good.records) == 3
    assert llmcost.stats()["sink_errors"] == 3
    assert len([r for r in caplog.records if "internal error" in r.getMessage()]) == 1


def test_internal_errors_never_reach_the_user(
    swallow_internal_errors: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Break pricing on purpose: finishing a call swallows, counts and makes no record."""
    from llmcost import pricing

    def broken_cost(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("pricing bug")

    monkeypatch.setattr(pricing, "cost", broken_cost)
    sink = MemorySink()
    llmcost.configure(sinks=[sink])
    call = _recorder.start_call("openai", "chat", "gpt-4o")
    call.finish(Usage(input_tokens=1))
    assert llmcost.stats()["internal_errors.recorder"] == 1
    assert sink.records == []


def test_internal_errors_fail_the_test_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the suite (RAISE_INTERNAL_ERRORS) the same bug surfaces as an exception."""
    from llmcost import pricing

    def broken_cost(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("pricing bug")

    monkeypatch.setattr(pricing, "cost", broken_cost)
    call = _recorder.start_call("openai", "chat", "gpt-4o")
    with pytest.raises(ZeroDivisionError):
        call.finish(Usage(input_tokens=1))


def test_disabled_mode_switches_wrappers_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """LLMCOST_DISABLED=1 leaves llmcost configured but inactive: wrappers pass through."""
    monkeypatch.setenv("LLMCOST_DISABLED", "1")
    llmcost.configure()
    assert llmcost.is_configured()
    assert _context.state.active is False
    monkeypatch.delenv("LLMCOST_DISABLED")
    llmcost.configure()
    assert _context.state.active is True


def test_listeners_see_every_record_whatever_the_sinks() -> None:
    """add_listener sees records even with no sinks configured; remove() stops it."""
    seen: list[CostRecord] = []
    remove = _recorder.add_listener(seen.append)
    try:
        llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1)
    finally:
        remove()
    llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1)
    assert len(seen) == 1


def test_enrich_hook_runs_before_the_record_is_frozen() -> None:
    """A sink with enrich(fields) may set fields (trace ids) before the record is built."""

    class Enricher(MemorySink):
        def enrich(self, fields: dict[str, Any]) -> None:
            fields["trace_id"] = "a" * 32
            fields["span_id"] = "b" * 16

    sink = Enricher()
    llmcost.configure(sinks=[sink])
    record = llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1)
    assert (record.trace_id, record.span_id) == ("a" * 32, "b" * 16)
    assert sink.records == [record]


def test_current_otel_span_ids_are_captured(memory_sink: MemorySink) -> None:
    """With trace_context=True, records carry the current OpenTelemetry span's ids."""
    from opentelemetry.sdk.trace import TracerProvider

    llmcost.configure(sinks=[memory_sink], trace_context=True)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("handler") as span:
        record = llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1)
    context = span.get_span_context()
    assert record.trace_id == f"{context.trace_id:032x}"
    assert record.span_id == f"{context.span_id:016x}"


def test_flush_and_shutdown() -> None:
    """flush() asks each sink; shutdown() closes them and switches llmcost off."""
    closed: list[str] = []

    class Tracking(MemorySink):
        def close(self) -> None:
            closed.append("closed")

    llmcost.configure(sinks=[Tracking()])
    assert llmcost.flush(timeout=1) is True
    llmcost.shutdown()
    assert closed == ["closed"]
    assert not llmcost.is_configured()
    assert llmcost.flush() is True


def test_reconfigure_closes_sinks_no_longer_used() -> None:
    """configure() again closes the sinks it drops, keeps the ones it reuses."""
    closed: list[str] = []

    class Named(MemorySink):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

        def close(self) -> None:
            closed.append(self.name)

    kept, dropped = Named("kept"), Named("dropped")
    llmcost.configure(sinks=[kept, dropped])
    llmcost.configure(sinks=[kept])
    assert closed == ["dropped"]


def test_stats_count_records() -> None:
    """stats() counts the records made."""
    llmcost.configure()
    for _ in range(4):
        llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1)
    assert llmcost.stats()["records"] == 4
    errors.reset_stats()
    assert llmcost.stats().get("records", 0) == 0


def test_records_keep_the_declared_field_order(memory_sink: MemorySink) -> None:
    """Recorder-made records serialise with the same layout as validated ones."""
    record = llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1)
    assert tuple(record.__dict__) == tuple(CostRecord.model_fields)
    validated = CostRecord.model_validate(record.model_dump())
    assert record.to_json() == validated.to_json()


def test_unknown_meta_from_an_integration_is_an_internal_error(memory_sink: MemorySink) -> None:
    """A misspelt field from an integration is caught, not silently stored."""
    call = _recorder.start_call("openai", "chat", "gpt-4o")
    with pytest.raises(TypeError, match="request_idd"):
        call.finish(Usage(input_tokens=1), request_idd="r")
    assert memory_sink.records == []


def test_configure_checks_policy_and_anomaly_types() -> None:
    """A dict where a Policy or AnomalyConfig belongs is refused at configure() time."""
    with pytest.raises(TypeError, match=r"llmcost\.Policy"):
        llmcost.configure(policy={"allowed_models": {"prod": ["gpt-4o"]}})
    with pytest.raises(TypeError, match=r"llmcost\.AnomalyConfig"):
        llmcost.configure(anomaly={"by": "feature"})


def test_a_rejected_configure_leaves_the_previous_one_whole() -> None:
    """Bad input to configure() changes nothing: not the sinks, not the catalog."""
    from llmcost import pricing

    sink = MemorySink()
    llmcost.configure(sinks=[sink], project="kept")
    version = pricing.get_catalog().version
    with pytest.raises(TypeError):
        llmcost.configure(catalog={"models": {}}, tags={1: "x"})  # type: ignore[dict-item]
    assert pricing.get_catalog().version == version
    assert llmcost.record_usage(provider="openai", model="gpt-4o").project == "kept"
    assert len(sink.records) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": "failed"}, "status"),
        ({"request_id": 123}, "request_id"),
        ({"batch": "yes"}, "batch"),
        ({"feature": 7}, "feature"),
        ({"latency_ms": "fast"}, "latency_ms"),
        ({"latency_ms": -1}, "latency_ms"),
    ],
)
def test_record_usage_refuses_values_that_could_not_be_read_back(
    memory_sink: MemorySink, kwargs: dict[str, Any], message: str
) -> None:
    """The manual path names the bad field instead of writing an unreadable record."""
    with pytest.raises((TypeError, ValueError), match=message):
        llmcost.record_usage(provider="openai", model="gpt-4o", **kwargs)
    assert memory_sink.records == []


def test_record_usage_output_always_reads_back(memory_sink: MemorySink) -> None:
    """Tags of any type become strings; an unknown latency stays None; JSON round-trips."""
    record = llmcost.record_usage(
        provider="openai", model="gpt-4o", tags={"n": 1}, attempt=2, latency_ms=12
    )
    assert record.tags == {"n": "1", "attempt": "2"}
    assert record.latency_ms == 12.0
    assert CostRecord.from_json(record.to_json()) == record
    assert llmcost.record_usage(provider="openai", model="gpt-4o").latency_ms is None


def test_shutdown_is_not_undone_by_a_later_record(memory_sink: MemorySink) -> None:
    """After shutdown() a manual record is priced but switches nothing back on."""
    llmcost.shutdown()
    record = llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1000)
    assert record.total_cost_usd == Decimal("0.0025")
    assert not llmcost.is_configured()
    assert _context.state.active is False
    llmcost.configure()
    assert _context.state.active is True


def test_a_bug_in_admission_does_not_block_the_call(
    swallow_internal_errors: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only llmcost's intended refusals escape start_call; its own bugs are counted."""
    from llmcost.budgets import _admission as _budgets

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("estimator bug")

    monkeypatch.setattr(_budgets, "admit", broken)
    with llmcost.budget(max_cost_usd=1):
        call = _recorder.start_call("openai", "chat", "gpt-4o")
    assert call.reservation is None
    assert llmcost.stats()["internal_errors.budget.admit"] == 1


def test_a_broken_opentelemetry_does_not_cost_the_record(
    swallow_internal_errors: None, memory_sink: MemorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If reading the current span fails, the record is still made, without trace ids."""
    import sys
    import types

    broken = types.ModuleType("opentelemetry.trace")
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", broken)
    record = llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1)
    assert (record.trace_id, record.span_id) == (None, None)
    assert memory_sink.records == [record]


def test_record_usage_refuses_a_near_miss_keyword(memory_sink: MemorySink) -> None:
    """A typo of a real keyword is not silently turned into a tag."""
    with pytest.raises(TypeError, match="did you mean 'cache_read_tokens'"):
        llmcost.record_usage(
            provider="openai", model="gpt-4o", input_tokens=1000, cache_read_token=800
        )
    with pytest.raises(TypeError, match="did you mean 'output_tokens'"):
        llmcost.record_usage(provider="openai", model="gpt-4o", output_token=5)
    # Names near other keywords are plausible tags: only token counts can be misspelt into tags.
    record = llmcost.record_usage(
        provider="openai", model="gpt-4o", mode="fast", seed=7, models="a,b", customer="acme"
    )
    assert record.tags == {"mode": "fast", "seed": "7", "models": "a,b", "customer": "acme"}


def test_record_usage_usage_errors_are_short_and_name_the_field() -> None:
    """Bad counts give one line naming the field, not a pydantic dump."""
    with pytest.raises(ValueError, match=r"^record_usage\(\): input_tokens: ") as caught:
        llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=-1)
    assert "errors.pydantic.dev" not in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"project": 1.5}, r"configure\(project=...\)"),
        ({"environment": 1.5}, r"configure\(environment=...\)"),
        ({"sinks": MemorySink()}, "list of sinks"),
        ({"sinks": 5}, "list of sinks"),
    ],
)
def test_configure_refuses_values_of_the_wrong_shape(kwargs: dict[str, Any], message: str) -> None:
    """A number for a label or a bare sink for the list is refused with the argument named."""
    with pytest.raises(TypeError, match=message):
        llmcost.configure(**kwargs)


def test_labels_take_strings_and_ints_and_refuse_the_rest(memory_sink: MemorySink) -> None:
    """user_id=42 becomes "42"; a float would write JSON llmcost's reader rejects: refused."""
    with pytest.raises(TypeError, match=r"track_cost\(feature=...\)"):
        llmcost.track_cost(feature=7.5)  # type: ignore[arg-type]
    with llmcost.track_cost(user_id=42):  # type: ignore[arg-type]
        record = llmcost.record_usage(provider="openai", model="gpt-4o")
    assert record.user_id == "42"
    assert CostRecord.from_json(record.to_json()) == record


def test_a_budget_opened_without_instrument_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """With an SDK imported but not instrumented, opening a budget warns once."""
    import openai  # noqa: F401 - the SDK the application would use

    llmcost.configure()
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        with llmcost.budget(max_cost_usd=1):
            pass
        with llmcost.track_cost(feature="x"):
            pass
    warnings = [r.getMessage() for r in caplog.records if "instrument()" in r.getMessage()]
    assert len(warnings) == 1
    assert "openai" in warnings[0]
    caplog.clear()
    llmcost.instrument()
    with caplog.at_level(logging.WARNING, logger="llmcost"), llmcost.budget(max_cost_usd=1):
        pass
    assert not [r for r in caplog.records if "instrument()" in r.getMessage()]


def test_finish_unknown_records_an_unpriced_estimated_call_never_zero(
    memory_sink: MemorySink,
) -> None:
    """A billed call whose usage could not be read: no tokens, no price (None, not $0),
    estimated; recorded once; a budget settles it as an unpriced call, not a leak."""
    with llmcost.budget(max_cost_usd=1) as budget:
        call = _recorder.start_call("openai", "chat", "gpt-4o", stream=True)
        call.finish_unknown(request_id="req_1", response_id="chatcmpl-1")
        call.finish(Usage(input_tokens=10))  # one record per call: no-ops
        call.finish_unknown()
    [record] = memory_sink.records
    assert (record.priced, record.estimated, record.status) == (False, True, "ok")
    money = (
        record.input_cost_usd,
        record.cache_read_cost_usd,
        record.cache_write_cost_usd,
        record.output_cost_usd,
        record.tool_cost_usd,
        record.total_cost_usd,
    )
    assert money == (None,) * 6
    assert (record.input_tokens, record.output_tokens) == (0, 0)
    assert (record.request_id, record.response_id, record.model) == (
        "req_1",
        "chatcmpl-1",
        "gpt-4o",
    )
    assert (budget.calls, budget.unpriced_calls, budget.reserved_usd) == (1, 1, 0)
    assert llmcost.stats()["records.usage_unknown"] == 1


def test_usage_beyond_any_plausible_call_is_priced_and_flagged(
    memory_sink: MemorySink, caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    """10^30 tokens: recorded and priced as reported, flagged, counted, warned once; the
    JSONL line reads back and a report over it does not crash."""
    path = tmp_path / "costs.jsonl"
    llmcost.configure(sinks=[memory_sink, llmcost.sinks.JSONLFileSink(path)])
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        huge = llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=10**30)
        llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=10**12)
    normal = llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1000)
    assert huge.implausible
    assert huge.priced
    assert huge.total_cost_usd == Decimal("2.5E+24")  # $2.50 per million, exactly
    assert not normal.implausible
    assert llmcost.stats()["records.implausible"] == 2
    assert len([r for r in caplog.records if "implausible" in r.getMessage()]) == 1
    assert llmcost.flush(timeout=5)
    [back, *_] = llmcost.read_records(path)
    assert back == huge
    from llmcost.report import summarize

    [row] = summarize(llmcost.read_records(path), by="model")
    with decimal.localcontext(prec=80):  # the exact sum: 28 digits would round it
        exact = sum((r.total_cost_usd or Decimal(0) for r in memory_sink.records), Decimal(0))
    assert row.total_cost_usd == exact
