"""``llmcost report`` and ``llmcost anomalies``: read JSONL cost files, print what costs most.

Exit codes: 0 success; 1 unreadable input (a corrupt line, named as ``file:line: reason``, or a
missing file); 2 bad arguments.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from llmcost.reading import RecordReader

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``report`` and ``anomalies`` to the ``llmcost`` command line."""
    report = subparsers.add_parser(
        "report",
        help="spend per feature, model, project ... from JSONL cost files",
        description=(
            "Total the spend in JSONL cost files (plain or .gz) per key, most expensive first. "
            "Each record counts once (by record_id); calls of unknown price are counted apart."
        ),
    )
    _add_input_arguments(report)
    report.add_argument(
        "--by",
        default="feature",
        help="comma-separated keys: record fields (feature, model, project, environment, "
        "user_id, provider, ...), tag:<name>, or hour/day/month (default: feature)",
    )
    report.add_argument("--since", type=_instant, help="from this date or ISO time (UTC)")
    report.add_argument(
        "--until", type=_instant, help="before this date or ISO time (UTC), exclusive"
    )
    report.add_argument("--top", type=_positive, default=None, help="show the N costliest rows")
    report.add_argument("--sort", choices=("cost", "key"), default="cost", help="row order")
    report.add_argument("--format", choices=("table", "csv", "json"), default="table")
    report.set_defaults(func=_run_report)

    anomalies = subparsers.add_parser(
        "anomalies",
        help="calls whose cost or tokens jump above their key's baseline",
        description=(
            "Replay JSONL cost files through the anomaly detector, in file order, and list "
            "the calls whose cost, input tokens or output tokens stand out."
        ),
    )
    _add_input_arguments(anomalies)
    anomalies.add_argument("--by", default="feature", help="baseline key (default: feature)")
    anomalies.add_argument("--window", type=_positive, default=100)
    anomalies.add_argument("--z-threshold", type=float, default=3.0)
    anomalies.add_argument("--min-samples", type=_positive, default=10)
    anomalies.add_argument("--min-cost", default="0", help="ignore calls cheaper than this (USD)")
    anomalies.add_argument("--format", choices=("table", "csv", "json"), default="table")
    anomalies.set_defaults(func=_run_anomalies)


def _add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="JSONL or JSONL.gz cost files")
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="skip corrupt lines (and say how many) instead of stopping at the first",
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def _instant(text: str) -> datetime:
    """``2026-11-01`` (midnight UTC) or an ISO datetime (UTC when it has no offset)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date (2026-11-01) or an ISO time (2026-11-01T09:30:00Z), got {text!r}"
        ) from None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


class _Progress:
    """Lines read so far, redrawn in place on stderr; silent unless stderr is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.started = time.monotonic()
        self.last = 0.0
        self.drawn = False

    def __call__(self, reader: RecordReader) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < 0.5:
            return
        self.last = now
        rate = reader.lines / max(now - self.started, 1e-9)
        self.stream.write(
            f"\r{reader.current_path}: {reader.lines:,} lines read ({rate:,.0f}/s)\x1b[K"
        )
        self.stream.flush()
        self.drawn = True

    def clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _reader(args: argparse.Namespace, progress: _Progress) -> RecordReader:
    from llmcost.reading import RecordReader

    return RecordReader(
        args.files,
        strict=not args.lenient,
        on_progress=progress,
        progress_every=20_000,
        quiet=True,  # this command reports the counts itself, once
    )


def _report_input(reader: RecordReader) -> None:
    notes = []
    if reader.skipped:
        first = reader.corrupt[0] if reader.corrupt else None
        notes.append(
            f"skipped {reader.skipped:,} corrupt line(s)" + (f" (first: {first})" if first else "")
        )
    if reader.duplicates:
        notes.append(f"ignored {reader.duplicates:,} duplicate record(s)")
    for note in notes:
        print(f"llmcost: {note}", file=sys.stderr)


def _output(text: str) -> None:
    """Print to stdout; a reader that went away (``| head``) is not an error."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            pass


def _fail(message: str) -> int:
    print(f"llmcost: error: {message}", file=sys.stderr)
    return 1


def _run_report(args: argparse.Namespace) -> int:
    from llmcost.errors import CorruptRecordError
    from llmcost.report import format_csv, format_json, format_table, summarize

    progress = _Progress(sys.stderr)
    reader = _reader(args, progress)
    try:
        rows = summarize(reader, by=args.by, since=args.since, until=args.until, sort=args.sort)
    except CorruptRecordError as exc:
        progress.clear()
        return _fail(f"{exc} (use --lenient to skip corrupt lines)")
    except (OSError, ValueError) as exc:
        progress.clear()
        return _fail(str(exc))
    progress.clear()
    _report_input(reader)
    if args.format == "table":
        text = format_table(rows, top=args.top) if rows else "no records"
    elif args.format == "csv":
        text = format_csv(rows, top=args.top).rstrip("\n")
    else:
        text = format_json(rows, top=args.top)
    _output(text)
    return 0


def _run_anomalies(args: argparse.Namespace) -> int:
    import csv
    import json

    from llmcost.anomaly import AnomalyDetector
    from llmcost.errors import CorruptRecordError

    try:
        detector = AnomalyDetector(
            window=args.window,
            z_threshold=args.z_threshold,
            min_samples=args.min_samples,
            min_cost_usd=args.min_cost,
            by=args.by,
        )
    except ValueError as exc:
        return _fail(str(exc))
    progress = _Progress(sys.stderr)
    reader = _reader(args, progress)
    found = []
    try:
        for record in reader:
            found.extend(detector.observe(record))
    except CorruptRecordError as exc:
        progress.clear()
        return _fail(f"{exc} (use --lenient to skip corrupt lines)")
    except OSError as exc:
        progress.clear()
        return _fail(str(exc))
    progress.clear()
    _report_input(reader)
    columns = ("timestamp", *detector.by, "metric", "value", "mean", "z_score", "record_id")
    table = [
        (
            anomaly.timestamp.isoformat(),
            *("" if part is None else part for part in anomaly.key),
            anomaly.metric,
            str(anomaly.value),
            f"{anomaly.mean:.6g}",
            f"{anomaly.z_score:.1f}" if anomaly.z_score != float("inf") else "inf",
            anomaly.record_id,
        )
        for anomaly in found
    ]
    if args.format == "json":
        _output(json.dumps([dict(zip(columns, row, strict=True)) for row in table]))
    elif args.format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(table)
        _output(buffer.getvalue().rstrip("\n"))
    elif not table:
        _output(f"no anomalies in {reader.records:,} records")
    else:
        lines = (columns, *table)
        widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
        _output(
            "\n".join(
                "  ".join(
                    cell.ljust(width) for cell, width in zip(line, widths, strict=True)
                ).rstrip()
                for line in lines
            )
        )
        noun = "anomaly" if len(table) == 1 else "anomalies"
        print(f"{len(table)} {noun} in {reader.records:,} records", file=sys.stderr)
    return 0
