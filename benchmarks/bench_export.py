"""Export speed: HTTPSink.emit() cost, end-to-end HTTPSink throughput, OTelSink per record.

Run: ``python benchmarks/bench_export.py`` (about 20 seconds). Targets: ``emit()`` at most
5 µs, also while the worker is retrying an endpoint that is down; at least 20,000 records/s
delivered to a loopback receiver. The receiver runs in its
own process so that it does not compete with the sink for the GIL.
"""

from __future__ import annotations

import gzip
import json
import logging
import multiprocessing
import socket
import statistics
import sys
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from llmcost.sinks.http import HTTPSink, encode_batch, encode_record
from llmcost.sinks.otel import OTelSink
from llmcost.types import CostRecord

REPEATS = 7


def make_records(count: int) -> list[CostRecord]:
    return [
        CostRecord(
            provider="openai",
            operation="chat",
            model="gpt-4o",
            response_model="gpt-4o-2024-08-06",
            request_id=f"req_{i}",
            response_id=f"chatcmpl-{i}",
            feature="support_chat",
            project="checkout",
            environment="production",
            tags={"tier": "pro"},
            input_tokens=1200,
            cache_read_tokens=1000,
            output_tokens=300,
            input_cost_usd=Decimal("0.0005"),
            cache_read_cost_usd=Decimal("0.00125"),
            output_cost_usd=Decimal("0.003"),
            total_cost_usd=Decimal("0.00475"),
            priced=True,
            latency_ms=812.5,
        )
        for i in range(count)
    ]


# --- the receiver (a separate process) -----------------------------------------------------


def _serve(port_queue: Any) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            json.loads(body)  # a receiver parses what it gets
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_queue.put(server.server_address[1])
    server.serve_forever()


def start_receiver() -> tuple[multiprocessing.Process, str]:
    ctx = multiprocessing.get_context("spawn")
    port_queue = ctx.Queue()
    process = ctx.Process(target=_serve, args=(port_queue,), daemon=True)
    process.start()
    port = port_queue.get(timeout=30)
    return process, f"http://127.0.0.1:{port}/ingest"


# --- measurements ------------------------------------------------------------------------


def bench_emit(url: str, records: list[CostRecord], *, worker_busy: bool) -> float:
    """Median µs per emit() over REPEATS runs of len(records) calls."""
    runs = []
    for _ in range(REPEATS):
        if worker_busy:
            sink = HTTPSink(url, max_queue=len(records) * 2, flush_interval=0.05)
        else:  # the worker sleeps: the cost of emit() alone
            sink = HTTPSink(url, max_queue=len(records) * 2, batch_size=10**9, flush_interval=60)
        emit = sink.emit
        started = time.perf_counter()
        for record in records:
            emit(record)
        runs.append((time.perf_counter() - started) / len(records) * 1e6)
        sink.close(timeout=30)
    return statistics.median(runs)


def bench_emit_endpoint_down(records: list[CostRecord]) -> float:
    """Median µs per emit() while the worker retries an endpoint that refuses connections."""
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"http://127.0.0.1:{reserved.getsockname()[1]}/ingest"
        logger = logging.getLogger("llmcost")
        level = logger.level
        logger.setLevel(logging.ERROR)  # each close() below summarises its (expected) drops
        runs = []
        try:
            for _ in range(REPEATS):
                sink = HTTPSink(
                    url, max_queue=len(records) * 2, flush_interval=0.01, backoff_base=0.01
                )
                emit = sink.emit
                started = time.perf_counter()
                for record in records:
                    emit(record)
                runs.append((time.perf_counter() - started) / len(records) * 1e6)
                sink.close(timeout=0.2)
        finally:
            logger.setLevel(level)
    return statistics.median(runs)


def bench_throughput(url: str, records: list[CostRecord], **options: Any) -> tuple[float, float]:
    """Median records/s from the first emit() to flush() returning (all delivered), and
    records per CPU-second of this process (emit + worker; the receiver is elsewhere): the
    second figure does not depend on what else the machine is running."""
    runs = []
    per_cpu = []
    for _ in range(3):
        sink = HTTPSink(url, max_queue=len(records), **options)
        started, cpu_started = time.perf_counter(), time.process_time()
        for record in records:
            sink.emit(record)
        assert sink.flush(60), sink.stats()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        assert sink.stats()["sent"] == len(records), sink.stats()
        sink.close()
        runs.append(len(records) / elapsed)
        per_cpu.append(len(records) / cpu)
    return statistics.median(runs), statistics.median(per_cpu)


def bench_encode(records: list[CostRecord]) -> tuple[float, float, float]:
    """µs per record: CostRecord.to_json(), the sink's encode_record(), a 100-record batch."""

    def per_record(func: Any, items: list[Any]) -> float:
        runs = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            for item in items:
                func(item)
            runs.append((time.perf_counter() - started) / len(items) * 1e6)
        return statistics.median(runs)

    sample = records[:2000]
    batches = [sample[i : i + 100] for i in range(0, len(sample), 100)]
    return (
        per_record(CostRecord.to_json, sample),
        per_record(encode_record, sample),
        per_record(encode_batch, batches) / 100,
    )


def bench_otel(records: list[CostRecord]) -> float:
    """Median µs per record for OTelSink.enrich() + emit() with the SDK in memory."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    runs = []
    for _ in range(REPEATS):
        exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
        sink = OTelSink(tracer_provider=tracer_provider, meter_provider=meter_provider)
        sample = records[:2000]
        started = time.perf_counter()
        for record in sample:
            fields = dict(record.__dict__)
            sink.enrich(fields)
            sink.emit(CostRecord.model_construct(**fields))
        runs.append((time.perf_counter() - started) / len(sample) * 1e6)
        tracer_provider.shutdown()
        meter_provider.shutdown()
    return statistics.median(runs)


def main() -> int:
    records = make_records(50_000)
    process, url = start_receiver()
    try:
        print(f"python {sys.version.split()[0]}, {len(records):,} records, median of runs")
        to_json, fast, batch = bench_encode(records)
        print(f"CostRecord.to_json()            {to_json:8.2f} µs/record")
        print(f"encode_record()                 {fast:8.2f} µs/record")
        print(f"encode_batch() (100 records)    {batch:8.2f} µs/record")
        idle = bench_emit(url, records[:20_000], worker_busy=False)
        print(f"HTTPSink.emit(), worker idle    {idle:8.2f} µs   (target <= 5)")
        busy = bench_emit(url, records[:20_000], worker_busy=True)
        print(f"HTTPSink.emit(), worker sending {busy:8.2f} µs")
        down = bench_emit_endpoint_down(records[:20_000])
        print(f"HTTPSink.emit(), endpoint down  {down:8.2f} µs")
        for label, options in (
            ("batch 100", {"batch_size": 100}),
            ("batch 500", {"batch_size": 500}),
            ("batch 100, gzip", {"batch_size": 100, "gzip": True}),
        ):
            rate, cpu_rate = bench_throughput(url, records, flush_interval=0.05, **options)
            print(
                f"throughput, {label:<20}{rate:8,.0f} records/s "
                f"({cpu_rate:,.0f} per CPU-second; target >= 20,000/s)"
            )
        otel = bench_otel(records)
        print(f"OTelSink.enrich()+emit() (SDK)  {otel:8.2f} µs/record")
    finally:
        process.terminate()
        process.join(5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
