"""Aggregate cost records: which feature, model, project or customer drives the spend.

:func:`summarize` streams through any iterable of :class:`~llmcost.CostRecord` (a list, a
:class:`~llmcost.sinks.MemorySink`'s records, or :func:`llmcost.read_records` over JSONL files)
and returns one :class:`SummaryRow` per key, most expensive first. Records are deduplicated by
``record_id``; calls whose price is unknown are counted apart and never treated as $0.

Example:
    >>> import llmcost
    >>> from llmcost.report import format_table, summarize
    >>> records = llmcost.read_records("costs.jsonl")  # doctest: +SKIP
    >>> rows = summarize(records, by=("feature", "model"))  # doctest: +SKIP
    >>> print(format_table(rows, top=10))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import operator
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any

from llmcost import errors
from llmcost.errors import CorruptRecordError
from llmcost.reading import RecordIdSet, RecordReader
from llmcost.types import CostRecord, dumps_exact

__all__ = [
    "Summarizer",
    "SummaryRow",
    "format_csv",
    "format_json",
    "format_table",
    "key_function",
    "parse_by",
    "summarize",
    "total_row",
]

logger = logging.getLogger("llmcost")

# Sums of money must be exact whatever the magnitudes: with this context an addition never
# rounds (the default 28 digits could, when cents and sub-micro-dollar amounts mix).
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
# Averages and shares are quotients: rounded to 28 significant digits, plenty for display.
_DIVIDE = Context(prec=28)
_exact_add = _EXACT.add

#: Keys computed from the timestamp (UTC): for trends, e.g. ``by=("day", "feature")``.
TIME_KEYS = {"hour": 13, "day": 10, "month": 7}
_TAG_PREFIX = "tag:"


def _key_fields() -> tuple[str, ...]:
    names = []
    for name, field in CostRecord.model_fields.items():
        args = set(typing.get_args(field.annotation))
        literal = typing.get_origin(field.annotation) is typing.Literal
        if field.annotation in (str, bool) or args == {str, type(None)} or literal:
            names.append(name)
    return tuple(names)


#: The CostRecord fields a report or an anomaly baseline can be keyed by.
KEY_FIELDS: tuple[str, ...] = _key_fields()
# The key fields whose values are already ``str | None`` (no conversion for the key).
_TEXT_FIELDS = frozenset(
    name
    for name in KEY_FIELDS
    if set(typing.get_args(CostRecord.model_fields[name].annotation)) <= {str, type(None)}
    and CostRecord.model_fields[name].annotation is not bool
)


def parse_by(by: str | Sequence[str]) -> tuple[str, ...]:
    """Normalise a grouping: ``"feature,model"`` or ``("feature", "model")``.

    Valid names are the record's text fields (:data:`KEY_FIELDS`: ``feature``, ``model``,
    ``project``, ``environment``, ``user_id``, ``provider``, ...), ``tag:<name>`` for a tag, and
    ``hour``, ``day`` or ``month`` of the timestamp (UTC).

    Example:
        >>> parse_by("feature, tag:tier")
        ('feature', 'tag:tier')
    """
    names = [part.strip() for part in by.split(",")] if isinstance(by, str) else list(by)
    if not names or any(not isinstance(name, str) or not name for name in names):
        raise ValueError(f"by must name at least one field, got {by!r}")
    for name in names:
        if name in KEY_FIELDS or name in TIME_KEYS:
            continue
        if name.startswith(_TAG_PREFIX) and len(name) > len(_TAG_PREFIX):
            continue
        raise ValueError(
            f"cannot group by {name!r}: use one of {', '.join(KEY_FIELDS)}, "
            f"{', '.join(TIME_KEYS)} or tag:<name>"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"by names a field twice: {by!r}")
    return tuple(names)


def _source_fields(by: tuple[str, ...]) -> tuple[str, ...]:
    """The CostRecord fields needed to compute the key ``by``."""
    needed: list[str] = []
    for name in by:
        source = "timestamp" if name in TIME_KEYS else "tags" if name.startswith("tag:") else name
        if source not in needed:
            needed.append(source)
    return tuple(needed)


def _key_from_sources(
    by: tuple[str, ...], sources: tuple[str, ...]
) -> Callable[[tuple[Any, ...]], tuple[str | None, ...]]:
    """A function from the values of ``sources`` to the key tuple for ``by``."""
    getters: list[Callable[[tuple[Any, ...]], str | None]] = []
    for name in by:
        if name in TIME_KEYS:
            index, width = sources.index("timestamp"), TIME_KEYS[name]
            getters.append(lambda v, i=index, w=width: v[i].isoformat()[:w])  # type: ignore[misc]
        elif name.startswith(_TAG_PREFIX):
            index, tag = sources.index("tags"), name[len(_TAG_PREFIX) :]
            getters.append(lambda v, i=index, t=tag: v[i].get(t))  # type: ignore[misc]
        else:
            index = sources.index(name)
            getters.append(lambda v, i=index: _text(v[i]))  # type: ignore[misc]
    if all(name in _TEXT_FIELDS for name in by):
        # The common case (text fields only): a C-level tuple of the values, no conversion.
        indexes = [sources.index(name) for name in by]
        if len(indexes) == 1:
            only = indexes[0]
            return lambda values: (values[only],)
        return operator.itemgetter(*indexes)
    return lambda values: tuple(get(values) for get in getters)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def key_function(by: str | Sequence[str]) -> Callable[[CostRecord], tuple[str | None, ...]]:
    """A function giving a record's key for the grouping ``by`` (see :func:`parse_by`).

    Example:
        >>> key = key_function("provider,model")
        >>> key(CostRecord(provider="openai", operation="chat", model="gpt-4o"))
        ('openai', 'gpt-4o')
    """
    names = parse_by(by)
    sources = _source_fields(names)
    from_sources = _key_from_sources(names, sources)
    return lambda record: from_sources(tuple(getattr(record, name) for name in sources))


def _utc(value: datetime | date | None, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        if not isinstance(value, date):
            raise TypeError(f"{name} must be a datetime or a date, got {value!r}")
        return datetime.combine(value, time(0), tzinfo=timezone.utc)
    if value.tzinfo is None:
        raise ValueError(f"{name}={value!r} has no timezone; give an aware datetime (UTC)")
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class SummaryRow:
    """One line of a report: the spend of one key.

    Attributes:
        by: The grouping, e.g. ``("feature", "model")``.
        key: This row's values for ``by``; None where a record had no value.
        requests: Calls counted (each record once, priced or not).
        unpriced_requests: Calls whose model had no price: their cost is unknown, not $0.
        input_tokens, output_tokens, cache_read_tokens: Token sums over all the calls.
        total_cost_usd: Exact sum of the priced calls' cost.
        avg_cost_usd: ``total_cost_usd`` per *priced* call (None when none was priced).
        share: This row's fraction of the report's total spend (None when that total is 0).
        output_input_ratio: ``output_tokens / input_tokens`` (None without input tokens).
    """

    by: tuple[str, ...]
    key: tuple[str | None, ...]
    requests: int
    unpriced_requests: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    total_cost_usd: Decimal
    avg_cost_usd: Decimal | None
    share: Decimal | None
    output_input_ratio: float | None

    @property
    def priced_requests(self) -> int:
        """Calls with a known price."""
        return self.requests - self.unpriced_requests

    @property
    def label(self) -> str:
        """The key as text for display: ``"support_chat / gpt-4o"``; ``-`` stands for None."""
        return " / ".join("-" if part is None else part for part in self.key)

    def as_dict(self) -> dict[str, Any]:
        """A flat dict: the ``by`` fields, then the figures (Decimals stay Decimals)."""
        data: dict[str, Any] = dict(zip(self.by, self.key, strict=True))
        data.update(
            requests=self.requests,
            unpriced_requests=self.unpriced_requests,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cache_read_tokens,
            total_cost_usd=self.total_cost_usd,
            avg_cost_usd=self.avg_cost_usd,
            share=self.share,
            output_input_ratio=self.output_input_ratio,
        )
        return data


# Slots of an accumulator list, kept as a list for speed (one per key).
_REQ, _UNPRICED, _IN, _OUT, _CACHE, _COST = range(6)
_VALUE_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "total_cost_usd", "priced")


class Summarizer:
    """The streaming accumulator behind :func:`summarize`: feed records, then read rows.

    Memory holds one accumulator per key plus, for deduplication, one entry per distinct
    record_id (about 80 bytes each, see :class:`~llmcost.reading.RecordIdSet`), never the
    records themselves.

    Attributes:
        duplicates: Records skipped because their record_id was already counted.
        outside_window: Records skipped because they fall outside ``since``/``until``.

    Example:
        >>> summarizer = Summarizer(by="model")
        >>> summarizer.add(CostRecord(provider="openai", operation="chat", model="gpt-4o",
        ...                           total_cost_usd=Decimal("0.01"), priced=True))
        >>> [(row.key, row.total_cost_usd) for row in summarizer.rows()]
        [(('gpt-4o',), Decimal('0.01'))]
    """

    def __init__(
        self,
        by: str | Sequence[str] = ("feature",),
        *,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        dedupe: bool = True,
    ) -> None:
        self.by = parse_by(by)
        self.since = _utc(since, "since")
        self.until = _utc(until, "until")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError(f"since ({self.since}) must be before until ({self.until})")
        self.duplicates = 0
        self.outside_window = 0
        self._ids = RecordIdSet() if dedupe else None
        self._groups: dict[tuple[str | None, ...], list[Any]] = {}
        key_sources = _source_fields(self.by)
        windowed = self.since is not None or self.until is not None
        # The fields read per record: the values, the key's sources, the timestamp if filtered.
        self.fields: tuple[str, ...] = (
            *_VALUE_FIELDS,
            *(name for name in key_sources if name not in _VALUE_FIELDS),
            *(("timestamp",) if windowed and "timestamp" not in key_sources else ()),
        )
        self._key = _key_from_sources(self.by, self.fields)
        self._ts_index = self.fields.index("timestamp") if windowed else -1

    def add(self, record: CostRecord) -> None:
        """Count one record (skipped if its record_id was seen or it is outside the window)."""
        if self._ids is not None and not self._ids.add(record.record_id):
            self.duplicates += 1
            return
        values = record.__dict__
        self.add_values(tuple(values[name] for name in self.fields))

    def add_values(self, values: tuple[Any, ...]) -> None:
        """Count one record given as the values of :attr:`fields` (already deduplicated)."""
        if self._ts_index >= 0:
            stamp = values[self._ts_index]
            if (self.since is not None and stamp < self.since) or (
                self.until is not None and stamp >= self.until
            ):
                self.outside_window += 1
                return
        key = self._key(values)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = [0, 0, 0, 0, 0, Decimal(0)]
        inputs, outputs, cached, cost, priced = values[:5]
        group[_REQ] += 1
        group[_IN] += inputs
        group[_OUT] += outputs
        group[_CACHE] += cached
        if cost is None or not priced:
            group[_UNPRICED] += 1
        else:
            group[_COST] = _exact_add(group[_COST], cost)

    def rows(self, *, sort: str = "cost") -> list[SummaryRow]:
        """The rows so far: most expensive first (``sort="cost"``) or by key (``"key"``)."""
        if sort not in ("cost", "key"):
            raise ValueError(f"sort must be 'cost' or 'key', got {sort!r}")
        grand = Decimal(0)
        for group in self._groups.values():
            grand = _EXACT.add(grand, group[_COST])
        rows = [_make_row(self.by, key, group, grand) for key, group in self._groups.items()]
        if sort == "cost":
            rows.sort(key=lambda row: (-row.total_cost_usd, -row.requests, _sortable(row.key)))
        else:
            rows.sort(key=lambda row: _sortable(row.key))
        return rows


def _sortable(key: tuple[str | None, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((part is not None, part or "") for part in key)


def _make_row(
    by: tuple[str, ...], key: tuple[str | None, ...], group: list[Any], grand: Decimal
) -> SummaryRow:
    requests, unpriced, inputs, outputs, cached, cost = group
    priced = requests - unpriced
    return SummaryRow(
        by=by,
        key=key,
        requests=requests,
        unpriced_requests=unpriced,
        input_tokens=inputs,
        output_tokens=outputs,
        cache_read_tokens=cached,
        total_cost_usd=cost,
        avg_cost_usd=_DIVIDE.divide(cost, priced) if priced else None,
        share=_DIVIDE.divide(cost, grand) if grand else None,
        output_input_ratio=outputs / inputs if inputs else None,
    )


def summarize(
    records: Iterable[CostRecord],
    by: str | Sequence[str] = ("feature",),
    since: datetime | date | None = None,
    until: datetime | date | None = None,
    *,
    sort: str = "cost",
    workers: int | None = None,
) -> list[SummaryRow]:
    """Total the spend per key, most expensive first, streaming through ``records``.

    Each record counts once (by ``record_id``); ``since`` is inclusive and ``until`` exclusive
    (aware datetimes, or dates meaning midnight UTC). Given a fresh
    :class:`~llmcost.reading.RecordReader` (what :func:`llmcost.read_records` returns), only
    the needed fields of each line are read, through the reader's validated fast path, and
    large uncompressed files are split between worker processes by record_id (each process
    reads every line but parses only its share; the result is identical, see ``workers``).

    Args:
        records: Any iterable of records, e.g. ``llmcost.read_records("costs.jsonl")``.
        by: Field names (see :func:`parse_by`), e.g. ``("feature", "model")`` or ``"day"``.
        since: Count only records at or after this instant.
        until: Count only records before this instant.
        sort: ``"cost"`` (most expensive first, the default) or ``"key"`` (for trends).
        workers: Processes for a RecordReader input: None picks 1 for inputs under
            256 MB or compressed, else up to 4 (one per available core); 1 never spawns.

    Example:
        >>> from decimal import Decimal
        >>> records = [
        ...     CostRecord(provider="openai", operation="chat", feature="chat",
        ...                input_tokens=100, output_tokens=20,
        ...                total_cost_usd=Decimal("0.002"), priced=True),
        ...     CostRecord(provider="openai", operation="chat", feature="search",
        ...                input_tokens=50, output_tokens=5,
        ...                total_cost_usd=Decimal("0.0005"), priced=True),
        ... ]
        >>> for row in summarize(records):
        ...     print(row.key, row.total_cost_usd, row.share)
        ('chat',) 0.002 0.8
        ('search',) 0.0005 0.2
    """
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers must be a positive int or None, got {workers!r}")
    if isinstance(records, RecordReader):
        summarizer = Summarizer(by, since=since, until=until, dedupe=False)
        count = _worker_count(records) if workers is None else workers
        if count > 1 and records.partition == (0, 1):
            _summarize_in_processes(records, summarizer, count)
        else:
            add_values = summarizer.add_values
            for values in records.iter_fields(summarizer.fields):
                add_values(values)
        summarizer.duplicates = records.duplicates
    else:
        summarizer = Summarizer(by, since=since, until=until)
        add = summarizer.add
        for record in records:
            add(record)
    return summarizer.rows(sort=sort)


# --- several processes for large files ------------------------------------------------------

#: Uncompressed input at least this large is summarized by several processes when the
#: machine has the cores: below it, starting the processes costs more than it saves.
PARALLEL_MIN_BYTES = 256 * 1024 * 1024
_MAX_WORKERS = 4


def _worker_count(reader: RecordReader) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows
        cores = os.cpu_count() or 1
    if cores < 2:
        return 1
    size = 0
    for path in reader.paths:
        try:
            with open(path, "rb") as stream:
                if stream.read(2) == b"\x1f\x8b":
                    return 1  # every worker would decompress the whole file: no gain
            size += os.path.getsize(path)
        except OSError:
            return 1  # let the sequential path raise the error with its usual message
    return min(cores, _MAX_WORKERS) if size >= PARALLEL_MIN_BYTES else 1


@dataclass
class _ShareResult:
    groups: dict[tuple[str | None, ...], list[Any]]
    outside_window: int
    lines: int
    records: int
    skipped: int
    duplicates: int
    blank_lines: int
    corrupt: list[tuple[str, int, str]]
    error: tuple[str, int, str] | None


# A worker is a plain ``python -c`` process, not multiprocessing: multiprocessing's "spawn"
# re-imports the caller's __main__ (a script without an ``if __name__ == "__main__"`` guard
# would start over), and "fork" is unsafe in a process with threads. Arguments go in as one
# pickle on stdin; progress and the result come back as a stream of pickles on stdout.
_WORKER_BOOT = (
    "import pickle, sys; job = pickle.load(sys.stdin.buffer); sys.path[:0] = job['path']; "
    "from llmcost.report import _worker_main; _worker_main(job)"
)


def _worker_main(job: dict[str, Any]) -> None:
    """The body of one worker process (see ``_WORKER_BOOT``)."""
    out = sys.stdout.buffer
    share = job["share"]

    def progress(reader: RecordReader) -> None:
        if share[0] == 0:
            pickle.dump(("progress", reader.lines), out)
            out.flush()

    pickle.dump(("done", _summarize_share(job, progress)), out)
    out.flush()


def _summarize_share(
    job: dict[str, Any], progress: Callable[[RecordReader], None] | None
) -> _ShareResult:
    """The records whose record_id falls in ``job["share"]``, summarized."""
    reader = RecordReader(
        job["paths"],
        strict=job["strict"],
        partition=job["share"],
        quiet=True,
        on_progress=progress,
        progress_every=20_000,
    )
    summarizer = Summarizer(job["by"], since=job["since"], until=job["until"], dedupe=False)
    error = None
    try:
        add_values = summarizer.add_values
        for values in reader.iter_fields(summarizer.fields):
            add_values(values)
    except CorruptRecordError as exc:
        error = (exc.path, exc.line, exc.reason)
    return _ShareResult(
        groups=summarizer._groups,
        outside_window=summarizer.outside_window,
        lines=reader.lines,
        records=reader.records,
        skipped=reader.skipped,
        duplicates=reader.duplicates,
        blank_lines=reader.blank_lines,
        corrupt=[(e.path, e.line, e.reason) for e in reader.corrupt],
        error=error,
    )


def _collect(
    process: subprocess.Popen[bytes],
    results: list[_ShareResult | None],
    index: int,
    reader: RecordReader,
) -> None:
    """Read one worker's messages: progress (worker 0 only), then its result."""
    assert process.stdout is not None
    with process.stdout:
        try:
            while True:
                kind, value = pickle.load(process.stdout)
                if kind == "progress":
                    reader.lines = value
                else:
                    results[index] = value
                    return
        except (EOFError, pickle.UnpicklingError):
            return  # the worker died; its exit code and stderr tell why


def _stop_all(workers: list[subprocess.Popen[bytes]]) -> None:
    for process in workers:
        if process.poll() is None:
            process.kill()
            process.wait()


def _summarize_in_processes(reader: RecordReader, summarizer: Summarizer, count: int) -> None:
    """Split ``reader``'s records by record_id between ``count`` processes; merge exactly."""
    reader._start()  # the reader is used up, as after a sequential run
    with contextlib.ExitStack() as stack:
        jobs = [
            {
                "path": [entry for entry in sys.path if entry],
                "paths": reader.paths,
                "strict": reader.strict,
                "share": (part, count),
                "by": summarizer.by,
                "since": summarizer.since,
                "until": summarizer.until,
            }
            for part in range(count)
        ]
        # stderr goes to a file: a pipe nobody reads could fill up and stall the worker.
        stderr_files = [stack.enter_context(tempfile.TemporaryFile()) for _ in jobs]
        workers: list[subprocess.Popen[bytes]] = []
        stack.callback(_stop_all, workers)
        for job, stderr in zip(jobs, stderr_files, strict=True):
            process = subprocess.Popen(
                [sys.executable, "-c", _WORKER_BOOT],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
            workers.append(process)
            assert process.stdin is not None
            process.stdin.write(pickle.dumps(job))
            process.stdin.close()
        results: list[_ShareResult | None] = [None] * count
        threads = [
            threading.Thread(target=_collect, args=(process, results, index, reader), daemon=True)
            for index, process in enumerate(workers)
        ]
        for thread in threads:
            thread.start()
        reader.current_path = f"{len(reader.paths)} file(s) in {count} processes"
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.5)
                if reader.on_progress is not None:
                    reader.on_progress(reader)
        for process, stderr, result in zip(workers, stderr_files, results, strict=True):
            if process.wait() != 0 or result is None:
                stderr.seek(0)
                message = stderr.read().decode("utf-8", "replace").strip()
                raise RuntimeError(
                    "a llmcost report worker process failed: "
                    + (message or f"exit code {process.returncode}")
                )
    done = [result for result in results if result is not None]
    order = {path: index for index, path in enumerate(reader.paths)}
    first_errors = [result.error for result in done if result.error is not None]
    if first_errors:
        path, line, reason = min(first_errors, key=lambda e: (order.get(e[0], 0), e[1]))
        raise CorruptRecordError(path, line, reason)
    groups = summarizer._groups
    for result in done:
        for key, theirs in result.groups.items():
            ours = groups.get(key)
            if ours is None:
                groups[key] = theirs
                continue
            for slot in (_REQ, _UNPRICED, _IN, _OUT, _CACHE):
                ours[slot] += theirs[slot]
            ours[_COST] = _exact_add(ours[_COST], theirs[_COST])
        summarizer.outside_window += result.outside_window
        reader.records += result.records
        reader.skipped += result.skipped
        reader.duplicates += result.duplicates
        reader.blank_lines += result.blank_lines
    reader.lines = done[0].lines  # every worker reads every line
    corrupt = sorted(
        (error for result in done for error in result.corrupt),
        key=lambda e: (order.get(e[0], 0), e[1]),
    )
    reader.corrupt = [CorruptRecordError(*error) for error in corrupt[:100]]
    # The workers' counters live in their processes: count here what they found.
    if reader.skipped:
        errors.count("read.corrupt_lines", reader.skipped)
    if reader.duplicates:
        errors.count("read.duplicate_records", reader.duplicates)
    if not reader.quiet and (reader.skipped or reader.duplicates):
        logger.warning(
            "llmcost skipped %d corrupt line(s) and %d duplicate record(s) in %s",
            reader.skipped,
            reader.duplicates,
            ", ".join(reader.paths),
        )
    if reader.on_progress is not None:
        reader.on_progress(reader)


def total_row(rows: Sequence[SummaryRow]) -> SummaryRow:
    """One row adding up ``rows`` (its key is ``("TOTAL", None, ...)``).

    Example:
        >>> total_row([]).requests
        0
    """
    by = rows[0].by if rows else ("feature",)
    return _sum_rows(rows, by, ("TOTAL", *(None for _ in by[1:])), grand=None)


def _sum_rows(
    rows: Sequence[SummaryRow],
    by: tuple[str, ...],
    key: tuple[str | None, ...],
    grand: Decimal | None,
) -> SummaryRow:
    """Add ``rows`` up; the share is taken of ``grand`` (of the sum itself when None)."""
    group: list[Any] = [0, 0, 0, 0, 0, Decimal(0)]
    for row in rows:
        group[_REQ] += row.requests
        group[_UNPRICED] += row.unpriced_requests
        group[_IN] += row.input_tokens
        group[_OUT] += row.output_tokens
        group[_CACHE] += row.cache_read_tokens
        group[_COST] = _EXACT.add(group[_COST], row.total_cost_usd)
    return _make_row(by, key, group, group[_COST] if grand is None else grand)


# --- formatting -----------------------------------------------------------------------------

_HEADERS = (
    "requests",
    "unpriced",
    "input tok",
    "output tok",
    "cache read",
    "cost USD",
    "avg/request",
    "share",
    "out/in",
)


def _money(value: Decimal | None, places: int) -> str:
    if value is None:
        return "-"
    if 0 < abs(value) < Decimal(1).scaleb(-places):
        # Too small for the column's places: two significant digits, never a false $0.0000.
        return f"${value.quantize(Decimal(1).scaleb(value.adjusted() - 1), context=_DIVIDE):f}"
    return f"${value.quantize(Decimal(1).scaleb(-places), context=_DIVIDE):,}"


def _known_money(row: SummaryRow) -> dict[str, Any]:
    """The row's fields for output, with the money of a row that had no priced call as None:
    its cost is unknown, and showing $0 would say it was free."""
    values = row.as_dict()
    if row.requests and not row.priced_requests:
        for name in ("total_cost_usd", "avg_cost_usd", "share"):
            values[name] = None
    return values


def format_table(rows: Sequence[SummaryRow], *, top: int | None = None) -> str:
    """A terminal table of the ``top`` rows (all if None) and a TOTAL line over *all* rows.

    Example:
        >>> print(format_table(summarize(records)))  # doctest: +SKIP
        feature  requests  unpriced  input tok  output tok  cache read  cost USD  ...
    """
    if top is not None and top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    by = rows[0].by if rows else ("feature",)
    shown = list(rows[:top]) if top is not None else list(rows)
    total = total_row(rows)
    body = [_table_cells(row) for row in shown]
    lines = [[*by, *_HEADERS], *body]
    if top is not None and len(rows) > top:
        label = (f"({len(rows) - top} more)", *("" for _ in by[1:]))
        hidden = _sum_rows(rows[top:], by, label, grand=total.total_cost_usd)
        lines.append(_table_cells(hidden))
    lines.append(_table_cells(total))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text_columns = len(by)
    out = []
    for index, line in enumerate(lines):
        cells = [
            cell.ljust(width) if column < text_columns else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(cells).rstrip())
        if index == 0 or index == len(lines) - 2:
            out.append("  ".join("-" * width for width in widths))
    return "\n".join(out)


def _table_cells(row: SummaryRow) -> list[str]:
    return [*("-" if part is None else part for part in row.key), *_figures(row)]


def _figures(row: SummaryRow) -> list[str]:
    unknown = bool(row.requests) and not row.priced_requests
    return [
        f"{row.requests:,}",
        f"{row.unpriced_requests:,}",
        f"{row.input_tokens:,}",
        f"{row.output_tokens:,}",
        f"{row.cache_read_tokens:,}",
        "unpriced" if unknown else _money(row.total_cost_usd, 4),
        _money(row.avg_cost_usd, 6),
        "-" if row.share is None or unknown else f"{row.share * 100:.1f}%",
        "-" if row.output_input_ratio is None else f"{row.output_input_ratio:.2f}",
    ]


def _exact_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")  # plain digits: "0", never "0E+7"
    return str(value)


def format_csv(rows: Sequence[SummaryRow], *, top: int | None = None) -> str:
    """CSV with a header; exact figures (full-precision Decimals), no total line.

    Example:
        >>> print(format_csv(summarize(records)))  # doctest: +SKIP
        feature,requests,unpriced_requests,input_tokens,...,total_cost_usd,...
    """
    chosen = rows[:top] if top is not None else rows
    by = rows[0].by if rows else ("feature",)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = list(_empty_row(by).as_dict())
    writer.writerow(header)
    for row in chosen:
        writer.writerow([_exact_text(value) for value in _known_money(row).values()])
    return buffer.getvalue()


def _empty_row(by: tuple[str, ...]) -> SummaryRow:
    return _make_row(by, tuple(None for _ in by), [0, 0, 0, 0, 0, Decimal(0)], Decimal(0))


def format_json(rows: Sequence[SummaryRow], *, top: int | None = None) -> str:
    """``{"by": [...], "rows": [...], "total": {...}}`` with money as exact JSON numbers.

    Example:
        >>> print(format_json(summarize(records)))  # doctest: +SKIP
        {"by":["feature"],"rows":[{"feature":"chat","requests":1,...}],"total":{...}}
    """
    chosen = rows[:top] if top is not None else rows
    by = rows[0].by if rows else ("feature",)
    total = _known_money(total_row(rows))
    for name in by:
        total.pop(name)
    body = ",".join(dumps_exact(_known_money(row)) for row in chosen)
    return (
        '{"by":'
        + json.dumps(list(by), ensure_ascii=False, separators=(",", ":"))
        + ',"rows":['
        + body
        + '],"total":'
        + dumps_exact(total)
        + "}"
    )
