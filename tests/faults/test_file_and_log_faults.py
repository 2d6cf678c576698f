"""JSONLFileSink under a full disk, rotation and deletion; LoggingSink under hostile tags."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcost.sinks import CallbackSink, LoggingSink
from llmcost.sinks.jsonl import JSONLFileSink
from llmcost.sinks.logging import escape, format_record
from llmcost.types import CostRecord

FULL_DISK_SCRIPT = textwrap.dedent(
    """
    import json, logging, os, resource, signal, sys

    # RLIMIT_FSIZE makes the kernel behave as a full disk does: a write crossing the limit
    # returns short, the next one fails (EFBIG). The signal it would also send is ignored.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    from llmcost.sinks.jsonl import JSONLFileSink
    from llmcost.types import CostRecord

    def record(feature):
        return CostRecord(provider="openai", operation="chat", model="gpt-4o", feature=feature)

    path = sys.argv[1]
    sink = JSONLFileSink(path)
    sink.emit(record("first"))
    size = os.path.getsize(path)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100, hard))
    sink.emit(record("torn"))      # only 100 bytes fit: cut back
    sink.emit(record("torn too"))  # the same again
    size_when_full = os.path.getsize(path)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    sink.emit(record("after"))     # the disk has room again
    sink.close()
    print(json.dumps({"size": size, "size_when_full": size_when_full,
                      "written": sink.records_written, "dropped": sink.records_dropped}))
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX only")
def test_a_full_disk_never_corrupts_the_next_line(tmp_path):
    """A line the disk took only part of is cut back and counted; the next line is whole."""
    path = tmp_path / "costs.jsonl"
    script = tmp_path / "full.py"
    script.write_text(FULL_DISK_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["size_when_full"] == result["size"]  # nothing of the torn lines stayed
    assert result["dropped"] == 2
    assert result["written"] == 2
    features = [json.loads(line)["feature"] for line in path.read_text().splitlines()]
    assert features == ["first", "after"]
    warnings = [line for line in done.stderr.splitlines() if "could not be written" in line]
    assert len(warnings) == 1  # said once, counted always


def _record(feature: str, **fields: object) -> CostRecord:
    return CostRecord(
        provider="openai", operation="chat", model="gpt-4o", feature=feature, **fields
    )


def _features(path: os.PathLike[str]) -> list[str]:
    with open(path, encoding="utf-8") as file:
        return [json.loads(line)["feature"] for line in file]


def test_logrotate_create_mode_is_followed(tmp_path):
    """The file renamed away and a new one created in its place: new records go to the new one."""
    path = tmp_path / "costs.jsonl"
    with JSONLFileSink(path) as sink:
        sink.emit(_record("before"))
        os.rename(path, tmp_path / "costs.jsonl.1")
        path.touch()  # logrotate's "create"
        sink.emit(_record("after"))
    assert _features(tmp_path / "costs.jsonl.1") == ["before"]
    assert _features(path) == ["after"]


def test_a_deleted_file_is_created_again(tmp_path):
    """The file deleted under the sink: the next record re-creates it instead of vanishing."""
    path = tmp_path / "costs.jsonl"
    with JSONLFileSink(path) as sink:
        sink.emit(_record("before"))
        path.unlink()
        sink.emit(_record("after"))
        sink.emit(_record("later"))
    assert _features(path) == ["after", "later"]
    assert sink.records_dropped == 0


def test_a_lone_surrogate_is_written_as_its_json_escape(tmp_path):
    """A tag UTF-8 cannot carry is written escaped; the line reads back to the same string."""
    path = tmp_path / "costs.jsonl"
    with JSONLFileSink(path) as sink:
        sink.emit(_record("odd", tags={"file": "x-\udc80.csv"}))
    line = path.read_bytes()
    assert b"\\udc80" in line
    assert CostRecord.from_json(line).tags == {"file": "x-\udc80.csv"}


def test_a_record_that_cannot_be_encoded_is_dropped_alone(tmp_path, caplog):
    """NaN money is not JSON: that record is counted and warned about, never raised."""
    from decimal import Decimal

    path = tmp_path / "costs.jsonl"
    bad = _record("bad").model_copy(update={"total_cost_usd": Decimal("NaN")})
    with caplog.at_level(logging.WARNING, logger="llmcost"), JSONLFileSink(path) as sink:
        sink.emit(_record("before"))
        sink.emit(bad)
        sink.emit(_record("after"))
    assert _features(path) == ["before", "after"]
    assert sink.records_dropped == 1
    assert "cannot be encoded" in caplog.text


def test_every_sink_accepts_close_with_a_timeout(tmp_path):
    """close(timeout) is the common signature: the simple sinks take it too."""
    JSONLFileSink(tmp_path / "c.jsonl").close(timeout=1.0)
    LoggingSink().close(timeout=1.0)
    CallbackSink(print).close(timeout=1.0)


# --- LoggingSink ----------------------------------------------------------------------------

_FORGERY = "ok\n2026-12-06 INFO llmcost.records openai chat gpt-4o: $0.00 [feature=x]"


def test_a_tag_cannot_forge_a_log_line(caplog):
    """Newlines, ESC and separators in any field come out escaped, on one line."""
    record = _record(
        _FORGERY,
        user_id="u\x1b[2J\x1b[31m",
        tags={"team\r\n": "a\u2028b\u202ec", "blob": "\x00\x07\x85", "file": "x\udc80"},
    )
    with caplog.at_level(logging.INFO, logger="llmcost.records"):
        LoggingSink().emit(record)
    (entry,) = caplog.records
    message = entry.getMessage()
    for char in ("\n", "\r", "\x1b", "\u2028", "\u202e", "\x85"):
        assert char not in message
    assert "feature=ok\\n2026-12-06 INFO" in message
    assert "user=u\\x1b[2J\\x1b[31m" in message
    assert "team\\r\\n=a\\u2028b\\u202ec" in message
    assert "file=x\\udc80" in message
    message.encode("utf-8")  # a handler writing UTF-8 can write it
    assert entry.llmcost["feature"] == _FORGERY  # type: ignore[attr-defined] # data stays raw


def test_escape_leaves_ordinary_text_alone():
    """Accents, CJK, emoji (with joiners) and tabs-free text pass through unchanged."""
    for text in ("café", "支援チャット", "👨\u200d👩\u200d👧 team", "plain text", ""):
        assert escape(text) == text


# Every code point, lone surrogates included (hypothesis leaves those out unless asked), with
# surrogates, controls and line separators drawn often.
_ANY_CHAR = st.one_of(
    st.characters(categories=("Cs", "Cc", "Zl", "Zp")), st.characters(exclude_categories=())
)
_ANY_TEXT = st.text(_ANY_CHAR)
_ANY_KEY = st.text(_ANY_CHAR, max_size=10)
_ANY_VALUE = st.text(_ANY_CHAR, max_size=20)


@settings(max_examples=300, deadline=None)
@given(_ANY_TEXT, st.dictionaries(_ANY_KEY, _ANY_VALUE, max_size=3))
def test_format_record_is_always_one_safe_line(feature, tags):
    """Whatever the fields hold, the summary has no line break, control or surrogate."""
    line = format_record(_record(feature, tags=tags))
    unsafe = {"Cc", "Cs", "Zl", "Zp"}
    assert not [char for char in line if unicodedata.category(char) in unsafe]
    line.encode("utf-8")  # a handler writing UTF-8 can always write it
