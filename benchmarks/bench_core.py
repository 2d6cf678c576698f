"""Core benchmarks: record_usage() through the recorder, and the cost of `import llmcost`.

Run: python benchmarks/bench_core.py
Targets (issue 3): record_usage() to a no-op sink <= 15 µs per record (median);
`import llmcost` <= 100 ms.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import llmcost
from llmcost.types import CostRecord


class NoOpSink:
    """A sink that does nothing, so the recorder's own cost is what is measured."""

    def emit(self, record: CostRecord) -> None:
        pass

    def flush(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        pass


def median_per_call(func: object, calls: int = 2_000, rounds: int = 15) -> float:
    """Median over rounds of the mean time per call, in microseconds."""
    assert callable(func)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            func()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def bench_record_usage() -> tuple[float, float]:
    """(no scope, inside one scope that keeps every record): µs per record, median."""
    llmcost.configure(project="bench", environment="ci", sinks=[NoOpSink()])

    def one() -> None:
        llmcost.record_usage(
            provider="openai",
            model="gpt-4o",
            input_tokens=1200,
            cache_read_tokens=1000,
            output_tokens=300,
        )

    one()  # resolve the model and build the pydantic schemas once
    plain = median_per_call(one)
    # A scope adds its totals and keeps every record made in it (scope.records): 30,000 here,
    # 2.3 KB each, so this also measures the memory growth a scope that long would cause.
    with llmcost.track_cost(feature="bench"):
        scoped = median_per_call(one)
    return plain, scoped


def bench_scope() -> float:
    def one() -> None:
        with llmcost.track_cost(feature="f", user_id="u"):
            pass

    return median_per_call(one, calls=20_000)


def bench_import(runs: int = 15) -> float:
    code = "import time; t = time.perf_counter(); import llmcost; print(time.perf_counter() - t)"
    samples = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(samples) * 1000


def main() -> None:
    plain, scoped = bench_record_usage()
    print(f"record_usage() to a no-op sink: {plain:6.2f} µs/record (target <= 15)")
    print(f"  the same inside one scope that keeps all 30,000 records: {scoped:6.2f} µs/record")
    print(f"track_cost() enter + exit:       {bench_scope():6.2f} µs")
    print(f"import llmcost:                  {bench_import():6.1f} ms (target <= 100)")


if __name__ == "__main__":
    main()
