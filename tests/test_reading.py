"""read_records: streaming JSONL and gzip, corrupt lines strict and lenient, duplicates."""

from __future__ import annotations

import gzip
import logging
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmcost
from llmcost import errors
from llmcost.errors import CorruptRecordError
from llmcost.reading import RecordIdSet, RecordReader, _FastLayout, _parse_line, read_records
from llmcost.types import CostRecord


def _record(**fields: object) -> CostRecord:
    values: dict[str, object] = {
        "provider": "anthropic",
        "operation": "messages",
        "model": "claude-sonnet-4-5",
        "feature": "summaries",
        "input_tokens": 2000,
        "cache_read_tokens": 500,
        "output_tokens": 400,
        "total_cost_usd": Decimal("0.01215"),
        "priced": True,
    }
    values.update(fields)
    return CostRecord(**values)  # type: ignore[arg-type]


def _write(path: Path, lines: list[str], *, compress: bool = False) -> Path:
    text = "".join(line + "\n" for line in lines)
    if compress:
        with gzip.open(path, "wt", encoding="utf-8") as out:
            out.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_round_trip_is_exact_and_streams_several_files(tmp_path: Path) -> None:
    """Records come back equal (exact Decimals, UTC datetimes), files in the order given."""
    first = [_record(total_cost_usd=Decimal("1E-7")), _record(tags={"tier": "pro"})]
    second = [_record(model="gpt-4o", total_cost_usd=None, priced=False)]
    a = _write(tmp_path / "a.jsonl", [r.to_json() for r in first])
    b = _write(tmp_path / "b.jsonl", [r.to_json() for r in second])
    reader = read_records([a, b])
    assert iter(reader) is reader
    assert list(reader) == first + second
    assert (reader.records, reader.lines, reader.skipped, reader.duplicates) == (3, 3, 0, 0)
    assert llmcost.read_records is read_records


def test_gzip_files_are_read_by_their_content(tmp_path: Path) -> None:
    """A gzip file is decompressed on the fly, whatever its name (rotated files too)."""
    records = [_record(feature=f"f{index}") for index in range(50)]
    plain = _write(tmp_path / "costs.jsonl", [r.to_json() for r in records[:25]])
    zipped = _write(
        tmp_path / "costs.jsonl.1.gz", [r.to_json() for r in records[25:]], compress=True
    )
    renamed = _write(tmp_path / "odd-name", [records[0].to_json()], compress=True)
    assert list(read_records([zipped, plain])) == records[25:] + records[:25]
    assert list(read_records(renamed)) == [records[0]]


def test_a_corrupt_line_stops_with_file_line_and_reason(tmp_path: Path) -> None:
    """Strict mode: CorruptRecordError names path:line and why; earlier records were yielded."""
    good = _record()
    path = _write(tmp_path / "costs.jsonl", [good.to_json(), '{"provider": "openai",', "[]"])
    reader = read_records(path)
    assert next(reader) == good
    with pytest.raises(CorruptRecordError) as caught:
        next(reader)
    error = caught.value
    assert (error.path, error.line) == (str(path), 2)
    assert str(error).startswith(f"{path}:2: invalid JSON")


_STORED = '{"record_id": "r-1", "timestamp": "2026-11-01T00:00:00Z", '


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("[1, 2]", "expected a JSON object, found list"),
        (
            _STORED + '"provider": "openai", "operation": "chat", "input_tokens": -5}',
            "input_tokens",
        ),
        (_STORED + '"operation": "chat"}', "provider"),
        ('{"provider": "openai", "operation": "chat"}', "record_id, timestamp: missing"),
        (
            '{"record_id": "x", "provider": "openai", "operation": "chat", '
            '"timestamp": "2026-11-01T00:00:00"}',
            "timestamp",
        ),
        ("not json at all", "invalid JSON"),
    ],
)
def test_invalid_records_are_named(tmp_path: Path, line: str, reason: str) -> None:
    """JSON that is not a valid CostRecord is corrupt too, and the reason says which field."""
    path = _write(tmp_path / "costs.jsonl", [line])
    with pytest.raises(CorruptRecordError, match=f"costs.jsonl:1: .*{reason}"):
        list(read_records(path))


def test_invalid_utf8_is_a_corrupt_line(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are reported with their line number."""
    path = tmp_path / "costs.jsonl"
    path.write_bytes(_record().to_json().encode() + b"\n\xff\xfe{}\n")
    with pytest.raises(CorruptRecordError, match=r"costs\.jsonl:2: not valid UTF-8"):
        list(read_records(path))


def test_lenient_mode_skips_counts_and_warns_once_per_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """strict=False: corrupt lines are skipped, counted three ways, logged once per file."""
    errors.reset_stats()
    records = [_record(feature=f"f{index}") for index in range(4)]
    a = _write(tmp_path / "a.jsonl", [records[0].to_json(), "{oops", "{oops", records[1].to_json()])
    b = _write(tmp_path / "b.jsonl", ["nope", records[2].to_json(), records[3].to_json()])
    caplog.set_level(logging.WARNING, logger="llmcost")
    reader = read_records([a, b], strict=False)
    assert list(reader) == records
    assert reader.skipped == 3
    assert [(e.path, e.line) for e in reader.corrupt] == [(str(a), 2), (str(a), 3), (str(b), 1)]
    assert errors.stats()["read.corrupt_lines"] == 3
    warnings = [r for r in caplog.records if "corrupt line" in r.getMessage()]
    assert len(warnings) == 2  # one per file


def test_blank_lines_are_ignored(tmp_path: Path) -> None:
    """Empty lines (e.g. a file edited by hand) are neither records nor corrupt."""
    record = _record()
    path = _write(tmp_path / "costs.jsonl", ["", record.to_json(), "   ", ""])
    reader = read_records(path)
    assert list(reader) == [record]
    assert (reader.blank_lines, reader.skipped) == (3, 0)


def test_duplicates_are_yielded_once_counted_and_warned_per_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same record_id twice (in a file, or across files) counts once."""
    errors.reset_stats()
    one, two = _record(feature="one"), _record(feature="two")
    a = _write(tmp_path / "a.jsonl", [one.to_json(), one.to_json(), two.to_json(), one.to_json()])
    b = _write(tmp_path / "b.jsonl", [two.to_json()])
    caplog.set_level(logging.WARNING, logger="llmcost")
    reader = read_records([a, b])
    assert list(reader) == [one, two]
    assert reader.duplicates == 3
    assert errors.stats()["read.duplicate_records"] == 3
    warnings = [r for r in caplog.records if "duplicate record_id" in r.getMessage()]
    assert len(warnings) == 2


def test_truncated_gzip_is_corrupt_after_the_good_lines(tmp_path: Path) -> None:
    """A gzip file cut short: strict raises naming the file; lenient keeps what was readable."""
    records = [_record(feature=f"f{index}", tags={"pad": "z" * 300}) for index in range(300)]
    path = _write(tmp_path / "costs.jsonl.gz", [r.to_json() for r in records], compress=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(CorruptRecordError, match=r"costs\.jsonl\.gz:\d+: unreadable gzip"):
        list(read_records(path))
    reader = read_records(path, strict=False)
    kept = list(reader)
    assert 0 < len(kept) < len(records)
    assert kept == records[: len(kept)]
    assert reader.skipped == 1


def test_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    """A path that does not exist is an OS error naming it, not an empty result."""
    with pytest.raises(FileNotFoundError, match=r"missing\.jsonl"):
        list(read_records(tmp_path / "missing.jsonl"))


def test_a_reader_is_used_once(tmp_path: Path) -> None:
    """Iterating a reader twice would silently yield nothing the second time: it raises."""
    path = _write(tmp_path / "costs.jsonl", [_record().to_json()])
    reader = read_records(path)
    list(reader)
    assert list(reader) == []  # the same iterator, exhausted
    with pytest.raises(RuntimeError, match="only once"):
        reader.iter_fields(["feature"])


def test_record_id_set_is_exact() -> None:
    """UUIDs stored compactly never collide with each other or with other ids."""
    ids = RecordIdSet()
    canonical = str(uuid.UUID(int=0xABCDEF))
    assert ids.add(canonical) is True
    assert ids.add(canonical) is False
    assert ids.add(canonical.upper()) is True  # a different string: a different id
    assert ids.add("5") is True
    assert ids.add(str(uuid.UUID(int=6))) is True
    assert len(ids) == 4


def test_iter_fields_matches_whole_records_and_dedupes(tmp_path: Path) -> None:
    """iter_fields yields the same values as the records' attributes, once per record_id."""
    records = [_record(feature=f"f{index % 3}", input_tokens=index) for index in range(20)]
    lines = [r.to_json() for r in records] + [records[0].to_json()]
    # A line in another layout (spaces, other key order) goes the full path, same values.
    lines.append(
        '{"operation": "chat", "provider": "openai", "total_cost_usd": 0.5, '
        '"timestamp": "2026-11-02T10:00:00Z", "record_id": "custom-id"}'
    )
    path = _write(tmp_path / "costs.jsonl", lines)
    names = ["feature", "input_tokens", "total_cost_usd", "timestamp", "tags", "priced"]
    reader = RecordReader(path)
    rows = list(reader.iter_fields(names))
    expected = [tuple(getattr(r, n) for n in names) for r in read_records(path)]
    assert rows == expected
    assert len(rows) == 21
    assert reader.duplicates == 1
    with pytest.raises(ValueError, match="nonsense"):
        RecordReader(path).iter_fields(["nonsense"])


def test_partitions_split_every_record_exactly_once(tmp_path: Path) -> None:
    """The shares used by parallel reports cover each record once, odd lines included."""
    records = [_record(feature=f"f{index}") for index in range(60)]
    lines = [r.to_json() for r in records]
    lines.append(
        '{"provider": "openai", "operation": "chat", "record_id": "custom-1", '
        '"timestamp": "2026-11-02T10:00:00+01:00"}'
    )
    lines.append(records[7].to_json())  # a duplicate
    lines.append("")
    path = _write(tmp_path / "costs.jsonl", lines)
    seen: list[str] = []
    duplicates = blanks = 0
    for part in range(3):
        reader = RecordReader(path, partition=(part, 3))
        seen += [row[0] for row in reader.iter_fields(["record_id"])]
        duplicates += reader.duplicates
        blanks += reader.blank_lines
    assert sorted(seen) == sorted([r.record_id for r in records] + ["custom-1"])
    assert (duplicates, blanks) == (1, 1)
    with pytest.raises(ValueError, match="partition"):
        RecordReader(path, partition=(3, 3))


# --- the fast path agrees with full validation ---------------------------------------------

_NAMES = tuple(CostRecord.model_fields)
_safe_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)


def _full_values(line: str) -> tuple[object, ...] | None:
    record, _ = _parse_line(line.encode("utf-8", "surrogatepass"))
    return None if record is None else (record.record_id, tuple(getattr(record, n) for n in _NAMES))


@settings(max_examples=200, deadline=None)
@given(
    feature=st.one_of(st.none(), _safe_text),
    tags=st.dictionaries(_safe_text, _safe_text, max_size=2),
    tokens=st.integers(min_value=0, max_value=10**20),
    cost=st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False)),
    latency=st.one_of(st.none(), st.floats(allow_nan=False)),
    when=st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.just(timezone.utc),
    ),
    position=st.integers(min_value=0, max_value=10_000),
    replacement=st.sampled_from(
        ['"', "\\", "0", "-", "9", "e", ".", ",", " ", "}", "n", "\x01", "é"]
    ),
    mutate=st.booleans(),
)
def test_fast_path_accepts_only_what_full_validation_accepts_with_the_same_values(
    feature: str | None,
    tags: dict[str, str],
    tokens: int,
    cost: Decimal | None,
    latency: float | None,
    when: datetime,
    position: int,
    replacement: str,
    mutate: bool,
) -> None:
    """On written lines and on lines with one character changed, the fast path either declines
    (None) or returns exactly what json + pydantic validation gives."""
    record = CostRecord(
        provider="openai",
        operation="chat",
        feature=feature,
        tags=tags,
        output_tokens=tokens,
        total_cost_usd=cost,
        latency_ms=latency,
        timestamp=when,
    )
    line = record.to_json()
    if mutate:
        index = position % len(line)
        line = line[:index] + replacement + line[index + 1 :]
    layout = _FastLayout.get()
    assert layout is not None
    fast = layout.plan(_NAMES)(line.encode("utf-8", "surrogatepass"))
    full = _full_values(line)
    if fast is not None:
        assert full is not None, f"fast path accepted a corrupt line: {line}"
        assert fast == full
        assert [type(v) for v in fast[1]] == [type(v) for v in full[1]]
    ordinary = (
        tokens < 10**15
        and (cost is None or (cost >= 0 and abs(cost.adjusted()) < 20 and len(str(cost)) < 30))
        and (latency is None or abs(latency) < 1e15)
    )
    if not mutate and ordinary and "\\" not in line:
        # Speed, not correctness: ordinary lines as written should take the fast path.
        assert fast is not None, f"fast path declined a plain line: {line}"
