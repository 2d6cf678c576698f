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
import math
import operator
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_DOWN, Context, Decimal
from typing import Any

from llmcost import errors
from llmcost.errors import CorruptRecordError
from llmcost.reading import RecordIdSet, RecordReader
from llmcost.types import CostRecord

__all__ = [
    "DIMENSIONS",
    "Condition",
    "DayAnomaly",
    "Movement",
    "ReportData",
    "Summarizer",
    "SummaryRow",
    "compare_periods",
    "dumps_plain",
    "format_comparison",
    "format_count",
    "format_csv",
    "format_json",
    "format_table",
    "format_usd",
    "key_function",
    "parse_by",
    "parse_where",
    "plain_number",
    "previous_window",
    "printable",
    "summarize",
    "total_row",
    "usd_column",
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
    for name, info in CostRecord.model_fields.items():
        args = set(typing.get_args(info.annotation))
        literal = typing.get_origin(info.annotation) is typing.Literal or any(
            typing.get_origin(arg) is typing.Literal
            for arg in args  # an optional Literal
        )
        if info.annotation in (str, bool) or args == {str, type(None)} or literal:
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


@dataclass(frozen=True)
class Condition:
    """One ``--where`` condition: ``name=value`` (``equal``) or ``name!=value`` (not equal).

    ``name`` is anything :func:`parse_by` accepts; an empty ``value`` stands for "no value"
    (``feature=`` matches the calls tagged with no feature). Booleans read ``true``/``false``.
    """

    name: str
    value: str | None
    equal: bool = True

    def __str__(self) -> str:
        return f"{self.name}{'=' if self.equal else '!='}{self.value or ''}"


def parse_where(conditions: str | Sequence[str]) -> tuple[Condition, ...]:
    """``["feature=search", "replayed!=true"]`` to conditions; bad ones name themselves.

    Conditions on different names must all hold; several ``=`` on one name mean any of those
    values (``--where model=gpt-4o --where model=gpt-4o-mini``), several ``!=`` none of them.

    Example:
        >>> parse_where(["feature=search", "tag:tier!=free"])
        (Condition(name='feature', value='search', equal=True), Condition(name='tag:tier', value='free', equal=False))
    """  # noqa: E501
    items = [conditions] if isinstance(conditions, str) else list(conditions)
    parsed = []
    for item in items:
        name, op, value = item.partition("!=")
        if not op:
            name, op, value = item.partition("=")
        name = name.strip()
        if not op or not name:
            raise ValueError(f"--where {item!r}: expected key=value or key!=value")
        try:
            parse_by(name)
        except ValueError as exc:
            raise ValueError(
                f"--where {item!r}: {exc}{_did_you_mean(name, _key_names())}"
            ) from None
        parsed.append(Condition(name, value or None, op == "="))
    return tuple(parsed)


def _key_names() -> list[str]:
    return [*KEY_FIELDS, *TIME_KEYS]


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'gpt-4o'?"``, or nothing when no choice is close."""
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(choice) for choice in close) + "?"


class _Filter:
    """The ``where`` conditions as a test on a record's values (a tuple over ``fields``)."""

    def __init__(self, where: tuple[Condition, ...], fields: tuple[str, ...]) -> None:
        names = tuple(dict.fromkeys(condition.name for condition in where))
        self.names = names
        self._key = _key_from_sources(names, fields)
        self._tests: list[tuple[int, frozenset[str | None], bool]] = []
        for index, name in enumerate(names):
            equal = frozenset(c.value for c in where if c.name == name and c.equal)
            unequal = frozenset(c.value for c in where if c.name == name and not c.equal)
            if equal:
                self._tests.append((index, equal - unequal, True))
            if unequal:
                self._tests.append((index, unequal, False))
        #: Values seen per name while nothing matched yet: for a "did you mean" at the end.
        self.seen: list[set[str]] = [set() for _ in names]
        self.matched = 0

    def __call__(self, values: tuple[Any, ...]) -> bool:
        key = self._key(values)
        for index, allowed, equal in self._tests:
            if (key[index] in allowed) is not equal:
                if not self.matched:
                    for seen, part in zip(self.seen, key, strict=True):
                        if part is not None and len(seen) < 10_000:
                            seen.add(part)
                return False
        self.matched += 1
        return True

    def hint(self, where: tuple[Condition, ...]) -> str:
        """Why nothing matched: the values seen that are close to those asked for."""
        hints = []
        for condition in where:
            if condition.equal and condition.value is not None:
                seen = self.seen[self.names.index(condition.name)]
                suggestion = _did_you_mean(condition.value, seen)
                if suggestion:
                    hints.append(f"{condition}{suggestion}")
        return "; ".join(hints)


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
        where: str | Sequence[str] | Sequence[Condition] = (),
        fields: Sequence[str] = (),
    ) -> None:
        self.by = parse_by(by)
        self.since = _utc(since, "since")
        self.until = _utc(until, "until")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError(f"since ({self.since}) must be before until ({self.until})")
        self.where = _conditions(where)
        self.duplicates = 0
        self.outside_window = 0
        #: Records left out by ``where``.
        self.filtered_out = 0
        self._ids = RecordIdSet() if dedupe else None
        self._groups: dict[tuple[str | None, ...], list[Any]] = {}
        windowed = self.since is not None or self.until is not None
        # The fields read per record: the values, the key's and the filter's sources, the
        # timestamp if windowed, then any extra ``fields`` a caller reads from the same tuple.
        wanted = [
            *_VALUE_FIELDS,
            *_source_fields(self.by),
            *_source_fields(tuple(condition.name for condition in self.where)),
            *(("timestamp",) if windowed else ()),
            *fields,
        ]
        self.fields: tuple[str, ...] = tuple(dict.fromkeys(wanted))
        self._key = _key_from_sources(self.by, self.fields)
        self._ts_index = self.fields.index("timestamp") if windowed else -1
        self.filter = _Filter(self.where, self.fields) if self.where else None

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
        if self.filter is not None and not self.filter(values):
            self.filtered_out += 1
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


def _conditions(where: str | Sequence[str] | Sequence[Condition]) -> tuple[Condition, ...]:
    if isinstance(where, str):
        return parse_where(where)
    if all(isinstance(item, Condition) for item in where):
        return tuple(item for item in where if isinstance(item, Condition))
    return parse_where([str(item) for item in where])


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
        output_input_ratio=_ratio(outputs, inputs),
    )


def _ratio(outputs: int, inputs: int) -> float | None:
    if not inputs:
        return None
    try:
        return outputs / inputs
    except OverflowError:  # token counts no call has, but a file can carry: never a crash
        return float("inf")


def summarize(
    records: Iterable[CostRecord],
    by: str | Sequence[str] = ("feature",),
    since: datetime | date | None = None,
    until: datetime | date | None = None,
    *,
    sort: str = "cost",
    workers: int | None = None,
    where: str | Sequence[str] | Sequence[Condition] = (),
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
        where: Count only the records that meet these conditions (see :func:`parse_where`),
            e.g. ``["feature=search", "replayed=false"]``.
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
        summarizer = Summarizer(by, since=since, until=until, dedupe=False, where=where)
        count = _worker_count(records) if workers is None else workers
        if count > 1 and records.partition == (0, 1):
            _summarize_in_processes(records, summarizer, count)
        else:
            add_values = summarizer.add_values
            for values in records.iter_fields(summarizer.fields):
                add_values(values)
        summarizer.duplicates = records.duplicates
    else:
        summarizer = Summarizer(by, since=since, until=until, where=where)
        add = summarizer.add
        for record in records:
            add(record)
    return summarizer.rows(sort=sort)


def summarize_into(
    reader: RecordReader,
    summarizer: Summarizer,
    page: ReportData | None = None,
    *,
    workers: int | None = None,
) -> None:
    """Feed ``reader``'s records to ``summarizer`` (and to the HTML report's ``page``) in one
    pass, split between worker processes as :func:`summarize` does for large inputs."""
    count = _worker_count(reader) if workers is None else workers
    if count > 1 and reader.partition == (0, 1):
        _summarize_in_processes(reader, summarizer, count, page)
    elif page is None:
        add_values = summarizer.add_values
        for values in reader.iter_fields(summarizer.fields):
            add_values(values)
    else:
        add_values, add_page = summarizer.add_values, page.add_values
        for values in reader.iter_fields(page.fields):
            add_values(values)
            add_page(values)
    summarizer.duplicates = reader.duplicates
    if page is not None:
        page.sources = reader.paths
        page.duplicates = reader.duplicates


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
    size = plain = 0
    for path in reader.paths:
        try:
            with open(path, "rb") as stream:
                compressed = stream.read(2) == b"\x1f\x8b"
            size += os.path.getsize(path)
            plain += 0 if compressed else os.path.getsize(path)
        except OSError:
            return 1  # let the sequential path raise the error with its usual message
    if not plain:
        return 1  # every worker would decompress every file: no gain
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
    truncated: list[tuple[str, int, str]]
    filtered_out: int
    error: tuple[str, int, str] | None
    #: The HTML report's accumulation of this share (see :mod:`llmcost.report_html`).
    page: dict[str, Any] | None = None


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
    summarizer = Summarizer(
        job["by"], since=job["since"], until=job["until"], dedupe=False, where=job["where"]
    )
    page = None
    if job.get("page") is not None:
        page = ReportData.start(**job["page"], layout=summarizer.fields)
    error = None
    try:
        add_values = summarizer.add_values
        if page is None:
            for values in reader.iter_fields(summarizer.fields):
                add_values(values)
        else:
            add_page = page.add_values
            for values in reader.iter_fields(page.fields):
                add_values(values)
                add_page(values)
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
        truncated=[(e.path, e.line, e.reason) for e in reader.truncated],
        filtered_out=summarizer.filtered_out,
        error=error,
        page=None if page is None else page.share(),
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


def _summarize_in_processes(
    reader: RecordReader, summarizer: Summarizer, count: int, page: ReportData | None = None
) -> None:
    """Split ``reader``'s records by record_id between ``count`` processes; merge exactly.
    With ``page``, each worker also fills the HTML report's data, merged into ``page``."""
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
                "where": summarizer.where,
                "page": None
                if page is None
                else {"since": page.since, "until": page.until, "where": page.where},
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
        summarizer.filtered_out += result.filtered_out
        if page is not None and result.page is not None:
            page.merge(result.page)
        if summarizer.filter is not None:
            summarizer.filter.matched += result.records - result.outside_window
            summarizer.filter.matched -= result.filtered_out
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
    reader.truncated = [CorruptRecordError(*error) for result in done for error in result.truncated]
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


#: Significant digits a money figure starts with; more are shown where rows would look alike.
MONEY_DIGITS = 4
_MAX_MONEY_DIGITS = 40


def format_usd(value: Decimal | None, digits: int = MONEY_DIGITS) -> str:
    """Money for people: ``$0.00036``, ``$0.0125``, ``$1,234.56``; never rounded up.

    The amount is cut (toward zero, never rounded up) to ``digits`` significant digits, but
    whole cents are always kept (``$1,234.56``, never ``$1,235``) and at least two decimals are
    shown. None (an unknown price) is ``-``: never ``$0``. Amounts no call could cost (beyond
    10^15) are shown in scientific notation rather than as hundreds of digits.

    Example:
        >>> format_usd(Decimal("0.00036")), format_usd(Decimal("0.012599")), format_usd(Decimal(2))
        ('$0.00036', '$0.01259', '$2.00')
    """
    if value is None:
        return "-"
    if not value.is_finite():
        return f"${value}"
    if not value:
        return "$0.00"
    # At least whole cents; beyond 10^15 (no call costs that) the first digits say enough.
    precision = digits if value.adjusted() >= 15 else max(digits, value.adjusted() + 3)
    cut = Context(prec=min(precision, MAX_PREC), rounding=ROUND_DOWN, Emax=MAX_EMAX, Emin=MIN_EMIN)
    shown = cut.plus(value).normalize(cut)  # 0.1250 -> 0.125: trailing zeros say nothing
    if shown.adjusted() >= 15:
        return f"${shown:E}"
    if shown.as_tuple().exponent > -2:  # type: ignore[operator]
        shown = shown.quantize(Decimal("0.01"))  # pads with zeros: exact, nothing rounded
    return f"${shown:,f}"


def format_count(value: int) -> str:
    """A count for people: ``12,345``; beyond 10^15 (no call has that many tokens, but a file
    can say so) cut to four digits with an exponent, ``1.234E+400``, not hundreds of digits."""
    if abs(value) < 10**15:
        return f"{value:,}"
    return f"{Context(prec=4, rounding=ROUND_DOWN, Emax=MAX_EMAX).plus(Decimal(value)):E}"


def usd_column(values: Sequence[Decimal | None]) -> list[str]:
    """:func:`format_usd` for a column: the fewest digits (from 4) that keep apart the values
    that differ, so two rows never look equal when they are not.

    Example:
        >>> usd_column([Decimal("0.012345"), Decimal("0.012341")])
        ['$0.012345', '$0.012341']
    """
    distinct = {value for value in values if value is not None}
    for digits in range(MONEY_DIGITS, _MAX_MONEY_DIGITS + 1):
        texts = [format_usd(value, digits) for value in values]
        shown = {text for value, text in zip(values, texts, strict=True) if value is not None}
        if len(shown) == len(distinct):
            return texts
    return texts


_CONTROL = {
    code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))
}  # C0, DEL and C1: what a terminal would obey (ESC sequences, carriage returns, bells)
_CONTROL.update(
    {
        0x2028: "\\u2028",
        0x2029: "\\u2029",
        # Bidirectional overrides and isolates: text that reads differently from what it is.
        **{code: f"\\u{code:04x}" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))},
    }
)


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``, ``\\n``): a tag from a
    request must not move a terminal's cursor, forge a line, or reorder text on screen.

    Example:
        >>> printable("chat\\x1b[2J\\nFAKE")
        'chat\\\\x1b[2J\\\\x0aFAKE'
    """
    if text.isprintable():
        return text
    return text.translate(_CONTROL).encode("utf-8", "backslashreplace").decode("utf-8")


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

    Money is shown by :func:`usd_column` (never rounded up, as many digits as the rows need
    to differ); keys have their control characters escaped (:func:`printable`).

    Example:
        >>> print(format_table(summarize(records)))  # doctest: +SKIP
        feature  requests  unpriced  input tok  output tok  cache read  cost USD  ...
    """
    if top is not None and top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    by = rows[0].by if rows else ("feature",)
    shown = list(rows[:top]) if top is not None else list(rows)
    total = total_row(rows)
    table_rows = list(shown)
    if top is not None and len(rows) > top:
        label = (f"({len(rows) - top} more)", *("" for _ in by[1:]))
        table_rows.append(_sum_rows(rows[top:], by, label, grand=total.total_cost_usd))
    table_rows.append(total)
    costs = usd_column([_shown_cost(row) for row in table_rows])
    averages = usd_column([None if _unknown(row) else row.avg_cost_usd for row in table_rows])
    lines = [[*by, *_HEADERS]]
    for row, cost, average in zip(table_rows, costs, averages, strict=True):
        lines.append(_table_cells(row, "unpriced" if _unknown(row) else cost, average))
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


def _unknown(row: SummaryRow) -> bool:
    """A row with calls and none of them priced: its cost is unknown, not $0."""
    return bool(row.requests) and not row.priced_requests


def _shown_cost(row: SummaryRow) -> Decimal | None:
    return None if _unknown(row) else row.total_cost_usd


def _table_cells(row: SummaryRow, cost: str, average: str) -> list[str]:
    return [
        *("-" if part is None else printable(part) for part in row.key),
        format_count(row.requests),
        format_count(row.unpriced_requests),
        format_count(row.input_tokens),
        format_count(row.output_tokens),
        format_count(row.cache_read_tokens),
        cost,
        average,
        "-" if row.share is None or _unknown(row) else f"{row.share * 100:.1f}%",
        "-" if row.output_input_ratio is None else f"{row.output_input_ratio:.2f}",
    ]


def plain_number(value: Decimal | int) -> str:
    """A number as plain exact digits (``0.00036``, never ``3.6E-4`` or ``0E-8``); amounts
    beyond 10^20 keep an exponent rather than hundreds of digits. Valid in JSON and CSV."""
    if isinstance(value, int):
        return str(value)
    if not value.is_finite():
        raise ValueError(f"{value} has no JSON form")
    if value.adjusted() >= 20:
        return str(value)
    text = format(value, "f")
    return "0" if text in ("-0", "0") else text


def dumps_plain(value: Any) -> str:
    """Compact JSON where Decimals are exact plain numbers (:func:`plain_number`); floats that
    JSON cannot carry (inf, nan) become null.

    Example:
        >>> dumps_plain({"cost": Decimal("0.000036"), "n": [1, None]})
        '{"cost":0.000036,"n":[1,null]}'
    """
    if isinstance(value, Decimal):
        return plain_number(value) if value.is_finite() else "null"
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return "null"
    if isinstance(value, dict):
        items = (
            json.dumps(str(k), ensure_ascii=False) + ":" + dumps_plain(v) for k, v in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps_plain(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


_CUT = Context(prec=MAX_PREC, rounding=ROUND_DOWN, Emax=MAX_EMAX, Emin=MIN_EMIN)


def _cut(value: Decimal | None, places: int) -> Decimal | None:
    """``value`` cut (never rounded up) to ``places`` decimals: plain numbers for quotients."""
    if value is None or not value.is_finite():
        return None
    return value.quantize(Decimal(1).scaleb(-places), context=_CUT).normalize(_CUT)


def _plain_row(row: SummaryRow) -> dict[str, Any]:
    """The row for CSV and JSON: exact sums; quotients cut to a fixed number of decimals."""
    values = _known_money(row)
    values["avg_cost_usd"] = _cut(values["avg_cost_usd"], 12)
    values["share"] = _cut(values["share"], 6)
    values["output_input_ratio"] = (
        _cut(_DIVIDE.divide(Decimal(row.output_tokens), Decimal(row.input_tokens)), 4)
        if row.input_tokens
        else None
    )
    return values


def format_csv(rows: Sequence[SummaryRow], *, top: int | None = None) -> str:
    """CSV with a header, the ``top`` rows (all if None) and a TOTAL row over *all* rows.

    Numbers are plain and exact: sums of money to the last digit, averages cut to 12
    decimals, shares to 6, the output/input ratio to 4. An unknown cost is an empty cell.

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
    for row in [*chosen, total_row(rows)]:
        writer.writerow([_csv_cell(value) for value in _plain_row(row).values()])
    return buffer.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return plain_number(value) if not isinstance(value, Decimal) or value.is_finite() else ""
    return str(value)


def _empty_row(by: tuple[str, ...]) -> SummaryRow:
    return _make_row(by, tuple(None for _ in by), [0, 0, 0, 0, 0, Decimal(0)], Decimal(0))


def format_json(rows: Sequence[SummaryRow], *, top: int | None = None) -> str:
    """``{"by": [...], "rows": [...], "total": {...}}``: plain exact JSON numbers, as CSV.

    Example:
        >>> print(format_json(summarize(records)))  # doctest: +SKIP
        {"by":["feature"],"rows":[{"feature":"chat","requests":1,...}],"total":{...}}
    """
    chosen = rows[:top] if top is not None else rows
    by = rows[0].by if rows else ("feature",)
    total = _plain_row(total_row(rows))
    for name in by:
        total.pop(name)
    return dumps_plain(
        {"by": list(by), "rows": [_plain_row(row) for row in chosen], "total": total}
    )


# --- period over period -----------------------------------------------------------------------


@dataclass(frozen=True)
class Movement:
    """One key's spend in the current period against the previous one.

    Attributes:
        by, key: As in :class:`SummaryRow`.
        current, previous: The key's row in each period (None where it had no call).
    """

    by: tuple[str, ...]
    key: tuple[str | None, ...]
    current: SummaryRow | None
    previous: SummaryRow | None

    @property
    def current_usd(self) -> Decimal:
        return self.current.total_cost_usd if self.current is not None else Decimal(0)

    @property
    def previous_usd(self) -> Decimal:
        return self.previous.total_cost_usd if self.previous is not None else Decimal(0)

    @property
    def change_usd(self) -> Decimal:
        """Exact: current minus previous."""
        return _EXACT.subtract(self.current_usd, self.previous_usd)

    @property
    def change(self) -> Decimal | None:
        """The change as a fraction of the previous spend (None when that was 0)."""
        previous = self.previous_usd
        return _DIVIDE.divide(self.change_usd, previous) if previous else None

    @property
    def label(self) -> str:
        return " / ".join("-" if part is None else part for part in self.key)


def previous_window(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The window of the same length just before ``[since, until)``."""
    return since - (until - since), since


def compare_periods(
    records: Iterable[CostRecord],
    by: str | Sequence[str],
    since: datetime | date,
    until: datetime | date,
    *,
    where: str | Sequence[str] | Sequence[Condition] = (),
) -> list[Movement]:
    """Spend per key in ``[since, until)`` against the window of the same length before it,
    in one pass over ``records``; the biggest changes (up or down) first.

    Example:
        >>> moves = compare_periods(records, "feature", date(2026, 11, 8), date(2026, 11, 15))  # doctest: +SKIP
        >>> [(m.label, m.previous_usd, m.current_usd) for m in moves]  # doctest: +SKIP
        [('search', Decimal('0.70'), Decimal('2.10')), ...]
    """  # noqa: E501
    start, end = _utc(since, "since"), _utc(until, "until")
    assert start is not None
    assert end is not None
    before, _ = previous_window(start, end)
    current = Summarizer(by, since=start, until=end, where=where, dedupe=False)
    previous = Summarizer(by, since=before, until=start, where=where, dedupe=False)
    if isinstance(records, RecordReader):
        values_of: Iterable[tuple[Any, ...]] = records.iter_fields(current.fields)
    else:
        ids = RecordIdSet()
        values_of = (
            tuple(record.__dict__[name] for name in current.fields)
            for record in records
            if ids.add(record.record_id)
        )
    for values in values_of:
        current.add_values(values)
        previous.add_values(values)
    now = {row.key: row for row in current.rows()}
    then = {row.key: row for row in previous.rows()}
    moves = [
        Movement(current.by, key, now.get(key), then.get(key))
        for key in dict.fromkeys([*now, *then])
    ]
    moves.sort(key=lambda m: (-abs(m.change_usd), -m.current_usd, _sortable(m.key)))
    return moves


def format_comparison(moves: Sequence[Movement], *, form: str = "table") -> str:
    """``moves`` as a terminal table, CSV or JSON (plain exact numbers, a TOTAL row)."""
    by = moves[0].by if moves else ("feature",)
    total = Movement(
        by,
        ("TOTAL", *(None for _ in by[1:])),
        total_row([m.current for m in moves if m.current is not None]),
        total_row([m.previous for m in moves if m.previous is not None]),
    )
    everything = [*moves, total]
    if form == "table":
        header = [*by, "previous USD", "current USD", "change USD", "change", "requests"]
        previous = usd_column([m.previous_usd for m in everything])
        current = usd_column([m.current_usd for m in everything])
        changes = usd_column([abs(m.change_usd) for m in everything])
        lines = [header]
        for move, before, now, change in zip(everything, previous, current, changes, strict=True):
            sign = "-" if move.change_usd < 0 else "+" if move.change_usd > 0 else ""
            ratio = move.change
            lines.append(
                [
                    *("-" if part is None else printable(part) for part in move.key),
                    before,
                    now,
                    sign + change,
                    "new"
                    if ratio is None and move.current_usd
                    else "-"
                    if ratio is None
                    else f"{ratio * 100:+.1f}%",
                    f"{move.previous.requests if move.previous else 0:,}"
                    f" -> {move.current.requests if move.current else 0:,}",
                ]
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        out = []
        for index, line in enumerate(lines):
            cells = [
                cell.ljust(width) if column < len(by) else cell.rjust(width)
                for column, (cell, width) in enumerate(zip(line, widths, strict=True))
            ]
            out.append("  ".join(cells).rstrip())
            if index == 0 or index == len(lines) - 2:
                out.append("  ".join("-" * width for width in widths))
        return "\n".join(out)
    rows = [
        {
            **dict(zip(by, move.key, strict=True)),
            "previous_usd": move.previous_usd,
            "current_usd": move.current_usd,
            "change_usd": move.change_usd,
            "change": _cut(move.change, 6),
            "previous_requests": move.previous.requests if move.previous else 0,
            "current_requests": move.current.requests if move.current else 0,
        }
        for move in everything
    ]
    if form == "json":
        return dumps_plain({"by": list(by), "rows": rows[:-1], "total": rows[-1]})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(rows[-1]))
    for row in rows:
        writer.writerow([_csv_cell(value) for value in row.values()])
    return buffer.getvalue()


# --- the HTML report's data (drawn by llmcost.report_html) -----------------------------------
#
# Kept here, next to the summary, because both are filled in the same pass and by the same
# worker processes.

#: The splits shown on the page, in order: (record field, title).
DIMENSIONS = (
    ("feature", "Feature"),
    ("model", "Model"),
    ("user_id", "User"),
    ("project", "Project"),
)
_FIELDS = (
    "timestamp",
    "total_cost_usd",
    "priced",
    "estimated",
    "input_tokens",
    "output_tokens",
    "provider",
    *(name for name, _ in DIMENSIONS),
)
# Splits kept per day (for the movers); the user split is kept as totals only: users can be
# many, days times users would not stay small.
_PER_DAY = ("feature", "model", "project")
_MOVER_DAYS = 7
_ZERO = Decimal(0)
_PRICED_KIND, _ESTIMATED_KIND, _UNPRICED_KIND = range(3)  # how a call was priced
_add_exact = _EXACT.add

# Day anomalies: a day's spend against the days before it (up to 14, at least 5 of them).
_BASELINE_DAYS = 14
_MIN_BASELINE = 5
_Z_THRESHOLD = 3.0


@dataclass
class _Day:
    exact: Decimal = _ZERO  # priced from the provider's usage
    estimated: Decimal = _ZERO  # priced from tokens counted locally
    requests: int = 0
    unpriced: int = 0
    tokens: int = 0


@dataclass
class _Split:
    cost: Decimal = _ZERO
    requests: int = 0
    unpriced: int = 0


@dataclass(frozen=True)
class DayAnomaly:
    """A day whose spend stands out from the days before it."""

    day: date
    spend: Decimal
    mean: float
    z_score: float


@dataclass
class ReportData:
    """Everything the page shows, accumulated in one pass (see :meth:`read`).

    ``since``/``until`` bound the days shown; records of the window just before ``since``
    are read too, for the movers. ``where`` filters records as ``llmcost report --where``.
    """

    since: datetime | None = None
    until: datetime | None = None
    where: tuple[Condition, ...] = ()
    sources: tuple[str, ...] = ()
    days: dict[date, _Day] = field(default_factory=dict)
    per_day: dict[tuple[str, date, str | None], _Split] = field(default_factory=dict)
    users: dict[str | None, _Split] = field(default_factory=dict)
    unpriced_models: dict[tuple[str, str], int] = field(default_factory=dict)
    estimated_models: dict[str, _Split] = field(default_factory=dict)
    records: int = 0
    duplicates: int = 0
    filtered_out: int = 0
    #: The ``where`` filter after the pass (None without conditions): what it matched, and
    #: the values it saw, for a "did you mean" when it matched nothing.
    matcher: _Filter | None = None
    #: The fields of the tuples :meth:`add_values` takes.
    fields: tuple[str, ...] = ()
    _pick: Callable[[tuple[Any, ...]], tuple[Any, ...]] = field(default=tuple, repr=False)
    _earliest: datetime | None = field(default=None, repr=False)
    _cells: dict[tuple[Any, ...], list[Any]] = field(default_factory=dict, repr=False)
    _user_cells: dict[str | None, list[Any]] = field(default_factory=dict, repr=False)
    _derived_at: int = field(default=-1, repr=False)

    @classmethod
    def read(
        cls,
        records: Iterable[CostRecord],
        *,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        where: str | Sequence[str] | Sequence[Condition] = (),
    ) -> ReportData:
        """Accumulate ``records`` (a :class:`~llmcost.reading.RecordReader` is read through
        its fast path); each record_id counts once."""
        data = cls.start(since=since, until=until, where=where)
        if isinstance(records, RecordReader):
            data.sources = records.paths
            rows: Iterable[tuple[Any, ...]] = records.iter_fields(data.fields)
        else:
            ids = RecordIdSet()
            rows = (
                tuple(record.__dict__[name] for name in data.fields)
                for record in records
                if ids.add(record.record_id) or data._duplicate()
            )
        add = data.add_values
        for values in rows:
            add(values)
        if isinstance(records, RecordReader):
            data.duplicates = records.duplicates
        return data

    @classmethod
    def start(
        cls,
        *,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        where: str | Sequence[str] | Sequence[Condition] = (),
        layout: Sequence[str] = (),
    ) -> ReportData:
        """An empty accumulator fed with :meth:`add_values`, one tuple per record over
        ``fields``: ``layout`` (a :class:`~llmcost.report.Summarizer`'s fields, to share one
        pass with it) followed by whatever else this needs."""
        data = cls(since=_utc(since, "since"), until=_utc(until, "until"))
        data.where = _conditions(where)
        if data.since is not None and data.until is not None and data.since >= data.until:
            raise ValueError(f"since ({data.since}) must be before until ({data.until})")
        needed = [*_FIELDS, *(name for c in data.where for name in _sources_of(c.name))]
        data.fields = tuple(dict.fromkeys([*layout, *needed]))
        positions = [data.fields.index(name) for name in _FIELDS]
        data._pick = operator.itemgetter(*positions)
        data.matcher = _Filter(data.where, data.fields) if data.where else None
        # The earliest instant read: the window before ``since``, for the movers.
        if data.since is not None and data.until is not None:
            data._earliest = data.since - (data.until - data.since)
        elif data.since is not None:
            data._earliest = data.since - timedelta(days=_MOVER_DAYS)
        return data

    def add_values(self, values: tuple[Any, ...]) -> None:
        """Count one record, given as its values of :attr:`fields`."""
        mine = self._pick(values)
        stamp = mine[0]
        if (self._earliest is not None and stamp < self._earliest) or (
            self.until is not None and stamp >= self.until
        ):
            return
        if self.matcher is not None and not self.matcher(values):
            self.filtered_out += 1
            return
        self._add(mine)

    def share(self) -> dict[str, Any]:
        """This accumulation as plain data, for a worker process to hand to :meth:`merge`."""
        return {
            "cells": self._cells,
            "users": self._user_cells,
            "records": self.records,
            "filtered_out": self.filtered_out,
        }

    def merge(self, share: dict[str, Any]) -> None:
        """Add another process's :meth:`share` of the same files (disjoint records)."""
        for mine, theirs in ((self._cells, share["cells"]), (self._user_cells, share["users"])):
            for key, cell in theirs.items():
                ours = mine.get(key)
                if ours is None:
                    mine[key] = list(cell)
                else:
                    ours[0] += cell[0]
                    ours[1] += cell[1]
                    ours[2] = _add_exact(ours[2], cell[2])
        self.records += share["records"]
        self.filtered_out += share["filtered_out"]

    def _duplicate(self) -> bool:
        self.duplicates += 1
        return False

    def _add(self, values: tuple[Any, ...]) -> None:
        # The hot path: one cell per (day, feature, model, project, provider, kind), one per
        # user; the views are derived from the cells when the page is drawn (see _derive).
        stamp, cost, priced, estimated, inputs, outputs, provider, feature, model, user, project = (
            values
        )
        self.records += 1
        kind = (
            _UNPRICED_KIND
            if cost is None or not priced
            else _ESTIMATED_KIND
            if estimated
            else _PRICED_KIND
        )
        key = (stamp.date(), feature, model, project, provider, kind)
        cell = self._cells.get(key)
        if cell is None:
            cell = self._cells[key] = [0, 0, _ZERO]
        cell[0] += 1
        cell[1] += inputs + outputs
        if kind != _UNPRICED_KIND:
            cell[2] = _add_exact(cell[2], cost)
        if self.since is not None and stamp < self.since:
            return  # read for the movers only: users are shown for the period itself
        person = self._user_cells.get(user)
        if person is None:
            person = self._user_cells[user] = [0, 0, _ZERO]
        person[0] += 1
        if kind == _UNPRICED_KIND:
            person[1] += 1
        else:
            person[2] = _add_exact(person[2], cost)

    def _derive(self) -> None:
        """Fill the views (days, per-day splits, users, unpriced and estimated models) from
        the cells; done again only when records were added since."""
        if self._derived_at == self.records:
            return
        self._derived_at = self.records
        self.days, self.per_day, self.users = {}, {}, {}
        self.unpriced_models, self.estimated_models = {}, {}
        for (day, feature, model, project, provider, kind), cell in self._cells.items():
            requests, tokens, cost = cell
            entry = self.days.get(day)
            if entry is None:
                entry = self.days[day] = _Day()
            entry.requests += requests
            entry.tokens += tokens
            if kind == _UNPRICED_KIND:
                entry.unpriced += requests
                which = (model or "-", provider)
                self.unpriced_models[which] = self.unpriced_models.get(which, 0) + requests
            elif kind == _ESTIMATED_KIND:
                entry.estimated = _EXACT.add(entry.estimated, cost)
                guess = self.estimated_models.setdefault(model or "-", _Split())
                guess.cost = _EXACT.add(guess.cost, cost)
                guess.requests += requests
            else:
                entry.exact = _EXACT.add(entry.exact, cost)
            for name, value in (("feature", feature), ("model", model), ("project", project)):
                split = self.per_day.setdefault((name, day, value), _Split())
                split.requests += requests
                if kind == _UNPRICED_KIND:
                    split.unpriced += requests
                else:
                    split.cost = _EXACT.add(split.cost, cost)
        for user, (requests, unpriced, cost) in self._user_cells.items():
            self.users[user] = _Split(cost, requests, unpriced)

    # --- what the page shows --------------------------------------------------------------

    def shown_days(self) -> list[date]:
        """Every day of the period, the days without calls included (as zero)."""
        self._derive()
        if self.since is not None:
            first = self.since.date()
        elif self.days:
            first = min(self.days)
        else:
            return []
        if self.until is not None:
            last = (self.until - timedelta(microseconds=1)).date()
        elif self.days:
            last = max(self.days)
        else:
            last = first
        last = max(last, first)
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def periods(self) -> tuple[list[date], list[date]]:
        """(previous, current) days for the movers: the period given by since/until against
        the one before it; else the last 7 days shown against the 7 before (halves when
        fewer than 14 days are shown)."""
        shown = self.shown_days()
        if self.since is not None and self.until is not None:
            length = len(shown)
            return [shown[0] - timedelta(days=length - n) for n in range(length)], shown
        size = _MOVER_DAYS if len(shown) >= 2 * _MOVER_DAYS else len(shown) // 2
        if size == 0:
            return [], shown
        return shown[-2 * size : -size], shown[-size:]

    def split(self, name: str) -> list[tuple[str | None, _Split]]:
        """The shown period's spend per value of ``name``, costliest first."""
        self._derive()
        if name not in _PER_DAY:
            totals = dict(self.users)
        else:
            days = set(self.shown_days())
            totals = {}
            for (dimension, day, value), split in self.per_day.items():
                if dimension != name or day not in days:
                    continue
                total = totals.setdefault(value, _Split())
                total.cost = _EXACT.add(total.cost, split.cost)
                total.requests += split.requests
                total.unpriced += split.unpriced
        return sorted(
            totals.items(), key=lambda item: (-item[1].cost, -item[1].requests, str(item[0]))
        )

    def movers(self, limit: int = 8) -> list[tuple[str, str | None, Decimal, Decimal]]:
        """(dimension title, value, previous spend, current spend), biggest change first."""
        self._derive()
        previous, current = self.periods()
        before, now = set(previous), set(current)
        sums: dict[tuple[str, str | None], list[Decimal]] = {}
        for (dimension, day, value), split in self.per_day.items():
            if dimension == "project" or (day not in before and day not in now):
                continue
            pair = sums.setdefault((dimension, value), [_ZERO, _ZERO])
            slot = 1 if day in now else 0
            pair[slot] = _EXACT.add(pair[slot], split.cost)
        titles = dict(DIMENSIONS)
        moves = [
            (titles[dimension], value, pair[0], pair[1])
            for (dimension, value), pair in sums.items()
            if pair[0] != pair[1]
        ]
        moves.sort(key=lambda m: (-abs(m[3] - m[2]), m[0], str(m[1])))
        return moves[:limit]

    def anomalies(self) -> list[DayAnomaly]:
        """Days whose spend is far above the days before them (z-score of at least 3)."""
        found = []
        history: list[float] = []
        for day in self.shown_days():
            entry = self.days.get(day)
            spend = entry.exact + entry.estimated if entry is not None else _ZERO
            value = _float(spend)
            baseline = history[-_BASELINE_DAYS:]
            if len(baseline) >= _MIN_BASELINE and value > 0:
                mean = sum(baseline) / len(baseline)
                spread = math.sqrt(sum((x - mean) ** 2 for x in baseline) / len(baseline))
                # A floor on the spread: a perfectly flat history must not make a cent an alarm.
                floor = max(spread, 0.1 * mean, 1e-9)
                z_score = (value - mean) / floor
                if z_score >= _Z_THRESHOLD and value > 1.5 * mean:
                    found.append(DayAnomaly(day, spend, mean, z_score))
            history.append(value)
        return found


def _sources_of(name: str) -> tuple[str, ...]:
    return _source_fields((name,))


def _float(value: Decimal) -> float:
    """For drawing only: an amount beyond float's range is drawn as the largest float."""
    number = float(value)  # beyond float's range this is inf, never an error
    return max(-1e300, min(number, 1e300))
