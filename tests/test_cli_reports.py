"""``llmcost report`` and ``llmcost anomalies`` on the command line."""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from llmcost.cli import main
from llmcost.types import CostRecord

NOV = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _record(feature: str, cost: str, day: int = 0, **fields: object) -> CostRecord:
    values: dict[str, object] = {
        "provider": "openai",
        "operation": "chat",
        "model": "gpt-4o",
        "feature": feature,
        "input_tokens": 1000,
        "output_tokens": 100,
        "total_cost_usd": Decimal(cost),
        "priced": True,
        "timestamp": NOV + timedelta(days=day),
    }
    values.update(fields)
    return CostRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def costs(tmp_path: Path) -> Path:
    records = [_record("support_chat", "0.0125", day) for day in range(10)]
    records += [_record("search", "0.001", day, model="gpt-4o-mini") for day in range(10)]
    records += [_record("summaries", "0.2", 20)]
    path = tmp_path / "costs.jsonl"
    path.write_text("".join(r.to_json() + "\n" for r in records))
    return path


def test_report_prints_a_table_by_default(costs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The default is a terminal table by feature, costliest first, with a TOTAL line."""
    assert main(["report", str(costs)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split()[0] == "feature"
    assert [line.split()[0] for line in lines[2:5]] == ["summaries", "support_chat", "search"]
    assert "$0.125 " in lines[3]
    assert lines[-1].split()[:2] == ["TOTAL", "21"]
    assert "$0.335 " in lines[-1]
    assert err == ""  # no progress when stderr is not a terminal, no notes


def test_report_csv_by_two_keys_since_until_and_top(
    costs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--by, --since/--until (until exclusive), --top and --format csv work together."""
    argv = ["report", str(costs), "--by", "feature,model", "--since", "2026-11-03"]
    argv += ["--until", "2026-11-08T00:00:00Z", "--top", "1", "--format", "csv"]
    assert main(argv) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows.pop()["feature"] == "TOTAL"
    assert rows == [
        {
            "feature": "support_chat",
            "model": "gpt-4o",
            "requests": "5",
            "unpriced_requests": "0",
            "input_tokens": "5000",
            "output_tokens": "500",
            "cache_read_tokens": "0",
            "total_cost_usd": "0.0625",
            "avg_cost_usd": "0.0125",
            "share": rows[0]["share"],
            "output_input_ratio": "0.1",
        }
    ]
    share = Decimal("0.0625") / Decimal("0.0675")  # cut, never rounded up, to 6 decimals
    assert Decimal("0") <= share - Decimal(rows[0]["share"]) < Decimal("0.000001")


def test_report_json_is_exact_and_reads_gzip(
    costs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """JSON output keeps exact money; .gz inputs are read alongside plain ones."""
    extra = tmp_path / "older.jsonl.gz"
    with gzip.open(extra, "wt") as out:
        out.write(_record("search", "0.0000001", 30).to_json() + "\n")
    assert main(["report", str(extra), str(costs), "--by", "feature", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out, parse_float=Decimal)
    search = next(row for row in document["rows"] if row["feature"] == "search")
    assert search["total_cost_usd"] == Decimal("0.0100001")
    assert document["total"]["requests"] == 22


def test_a_corrupt_line_stops_with_file_and_line(
    costs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit code 1, nothing on stdout, file:line and the reason on stderr."""
    with costs.open("a") as out:
        out.write('{"provider": "openai", "operation"\n')
    assert main(["report", str(costs)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"{costs}:22: invalid JSON" in err
    assert "--lenient" in err


def test_lenient_skips_and_says_how_many(costs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--lenient reports the others and the count of skipped lines (on stderr)."""
    with costs.open("a") as out:
        out.write("garbage\n" + _record("support_chat", "0.5").to_json() + "\nmore garbage\n")
    assert main(["report", str(costs), "--lenient", "--format", "csv"]) == 0
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[-1]["feature"] == "TOTAL"
    assert sum(int(row["requests"]) for row in rows[:-1]) == int(rows[-1]["requests"]) == 22
    assert "skipped 2 corrupt line(s)" in err
    assert f"{costs}:22" in err


def test_duplicates_are_counted_once_and_mentioned(
    costs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A copy of a file (a rotated file that overlaps) does not double the spend."""
    copy = costs.with_name("costs.jsonl.1")
    copy.write_bytes(costs.read_bytes())
    assert main(["report", str(costs), str(copy), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["total"]["requests"] == 21
    assert "ignored 21 duplicate record(s)" in err


def test_bad_inputs_exit_with_a_message(
    costs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file or unknown --by field exits 1 with a message; a bad date is a usage error."""
    assert main(["report", str(tmp_path / "nope.jsonl")]) == 1
    assert "nope.jsonl" in capsys.readouterr().err
    assert main(["report", str(costs), "--by", "colour"]) == 1
    assert "cannot group by 'colour'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["report", str(costs), "--since", "last tuesday"])
    assert exited.value.code == 2
    assert "expected a date" in capsys.readouterr().err


def test_anomalies_lists_the_call_that_jumped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The anomalies command replays files through the detector and lists what stood out."""
    records = [_record("support_chat", "0.01") for _ in range(30)]
    spike = _record("support_chat", "0.01", output_tokens=5000)
    path = tmp_path / "costs.jsonl"
    path.write_text("".join(r.to_json() + "\n" for r in [*records, spike]))
    assert main(["anomalies", str(path), "--by", "feature"]) == 0
    out, err = capsys.readouterr()
    header, line = out.splitlines()
    assert header.split() == [
        "timestamp",
        "feature",
        "metric",
        "value",
        "mean",
        "z_score",
        "record_id",
    ]
    assert line.split()[1:4] == ["support_chat", "output_tokens", "5000"]
    assert spike.record_id in line
    assert "1 anomaly in 31 records" in err
    assert main(["anomalies", str(path), "--format", "json", "--min-cost", "1"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_anomalies_stops_on_a_corrupt_line_unless_lenient(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same corrupt-line rules as report."""
    path = tmp_path / "costs.jsonl"
    path.write_text(_record("a", "0.1").to_json() + "\n{nope\n")
    assert main(["anomalies", str(path)]) == 1
    assert f"{path}:2:" in capsys.readouterr().err
    assert main(["anomalies", str(path), "--lenient"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "no anomalies in 1 records"
    assert "skipped 1 corrupt line(s)" in err


def test_the_console_script_runs(costs: Path) -> None:
    """The installed ``llmcost`` entry point runs the report in a fresh process."""
    script = Path(sys.executable).with_name("llmcost")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "llmcost.cli"]
    result = subprocess.run(
        [*command, "report", str(costs), "--by", "model", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout, parse_float=Decimal)
    assert [row["model"] for row in document["rows"]] == ["gpt-4o", "gpt-4o-mini"]
    assert document["total"]["total_cost_usd"] == Decimal("0.335")
    assert result.stderr == ""

    broken = costs.with_name("broken.jsonl")
    broken.write_text("{}\n")
    failed = subprocess.run(
        [*command, "report", str(broken)], capture_output=True, text=True, timeout=60, check=False
    )
    assert failed.returncode == 1
    assert f"{broken}:1: not a valid CostRecord" in failed.stderr


# --- filters, periods, many files, one money format (issue 19) ---------------------------------


def test_where_filters_report_and_anomalies(
    costs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--where key=value keeps matching records, != drops them, an empty value means none;
    several = on one key mean any of them."""
    assert main(["report", str(costs), "--where", "feature=search", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out, parse_float=Decimal)
    assert [row["feature"] for row in document["rows"]] == ["search"]
    assert document["total"]["total_cost_usd"] == Decimal("0.010")

    argv = ["report", str(costs), "--where", "feature!=search", "--where", "model=gpt-4o"]
    assert main([*argv, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert sorted(row["feature"] for row in rows) == ["summaries", "support_chat"]

    argv = ["report", str(costs), "--where", "feature=search", "--where", "feature=summaries"]
    assert main([*argv, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["requests"] == 11

    assert main(["report", str(costs), "--where", "replayed=false", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["requests"] == 21
    assert main(["anomalies", str(costs), "--where", "feature=search"]) == 0
    assert "no anomalies in 21 records" in capsys.readouterr().out


def test_a_filter_that_matches_nothing_fails_and_suggests(
    costs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 1 with the values that were close; an unknown key is named with a suggestion."""
    assert main(["report", str(costs), "--where", "feature=serch"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "no record matches --where feature=serch" in err
    assert "did you mean 'search'?" in err
    assert main(["anomalies", str(costs), "--where", "model=gpt4o"]) == 1
    assert "did you mean 'gpt-4o'" in capsys.readouterr().err
    assert main(["report", str(costs), "--where", "featur=search"]) == 1
    err = capsys.readouterr().err
    assert "--where 'featur=search'" in err
    assert "did you mean 'feature'?" in err
    assert main(["report", str(costs), "--where", "feature"]) == 1
    assert "expected key=value or key!=value" in capsys.readouterr().err


def test_compare_previous_period(costs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each key's spend in the window against the same length just before, biggest change
    first, with exact changes and a TOTAL."""
    argv = ["report", str(costs), "--since", "2026-11-06", "--until", "2026-11-11"]
    assert main([*argv, "--compare", "previous", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out, parse_float=Decimal)
    # Days 5-9 against days 0-4: the same calls every day, so nothing moved.
    assert {row["feature"]: row["change_usd"] for row in document["rows"]} == {
        "support_chat": 0,
        "search": 0,
    }
    argv = ["report", str(costs), "--since", "2026-11-16", "--until", "2026-11-26"]
    assert main([*argv, "--compare", "previous"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["feature", "previous", "USD"]
    summaries = next(line for line in lines if line.startswith("summaries"))
    assert summaries.split()[1:5] == ["$0.00", "$0.20", "+$0.20", "new"]
    support = next(line for line in lines if line.startswith("support_chat"))
    assert support.split()[1:5] == ["$0.0625", "$0.00", "-$0.0625", "-100.0%"]
    assert lines[-1].startswith("TOTAL")
    assert main(["report", str(costs), "--compare", "previous"]) == 1
    assert "--compare previous needs --since" in capsys.readouterr().err


def test_many_files_directories_globs_and_gzip(
    costs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fleet's files: a directory of replicas, rotated and gzipped ones, and patterns."""
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    lines = costs.read_text().splitlines(keepends=True)
    (fleet / "replica-a.jsonl").write_text("".join(lines[:7]))
    with gzip.open(fleet / "replica-b.jsonl.1.gz", "wt") as out:
        out.write("".join(lines[7:14]))
    (fleet / "replica-c.jsonl.2").write_text("".join(lines[14:]))
    (fleet / "notes.txt").write_text("not a cost file\n")
    assert main(["report", str(fleet), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["requests"] == 21
    pattern = str(fleet / "replica-*.jsonl*")
    assert main(["report", pattern, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["requests"] == 21
    assert main(["report", str(fleet / "nothing-*.jsonl")]) == 1
    assert "no file matches this pattern" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 1
    assert "a directory with no *.jsonl files" in capsys.readouterr().err


def test_a_truncated_last_line_is_named_and_the_rest_reported(
    costs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A write cut short (no newline, half a record) is not corruption, even without
    --lenient: it is named on stderr and everything before it counts."""
    whole = _record("search", "0.5").to_json()
    with costs.open("a") as out:
        out.write(whole[: len(whole) // 2])
    assert main(["report", str(costs), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["total"]["requests"] == 21
    assert f"{costs}:22: truncated last line" in err
    assert "a write cut short, not corruption" in err
    # A broken line *followed* by others is corruption, as before.
    with costs.open("a") as out:
        out.write("\n" + whole + "\n")
    assert main(["report", str(costs)]) == 1
    assert f"{costs}:22: invalid JSON" in capsys.readouterr().err


def test_control_characters_in_tags_are_escaped_on_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tag cannot clear the screen, forge a line or reorder text: escapes are shown."""
    hostile = "chat\x1b[2J\r\nTOTAL 0 \u202efake\x07"
    path = tmp_path / "costs.jsonl"
    record = _record("x", "0.01", tags={"tier": hostile}, user_id=hostile)
    path.write_text(record.to_json() + "\n")
    for by in ("tag:tier", "user_id"):
        assert main(["report", str(path), "--by", by]) == 0
        out = capsys.readouterr().out
        assert "chat\\x1b[2J\\x0d\\x0aTOTAL 0 \\u202efake\\x07" in out
        assert not any(ch in out for ch in "\x1b\r\u202e\x07")
        assert len(out.splitlines()) == 5  # header, rule, the row, rule, TOTAL
    assert main(["anomalies", str(path), "--by", "user_id", "--min-samples", "2"]) == 0
    capsys.readouterr()


def test_numbers_beyond_any_float_do_not_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """1e400 dollars or tokens (valid JSON) is reported, in every format, even --lenient."""
    lines = []
    for index, (field, plain) in enumerate(
        [("total_cost_usd", '"total_cost_usd":0.01'), ("input_tokens", '"input_tokens":1000')]
    ):
        record = _record("big", "0.01", record_id=f"00000000-0000-4000-8000-00000000000{index}")
        text = record.to_json()
        assert plain in text
        lines.append(text.replace(plain, f'"{field}":1e400'))
    lines += [_record("big", "0.01").to_json() for _ in range(12)]
    path = tmp_path / "huge.jsonl"
    path.write_text("\n".join(lines) + "\n")
    for extra in ([], ["--lenient"]):
        assert main(["report", str(path), *extra]) == 0
        table = capsys.readouterr().out
        assert "$1E+400" in table
        assert "1.000E+400" in table
        assert main(["report", str(path), *extra, "--format", "csv"]) == 0
        total = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))[-1]
        assert total["input_tokens"] == str(10**400 + 13_000)  # exact, as JSON can carry
        assert main(["report", str(path), *extra, "--format", "json"]) == 0
        document = json.loads(capsys.readouterr().out, parse_float=Decimal)
        assert document["total"]["input_tokens"] == 10**400 + 13_000
        assert main(["anomalies", str(path), *extra, "--min-samples", "2"]) == 0
        capsys.readouterr()


def test_csv_and_json_numbers_are_plain_and_exact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No float ratio, no 28-digit average, no exponent for small money: plain digits."""
    path = tmp_path / "costs.jsonl"
    records = [_record("a", "0.00000002", output_tokens=1) for _ in range(3)]
    path.write_text("".join(r.to_json() + "\n" for r in records))
    assert main(["report", str(path), "--format", "csv"]) == 0
    row, total = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert row["total_cost_usd"] == total["total_cost_usd"] == "0.00000006"
    assert row["avg_cost_usd"] == "0.00000002"
    assert row["output_input_ratio"] == "0.001"
    assert total["feature"] == "TOTAL"
    spike = _record("a", "0.01", output_tokens=5000)
    path.write_text("".join(r.to_json() + "\n" for r in [*records * 1, spike]))
    many = [_record("a", "0.00000002", output_tokens=1) for _ in range(30)]
    path.write_text("".join(r.to_json() + "\n" for r in [*many, spike]))
    assert main(["anomalies", str(path), "--format", "json"]) == 0
    raw = capsys.readouterr().out
    found = json.loads(raw, parse_float=Decimal)
    cost = next(item for item in found if item["metric"] == "cost_usd")
    assert cost["value"] == Decimal("0.01")
    assert cost["mean"] == Decimal("0.00000002")  # a number, not the string "2e-08"
    assert isinstance(cost["z_score"], Decimal)
    assert not re.search(r":-?[0-9.]+[eE]", raw)  # one plain form for every number


def test_money_in_the_table_is_never_rounded_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """$0.00036 stays $0.00036 (not $0.0004); rows that differ look different."""
    path = tmp_path / "costs.jsonl"
    records = [_record("a", "0.00036"), _record("b", "0.0123456"), _record("c", "0.0123451")]
    path.write_text("".join(r.to_json() + "\n" for r in records))
    assert main(["report", str(path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[6] for line in out.splitlines()[2:5]}
    # b and c differ in the seventh digit, so the column shows seven; a is not padded.
    assert rows == {"b": "$0.0123456", "c": "$0.0123451", "a": "$0.00036"}
    total = out.splitlines()[-1].split()[6]
    assert total == "$0.0250507"  # 0.0250507 exactly: nothing rounded up


def test_python_dash_m_version_and_help(costs: Path) -> None:
    """`python -m llmcost` runs; --version prints it; every option of report and anomalies
    has help text."""
    import llmcost
    from llmcost.cli import build_parser

    result = subprocess.run(
        [sys.executable, "-m", "llmcost", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"llmcost {llmcost.__version__}"
    result = subprocess.run(
        [sys.executable, "-m", "llmcost", "report", str(costs), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"]["requests"] == 21

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("report", "anomalies"):
        for action in commands.choices[name]._actions:
            assert action.help, f"llmcost {name} {action.option_strings or action.dest}"


def test_did_you_mean_for_models_and_providers(capsys: pytest.CaptureFixture[str]) -> None:
    """A near miss gets a suggestion; a provider with no model is an error, not "0 models"."""
    assert main(["price", "gpt4o", "--input", "10"]) == 1
    assert "did you mean 'gpt-4o'" in capsys.readouterr().err
    assert main(["models", "--provider", "opnai"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert "no provider 'opnai'" in err
    assert "did you mean 'openai'?" in err
    assert main(["models", "--provider", "openai"]) == 0
    assert "gpt-4o" in capsys.readouterr().out
