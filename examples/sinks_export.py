"""Export cost records two ways, offline: an HTTP ingestion endpoint and OpenTelemetry.

Run: python examples/sinks_export.py

* ``HTTPSink`` posts JSON batches to a small ingestion endpoint this script starts on
  127.0.0.1 (a stand-in for your collector service); the endpoint deduplicates by
  ``record_id`` the way a real one should.
* ``OTelSink`` turns every call into a GenAI client span plus token, duration and cost
  metrics; here the OpenTelemetry SDK keeps them in memory so the script can print them.
  Point the same providers at an OTLP exporter to ship them to a Collector (docs/sinks.md).

Calls are recorded with ``llmcost.record_usage``, so no API key and no network are needed.
"""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import llmcost
from llmcost.sinks import HTTPSink, OTelSink


def start_ingestion_endpoint() -> tuple[ThreadingHTTPServer, dict[str, dict[str, Any]]]:
    """A minimal ingestion service: POST {"records": [...]}, dedup by record_id."""
    received: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    class Ingest(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            # parse_float=Decimal: money arrives as exact JSON numbers; keep them exact.
            records = json.loads(body, parse_float=Decimal)["records"]
            with lock:
                for record in records:
                    received.setdefault(record["record_id"], record)
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, received


def main() -> int:
    server, received = start_ingestion_endpoint()
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}/v1/costs"

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    metric_reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[metric_reader])

    http_sink = HTTPSink(url, headers={"Authorization": "Bearer demo-token"}, batch_size=50)
    otel_sink = OTelSink(tracer_provider=tracer_provider, meter_provider=meter_provider)
    llmcost.configure(
        project="checkout",
        environment="staging",
        sinks=[http_sink, otel_sink],
        unknown_model="warn",
    )

    tracer = tracer_provider.get_tracer("example-app")
    calls = [
        ("support_chat", "openai", "gpt-4o", 1200, 300),
        ("support_chat", "openai", "gpt-4o-mini", 800, 150),
        ("summarize", "anthropic", "claude-sonnet-4-5", 5000, 400),
        ("search", "openai", "text-embedding-3-small", 2000, 0),
    ]
    with tracer.start_as_current_span("POST /tickets"):
        for feature, provider, model, input_tokens, output_tokens in calls:
            operation = "embeddings" if "embedding" in model else "chat"
            llmcost.record_usage(
                provider=provider,
                model=model,
                operation=operation,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                latency_ms=420.0,
                feature=feature,
            )

    delivered = llmcost.flush(timeout=10)
    print(f"HTTPSink -> {url}: delivered={delivered} stats={http_sink.stats()}")
    for record in received.values():
        print(
            f"  received {record['feature']:<13} {record['model']:<24} "
            f"${record['total_cost_usd']}  trace={record['trace_id']}"
        )

    print("OTelSink spans:")
    finished = [s for s in spans.get_finished_spans() if s.name != "POST /tickets"]
    for span in finished:
        attributes = span.attributes or {}
        print(
            f"  {span.name:<36} in={attributes.get('gen_ai.usage.input_tokens')} "
            f"out={attributes.get('gen_ai.usage.output_tokens')} "
            f"cost=${attributes.get('llmcost.cost.total_usd')}"
        )
    print("OTelSink metric llmcost.cost (USD) by feature:")
    data = metric_reader.get_metrics_data()
    costs: dict[str, float] = {}
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == "llmcost.cost":
                    for point in metric.data.data_points:
                        feature = str(point.attributes.get("llmcost.feature"))
                        costs[feature] = costs.get(feature, 0.0) + point.value
    for feature, usd in sorted(costs.items()):
        print(f"  {feature:<13} {usd:.6f}")

    llmcost.shutdown()
    tracer_provider.shutdown()
    meter_provider.shutdown()
    server.shutdown()
    server.server_close()

    # What this example promises, checked (an examples test relies on the exit code).
    same_trace = {r["trace_id"] for r in received.values()}
    ok = (
        delivered
        and len(received) == len(calls)
        and len(finished) == len(calls)
        and len(same_trace) == 1
        and None not in same_trace
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
