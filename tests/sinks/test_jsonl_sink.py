"""JSONLFileSink: whole lines from many threads and processes, rotation, fsync, the encoder."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import threading
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcost import errors
from llmcost.reading import read_records
from llmcost.sinks.base import Sink
from llmcost.sinks.jsonl import JSONLFileSink, _record_line
from llmcost.types import CostRecord


def _record(**fields: object) -> CostRecord:
    values: dict[str, object] = {
        "provider": "openai",
        "operation": "chat",
        "model": "gpt-4o",
        "feature": "support_chat",
        "input_tokens": 1200,
        "output_tokens": 300,
        "input_cost_usd": Decimal("0.003"),
        "output_cost_usd": Decimal("0.003"),
        "total_cost_usd": Decimal("0.006"),
        "priced": True,
    }
    values.update(fields)
    return CostRecord(**values)  # type: ignore[arg-type]


def _lines(path: Path) -> list[str]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"{path} ends in a partial line"
    return data.decode("utf-8").splitlines()


def test_appends_whole_lines_and_creates_parent_directories(tmp_path: Path) -> None:
    """Each record is one line, exactly record.to_json(); parents are made; reopening appends."""
    path = tmp_path / "deep" / "er" / "costs.jsonl"
    records = [_record(feature=f"f{index}") for index in range(3)]
    with JSONLFileSink(path) as sink:
        assert isinstance(sink, Sink)
        for record in records[:2]:
            sink.emit(record)
        assert sink.flush() is True
    with JSONLFileSink(path) as again:
        again.emit(records[2])
    assert _lines(path) == [record.to_json() for record in records]
    assert list(read_records(path)) == records


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_money = st.one_of(
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
        lambda d: abs(d.adjusted()) < 30
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    model=st.one_of(st.none(), _text),
    feature=st.one_of(st.none(), _text),
    tags=st.dictionaries(_text, _text, max_size=3),
    tokens=st.integers(min_value=0, max_value=10**12),
    cost=_money,
    latency=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    flag=st.booleans(),
    when=st.datetimes(
        min_value=datetime(1970, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.just(timezone.utc),
    ),
)
def test_the_sink_writes_exactly_to_json(
    model: str | None,
    feature: str | None,
    tags: dict[str, str],
    tokens: int,
    cost: Decimal | None,
    latency: float | None,
    flag: bool,
    when: datetime,
) -> None:
    """The sink's encoder is byte-for-byte ``record.to_json()`` (unicode, escapes, Decimals)."""
    record = CostRecord(
        provider="openai",
        operation="chat",
        model=model,
        feature=feature,
        tags=tags,
        input_tokens=tokens,
        total_cost_usd=cost,
        latency_ms=latency,
        stream=flag,
        timestamp=when,
    )
    assert _record_line(record) == (record.to_json() + "\n").encode("utf-8")
    if latency is None or math.isfinite(latency):
        assert CostRecord.from_json(_record_line(record)) == record


def test_many_threads_write_whole_distinct_lines(tmp_path: Path) -> None:
    """8 threads × 300 records: every line parses and every record is there once."""
    path = tmp_path / "costs.jsonl"
    sink = JSONLFileSink(path)
    per_thread = 300

    def write(worker: int) -> None:
        for index in range(per_thread):
            sink.emit(_record(feature=f"w{worker}", tags={"i": str(index), "pad": "x" * 700}))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()
    lines = _lines(path)
    assert len(lines) == 8 * per_thread == sink.records_written
    parsed = [CostRecord.from_json(line) for line in lines]
    assert len({record.record_id for record in parsed}) == len(parsed)
    assert sorted((r.feature, int(r.tags["i"])) for r in parsed) == sorted(
        (f"w{w}", i) for w in range(8) for i in range(per_thread)
    )


_WRITER = textwrap.dedent(
    """
    import sys, threading
    from decimal import Decimal
    from llmcost.sinks.jsonl import JSONLFileSink
    from llmcost.types import CostRecord

    path, name, count, max_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    options = {"max_bytes": int(max_bytes), "backup_count": 1000} if max_bytes != "-" else {}
    sink = JSONLFileSink(path, **options)
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()  # start together

    def write(thread):
        for index in range(count):
            sink.emit(CostRecord(provider="openai", operation="chat", feature=name,
                                 tags={"n": f"{thread}-{index}", "pad": "y" * 2500},
                                 total_cost_usd=Decimal("0.001"), priced=True))

    threads = [threading.Thread(target=write, args=(t,)) for t in range(3)]
    for t in threads: t.start()
    for t in threads: t.join()
    sink.close()
    """
)


def _run_writers(path: Path, names: list[str], count: int, max_bytes: str) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), name, str(count), max_bytes],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        process.communicate(timeout=120)
        assert process.returncode == 0


def _check_all_there(lines: list[str], names: list[str], count: int) -> None:
    parsed = [CostRecord.from_json(line) for line in lines]  # raises on a torn line
    seen = sorted((record.feature, record.tags["n"]) for record in parsed)
    expected = sorted((name, f"{t}-{i}") for name in names for t in range(3) for i in range(count))
    assert seen == expected


def test_two_processes_append_to_one_file_without_torn_lines(tmp_path: Path) -> None:
    """Two processes × 3 threads, ~2.6 KB lines, started together: all lines whole, none lost."""
    path = tmp_path / "shared.jsonl"
    names = ["first", "second"]
    _run_writers(path, names, 250, "-")
    _check_all_there(_lines(path), names, 250)


def test_rotation_keeps_backup_count_files_of_whole_lines(tmp_path: Path) -> None:
    """costs.jsonl → .1 → .2; the oldest beyond backup_count goes; files stay under max_bytes."""
    path = tmp_path / "costs.jsonl"
    line_size = len(_record_line(_record(feature="f00")))
    sink = JSONLFileSink(path, max_bytes=3 * line_size, backup_count=2)
    records = [_record(feature=f"f{index:02d}") for index in range(10)]
    for record in records:
        sink.emit(record)
    sink.close()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        "costs.jsonl",
        "costs.jsonl.1",
        "costs.jsonl.2",
    ]
    newest, middle, oldest = (
        [CostRecord.from_json(line).feature for line in _lines(p)]
        for p in (path, tmp_path / "costs.jsonl.1", tmp_path / "costs.jsonl.2")
    )
    assert oldest == ["f03", "f04", "f05"]
    assert middle == ["f06", "f07", "f08"]
    assert newest == ["f09"]
    assert (
        list(read_records([tmp_path / "costs.jsonl.2", tmp_path / "costs.jsonl.1", path]))
        == (records[3:])
    )


def test_a_line_larger_than_max_bytes_goes_whole_into_a_fresh_file(tmp_path: Path) -> None:
    """Rotation never splits a line, even one longer than max_bytes."""
    path = tmp_path / "costs.jsonl"
    sink = JSONLFileSink(path, max_bytes=100, backup_count=3)
    big = [_record(feature=f"big{index}") for index in range(3)]
    for record in big:
        sink.emit(record)
    sink.close()
    assert [CostRecord.from_json(line) for line in _lines(path)] == [big[2]]
    assert [CostRecord.from_json(line) for line in _lines(tmp_path / "costs.jsonl.2")] == [big[0]]


def test_rotation_with_two_processes_loses_nothing(tmp_path: Path) -> None:
    """Processes that rotate the same file under the shared lock: every line whole, all kept."""
    path = tmp_path / "rotating.jsonl"
    names = ["one", "two"]
    _run_writers(path, names, 100, str(60_000))
    files = sorted(tmp_path.glob("rotating.jsonl*"))
    data_files = [p for p in files if not p.name.endswith(".lock")]
    assert len(data_files) > 5  # it did rotate, many times
    lines = [line for p in data_files for line in _lines(p)]
    _check_all_there(lines, names, 100)
    line_size = len(lines[0]) + 1
    # Writers check the size under a shared lock, so concurrent writers may each add one line.
    assert all(p.stat().st_size <= 60_000 + 6 * line_size for p in data_files)


def test_fsync_option_syncs_every_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync=True calls os.fsync after each write; the default only on flush()."""
    calls: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    durable = JSONLFileSink(tmp_path / "durable.jsonl", fsync=True)
    for _ in range(3):
        durable.emit(_record())
    assert len(calls) == 3
    durable.close()

    calls.clear()
    fast = JSONLFileSink(tmp_path / "fast.jsonl")
    for _ in range(3):
        fast.emit(_record())
    assert calls == []
    assert fast.flush(timeout=1.0) is True
    assert len(calls) == 1
    fast.close()


def test_emit_after_close_is_counted_not_written(tmp_path: Path) -> None:
    """A closed sink writes nothing, counts the drop, and close() is idempotent."""
    errors.reset_stats()
    path = tmp_path / "costs.jsonl"
    sink = JSONLFileSink(path)
    sink.emit(_record())
    sink.close()
    sink.close()
    sink.emit(_record())
    assert len(_lines(path)) == 1
    assert errors.stats()["sink.jsonl.dropped_after_close"] == 1
    assert sink.flush() is False


def test_bad_arguments_are_refused_with_their_name(tmp_path: Path) -> None:
    """max_bytes must be positive; rotating with no backups (which deletes records) is refused."""
    with pytest.raises(ValueError, match="max_bytes"):
        JSONLFileSink(tmp_path / "a.jsonl", max_bytes=0)
    with pytest.raises(ValueError, match="backup_count"):
        JSONLFileSink(tmp_path / "a.jsonl", max_bytes=1000, backup_count=0)
    (tmp_path / "dir.jsonl").mkdir()
    with pytest.raises(OSError, match=r"dir\.jsonl"):
        JSONLFileSink(tmp_path / "dir.jsonl")


def test_lines_are_plain_json_with_exact_money(tmp_path: Path) -> None:
    """Money is an exact JSON number on disk, not a string or a float artefact."""
    path = tmp_path / "costs.jsonl"
    with JSONLFileSink(path) as sink:
        sink.emit(_record(total_cost_usd=Decimal("0.1000000000000000055511151231257827")))
    line = _lines(path)[0]
    assert '"total_cost_usd":0.1000000000000000055511151231257827' in line
    assert json.loads(line, parse_float=Decimal)["total_cost_usd"] == Decimal(
        "0.1000000000000000055511151231257827"
    )


def test_lines_are_to_json_and_read_back_equal(tmp_path: Path) -> None:
    """Records with tricky tags and a NaN latency land as whole lines, byte for byte their
    to_json, and read back equal."""
    plain = _record(tags={"tier": "pro", "note": 'quote " and \\ and é'}, latency_ms=812.5)
    not_a_number = _record(latency_ms=float("nan"))
    copy = plain.model_copy(update={"record_id": "another-id"})
    records = [plain, not_a_number, copy]
    path = tmp_path / "costs.jsonl"
    with JSONLFileSink(path) as sink:
        for record in records:
            sink.emit(record)
    assert _lines(path) == [record.to_json() for record in records]
    back = list(read_records(path))
    assert back[0] == plain
    assert back[2] == copy
    assert back[1].latency_ms is not None
    assert math.isnan(back[1].latency_ms)
