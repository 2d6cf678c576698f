"""Benchmark: JSONLFileSink.emit from one thread (target: at least 50,000 records/s).

Run: ``python benchmarks/bench_jsonl.py``. Prints the median of several runs of emitting
50,000 distinct, realistic records, plain, with size rotation, and (fewer records) with fsync,
and the time ``CostRecord.to_json`` (most of an emit) takes per record, next to the general
json-based encoding it must match byte for byte.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from llmcost.sinks.jsonl import JSONLFileSink
from llmcost.types import CostRecord


def make_records(count: int) -> list[CostRecord]:
    start = datetime(2026, 11, 22, tzinfo=timezone.utc)
    return [
        CostRecord(
            provider="openai",
            operation="chat",
            model="gpt-4o",
            response_model="gpt-4o-2024-08-06",
            priced_as="gpt-4o",
            feature=("support_chat", "search", "summaries")[index % 3],
            project="checkout",
            environment="production",
            user_id=f"u-{index % 97}",
            tags={"tier": "pro"},
            request_id=f"req_{index:012d}",
            response_id=f"chatcmpl-{index:012d}",
            timestamp=start + timedelta(milliseconds=index),
            input_tokens=1200 + index % 500,
            cache_read_tokens=1000,
            output_tokens=300,
            input_cost_usd=Decimal("0.0005"),
            cache_read_cost_usd=Decimal("0.00125"),
            cache_write_cost_usd=Decimal("0"),
            output_cost_usd=Decimal("0.003"),
            total_cost_usd=Decimal("0.00475"),
            priced=True,
            latency_ms=812.5,
            catalog_version="2026-11-01",
        )
        for index in range(count)
    ]


def run(records: list[CostRecord], repeat: int, **options: object) -> tuple[float, float]:
    """Median records/s by the wall clock and by this process's CPU time."""
    rates, cpu_rates = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            sink = JSONLFileSink(Path(tmp) / "costs.jsonl", **options)  # type: ignore[arg-type]
            emit = sink.emit
            started, cpu = time.perf_counter(), time.process_time()
            for record in records:
                emit(record)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            sink.close()
            rates.append(len(records) / elapsed)
            cpu_rates.append(len(records) / max(cpu, 1e-9))
    return statistics.median(rates), statistics.median(cpu_rates)


def encode_micros(records: list[CostRecord], repeat: int) -> float:
    """Median µs per record of ``to_json``."""
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        for record in records:
            record.to_json()
        timings.append((time.perf_counter() - started) / len(records) * 1e6)
    return statistics.median(timings)


def main() -> int:
    records = make_records(50_000)
    line = len(records[0].to_json()) + 1
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, lines of {line} bytes")
    report = "{:<42}{:>9,.0f} records/s wall, {:>9,.0f} per CPU-second (median of {})"
    plain, plain_cpu = run(records, 7)
    print(report.format("JSONLFileSink.emit:", plain, plain_cpu, 7))
    rotating, rotating_cpu = run(records, 5, max_bytes=10_000_000)
    print(report.format("  with max_bytes=10 MB (rotates 5 times):", rotating, rotating_cpu, 5))
    synced, synced_cpu = run(records[:2_000], 3, fsync=True)
    print(report.format("  with fsync=True:", synced, synced_cpu, 3))
    print(f"CostRecord.to_json: {encode_micros(records, 5):.1f} µs per record")
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0 if plain >= 50_000 else 1


if __name__ == "__main__":
    raise SystemExit(main())
