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
from collections.abc import Sequence
from datetime import date, datetime, timezone
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from llmcost.reading import RecordReader
    from llmcost.report import Condition

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``report`` and ``anomalies`` to the ``llmcost`` command line."""
    report = subparsers.add_parser(
        "report",
        help="spend per feature, model, project ... from JSONL cost files",
        description=(
            "Total the spend in JSONL cost files (plain or .gz) per key, most expensive first. "
            "Each record counts once (by record_id); calls of unknown price are counted apart. "
            "Money is cut, never rounded up, with as many digits as the rows need to differ."
        ),
        epilog=(
            "examples:  llmcost report costs/ --by feature,model --where replayed=false\n"
            "           llmcost report 'logs/*.jsonl*' --since 2026-11-08 --until 2026-11-15 "
            "--compare previous\n"
            "           llmcost report costs.jsonl --html spend.html"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_input_arguments(report)
    report.add_argument(
        "--by",
        default="feature",
        metavar="KEYS",
        help="comma-separated keys: record fields (feature, model, project, environment, "
        "user_id, provider, ...), tag:<name>, or hour/day/month (default: feature)",
    )
    _add_where(report)
    report.add_argument(
        "--since", type=_instant, metavar="WHEN", help="from this date or ISO time (UTC)"
    )
    report.add_argument(
        "--until",
        type=_instant,
        metavar="WHEN",
        help="before this date or ISO time (UTC), exclusive",
    )
    report.add_argument(
        "--compare",
        choices=("previous",),
        help="'previous': each key's spend in --since..--until against the window of the "
        "same length just before it, biggest changes first (needs --since; --until "
        "defaults to now)",
    )
    report.add_argument(
        "--top", type=_positive, default=None, metavar="N", help="show the N costliest rows"
    )
    report.add_argument(
        "--sort",
        choices=("cost", "key"),
        default="cost",
        help="row order: most expensive first (cost, the default) or by key (key)",
    )
    report.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table for people (default); csv or json with plain exact numbers and a total",
    )
    report.add_argument(
        "--html",
        metavar="PATH",
        help="also write a self-contained HTML report (daily chart, splits, movers, "
        "anomalies) to PATH",
    )
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
    anomalies.add_argument(
        "--by", default="feature", metavar="KEYS", help="baseline key (default: feature)"
    )
    _add_where(anomalies)
    anomalies.add_argument(
        "--window",
        type=_positive,
        default=100,
        metavar="N",
        help="how many earlier calls of a key make its baseline (default: 100)",
    )
    anomalies.add_argument(
        "--z-threshold",
        type=_z_score,
        default=3.0,
        metavar="Z",
        help="how many standard deviations above the baseline's mean a call must be (default: 3.0)",
    )
    anomalies.add_argument(
        "--min-samples",
        type=_positive,
        default=10,
        metavar="N",
        help="calls a key needs before its calls are judged (default: 10)",
    )
    anomalies.add_argument(
        "--min-cost",
        default="0",
        metavar="USD",
        help="ignore calls cheaper than this (default: 0)",
    )
    anomalies.add_argument(
        "--format",
        choices=("table", "csv", "json"),
        default="table",
        help="table for people (default); csv or json with plain exact numbers",
    )
    anomalies.set_defaults(func=_run_anomalies)


def _add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="+",
        metavar="PATH",
        help="JSONL cost files (plain or gzipped), directories (their *.jsonl* files) or "
        "glob patterns (quoted: 'logs/*.jsonl*')",
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="skip corrupt lines (and say how many) instead of stopping at the first",
    )


def _add_where(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="count only records with KEY=VALUE (or KEY!=VALUE); KEY as in --by; repeat to "
        "combine (several = on one key: any of them); an empty VALUE means none, e.g. "
        "--where replayed=false --where feature!=",
    )


def _z_score(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


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
    from llmcost.reading import RecordReader, expand_paths

    return RecordReader(
        expand_paths(args.files),
        strict=not args.lenient,
        on_progress=progress,
        progress_every=20_000,
        quiet=True,  # this command reports the counts itself, once
    )


def _report_input(reader: RecordReader) -> None:
    from llmcost.report import printable

    notes = []
    for cut in reader.truncated:
        notes.append(f"{printable(str(cut))}: ignored (a write cut short, not corruption)")
    if reader.skipped:
        first = reader.corrupt[0] if reader.corrupt else None
        notes.append(
            f"skipped {reader.skipped:,} corrupt line(s)"
            + (f" (first: {printable(str(first))})" if first else "")
        )
    if reader.duplicates:
        notes.append(f"ignored {reader.duplicates:,} duplicate record(s)")
    for note in notes:
        print(f"llmcost: {note}", file=sys.stderr)


def _nothing_matched(where: Sequence[Condition], hint: str) -> int:
    conditions = " ".join(f"--where {condition}" for condition in where)
    return _fail(f"no record matches {conditions}" + (f" ({hint})" if hint else ""))


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
    from llmcost.report import (
        Summarizer,
        compare_periods,
        format_comparison,
        format_csv,
        format_json,
        format_table,
        parse_where,
        summarize_into,
    )

    try:
        where = parse_where(args.where)
        if args.compare and args.since is None:
            raise ValueError("--compare previous needs --since (the start of the period)")
        if args.compare and args.html:
            raise ValueError("--html compares periods itself; leave out --compare")
        until = args.until
        if args.compare and until is None:
            until = datetime.now(timezone.utc)
        summarizer = Summarizer(args.by, since=args.since, until=until, where=where)
    except ValueError as exc:
        return _fail(str(exc))
    progress = _Progress(sys.stderr)
    matcher = summarizer.filter
    try:
        reader = _reader(args, progress)
        if args.compare:
            moves = compare_periods(reader, args.by, args.since, until, where=where)
            matched = bool(moves)
        elif args.html:
            from llmcost.report_html import ReportData, render_html

            # One pass feeds both the table and the page.
            data = ReportData.start(
                since=args.since, until=args.until, where=where, layout=summarizer.fields
            )
            summarize_into(reader, summarizer, data)
            rows = summarizer.rows(sort=args.sort)
            matched = bool(rows) or bool(data.records)
        else:
            summarize_into(reader, summarizer)
            rows = summarizer.rows(sort=args.sort)
            matched = bool(rows)
    except CorruptRecordError as exc:
        progress.clear()
        return _fail(f"{exc} (use --lenient to skip corrupt lines)")
    except (OSError, ValueError) as exc:
        progress.clear()
        return _fail(str(exc))
    progress.clear()
    _report_input(reader)
    if where and not matched:
        return _nothing_matched(where, matcher.hint(where) if matcher is not None else "")
    if args.html:
        try:
            with open(args.html, "w", encoding="utf-8") as page:
                page.write(render_html(data))
        except OSError as exc:
            return _fail(f"cannot write the HTML report: {exc}")
        print(f"llmcost: wrote {args.html}", file=sys.stderr)
    if args.compare:
        if args.format == "table" and not moves:
            text = "no records in either period"
        else:
            text = format_comparison(moves, form=args.format).rstrip("\n")
    elif args.format == "table":
        text = format_table(rows, top=args.top) if rows else "no records"
    elif args.format == "csv":
        text = format_csv(rows, top=args.top).rstrip("\n")
    else:
        text = format_json(rows, top=args.top)
    _output(text)
    return 0


def _run_anomalies(args: argparse.Namespace) -> int:
    import csv

    from llmcost.anomaly import AnomalyDetector
    from llmcost.errors import CorruptRecordError
    from llmcost.report import _Filter, _source_fields, dumps_plain, parse_where, printable

    try:
        where = parse_where(args.where)
        detector = AnomalyDetector(
            window=args.window,
            z_threshold=args.z_threshold,
            min_samples=args.min_samples,
            min_cost_usd=args.min_cost,
            by=args.by,
        )
    except ValueError as exc:
        return _fail(str(exc))
    fields = _source_fields(tuple(condition.name for condition in where))
    matcher = _Filter(where, fields) if where else None
    progress = _Progress(sys.stderr)
    found = []
    try:
        reader = _reader(args, progress)
        for record in reader:
            if matcher is not None:
                values = record.__dict__
                if not matcher(tuple(values[name] for name in fields)):
                    continue
            found.extend(detector.observe(record))
    except CorruptRecordError as exc:
        progress.clear()
        return _fail(f"{exc} (use --lenient to skip corrupt lines)")
    except (OSError, ValueError) as exc:
        progress.clear()
        return _fail(str(exc))
    progress.clear()
    _report_input(reader)
    if matcher is not None and not matcher.matched:
        return _nothing_matched(where, matcher.hint(where))
    columns = ("timestamp", *detector.by, "metric", "value", "mean", "z_score", "record_id")
    if args.format == "json":
        _output(
            dumps_plain(
                [
                    {
                        "timestamp": anomaly.timestamp.isoformat(),
                        **dict(zip(detector.by, anomaly.key, strict=True)),
                        "metric": anomaly.metric,
                        "value": anomaly.value,
                        "mean": _figure(anomaly.mean),
                        "z_score": _figure(anomaly.z_score, 2),
                        "record_id": anomaly.record_id,
                    }
                    for anomaly in found
                ]
            )
        )
        return 0
    table = [
        (
            anomaly.timestamp.isoformat(),
            *("" if part is None else part for part in anomaly.key),
            anomaly.metric,
            _plain(anomaly.value),
            _plain(_figure(anomaly.mean)),
            _plain(_figure(anomaly.z_score, 2)),
            anomaly.record_id,
        )
        for anomaly in found
    ]
    if args.format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(table)
        _output(buffer.getvalue().rstrip("\n"))
    elif not table:
        _output(f"no anomalies in {reader.records:,} records")
    else:
        shown = [
            (*row[: len(detector.by) + 2], _short(anomaly.value), *row[len(detector.by) + 3 :])
            for row, anomaly in zip(table, found, strict=True)
        ]
        lines = (columns, *(tuple(printable(cell) for cell in row) for row in shown))
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


def _figure(value: float, places: int | None = None) -> Decimal | None:
    """A float statistic as a plain Decimal: 6 significant digits, or ``places`` decimals;
    None for infinity (a baseline with no spread)."""
    if value != value or value in (float("inf"), float("-inf")):
        return None
    if places is not None and abs(value) < 1e15:
        return Decimal(repr(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    return Decimal(f"{value:.6g}")


def _short(value: Decimal | int) -> str:
    """A value for the terminal: plain, but cut with an exponent beyond 10^15."""
    from llmcost.report import format_count, plain_number

    if isinstance(value, int):
        return format_count(value).replace(",", "") if value >= 10**15 else str(value)
    return plain_number(value) if value.adjusted() < 15 else f"{value:.4E}"


def _plain(value: Decimal | int | None) -> str:
    from llmcost.report import plain_number

    return "inf" if value is None else plain_number(value)
