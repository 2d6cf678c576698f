"""llmcost.report: exact totals per key, dedup, time windows, unpriced calls, formats."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_DOWN, Context, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmcost import errors, report
from llmcost.errors import CorruptRecordError
from llmcost.reading import read_records
from llmcost.report import (
    Summarizer,
    format_csv,
    format_json,
    format_table,
    format_usd,
    key_function,
    parse_by,
    printable,
    summarize,
    total_row,
    usd_column,
)
from llmcost.types import CostRecord

NOV = datetime(2026, 11, 1, tzinfo=timezone.utc)


def _record(
    feature: str | None = "chat", cost: str | None = "0.01", **fields: object
) -> CostRecord:
    values: dict[str, object] = {
        "provider": "openai",
        "operation": "chat",
        "model": "gpt-4o",
        "feature": feature,
        "input_tokens": 100,
        "output_tokens": 10,
        "cache_read_tokens": 0,
        "total_cost_usd": Decimal(cost) if cost is not None else None,
        "priced": cost is not None,
        "timestamp": NOV,
    }
    values.update(fields)
    return CostRecord(**values)  # type: ignore[arg-type]


def _write(path: Path, records: list[CostRecord], extra: list[str] = ()) -> Path:  # type: ignore[assignment]
    path.write_text("".join(r.to_json() + "\n" for r in records) + "".join(x + "\n" for x in extra))
    return path


def test_totals_per_key_are_exact_and_sorted_by_cost() -> None:
    """Each row sums its records exactly; the costliest key comes first; shares add to 1."""
    records = [
        _record("search", "0.0005", input_tokens=50, output_tokens=5),
        _record("chat", "0.002", input_tokens=100, output_tokens=40, cache_read_tokens=60),
        _record("chat", "0.003", input_tokens=300, output_tokens=20),
        _record("search", "0.0000001", input_tokens=1, output_tokens=0),
    ]
    chat, search = summarize(records)
    assert chat.key == ("chat",)
    assert (chat.requests, chat.input_tokens, chat.output_tokens, chat.cache_read_tokens) == (
        2,
        400,
        60,
        60,
    )
    assert chat.total_cost_usd == Decimal("0.005")
    assert chat.avg_cost_usd == Decimal("0.0025")
    assert chat.output_input_ratio == pytest.approx(0.15)
    assert search.total_cost_usd == Decimal("0.0005001")
    assert chat.share is not None
    assert search.share is not None
    assert chat.share + search.share == Decimal(1)
    assert chat.share == Decimal("0.005") / Decimal("0.0055001")


def test_unpriced_calls_are_counted_apart_never_as_zero() -> None:
    """A call of unknown price adds tokens and a request, but not $0 to the average."""
    rows = summarize(
        [
            _record("chat", "0.01"),
            _record("chat", None, model="my-finetune", input_tokens=5000),
            _record("embed", None, input_tokens=10, output_tokens=0),
        ]
    )
    chat = next(row for row in rows if row.key == ("chat",))
    embed = next(row for row in rows if row.key == ("embed",))
    assert (chat.requests, chat.unpriced_requests, chat.priced_requests) == (2, 1, 1)
    assert chat.input_tokens == 5100
    assert chat.avg_cost_usd == Decimal("0.01")  # over the priced call only
    assert (embed.total_cost_usd, embed.avg_cost_usd, embed.output_input_ratio) == (
        Decimal(0),
        None,
        0.0,
    )
    total = total_row(rows)
    assert (total.requests, total.unpriced_requests, total.total_cost_usd) == (
        3,
        2,
        Decimal("0.01"),
    )


def test_records_are_deduplicated_by_record_id() -> None:
    """The same record twice (e.g. a file read twice) is counted once, and the skip is counted."""
    one = _record("chat", "0.01")
    summarizer = Summarizer()
    for record in (one, one, _record("chat", "0.02"), one):
        summarizer.add(record)
    (row,) = summarizer.rows()
    assert (row.requests, row.total_cost_usd, summarizer.duplicates) == (2, Decimal("0.03"), 2)


def test_since_is_inclusive_and_until_exclusive() -> None:
    """Time windows: since <= t < until; dates mean midnight UTC; naive datetimes are refused."""
    records = [_record(f"d{day}", timestamp=NOV + timedelta(days=day)) for day in range(5)]
    rows = summarize(records, since=NOV + timedelta(days=1), until=date(2026, 11, 4))
    assert sorted(row.key for row in rows) == [("d1",), ("d2",)]  # d3 is at until: excluded
    other_zone = timezone(timedelta(hours=-5))
    # 19:00 at UTC-5 is midnight UTC on 3 November, d2's instant: included.
    rows = summarize(records, since=datetime(2026, 11, 2, 19, 0, tzinfo=other_zone))
    assert sorted(row.key for row in rows) == [("d2",), ("d3",), ("d4",)]
    with pytest.raises(ValueError, match="since"):
        summarize(records, since=datetime(2026, 11, 1))
    with pytest.raises(ValueError, match="before until"):
        summarize(records, since=NOV, until=NOV)


def test_grouping_by_several_fields_tags_and_time() -> None:
    """by accepts fields, tag:<name> and hour/day/month; sort="key" orders a trend by time."""
    records = [
        _record("chat", "0.01", tags={"tier": "pro"}, timestamp=NOV + timedelta(hours=30)),
        _record("chat", "0.02", model="gpt-4o-mini", timestamp=NOV),
        _record("chat", "0.04", tags={"tier": "free"}, timestamp=NOV + timedelta(days=40)),
    ]
    by_model = summarize(records, by="feature,model")
    assert [row.key for row in by_model] == [("chat", "gpt-4o"), ("chat", "gpt-4o-mini")]
    assert by_model[0].label == "chat / gpt-4o"
    by_tier = summarize(records, by=("tag:tier",))
    assert [(row.key, row.total_cost_usd) for row in by_tier] == [
        (("free",), Decimal("0.04")),
        ((None,), Decimal("0.02")),
        (("pro",), Decimal("0.01")),
    ]
    by_day = summarize(records, by="day", sort="key")
    assert [row.key for row in by_day] == [("2026-11-01",), ("2026-11-02",), ("2026-12-11",)]
    assert [row.key for row in summarize(records, by="month", sort="key")] == [
        ("2026-11",),
        ("2026-12",),
    ]
    assert [row.key for row in summarize(records, by="stream,status")] == [("false", "ok")]


def test_bad_groupings_are_refused_with_the_valid_names() -> None:
    """An unknown field names itself and lists what is allowed."""
    with pytest.raises(ValueError, match=r"'colour'.*feature"):
        parse_by("feature,colour")
    with pytest.raises(ValueError, match="at least one"):
        parse_by([])
    with pytest.raises(ValueError, match="twice"):
        parse_by("model,model")
    assert parse_by(" feature , tag:tier ") == ("feature", "tag:tier")
    assert key_function("provider,tag:x")(_record(tags={"x": "1"})) == ("openai", "1")


def test_a_reader_is_summarized_through_the_fast_path_with_the_same_result(
    tmp_path: Path,
) -> None:
    """summarize(read_records(...)) equals summarize over the records, duplicates included."""
    records = [
        _record(
            f"f{index % 4}",
            f"0.00{index % 7 + 1}",
            input_tokens=index,
            timestamp=NOV + timedelta(hours=index),
        )
        for index in range(40)
    ]
    records.append(_record("f9", None))
    path = _write(tmp_path / "costs.jsonl", records + records[:3])
    for by in ("feature", ("feature", "model"), "day", "tag:none", "priced"):
        reader = read_records(path)
        fast = summarize(reader, by=by, since=NOV + timedelta(hours=2), workers=1)
        slow = summarize(records, by=by, since=NOV + timedelta(hours=2))
        assert fast == slow
        assert reader.duplicates == 3


def test_parallel_summary_equals_the_sequential_one(tmp_path: Path) -> None:
    """workers=2 splits by record_id between processes; the merge is exact, errors are the same."""
    records = [
        _record(f"f{index % 5}", f"0.0{index % 9 + 1}", input_tokens=index) for index in range(300)
    ]
    odd_line = (
        '{"provider": "openai", "operation": "chat", "record_id": "odd", '
        '"timestamp": "2026-11-01T00:00:00Z", "feature": "f1", "total_cost_usd": 1, "priced": true}'
    )
    path = _write(tmp_path / "costs.jsonl", records + records[:10], [odd_line, odd_line, ""])
    sequential_reader = read_records(path)
    sequential = summarize(sequential_reader, by="feature", workers=1)
    parallel_reader = read_records(path)
    parallel = summarize(parallel_reader, by="feature", workers=2)
    assert parallel == sequential
    assert parallel_reader.duplicates == sequential_reader.duplicates == 11
    assert parallel_reader.records == sequential_reader.records == 301
    assert parallel_reader.lines == 313

    broken = _write(tmp_path / "broken.jsonl", records[:50], ["{torn", "also bad"])
    _write_more = broken.read_text() + records[60].to_json() + "\n"
    broken.write_text(_write_more)
    with pytest.raises(CorruptRecordError) as caught:
        summarize(read_records(broken), workers=2)
    assert (caught.value.line, caught.value.reason.startswith("invalid JSON")) == (51, True)
    errors.reset_stats()
    lenient = read_records(broken, strict=False)
    rows = summarize(lenient, workers=2)
    assert (lenient.skipped, [(e.line) for e in lenient.corrupt]) == (2, [51, 52])
    assert sum(row.requests for row in rows) == 51
    assert errors.stats()["read.corrupt_lines"] == 2


_costs = st.one_of(
    st.none(),
    st.decimals(min_value=0, max_value=1000, allow_nan=False, allow_infinity=False, places=12),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", None]), _costs, st.integers(0, 10**6)),
        max_size=40,
    ),
    st.integers(0, 5),
)
def test_report_totals_equal_the_exact_sum_of_distinct_priced_records(
    entries: list[tuple[str | None, Decimal | None, int]], repeats: int
) -> None:
    """Whatever the costs, the total is the exact sum over distinct priced records."""
    records = [
        _record(feature, None if cost is None else str(cost), input_tokens=tokens)
        for feature, cost, tokens in entries
    ]
    rows = summarize(records + records[:repeats])
    expected = sum((r.total_cost_usd for r in records if r.total_cost_usd is not None), Decimal(0))
    assert sum((row.total_cost_usd for row in rows), Decimal(0)) == expected
    assert sum(row.requests for row in rows) == len(records)
    assert sum(row.unpriced_requests for row in rows) == sum(
        r.total_cost_usd is None for r in records
    )
    assert [row.total_cost_usd for row in rows] == sorted(
        (row.total_cost_usd for row in rows), reverse=True
    )


def test_table_csv_and_json_formats() -> None:
    """The table is readable (top N + the rest + TOTAL); csv and json carry exact figures."""
    records = [
        _record(f"f{index}", f"0.0{index + 1}", input_tokens=1000 * (index + 1))
        for index in range(4)
    ]
    rows = summarize(records)
    table = format_table(rows, top=2)
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["feature", "requests", "unpriced"]
    assert lines[2].startswith("f3 ")
    assert "$0.04 " in lines[2]
    assert "40.0%" in lines[2]
    assert lines[4].startswith("(2 more)")
    assert "$0.03 " in lines[4]
    assert "30.0%" in lines[4]
    assert lines[-1].startswith("TOTAL")
    assert "$0.10 " in lines[-1]
    assert "10,000" in lines[-1]

    parsed = list(csv.DictReader(io.StringIO(format_csv(rows))))
    assert [row["feature"] for row in parsed] == ["f3", "f2", "f1", "f0", "TOTAL"]
    assert Decimal(parsed[-1]["total_cost_usd"]) == Decimal("0.10")
    assert Decimal(parsed[0]["total_cost_usd"]) == Decimal("0.04")
    assert Decimal(parsed[0]["share"]) == Decimal("0.4")
    top_one = list(csv.DictReader(io.StringIO(format_csv(rows, top=1))))
    assert [row["feature"] for row in top_one] == ["f3", "TOTAL"]
    assert top_one[-1]["requests"] == "4"  # the total is over every row, shown or not

    document = json.loads(format_json(rows, top=3), parse_float=Decimal)
    assert document["by"] == ["feature"]
    assert [row["feature"] for row in document["rows"]] == ["f3", "f2", "f1"]
    assert document["rows"][0]["total_cost_usd"] == Decimal("0.04")
    assert document["total"]["total_cost_usd"] == Decimal("0.10")
    assert document["total"]["requests"] == 4
    assert format_table([]).splitlines()[-1].startswith("TOTAL")
    with pytest.raises(ValueError, match="top"):
        format_table(rows, top=0)


def test_report_module_is_reachable_from_the_package() -> None:
    """llmcost.report is the module users import."""
    import llmcost

    assert llmcost.report is report


def test_a_row_with_no_priced_call_never_shows_zero_dollars() -> None:
    """Unknown cost reads as unknown in the table, empty in CSV and null in JSON."""
    rows = summarize([_record("priced", "0.01"), _record("mystery", None, model="gpt-4o-minii")])
    table = format_table(rows)
    mystery_line = next(line for line in table.splitlines() if line.startswith("mystery"))
    assert "unpriced" in mystery_line
    assert "$0.0000" not in mystery_line
    csv_rows = list(csv.DictReader(io.StringIO(format_csv(rows))))
    mystery = next(row for row in csv_rows if row["feature"] == "mystery")
    assert mystery["total_cost_usd"] == ""
    assert mystery["share"] == ""
    priced = next(row for row in csv_rows if row["feature"] == "priced")
    assert priced["share"] == "1"
    parsed = json.loads(format_json(rows), parse_float=Decimal)
    by_feature = {row["feature"]: row for row in parsed["rows"]}
    assert by_feature["mystery"]["total_cost_usd"] is None
    assert by_feature["priced"]["total_cost_usd"] == Decimal("0.01")


def test_tiny_costs_keep_their_significant_digits_in_the_table() -> None:
    """$0.00000128 is not shown as a free $0.0000, nor rounded up to $0.0000013."""
    table = format_table(summarize([_record("search", "0.00000128")]))
    assert "$0.00000128" in table


def test_json_total_is_null_when_nothing_was_priced() -> None:
    """The JSON total of unpriced calls is unknown, never 0."""
    parsed = json.loads(format_json(summarize([_record("mystery", None)])), parse_float=Decimal)
    assert parsed["total"]["total_cost_usd"] is None


# --- one money format (issue 19) -----------------------------------------------------------------

_AMOUNTS = st.decimals(
    min_value=Decimal("-1e18"), max_value=Decimal("1e18"), allow_nan=False, places=None
).filter(lambda d: d.is_finite())


def _shown(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", ""))


@given(_AMOUNTS)
def test_money_is_cut_toward_zero_never_rounded_up(value: Decimal) -> None:
    """What the table shows is the amount cut toward zero: never more than it, and within
    one unit of the fourth significant digit (or of a cent) of it."""
    text = format_usd(value)
    assert text.startswith(("$", "$-"))
    shown = _shown(text)
    assert abs(shown) <= abs(value)
    assert shown == 0 or (shown > 0) == (value > 0)
    if value and value.adjusted() < 15:
        step = Decimal(1).scaleb(min(value.adjusted() - 3, -2))
        assert abs(value) - abs(shown) < step


@given(st.lists(_AMOUNTS.map(abs), min_size=1, max_size=8))
def test_a_money_column_tells_different_amounts_apart(values: list[Decimal]) -> None:
    """Two rows show the same text only when their amounts are equal (up to 40 digits)."""
    texts = usd_column(values)
    forty = Context(prec=40, rounding=ROUND_DOWN)
    for a, text_a in zip(values, texts, strict=True):
        for b, text_b in zip(values, texts, strict=True):
            if text_a == text_b and a.adjusted() < 15:
                assert forty.plus(a) == forty.plus(b), (a, b, text_a)


def test_money_examples() -> None:
    """The format on the cases a person reads every day."""
    assert format_usd(Decimal("0.00036")) == "$0.00036"
    assert format_usd(Decimal("0.000369")) == "$0.000369"
    assert format_usd(Decimal("0.0123999")) == "$0.01239"
    assert format_usd(Decimal("1234.5678")) == "$1,234.56"
    assert format_usd(Decimal("0.2")) == "$0.20"
    assert format_usd(Decimal(0)) == "$0.00"
    assert format_usd(None) == "-"
    assert format_usd(Decimal("1e400")) == "$1E+400"
    assert printable("ok\x1b[31m\n") == "ok\\x1b[31m\\x0a"
    assert printable("caf\u00e9 \u65e5\u672c") == "caf\u00e9 \u65e5\u672c"  # text stays text
