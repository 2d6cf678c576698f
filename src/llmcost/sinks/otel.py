""":class:`OTelSink`: cost records as OpenTelemetry GenAI spans and metrics.

Only ``opentelemetry-api`` is needed at run time (the ``otel`` extra); it is imported when the
sink is created. Without an SDK configured every call is a cheap no-op, exactly as the API
promises. Attribute names follow the OpenTelemetry GenAI semantic conventions; cost and
attribution, which have no convention yet, live under ``llmcost.*``.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from llmcost import errors

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

    from llmcost.types import CostRecord

__all__ = [
    "DURATION_BUCKETS",
    "TOKEN_BUCKETS",
    "OTelSink",
    "operation_name",
    "provider_name",
]

logger = logging.getLogger("llmcost")

# --- semantic-convention names -------------------------------------------------------------
# Written out rather than imported from opentelemetry-semantic-conventions: that package is not
# a dependency of opentelemetry-api, and the GenAI names there are marked as moved. The test
# suite checks them against the installed package where it has them.
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS = "gen_ai.usage.cache_write.input_tokens"
#: The name ``cache_write`` had before the GenAI conventions renamed it.
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
ERROR_TYPE = "error.type"

GEN_AI_CLIENT_TOKEN_USAGE = "gen_ai.client.token.usage"
GEN_AI_CLIENT_OPERATION_DURATION = "gen_ai.client.operation.duration"
LLMCOST_COST = "llmcost.cost"
LLMCOST_UNPRICED = "llmcost.unpriced_calls"

#: Bucket boundaries the GenAI conventions advise for ``gen_ai.client.token.usage``.
TOKEN_BUCKETS: tuple[float, ...] = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
#: Bucket boundaries (seconds) advised for ``gen_ai.client.operation.duration``.
DURATION_BUCKETS: tuple[float, ...] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip

# llmcost's operation names -> gen_ai.operation.name well-known values.
_OPERATIONS = {
    "chat": "chat",
    "responses": "chat",
    "messages": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
}
# llmcost's provider names -> gen_ai.provider.name well-known values (others pass through).
_PROVIDERS = {
    "azure": "azure.ai.openai",
    "azure_openai": "azure.ai.openai",
    "bedrock": "aws.bedrock",
    "vertex": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "google": "gcp.gen_ai",
    "mistral": "mistral_ai",
    "xai": "x_ai",
}

_COST_ATTRIBUTES = (
    ("input_cost_usd", "llmcost.cost.input_usd"),
    ("cache_read_cost_usd", "llmcost.cost.cache_read_usd"),
    ("cache_write_cost_usd", "llmcost.cost.cache_write_usd"),
    ("output_cost_usd", "llmcost.cost.output_usd"),
    ("tool_cost_usd", "llmcost.cost.tool_usd"),
    ("total_cost_usd", "llmcost.cost.total_usd"),
)
_LLMCOST_ATTRIBUTES = (
    ("feature", "llmcost.feature"),
    ("project", "llmcost.project"),
    ("environment", "llmcost.environment"),
    ("user_id", "llmcost.user_id"),
    ("operation", "llmcost.operation"),
    ("record_id", "llmcost.record_id"),
    ("request_id", "llmcost.request_id"),
    ("priced_as", "llmcost.priced_as"),
    ("priced", "llmcost.priced"),
    ("estimated", "llmcost.estimated"),
    ("service_tier", "llmcost.service_tier"),
    ("batch", "llmcost.batch"),
    ("catalog_version", "llmcost.catalog_version"),
    # "catalog" or "provider": whether the cost is llmcost's price or what the provider reported.
    ("cost_source", "llmcost.cost_source"),
    ("deployment", "llmcost.deployment"),
    # The OpenTelemetry attribute for the host of the endpoint called (gateways only).
    ("endpoint_host", "server.address"),
)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def operation_name(operation: str) -> str:
    """The ``gen_ai.operation.name`` for an llmcost operation.

    Example:
        >>> operation_name("messages"), operation_name("completions")
        ('chat', 'text_completion')
    """
    return _OPERATIONS.get(operation, operation)


def provider_name(provider: str) -> str:
    """The ``gen_ai.provider.name`` for an llmcost provider name.

    Example:
        >>> provider_name("openai"), provider_name("bedrock")
        ('openai', 'aws.bedrock')
    """
    return _PROVIDERS.get(provider, provider)


def _ns(moment: Any) -> int | None:
    if not isinstance(moment, datetime):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    # Integer arithmetic: a float of nanoseconds since 1970 loses the microseconds.
    delta: timedelta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _money(value: Any) -> float | None:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


#: Record ids enrich() remembers for emit() at the most.
_MAX_ENRICHED = 10_000
_NOT_ENRICHED: Any = object()

_live_sinks: weakref.WeakSet[OTelSink] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A parent thread may have held a sink's lock at fork(); in the child it never would be
    # released. (The OpenTelemetry SDK re-initialises its own processors after a fork.)
    for sink in list(_live_sinks):
        sink._enriched_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX only
    os.register_at_fork(after_in_child=_after_fork_in_child)


class OTelSink:
    """Turn every call into an OpenTelemetry CLIENT span and GenAI metrics.

    Spans: before a record is built, llmcost calls :meth:`enrich`, which creates a span named
    ``"{gen_ai.operation.name} {model}"`` (``"chat gpt-4o"``) as a child of the current span,
    timed from the call's start to its end, with the GenAI usage attributes and
    ``llmcost.cost.*_usd`` / ``llmcost.feature`` / ... attributes; the record then carries
    that span's ``trace_id`` and ``span_id``. With ``annotate_current_span=True`` the
    attributes go onto the current span instead (when one is recording), and the record
    carries its ids. Error records get status ERROR and ``error.type``.

    Metrics (recorded by :meth:`emit`): ``gen_ai.client.token.usage`` (histogram, ``{token}``,
    ``gen_ai.token.type`` = input/output), ``gen_ai.client.operation.duration`` (histogram,
    seconds), ``llmcost.cost`` (counter, USD, by provider, model, feature, project and
    environment) and ``llmcost.unpriced_calls`` (counter of calls without a price: an unknown
    price is never added as $0).

    Args:
        tracer_provider: Defaults to the global tracer provider.
        meter_provider: Defaults to the global meter provider.
        traces: Create (or annotate) spans.
        metrics: Record metrics.
        annotate_current_span: Put the attributes on the current span rather than a new one.
        legacy_cache_attributes: Also set ``gen_ai.usage.cache_creation.input_tokens`` (the
            older name of ``gen_ai.usage.cache_write.input_tokens``).
        record_tags: Add each record tag as a ``llmcost.tag.<name>`` span attribute.

    Example:
        >>> import llmcost
        >>> llmcost.configure(project="checkout", sinks=[llmcost.sinks.OTelSink()])
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        traces: bool = True,
        metrics: bool = True,
        annotate_current_span: bool = False,
        legacy_cache_attributes: bool = False,
        record_tags: bool = True,
    ) -> None:
        try:
            from opentelemetry import metrics as otel_metrics
            from opentelemetry import trace as otel_trace
        except ImportError as exc:  # pragma: no cover - the dev extras install it
            raise ImportError(
                "OTelSink needs the opentelemetry-api package: pip install 'llmcost[otel]'"
            ) from exc

        version = _llmcost_version()
        self._trace_api = otel_trace
        self._metrics_api = otel_metrics
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._traces = traces
        self._metrics = metrics
        self._annotate = annotate_current_span
        self._legacy_cache = legacy_cache_attributes
        self._record_tags = record_tags
        self._closed = False
        self._warned_closed = False
        # The ids of the records enrich() made spans for (on the caller's thread), until
        # emit() sees them (on llmcost's delivery thread): emit() makes the span itself for
        # records that never went through enrich() (replays, direct emit calls). Bounded: a
        # record enriched but never emitted (a sink error) is forgotten after a while.
        self._enriched: dict[str, None] = {}
        self._enriched_lock = threading.Lock()
        _live_sinks.add(self)
        self._tracer = otel_trace.get_tracer("llmcost", version, tracer_provider=tracer_provider)
        meter = otel_metrics.get_meter("llmcost", version, meter_provider=meter_provider)
        self._token_usage = meter.create_histogram(
            GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self._duration = meter.create_histogram(
            GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._cost = meter.create_counter(
            LLMCOST_COST, unit="USD", description="Cost of GenAI calls as priced by llmcost."
        )
        self._unpriced = meter.create_counter(
            LLMCOST_UNPRICED,
            unit="{call}",
            description="GenAI calls llmcost could not price (their cost is unknown, not 0).",
        )

    def __repr__(self) -> str:
        return f"OTelSink(annotate_current_span={self._annotate})"

    # --- spans -----------------------------------------------------------------------------

    def enrich(self, fields: dict[str, Any]) -> None:
        """Create the call's span (or annotate the current one) and set the record's ids.

        ``fields`` holds the record's fields before the record is built; ``timestamp`` is
        the call's UTC start and ``latency_ms`` its duration. ``trace_id`` and ``span_id``
        are written back as lowercase hex when the span context is valid.
        """
        if self._closed or not self._traces:
            return
        record_id = fields.get("record_id")
        if isinstance(record_id, str):
            with self._enriched_lock:
                self._enriched[record_id] = None
                if len(self._enriched) > _MAX_ENRICHED:
                    del self._enriched[next(iter(self._enriched))]
        span = self._span_for(fields)
        context = span.get_span_context()
        if context.is_valid:
            fields["trace_id"] = f"{context.trace_id:032x}"
            fields["span_id"] = f"{context.span_id:016x}"

    def _span_for(self, fields: Mapping[str, Any]) -> Span:
        trace_api = self._trace_api
        attributes = self.span_attributes(fields)
        failed = fields.get("status") == "error"
        error_type = fields.get("error_type") or "_OTHER"
        if failed:
            attributes[ERROR_TYPE] = error_type
        if self._annotate:
            current: Span = trace_api.get_current_span()
            if current.is_recording():
                current.set_attributes(attributes)
                if failed:
                    current.set_status(trace_api.Status(trace_api.StatusCode.ERROR, error_type))
                return current
        start = _ns(fields.get("timestamp"))
        latency_ms = fields.get("latency_ms")
        end = None
        if start is not None and isinstance(latency_ms, (int, float)) and latency_ms >= 0:
            end = start + round(latency_ms * 1_000_000)
        model = fields.get("model")
        operation = attributes[GEN_AI_OPERATION_NAME]
        span = self._tracer.start_span(
            f"{operation} {model}" if model else str(operation),
            kind=trace_api.SpanKind.CLIENT,
            attributes=attributes,
            start_time=start,
        )
        if failed:
            span.set_status(trace_api.Status(trace_api.StatusCode.ERROR, error_type))
        span.end(end_time=end)
        return span

    def span_attributes(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The span attributes for a record's fields (GenAI conventions plus ``llmcost.*``)."""
        get = fields.get
        attributes: dict[str, Any] = {
            GEN_AI_OPERATION_NAME: operation_name(str(get("operation") or "chat")),
            GEN_AI_PROVIDER_NAME: provider_name(str(get("provider") or "unknown")),
            GEN_AI_USAGE_INPUT_TOKENS: int(get("input_tokens") or 0),
            GEN_AI_USAGE_OUTPUT_TOKENS: int(get("output_tokens") or 0),
        }
        for key, name in (
            ("model", GEN_AI_REQUEST_MODEL),
            ("response_model", GEN_AI_RESPONSE_MODEL),
            ("response_id", GEN_AI_RESPONSE_ID),
        ):
            value = get(key)
            if value is not None:
                attributes[name] = str(value)
        if get("stream"):
            attributes[GEN_AI_REQUEST_STREAM] = True
        cache_read = int(get("cache_read_tokens") or 0)
        cache_write = int(get("cache_write_tokens") or 0)
        reasoning = int(get("reasoning_tokens") or 0)
        if cache_read:
            attributes[GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
        if cache_write:
            attributes[GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS] = cache_write
            if self._legacy_cache:
                attributes[GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = cache_write
        if reasoning:
            attributes[GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
        for key, name in _COST_ATTRIBUTES:
            amount = _money(get(key))
            if amount is not None:
                attributes[name] = amount
        for key, name in _LLMCOST_ATTRIBUTES:
            value = get(key)
            if value is None:
                continue
            attributes[name] = value if isinstance(value, (bool, int, float)) else str(value)
        tags = get("tags")
        if self._record_tags and tags:
            for tag, value in tags.items():
                attributes[f"llmcost.tag.{tag}"] = str(value)
        return attributes

    # --- metrics ---------------------------------------------------------------------------

    def emit(self, record: CostRecord) -> None:
        """Record the call's token, duration and cost metrics.

        A record that did not go through :meth:`enrich` (a replayed record, or a direct
        ``emit``) gets its span here, after the fact.
        """
        if self._closed:
            errors.count("sink.otel.dropped_after_close")
            if not self._warned_closed:
                self._warned_closed = True
                logger.warning(
                    "OTelSink is closed: records emitted to it are counted, not exported"
                )
            return
        with self._enriched_lock:
            enriched = self._enriched.pop(record.record_id, _NOT_ENRICHED) is None
        if self._traces and not enriched:
            self._span_for(record.__dict__)
        if not self._metrics:
            return
        attributes: dict[str, Any] = {
            GEN_AI_OPERATION_NAME: operation_name(record.operation),
            GEN_AI_PROVIDER_NAME: provider_name(record.provider),
        }
        if record.model is not None:
            attributes[GEN_AI_REQUEST_MODEL] = record.model
        if record.response_model is not None:
            attributes[GEN_AI_RESPONSE_MODEL] = record.response_model
        failed = record.status == "error"
        if not failed or record.input_tokens or record.output_tokens:
            self._token_usage.record(
                record.input_tokens, {**attributes, GEN_AI_TOKEN_TYPE: "input"}
            )
            # Embeddings produce no output tokens: a 0 there would only skew the histogram.
            if record.output_tokens or attributes[GEN_AI_OPERATION_NAME] != "embeddings":
                self._token_usage.record(
                    record.output_tokens, {**attributes, GEN_AI_TOKEN_TYPE: "output"}
                )
        if record.latency_ms is not None:
            duration_attributes = attributes
            if failed:
                duration_attributes = {**attributes, ERROR_TYPE: record.error_type or "_OTHER"}
            self._duration.record(record.latency_ms / 1000.0, duration_attributes)
        cost_attributes: dict[str, Any] = {
            GEN_AI_PROVIDER_NAME: attributes[GEN_AI_PROVIDER_NAME],
        }
        if record.model is not None:
            cost_attributes[GEN_AI_REQUEST_MODEL] = record.model
        for key, name in (
            ("feature", "llmcost.feature"),
            ("project", "llmcost.project"),
            ("environment", "llmcost.environment"),
        ):
            value = getattr(record, key)
            if value is not None:
                cost_attributes[name] = value
        if record.total_cost_usd is None:
            self._unpriced.add(1, cost_attributes)
        else:
            self._cost.add(float(record.total_cost_usd), cost_attributes)

    # --- lifecycle -------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Force-flush the tracer and meter providers (when they support it)."""
        providers = (
            self._tracer_provider or self._trace_api.get_tracer_provider(),
            self._meter_provider or self._metrics_api.get_meter_provider(),
        )
        flushed = True
        for provider in providers:
            force_flush = getattr(provider, "force_flush", None)
            if not callable(force_flush):
                continue
            if timeout is None:
                result = force_flush()
            else:
                result = force_flush(timeout_millis=max(1, int(timeout * 1000)))
            flushed = flushed and result is not False
        return flushed

    def close(self) -> None:
        """Stop recording. The providers belong to the application and are left running."""
        self._closed = True


def _llmcost_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llmcost")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"
