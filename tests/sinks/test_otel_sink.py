"""OTelSink with the OpenTelemetry SDK's in-memory span exporter and metric reader."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import llmcost
from llmcost.sinks.otel import (
    DURATION_BUCKETS,
    TOKEN_BUCKETS,
    OTelSink,
    operation_name,
    provider_name,
)
from llmcost.types import CostRecord

START = datetime(2026, 11, 22, 10, 30, 0, 123456, tzinfo=timezone.utc)


class Telemetry:
    """An SDK tracer provider and meter provider that keep everything in memory."""

    def __init__(self) -> None:
        self.spans_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans_exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def sink(self, **options: Any) -> OTelSink:
        return OTelSink(
            tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **options
        )

    def spans(self) -> list[ReadableSpan]:
        return list(self.spans_exporter.get_finished_spans())

    def metrics(self) -> dict[str, Any]:
        data = self.reader.get_metrics_data()
        found: dict[str, Any] = {}
        if data is None:
            return found
        for resource_metrics in data.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    found[metric.name] = metric
        return found

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


@pytest.fixture
def telemetry() -> Any:
    setup = Telemetry()
    yield setup
    setup.shutdown()


def call_fields(**overrides: Any) -> dict[str, Any]:
    """A record's fields as the recorder hands them to enrich()."""
    fields: dict[str, Any] = {
        "record_id": "rec-1",
        "request_id": "req_abc",
        "response_id": "chatcmpl-123",
        "timestamp": START,
        "provider": "openai",
        "operation": "chat",
        "model": "gpt-4o",
        "response_model": "gpt-4o-2024-08-06",
        "priced_as": "gpt-4o-2024-08-06",
        "feature": "support_chat",
        "project": "checkout",
        "environment": "production",
        "user_id": "u-42",
        "tags": {"tier": "pro"},
        "input_tokens": 1200,
        "cache_read_tokens": 1000,
        "cache_write_tokens": 100,
        "output_tokens": 300,
        "reasoning_tokens": 120,
        "input_cost_usd": Decimal("0.00025"),
        "cache_read_cost_usd": Decimal("0.00125"),
        "cache_write_cost_usd": Decimal("0.0003125"),
        "output_cost_usd": Decimal("0.003"),
        "total_cost_usd": Decimal("0.0048125"),
        "priced": True,
        "estimated": False,
        "latency_ms": 812.5,
        "stream": True,
        "status": "ok",
        "error_type": None,
        "catalog_version": "2026.11.01",
        "trace_id": None,
        "span_id": None,
    }
    fields.update(overrides)
    return fields


def record_from(fields: dict[str, Any]) -> CostRecord:
    return CostRecord.model_validate(fields)


def ns(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1) * 1000


# --- spans -----------------------------------------------------------------------------


def test_enrich_creates_a_client_span_with_genai_attributes(telemetry):
    """One CLIENT span "chat gpt-4o" with the GenAI usage attributes and llmcost cost."""
    sink = telemetry.sink()
    fields = call_fields()
    sink.enrich(fields)
    (span,) = telemetry.spans()
    assert span.name == "chat gpt-4o"
    assert span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-4o"
    assert attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert attributes["gen_ai.response.id"] == "chatcmpl-123"
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.usage.input_tokens"] == 1200  # cache included
    assert attributes["gen_ai.usage.output_tokens"] == 300
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 1000
    assert attributes["gen_ai.usage.cache_write.input_tokens"] == 100
    assert "gen_ai.usage.cache_creation.input_tokens" not in attributes
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == 120
    assert attributes["llmcost.cost.total_usd"] == pytest.approx(0.0048125)
    assert attributes["llmcost.cost.cache_write_usd"] == pytest.approx(0.0003125)
    assert attributes["llmcost.feature"] == "support_chat"
    assert attributes["llmcost.project"] == "checkout"
    assert attributes["llmcost.environment"] == "production"
    assert attributes["llmcost.user_id"] == "u-42"
    assert attributes["llmcost.tag.tier"] == "pro"
    assert attributes["llmcost.record_id"] == "rec-1"
    assert attributes["llmcost.priced"] is True
    assert span.status.status_code is StatusCode.UNSET


def test_span_is_timed_from_the_call_start_for_its_latency(telemetry):
    """start = the record's timestamp, end = start + latency_ms, to the microsecond."""
    sink = telemetry.sink()
    sink.enrich(call_fields(latency_ms=812.5))
    (span,) = telemetry.spans()
    assert span.start_time == ns(START)
    assert span.end_time == ns(START) + 812_500_000


def test_record_carries_the_new_spans_trace_and_span_ids(telemetry):
    """enrich() writes the span's ids into the fields as lowercase hex of 32 and 16 chars."""
    sink = telemetry.sink()
    fields = call_fields()
    sink.enrich(fields)
    (span,) = telemetry.spans()
    assert fields["trace_id"] == f"{span.context.trace_id:032x}"
    assert fields["span_id"] == f"{span.context.span_id:016x}"
    assert len(fields["trace_id"]) == 32
    assert fields["trace_id"] == fields["trace_id"].lower()
    assert len(fields["span_id"]) == 16
    assert record_from(fields).span_id == fields["span_id"]


def test_span_is_a_child_of_the_current_span(telemetry):
    """Inside an application span, the call's span is its child in the same trace."""
    sink = telemetry.sink()
    tracer = telemetry.tracer_provider.get_tracer("app")
    fields = call_fields()
    with tracer.start_as_current_span("handle request") as parent:
        sink.enrich(fields)
    child = next(s for s in telemetry.spans() if s.name == "chat gpt-4o")
    assert child.parent is not None
    assert child.parent.span_id == parent.get_span_context().span_id
    assert child.context.trace_id == parent.get_span_context().trace_id
    assert fields["trace_id"] == f"{parent.get_span_context().trace_id:032x}"
    assert fields["span_id"] != f"{parent.get_span_context().span_id:016x}"


def test_error_records_get_error_status_and_error_type(telemetry):
    """status="error" sets span status ERROR and error.type; duration metric carries it too."""
    sink = telemetry.sink()
    fields = call_fields(
        status="error", error_type="RateLimitError", input_tokens=0, output_tokens=0
    )
    fields.update(cache_read_tokens=0, cache_write_tokens=0, reasoning_tokens=0)
    sink.enrich(fields)
    sink.emit(record_from(fields))
    (span,) = telemetry.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "RateLimitError"
    assert span.attributes["error.type"] == "RateLimitError"
    metrics = telemetry.metrics()
    (point,) = metrics["gen_ai.client.operation.duration"].data.data_points
    assert point.attributes["error.type"] == "RateLimitError"
    assert "gen_ai.client.token.usage" not in metrics  # no usage on a failed call


def test_legacy_cache_attribute_option_adds_cache_creation(telemetry):
    """legacy_cache_attributes=True also emits gen_ai.usage.cache_creation.input_tokens."""
    sink = telemetry.sink(legacy_cache_attributes=True)
    sink.enrich(call_fields(cache_write_tokens=100))
    attributes = telemetry.spans()[0].attributes
    assert attributes["gen_ai.usage.cache_creation.input_tokens"] == 100
    assert attributes["gen_ai.usage.cache_write.input_tokens"] == 100


def test_annotate_current_span_puts_attributes_on_it(telemetry):
    """annotate_current_span=True: no new span; the current one gets the attributes and ids."""
    sink = telemetry.sink(annotate_current_span=True)
    tracer = telemetry.tracer_provider.get_tracer("app")
    fields = call_fields()
    with tracer.start_as_current_span("openai call") as current:
        sink.enrich(fields)
    (span,) = telemetry.spans()
    assert span.name == "openai call"
    assert span.attributes["gen_ai.usage.input_tokens"] == 1200
    assert span.attributes["llmcost.cost.total_usd"] == pytest.approx(0.0048125)
    assert fields["span_id"] == f"{current.get_span_context().span_id:016x}"
    assert fields["trace_id"] == f"{current.get_span_context().trace_id:032x}"


def test_annotate_without_a_current_span_falls_back_to_a_new_span(telemetry):
    """With no recording span to annotate, the call still gets its own span."""
    sink = telemetry.sink(annotate_current_span=True)
    fields = call_fields()
    sink.enrich(fields)
    (span,) = telemetry.spans()
    assert span.name == "chat gpt-4o"
    assert fields["span_id"] == f"{span.context.span_id:016x}"


def test_unpriced_records_have_no_cost_attribute(telemetry):
    """An unknown price is not written as 0: the cost attributes are absent."""
    sink = telemetry.sink()
    money = dict.fromkeys(
        ("input_cost_usd", "cache_read_cost_usd", "cache_write_cost_usd", "output_cost_usd"),
    )
    fields = call_fields(total_cost_usd=None, priced=False, **money)
    sink.enrich(fields)
    sink.emit(record_from(fields))
    attributes = telemetry.spans()[0].attributes
    assert not any(name.startswith("llmcost.cost.") for name in attributes)
    assert attributes["llmcost.priced"] is False
    metrics = telemetry.metrics()
    assert "llmcost.cost" not in metrics
    (point,) = metrics["llmcost.unpriced_calls"].data.data_points
    assert point.value == 1


def test_operation_and_provider_names_follow_the_conventions(telemetry):
    """Anthropic messages -> "chat", completions -> "text_completion"; names pass through."""
    sink = telemetry.sink()
    sink.enrich(call_fields(provider="anthropic", operation="messages", model="claude-x"))
    sink.enrich(call_fields(operation="completions", model="gpt-3.5-turbo-instruct"))
    sink.enrich(call_fields(operation="embeddings", model="text-embedding-3-small"))
    names = [s.name for s in telemetry.spans()]
    assert names == [
        "chat claude-x",
        "text_completion gpt-3.5-turbo-instruct",
        "embeddings text-embedding-3-small",
    ]
    assert telemetry.spans()[0].attributes["gen_ai.provider.name"] == "anthropic"
    assert telemetry.spans()[0].attributes["llmcost.operation"] == "messages"
    assert operation_name("responses") == "chat"
    assert operation_name("moderations") == "moderations"
    assert provider_name("bedrock") == "aws.bedrock"
    assert provider_name("someone") == "someone"


def test_emit_makes_the_span_for_a_record_that_skipped_enrich(telemetry):
    """A record emitted directly (a replay) still gets its span; an enriched one not twice."""
    sink = telemetry.sink()
    sink.emit(record_from(call_fields(record_id="direct")))
    fields = call_fields(record_id="enriched")
    sink.enrich(fields)
    sink.emit(record_from(fields))
    spans = telemetry.spans()
    assert [s.attributes["llmcost.record_id"] for s in spans] == ["direct", "enriched"]


def test_traces_false_makes_no_spans_and_leaves_ids(telemetry):
    """traces=False: metrics only, the record keeps whatever ids it had."""
    sink = telemetry.sink(traces=False)
    fields = call_fields()
    sink.enrich(fields)
    sink.emit(record_from(fields))
    assert telemetry.spans() == []
    assert fields["trace_id"] is None
    assert "gen_ai.client.token.usage" in telemetry.metrics()


# --- metrics ---------------------------------------------------------------------------


def test_token_usage_histogram_by_token_type_with_advised_buckets(telemetry):
    """gen_ai.client.token.usage records input and output tokens with the spec's buckets."""
    sink = telemetry.sink()
    fields = call_fields()
    sink.enrich(fields)
    sink.emit(record_from(fields))
    metric = telemetry.metrics()["gen_ai.client.token.usage"]
    assert metric.unit == "{token}"
    points: dict[str, HistogramDataPoint] = {
        p.attributes["gen_ai.token.type"]: p for p in metric.data.data_points
    }
    assert points["input"].sum == 1200
    assert points["output"].sum == 300
    assert tuple(points["input"].explicit_bounds) == tuple(float(b) for b in TOKEN_BUCKETS)
    attributes = points["input"].attributes
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-4o"
    assert attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"


def test_embeddings_record_no_output_token_usage(telemetry):
    """An embeddings call has input tokens only: no output point of 0 skews the histogram."""
    sink = telemetry.sink()
    fields = call_fields(operation="embeddings", model="text-embedding-3-small", output_tokens=0)
    fields.update(reasoning_tokens=0)
    sink.emit(record_from(fields))
    points = telemetry.metrics()["gen_ai.client.token.usage"].data.data_points
    assert [p.attributes["gen_ai.token.type"] for p in points] == ["input"]
    assert points[0].attributes["gen_ai.operation.name"] == "embeddings"


def test_operation_duration_histogram_in_seconds(telemetry):
    """gen_ai.client.operation.duration is latency in seconds with the advised buckets."""
    sink = telemetry.sink()
    sink.emit(record_from(call_fields(latency_ms=812.5)))
    metric = telemetry.metrics()["gen_ai.client.operation.duration"]
    assert metric.unit == "s"
    (point,) = metric.data.data_points
    assert point.sum == pytest.approx(0.8125)
    assert tuple(point.explicit_bounds) == DURATION_BUCKETS
    assert "error.type" not in point.attributes


def test_cost_counter_sums_usd_by_attribution(telemetry):
    """llmcost.cost (USD) adds up per provider, model, feature, project and environment."""
    sink = telemetry.sink()
    for _ in range(3):
        sink.emit(record_from(call_fields(total_cost_usd=Decimal("0.0048125"))))
    sink.emit(record_from(call_fields(feature="search", total_cost_usd=Decimal("0.5"))))
    metric = telemetry.metrics()["llmcost.cost"]
    assert metric.unit == "USD"
    by_feature = {p.attributes["llmcost.feature"]: p for p in metric.data.data_points}
    assert by_feature["support_chat"].value == pytest.approx(3 * 0.0048125)
    assert by_feature["search"].value == pytest.approx(0.5)
    assert dict(by_feature["search"].attributes) == {
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "llmcost.feature": "search",
        "llmcost.project": "checkout",
        "llmcost.environment": "production",
    }


def test_metrics_false_records_no_metrics(telemetry):
    """metrics=False: spans only."""
    sink = telemetry.sink(metrics=False)
    fields = call_fields()
    sink.enrich(fields)
    sink.emit(record_from(fields))
    assert telemetry.spans()
    assert telemetry.metrics() == {}


# --- lifecycle and wiring --------------------------------------------------------------


def test_close_stops_recording_and_flush_force_flushes(telemetry):
    """flush() force-flushes the providers; after close() nothing more is recorded."""
    sink = telemetry.sink()
    assert sink.flush(timeout=2) is True
    assert sink.flush() is True
    sink.close()
    fields = call_fields()
    sink.enrich(fields)
    sink.emit(record_from(fields))
    assert telemetry.spans() == []
    assert fields["trace_id"] is None


def test_without_an_sdk_the_sink_is_a_no_op():
    """With only the API (no SDK configured), enrich and emit do nothing and set no ids."""
    sink = OTelSink(
        tracer_provider=trace.NoOpTracerProvider(),
        meter_provider=__import__("opentelemetry.metrics").metrics.NoOpMeterProvider(),
    )
    fields = call_fields()
    sink.enrich(fields)
    sink.emit(record_from(fields))
    assert fields["trace_id"] is None
    assert fields["span_id"] is None
    assert sink.flush(1) is True


def test_attribute_names_match_the_installed_semantic_conventions():
    """Names shared with opentelemetry-semantic-conventions are spelled the same way."""
    gen_ai = pytest.importorskip("opentelemetry.semconv._incubating.attributes.gen_ai_attributes")
    metrics = pytest.importorskip("opentelemetry.semconv._incubating.metrics.gen_ai_metrics")
    from llmcost.sinks import otel

    attributes = [
        "GEN_AI_OPERATION_NAME",
        "GEN_AI_PROVIDER_NAME",
        "GEN_AI_REQUEST_MODEL",
        "GEN_AI_RESPONSE_MODEL",
        "GEN_AI_RESPONSE_ID",
        "GEN_AI_USAGE_INPUT_TOKENS",
        "GEN_AI_USAGE_OUTPUT_TOKENS",
        "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS",
        "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS",
        "GEN_AI_USAGE_REASONING_OUTPUT_TOKENS",
        "GEN_AI_TOKEN_TYPE",
    ]
    # Older releases of the conventions lack the newer names (the oldest-versions CI run has
    # one): those cannot be checked there, but every name a release defines must match.
    checked = [name for name in attributes if hasattr(gen_ai, name)]
    assert "GEN_AI_OPERATION_NAME" in checked
    for name in checked:
        assert getattr(otel, name) == getattr(gen_ai, name), name
    assert otel.GEN_AI_CLIENT_TOKEN_USAGE == metrics.GEN_AI_CLIENT_TOKEN_USAGE
    assert otel.GEN_AI_CLIENT_OPERATION_DURATION == metrics.GEN_AI_CLIENT_OPERATION_DURATION


def test_importing_llmcost_sinks_does_not_import_opentelemetry():
    """opentelemetry is imported when an OTelSink is created, not before."""
    code = (
        "import sys, llmcost, llmcost.sinks; llmcost.sinks.OTelSink; "
        "assert not any(m.startswith('opentelemetry') for m in sys.modules), 'early'; "
        "llmcost.sinks.OTelSink(); assert 'opentelemetry.trace' in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not hasattr(llmcost, "record_usage"), reason="recorder not there yet")
def test_end_to_end_record_usage_carries_the_span_ids(telemetry):
    """Configured as a sink, OTelSink gives each recorded call a span and its ids."""
    sink = telemetry.sink()
    llmcost.configure(project="checkout", environment="production", sinks=[sink])
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as parent:
        record = llmcost.record_usage(
            provider="openai",
            model="gpt-4o",
            input_tokens=1000,
            output_tokens=100,
            latency_ms=250.0,
            feature="search",
        )
    assert llmcost.flush(timeout=5)  # the sink's emit runs on llmcost's delivery thread
    call_span = next(s for s in telemetry.spans() if s.name == "chat gpt-4o")
    assert record.span_id == f"{call_span.context.span_id:016x}"
    assert record.trace_id == f"{parent.get_span_context().trace_id:032x}"
    assert call_span.attributes["llmcost.feature"] == "search"
    assert call_span.attributes["llmcost.project"] == "checkout"
    assert call_span.attributes["llmcost.record_id"] == record.record_id
    assert call_span.end_time - call_span.start_time == 250_000_000
    metric = telemetry.metrics()["llmcost.cost"]
    (point,) = metric.data.data_points
    assert point.value == pytest.approx(float(record.total_cost_usd))


def test_the_span_says_where_the_cost_came_from_and_where_the_call_went(telemetry):
    """cost_source ("catalog" / "provider"), an Azure deployment and a gateway's host."""
    sink = telemetry.sink()
    sink.enrich(call_fields(record_id="catalog", cost_source="catalog"))
    sink.enrich(
        call_fields(
            record_id="azure",
            provider="azure.ai.openai",
            deployment="prod-4o",
            endpoint_host="res.openai.azure.com",
            cost_source="catalog",
        )
    )
    sink.enrich(
        call_fields(
            record_id="gateway",
            provider="openrouter",
            endpoint_host="openrouter.ai",
            cost_source="provider",
        )
    )
    sink.enrich(call_fields(record_id="unpriced", total_cost_usd=None, priced=False))
    catalog, azure, gateway, unpriced = (dict(s.attributes or {}) for s in telemetry.spans())
    assert catalog["llmcost.cost_source"] == "catalog"
    assert "server.address" not in catalog
    assert azure["gen_ai.provider.name"] == "azure.ai.openai"
    assert azure["llmcost.deployment"] == "prod-4o"
    assert azure["server.address"] == "res.openai.azure.com"
    assert gateway["llmcost.cost_source"] == "provider"
    assert gateway["gen_ai.provider.name"] == "openrouter"
    assert gateway["server.address"] == "openrouter.ai"
    assert "llmcost.cost_source" not in unpriced
