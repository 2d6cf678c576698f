"""``llmcost report`` and ``llmcost anomalies`` on the command line."""

from __future__ import annotations

import csv
import gzip
import io
import json
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
