"""Read cost records back from JSONL files (plain or gzip), streaming, line by line.

A corrupt line is an error that names the file, the line number and the reason
(:class:`~llmcost.errors.CorruptRecordError`); in lenient mode it is skipped and counted
instead. A record_id seen before is a duplicate: it is counted, warned about once per file, and
yielded only the first time, so a file read twice or an overlap between rotated files never
doubles a cost.

Example:
    >>> import llmcost
    >>> for record in llmcost.read_records("costs.jsonl"):  # doctest: +SKIP
    ...     print(record.feature, record.total_cost_usd)
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import re
import typing
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from llmcost import errors
from llmcost.errors import CorruptRecordError
from llmcost.types import CostRecord

__all__ = ["RecordReader", "expand_paths", "read_records"]

logger = logging.getLogger("llmcost")

PathLike = str | os.PathLike[str]

_JSON_WHITESPACE = " \t\r\n"
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_KEPT_ERRORS = 100
_STORED_FIELDS = ("record_id", "timestamp")


def read_records(
    paths: PathLike | Iterable[PathLike],
    *,
    strict: bool = True,
) -> RecordReader:
    """Iterate the :class:`~llmcost.CostRecord` objects stored in one or more JSONL files.

    Files are read in the order given, a line at a time (memory stays flat however large the
    files are); ``.gz`` files (detected by their content) are decompressed on the fly. The
    returned :class:`RecordReader` is an iterator that also counts what it skipped.

    Args:
        paths: One path or several, e.g. ``["costs.jsonl.1", "costs.jsonl"]``.
        strict: When True (the default) a corrupt line raises
            :class:`~llmcost.errors.CorruptRecordError` (``"costs.jsonl:17: invalid JSON ..."``);
            when False it is skipped, counted in ``reader.skipped`` and in
            ``llmcost.stats()["read.corrupt_lines"]``, and logged once per file.

    Example:
        >>> reader = read_records(["costs.jsonl.1", "costs.jsonl"], strict=False)  # doctest: +SKIP
        >>> total = sum(r.total_cost_usd or 0 for r in reader)  # doctest: +SKIP
        >>> reader.skipped, reader.duplicates  # doctest: +SKIP
        (0, 0)
    """
    return RecordReader(paths, strict=strict)


#: What a directory given to :func:`expand_paths` contributes: JSONL files, rotated or gzipped.
_DIRECTORY_PATTERNS = ("*.jsonl", "*.jsonl.*", "*.ndjson", "*.ndjson.*")


def expand_paths(specs: Iterable[PathLike]) -> list[str]:
    """Files, directories and glob patterns to the list of files to read, in a stable order.

    A directory contributes its ``*.jsonl`` files, rotated (``costs.jsonl.1``) and gzipped
    (``costs.jsonl.2.gz``) ones included, sorted by name; a pattern (``logs/*/costs-*.jsonl*``)
    its matches, sorted. A file named twice is read once.

    Raises:
        FileNotFoundError: a path that does not exist, or a directory or pattern that
            names no file; the message names it.

    Example:
        >>> expand_paths(["costs/", "archive/*.jsonl.gz"])  # doctest: +SKIP
        ['costs/replica-1.jsonl', 'costs/replica-2.jsonl', 'archive/2026-11.jsonl.gz']
    """
    import glob

    found: list[str] = []
    for spec in specs:
        text = os.fspath(spec)
        if os.path.isdir(text):
            matches = sorted(
                {
                    path
                    for pattern in _DIRECTORY_PATTERNS
                    for path in glob.glob(os.path.join(glob.escape(text), pattern))
                    if os.path.isfile(path)
                }
            )
            if not matches:
                raise FileNotFoundError(f"{text}: a directory with no *.jsonl files")
        elif glob.has_magic(text) and not os.path.exists(text):
            matches = sorted(path for path in glob.glob(text) if os.path.isfile(path))
            if not matches:
                raise FileNotFoundError(f"{text}: no file matches this pattern")
        elif os.path.exists(text):
            matches = [text]
        else:
            raise FileNotFoundError(f"{text}: no such file or directory")
        found.extend(matches)
    return list(dict.fromkeys(found))


class RecordIdSet:
    """A set of record ids that spends about half the memory of a set of strings.

    Canonical lowercase UUIDs (what llmcost writes) are kept as one 128-bit int each (that
    mapping is one-to-one, so no two ids can be confused); any other id is kept as its string.
    Expect roughly 80 bytes per distinct record: 80 MB for a million records.

    Example:
        >>> ids = RecordIdSet()
        >>> record_id = "7a14c534-98f9-4093-9456-e674e72cf7cb"
        >>> ids.add(record_id), ids.add(record_id)
        (True, False)
    """

    __slots__ = ("_ids",)

    _UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

    def __init__(self) -> None:
        self._ids: set[int | str] = set()

    def add(self, record_id: str) -> bool:
        """Remember ``record_id``; True if it is new, False if it was seen before."""
        key: int | str = record_id
        if len(record_id) == 36 and self._UUID.fullmatch(record_id):
            key = int(record_id.replace("-", ""), 16)
        ids = self._ids
        if key in ids:
            return False
        ids.add(key)
        return True

    def __len__(self) -> int:
        return len(self._ids)


class RecordReader(Iterator[CostRecord]):
    """The iterator behind :func:`read_records`, with counters of what it skipped.

    Attributes:
        strict: Whether a corrupt line raises (True) or is skipped (False).
        lines: Lines read so far, over all files.
        records: Records yielded so far.
        skipped: Corrupt lines skipped (lenient mode only).
        duplicates: Lines whose record_id had been seen before (not yielded).
        blank_lines: Empty lines, ignored.
        corrupt: The first 100 corrupt lines skipped, as :class:`CorruptRecordError` objects.
        truncated: Last lines cut short (no newline and not a whole record: a process that
            stopped mid-write), as :class:`CorruptRecordError` objects. They are not corruption:
            they are ignored, even in strict mode, and the rest of the file is read.
        current_path: The file being read.

    Args:
        paths: One path or several, read in order.
        strict: Raise on the first corrupt line (True) or skip and count it (False).
        on_progress: Called with the reader every ``progress_every`` lines and at the end.
        progress_every: See ``on_progress``.
        quiet: Do not log skipped lines and duplicates (for callers that report the counters
            themselves, like the command line). They are still counted.

    Besides iterating whole records, :meth:`iter_fields` yields just the values of a few fields
    through a validated fast path (about three times faster; what :mod:`llmcost.report` uses).

    Example:
        >>> reader = RecordReader("costs.jsonl", strict=False)  # doctest: +SKIP
        >>> records = list(reader)  # doctest: +SKIP
        >>> print(reader.records, "records;", reader.skipped, "skipped")  # doctest: +SKIP
    """

    def __init__(
        self,
        paths: PathLike | Iterable[PathLike],
        *,
        strict: bool = True,
        on_progress: Callable[[RecordReader], None] | None = None,
        progress_every: int = 100_000,
        quiet: bool = False,
        partition: tuple[int, int] = (0, 1),
    ) -> None:
        if isinstance(paths, (str, os.PathLike)):
            self.paths: tuple[str, ...] = (os.fspath(paths),)
        else:
            self.paths = tuple(os.fspath(path) for path in paths)
        self.strict = strict
        self.on_progress = on_progress
        self.progress_every = max(1, progress_every)
        self.quiet = quiet
        part, parts = partition
        if not 0 <= part < parts:
            raise ValueError(f"partition must be (part, parts) with 0 <= part < parts: {partition}")
        #: ``(part, parts)``: read only the records whose record_id falls in this share (the
        #: parallel summary runs one reader per share over the same files).
        self.partition = partition
        self.lines = 0
        self.records = 0
        self.skipped = 0
        self.duplicates = 0
        self.blank_lines = 0
        self.corrupt: list[CorruptRecordError] = []
        self.truncated: list[CorruptRecordError] = []
        self.current_path: str | None = None
        self._dup_warned = False
        self._corrupt_warned = False
        self._ids = RecordIdSet()
        self._iterator: Iterator[CostRecord] | None = None
        self._started = False

    # --- whole records --------------------------------------------------------------------

    def __iter__(self) -> RecordReader:
        return self

    def __next__(self) -> CostRecord:
        if self._iterator is None:
            self._iterator = self._records()
        return next(self._iterator)

    def _records(self) -> Iterator[CostRecord]:
        self._start()
        for _, record in self._scan(None):
            yield record

    # --- selected fields, fast ------------------------------------------------------------

    def iter_fields(self, names: Iterable[str]) -> Iterator[tuple[Any, ...]]:
        """Yield, per record, the values of the fields ``names`` (each exactly as the record's
        attribute would be), deduplicated and validated like whole records.

        Lines in the exact layout :meth:`CostRecord.to_json` writes are checked by one
        compiled pattern derived from the model, which accepts only lines that full validation
        accepts with the same values; any other line (older layouts, escapes, odd numbers)
        goes through full ``json`` + pydantic validation. Corrupt lines are caught either way.

        Example:
            >>> reader = read_records("costs.jsonl")  # doctest: +SKIP
            >>> for feature, cost in reader.iter_fields(["feature", "total_cost_usd"]):
            ...     print(feature, cost)  # doctest: +SKIP
        """
        names = tuple(names)
        unknown = [name for name in names if name not in CostRecord.model_fields]
        if unknown:
            raise ValueError(f"unknown CostRecord field(s): {', '.join(map(repr, unknown))}")
        self._start()
        return self._iter_fields(names)

    def _iter_fields(self, names: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
        for _, values in self._scan(names):
            yield values

    # --- the shared machinery -------------------------------------------------------------

    def _start(self) -> None:
        if self._started:
            raise RuntimeError("a RecordReader can be iterated only once; make a new one")
        self._started = True

    def _scan(self, names: tuple[str, ...] | None) -> Iterator[tuple[str, Any]]:
        """(record_id, record or field values) for each new, valid record of every file.

        One loop for both uses, kept flat because it runs once per line of large files.
        """
        plan = None
        getter: Callable[[CostRecord], Any] = _whole_record
        if names is not None:
            fast = _FastLayout.get()
            plan = fast.plan(names) if fast is not None else None
            getter = _attribute_getter(names)
        part, parts = self.partition
        every = self.progress_every
        progress = self.on_progress
        is_new = self._ids.add
        for path in self.paths:
            self.current_path = path
            self._dup_warned = False
            self._corrupt_warned = False
            base = self.lines
            number = 0
            with _open(path) as (stream, compressed):
                try:
                    for raw in stream:
                        number += 1
                        if progress is not None and number % every == 0:
                            self.lines = base + number
                            progress(self)
                        owner = part if parts == 1 else _owner(raw, parts)
                        if owner != part and owner >= 0:
                            continue  # another worker's line
                        values = plan(raw) if plan is not None else None
                        if values is not None:
                            record_id, row = values
                        else:
                            record = self._parse(
                                path, number, raw, report=owner == part or part == 0
                            )
                            if record is None:
                                continue
                            record_id, row = record.record_id, getter(record)
                        if owner < 0 and _owner_of_id(record_id, parts) != part:
                            continue
                        if not is_new(record_id):
                            self._duplicate(record_id, path, number)
                            continue
                        self.records += 1
                        yield record_id, row
                except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                    if not compressed:
                        raise
                    # A truncated or damaged gzip stream: the rest of this file is unreadable.
                    if part == 0:
                        self._corrupt(path, number + 1, f"unreadable gzip data ({exc})")
                finally:
                    self.lines = base + number
        if progress is not None:
            progress(self)

    def _parse(
        self, path: str, number: int, raw: bytes, *, report: bool = True
    ) -> CostRecord | None:
        """The record on one line, or None for a blank or (leniently skipped) corrupt line.

        ``report=False`` (another worker owns this line's problems) returns None silently.
        """
        record, reason = _parse_line(raw)
        if record is not None:
            return record
        if reason is None:
            self.blank_lines += report
        elif report and not raw.endswith(b"\n"):
            # Only a file's last line can lack its newline: a write cut short (a crash, a full
            # disk). Everything before it is whole, so it is named, not treated as corruption.
            self.truncated.append(
                CorruptRecordError(
                    path, number, f"truncated last line ({len(raw)} bytes, {reason})"
                )
            )
            errors.count("read.truncated_lines")
        elif report:
            self._corrupt(path, number, reason)
        return None

    def _corrupt(self, path: str, number: int, reason: str) -> None:
        error = CorruptRecordError(path, number, reason)
        if self.strict:
            raise error
        self.skipped += 1
        errors.count("read.corrupt_lines")
        if len(self.corrupt) < _MAX_KEPT_ERRORS:
            self.corrupt.append(error)
        if not self._corrupt_warned and not self.quiet:
            self._corrupt_warned = True
            logger.warning(
                "llmcost skipped a corrupt line %s (further corrupt lines in this file are "
                "counted, not logged)",
                error,
            )

    def _duplicate(self, record_id: str, path: str, number: int) -> None:
        self.duplicates += 1
        errors.count("read.duplicate_records")
        if not self._dup_warned and not self.quiet:
            self._dup_warned = True
            logger.warning(
                "llmcost found a duplicate record_id %r at %s:%d; each record is read once "
                "(further duplicates in this file are counted, not logged)",
                record_id,
                path,
                number,
            )


def _parse_line(raw: bytes) -> tuple[CostRecord | None, str | None]:
    """(record, None), or (None, why the line is corrupt), or (None, None) for a blank line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not valid UTF-8 ({exc.reason} at byte {exc.start})"
    text = text.strip(_JSON_WHITESPACE)
    if not text:
        return None, None
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(data, dict):
        return None, f"expected a JSON object, found {type(data).__name__}"
    # The model would invent these (a new uuid, the current time): a stored record must carry
    # its own, or deduplication and time windows would silently be wrong.
    missing = [name for name in _STORED_FIELDS if name not in data]
    if missing:
        return None, f"not a valid CostRecord: {', '.join(missing)}: missing"
    try:
        return CostRecord.model_validate(data), None
    except ValidationError as exc:
        return None, "not a valid CostRecord: " + _describe(exc)


def _whole_record(record: CostRecord) -> CostRecord:
    return record


def _owner(raw: bytes, parts: int) -> int:
    """Which of ``parts`` workers owns this line, from its record_id; -1 if it must be parsed.

    Lines as ``to_json`` writes them start with the record_id, so the id can be read without
    parsing; any other line (another key order, whitespace, escapes) is parsed by every worker
    and kept by the owner of the parsed id, so every record is counted by exactly one worker.
    """
    if raw.startswith(b'{"record_id":"'):
        end = raw.find(b'"', 14)
        if end > 14:
            record_id = raw[14:end]
            if b"\\" not in record_id:
                return zlib.crc32(record_id) % parts
    return -1


def _owner_of_id(record_id: str, parts: int) -> int:
    return zlib.crc32(record_id.encode("utf-8", "surrogatepass")) % parts


@contextlib.contextmanager
def _open(path: str) -> Iterator[tuple[Iterable[bytes], bool]]:
    """The file's lines as bytes, decompressed when it starts with the gzip magic number."""
    with open(path, "rb") as raw:
        if raw.peek(2)[:2] == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield unzipped, True
        else:
            yield raw, False


def _describe(exc: ValidationError) -> str:
    parts = []
    for item in exc.errors()[:3]:
        where = ".".join(str(part) for part in item["loc"]) or "record"
        parts.append(f"{where}: {item['msg']}")
    if exc.error_count() > 3:
        parts.append(f"and {exc.error_count() - 3} more")
    return "; ".join(parts)


def _attribute_getter(names: tuple[str, ...]) -> Callable[[CostRecord], tuple[Any, ...]]:
    def get(record: CostRecord) -> tuple[Any, ...]:
        values = record.__dict__
        return tuple(values[name] for name in names)

    return get


# --- the fast path --------------------------------------------------------------------------
#
# Lines written by CostRecord.to_json() have one exact shape: the model's fields, in order, no
# whitespace. One regular expression derived from the model recognises that shape with a
# pattern per field type that admits only JSON values which full validation (json.loads with
# Decimal floats, then CostRecord.model_validate) accepts *and* maps to the value the fast path
# computes. Strings with escapes, negative money, very long numbers, other timestamp offsets
# and every other unusual line do not match and take the full path, which decides.

_STR = r'"[^"\\\x00-\x1f]*"'
_STR_OR_NULL = rf"(?:{_STR}|null)"
_TOKENS = r"(?:0|[1-9][0-9]{0,17})"
_MONEY = r"(?:null|(?:0|[1-9][0-9]{0,30})(?:\.[0-9]{1,40})?(?:[eE][-+]?[0-9]{1,3})?)"
_FLOAT = r"(?:null|-?(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,40})?(?:[eE][-+]?[0-9]{1,3})?)"
_TIMESTAMP = r'"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{6})?\+00:00"'
# Plain `*` (possessive `*+` needs Python 3.11): the classes cannot overlap a closing quote,
# so there is nothing to backtrack into either way.
_TAGS = rf"\{{(?:{_STR}:{_STR}(?:,{_STR}:{_STR})*)?\}}"


def _none_or_str(text: str) -> str | None:
    return None if text == "null" else text[1:-1]


def _none_or_decimal(text: str) -> Decimal | None:
    return None if text == "null" else Decimal(text)


def _none_or_float(text: str) -> float | None:
    return None if text == "null" else float(text)


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text[1:-1])


def _tags(text: str) -> dict[str, str]:
    value: dict[str, str] = json.loads(text)
    return value


def _literal(text: str) -> str:
    return text[1:-1]


class _FastLayout:
    """The compiled shape of a ``to_json`` line, or None when the model has a field this path
    does not know how to check exactly (then every line takes the full path)."""

    _cached: _FastLayout | None = None
    _built = False

    def __init__(self, patterns: dict[str, tuple[str, Callable[[str], Any]]]) -> None:
        self.fields = tuple(patterns)
        self.patterns = patterns
        self._plans: dict[tuple[str, ...], Callable[[bytes], tuple[str, tuple[Any, ...]] | None]]
        self._plans = {}

    @classmethod
    def get(cls) -> _FastLayout | None:
        if not cls._built:
            cls._cached = cls._build()
            cls._built = True
        return cls._cached

    @classmethod
    def _build(cls) -> _FastLayout | None:
        decorators = CostRecord.__pydantic_decorators__
        if (
            decorators.model_validators
            or decorators.validators
            or decorators.root_validators
            or set(decorators.field_validators) != {"_timestamp_is_utc"}
        ):
            return None  # validation this path does not reproduce
        patterns: dict[str, tuple[str, Callable[[str], Any]]] = {}
        for name, field in CostRecord.model_fields.items():
            entry = _field_pattern(name, field.annotation, field.metadata)
            if entry is None:
                return None
            patterns[name] = entry
        return cls(patterns)

    def plan(self, names: tuple[str, ...]) -> Callable[[bytes], tuple[str, tuple[Any, ...]] | None]:
        plan = self._plans.get(names)
        if plan is None:
            plan = self._plans[names] = self._compile(names)
        return plan

    def _compile(
        self, names: tuple[str, ...]
    ) -> Callable[[bytes], tuple[str, tuple[Any, ...]] | None]:
        wanted = {"record_id", "timestamp", *names}
        parts = []
        for name in self.fields:
            pattern = self.patterns[name][0]
            if name in wanted:
                pattern = f"(?P<{name}>{pattern})"
            parts.append(json.dumps(name) + ":" + pattern)
        regex = re.compile(r"\{" + ",".join(parts) + r"\}")
        fullmatch = regex.fullmatch
        groups = regex.groupindex
        id_group = groups["record_id"]
        ts_group = groups["timestamp"]
        indexes = tuple(groups[name] for name in names)
        # The timestamp is parsed once, below, for every line (it validates the date too).
        converters = tuple(str if name == "timestamp" else self.patterns[name][1] for name in names)
        ts_position = names.index("timestamp") if "timestamp" in names else -1
        utc = timezone.utc
        whitespace = _JSON_WHITESPACE
        from_iso = datetime.fromisoformat
        many = len(indexes) > 1

        def parse(raw: bytes) -> tuple[str, tuple[Any, ...]] | None:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                return None
            match = fullmatch(text.strip(whitespace))
            if match is None:
                return None
            try:
                # Validates the date (2026-02-30 fails and goes the full path to be reported).
                stamp = from_iso(match.group(ts_group)[1:-1])
            except ValueError:
                return None
            if stamp.tzinfo is not utc:
                stamp = stamp.astimezone(utc)
            texts: tuple[str, ...] = (
                match.group(*indexes) if many else (match.group(indexes[0]),) if indexes else ()
            )
            values = [convert(text) for convert, text in zip(converters, texts, strict=True)]
            if ts_position >= 0:
                values[ts_position] = stamp
            return match.group(id_group)[1:-1], tuple(values)

        return parse


def _field_pattern(
    name: str, annotation: Any, metadata: list[Any]
) -> tuple[str, Callable[[str], Any]] | None:
    args = set(typing.get_args(annotation))
    origin = typing.get_origin(annotation)
    if name == "timestamp" and annotation is datetime and not metadata:
        return _TIMESTAMP, _timestamp
    if metadata:
        # Only "ge=0" on ints is understood; any other constraint disables the fast path.
        if annotation is int and len(metadata) == 1 and getattr(metadata[0], "ge", None) == 0:
            return _TOKENS, int  # the pattern admits only plain non-negative integers
        return None
    if annotation is str:
        return _STR, _literal
    if annotation is bool:
        return "(?:true|false)", "true".__eq__
    if args == {str, type(None)}:
        return _STR_OR_NULL, _none_or_str
    if args == {Decimal, type(None)}:
        return _MONEY, _none_or_decimal
    if args == {float, type(None)}:
        return _FLOAT, _none_or_float
    if origin is dict and typing.get_args(annotation) == (str, str):
        return _TAGS, _tags
    if origin is typing.Literal and all(
        isinstance(arg, str) and re.fullmatch(r"[A-Za-z0-9_.:-]+", arg) for arg in args
    ):
        choices = "|".join(re.escape(json.dumps(arg)) for arg in sorted(args))
        return f"(?:{choices})", _literal
    if type(None) in args and len(args) == 2:  # an optional Literal (cost_source)
        (inner,) = args - {type(None)}
        entry = _field_pattern(name, inner, metadata)
        if entry is not None and entry[1] is _literal:
            return f"(?:null|{entry[0]})", _none_or_str
    return None
