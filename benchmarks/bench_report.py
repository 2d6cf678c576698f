"""Benchmark: summarize a 1,000,000-record JSONL file (target: at most 10 s, flat memory).

Run: ``python benchmarks/bench_report.py [--records N] [--gzip]``. Writes a temporary file of
realistic records (five features, three models, a few unpriced calls), then times
``summarize(read_records(path), by=("feature", "model"))`` and reports the peak resident
memory added while summarizing, next to the size of the file.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from llmcost.reading import read_records
from llmcost.report import summarize
from llmcost.types import CostRecord

FEATURES = ("support_chat", "search", "summaries", "agent", "classifier")
MODELS = {
    "gpt-4o": (Decimal("0.0000025"), Decimal("0.00001")),
    "gpt-4o-mini": (Decimal("0.00000015"), Decimal("0.0000006")),
    "claude-sonnet-4-5": (Decimal("0.000003"), Decimal("0.000015")),
}
ID_MARK = "00000000-0000-4000-8000-000000000000"
TS_MARK = "2000-01-01T00:00:00+00:00"


def _templates(count: int, rng: random.Random) -> list[tuple[str, str]]:
    """Distinct record lines, split around the id and the timestamp to fill in quickly."""
    lines = []
    for _ in range(count):
        model = rng.choice(list(MODELS))
        input_rate, output_rate = MODELS[model]
        inputs, outputs = rng.randint(200, 4000), rng.randint(20, 800)
        priced = rng.random() > 0.01
        input_cost, output_cost = input_rate * inputs, output_rate * outputs
        record = CostRecord(
            record_id=ID_MARK,
            timestamp=datetime.fromisoformat(TS_MARK),
            provider="anthropic" if model.startswith("claude") else "openai",
            operation="messages" if model.startswith("claude") else "chat",
            model=model if priced else "my-finetune",
            feature=rng.choice(FEATURES),
            project="checkout",
            environment="production",
            tags={"tier": rng.choice(("free", "pro"))},
            input_tokens=inputs,
            output_tokens=outputs,
            cache_read_tokens=rng.choice((0, 0, inputs // 2)),
            input_cost_usd=input_cost if priced else None,
            output_cost_usd=output_cost if priced else None,
            total_cost_usd=input_cost + output_cost if priced else None,
            priced=priced,
            latency_ms=round(rng.uniform(200, 4000), 1),
        )
        text = record.to_json()
        head, rest = text.split(ID_MARK)
        middle, tail = rest.split(TS_MARK)
        lines.append((head, middle + "\0" + tail))
    return lines


def write_file(path: Path, records: int, compress: bool) -> None:
    rng = random.Random(7)
    templates = _templates(2000, rng)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    opener = gzip.open if compress else open
    with opener(path, "wt", encoding="utf-8") as out:  # type: ignore[operator]
        chunk = []
        for index in range(records):
            head, rest = templates[index % len(templates)]
            middle, tail = rest.split("\0")
            record_id = f"{index:08x}-0000-4000-8000-{index:012x}"
            stamp = (start + timedelta(seconds=index * 2)).isoformat()
            chunk.append(f"{head}{record_id}{middle}{stamp}{tail}\n")
            if len(chunk) == 10_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(path: Path, repeat: int, expected: int, workers: int | None) -> int:
    """Run in a fresh process so that its peak memory is the summary's alone."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), _cpu()
        rows = summarize(read_records(path), by=("feature", "model"), workers=workers)
        walls.append(time.perf_counter() - wall)
        cpus.append(_cpu() - cpu)
    assert sum(row.requests for row in rows) == expected, "every record counted once"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    print(
        f"summarize(read_records(...), by=feature,model, workers={workers}): median {wall:.2f} s "
        f"wall, {cpu:.2f} s CPU (all processes) over {repeat} runs "
        f"({cpu / expected * 1e6:.2f} µs CPU/record; wall runs: "
        f"{', '.join(f'{t:.2f}' for t in walls)}); load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"peak RSS: {peak_mb:,.0f} MB (main process), {child_mb:,.0f} MB (largest worker); "
        f"{len(rows)} rows"
    )
    return 0 if wall <= 10 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--workers", type=int, default=None, help="None: automatic")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure(args.measure, args.repeat, args.records, args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("costs.jsonl.gz" if args.gzip else "costs.jsonl")
        started = time.perf_counter()
        write_file(path, args.records, args.gzip)
        size_mb = path.stat().st_size / 1e6
        print(
            f"wrote {args.records:,} records ({size_mb:,.0f} MB on disk) in "
            f"{time.perf_counter() - started:.1f} s; python {sys.version.split()[0]}"
        )
        command = [sys.executable, __file__, "--measure", str(path)]
        command += ["--records", str(args.records), "--repeat", str(args.repeat)]
        if args.workers is not None:
            command += ["--workers", str(args.workers)]
        return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
