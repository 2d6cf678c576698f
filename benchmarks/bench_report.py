"""Benchmark: ``llmcost report`` with ``--html`` over 1,000,000 records in 10 files, 3 of them
gzipped (target: at most 10 s, flat memory).

Run: ``python benchmarks/bench_report.py [--records N] [--files 10] [--gzipped 3]``. Writes
temporary files of realistic records (five features, three models, a few unpriced calls) over
thirty days, then runs the command in a fresh process and reports its wall and CPU time and its
peak resident memory. ``--single-file [--workers N]`` times ``summarize()`` on one uncompressed
file instead, with or without its worker processes.
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
    """One file of ``records`` records, two seconds apart."""
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


def write_fleet(directory: Path, records: int, files: int, gzipped: int) -> list[Path]:
    """``records`` split over ``files`` files, as replicas write them; ``gzipped`` of them
    compressed (rotated files)."""
    rng = random.Random(7)
    templates = _templates(2000, rng)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    # Thirty days of records whatever their number, so the HTML chart has thirty bars.
    step = 30 * 86_400 / max(records, 1)
    paths = []
    for number in range(files):
        compress = (
            number % max(1, files // max(gzipped, 1)) == 0
            and len([p for p in paths if p.suffix == ".gz"]) < gzipped
        )
        path = directory / (f"replica-{number}.jsonl" + (".1.gz" if compress else ""))
        opener = gzip.open if compress else open
        with opener(path, "wt", encoding="utf-8") as out:  # type: ignore[operator]
            chunk = []
            for index in range(number, records, files):
                head, rest = templates[index % len(templates)]
                middle, tail = rest.split("\0")
                record_id = f"{index:08x}-0000-4000-8000-{index:012x}"
                stamp = (start + timedelta(seconds=int(index * step))).isoformat()
                chunk.append(f"{head}{record_id}{middle}{stamp}{tail}\n")
                if len(chunk) == 10_000:
                    out.write("".join(chunk))
                    chunk.clear()
            out.write("".join(chunk))
        paths.append(path)
    return paths


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure_cli(directory: Path, expected: int, workers: int | None) -> int:
    """``llmcost report DIR --by feature,model --html OUT``, in this fresh process; ``workers``
    overrides the command's own choice of worker processes (for the comparison)."""
    import contextlib
    import io
    import json

    from llmcost import report
    from llmcost.cli import main as cli

    if workers is not None:
        report.PARALLEL_MIN_BYTES = 0 if workers > 1 else 1 << 62
        report._MAX_WORKERS = workers

    out = directory / "report.html"
    wall, cpu = time.perf_counter(), _cpu()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        code = cli(
            [
                "report",
                str(directory),
                "--by",
                "feature,model",
                "--html",
                str(out),
                "--format",
                "json",
            ]
        )
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    assert code == 0, code
    assert json.loads(printed.getvalue())["total"]["requests"] == expected, "each record once"
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"llmcost report DIR --by feature,model --html (workers: {workers or 'automatic'}): "
        f"{wall:.2f} s wall, {cpu:.2f} s CPU in all processes ({cpu / expected * 1e6:.2f} µs "
        f"CPU/record); peak RSS {peak_mb:,.0f} MB (main), {child_mb:,.0f} MB (largest worker); "
        f"HTML {out.stat().st_size / 1e3:,.0f} kB; load average {os.getloadavg()[0]:.1f}"
    )
    return 0 if wall <= 10 else 1


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
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--gzipped", type=int, default=3, help="how many of the files")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--single-file",
        action="store_true",
        help="time summarize() on one uncompressed file instead (the worker processes' case)",
    )
    parser.add_argument("--workers", type=int, default=None, help="None: automatic")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure-cli", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure(args.measure, args.repeat, args.records, args.workers)
    if args.measure_cli:
        return measure_cli(args.measure_cli, args.records, args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        if args.single_file:
            path = Path(tmp) / "costs.jsonl"
            write_file(path, args.records, compress=False)
            command = [sys.executable, __file__, "--measure", str(path)]
            command += ["--repeat", str(args.repeat)]
            if args.workers is not None:
                command += ["--workers", str(args.workers)]
            size = path.stat().st_size
        else:
            paths = write_fleet(Path(tmp), args.records, args.files, args.gzipped)
            command = [sys.executable, __file__, "--measure-cli", tmp]
            size = sum(path.stat().st_size for path in paths)
        print(
            f"wrote {args.records:,} records ({size / 1e6:,.0f} MB on disk"
            + ("" if args.single_file else f", {args.files} files, {args.gzipped} gzipped")
            + f") in {time.perf_counter() - started:.1f} s; python {sys.version.split()[0]}"
        )
        command += ["--records", str(args.records)]
        if args.workers is not None and not args.single_file:
            command += ["--workers", str(args.workers)]
        return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
