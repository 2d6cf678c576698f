"""``llmcost report --html``: the page's content, its safety, and how it looks in a real browser."""

from __future__ import annotations

import gzip
import html.parser
import os
import random
import shutil
import struct
import subprocess
import zlib
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from llmcost.cli import main
from llmcost.report_html import ReportData, render_html
from llmcost.types import CostRecord

NOV = datetime(2026, 11, 1, tzinfo=timezone.utc)
OUTAGE = (9, 10)  # days with no call at all: the chart must show them as zero
SPIKE_DAY = 19  # summaries run eight times as often: an anomaly
DOCS = Path(__file__).resolve().parents[1] / "docs"


def sample_records(seed: int = 7) -> list[CostRecord]:
    """Thirty days of a small product: five features, forty users, an outage, a spike, a
    growing agent, a fine-tuned model with no price and some locally estimated calls."""
    rng = random.Random(seed)
    features = [
        ("support_chat", "gpt-4o", "openai", Decimal("0.012")),
        ("search", "gpt-4o-mini", "openai", Decimal("0.0009")),
        ("summaries", "claude-sonnet-4-5", "anthropic", Decimal("0.03")),
        ("agent", "o3", "openai", Decimal("0.08")),
        ("translate", "gpt-4o-mini", "openai", Decimal("0.0006")),
    ]
    records = []
    for day in range(30):
        if day in OUTAGE:
            continue
        for feature, model, provider, price in features:
            calls = rng.randint(8, 20)
            if feature == "agent" and day >= 23:
                calls *= 3
            if feature == "summaries" and day == SPIKE_DAY:
                calls *= 8
            for _ in range(calls):
                cost = (price * rng.randint(60, 140) / 100).quantize(Decimal("0.000001"))
                records.append(
                    CostRecord(
                        provider=provider,
                        operation="chat",
                        model=model,
                        feature=feature,
                        project="catalog" if feature == "search" else "checkout",
                        user_id=f"u-{rng.randrange(40):03d}",
                        input_tokens=rng.randint(200, 4000),
                        output_tokens=rng.randint(20, 800),
                        total_cost_usd=cost,
                        priced=True,
                        estimated=feature == "summaries" and rng.random() < 0.3,
                        timestamp=NOV + timedelta(days=day, seconds=rng.randrange(86_400)),
                    )
                )
        if day % 6 == 0:
            records.append(
                CostRecord(
                    provider="openai",
                    operation="chat",
                    model="ft:gpt-4o:acme:2026",
                    feature="support_chat",
                    input_tokens=900,
                    output_tokens=100,
                    priced=False,
                    timestamp=NOV + timedelta(days=day, hours=3),
                )
            )
    return records


def write_sample(directory: Path) -> list[Path]:
    """The sample split as a fleet writes it: two replicas' files, one rotated and gzipped."""
    records = sample_records()
    plain = directory / "replica-1.jsonl"
    plain.write_text("".join(r.to_json() + "\n" for r in records[::2]))
    zipped = directory / "replica-2.jsonl.1.gz"
    with gzip.open(zipped, "wt") as out:
        out.write("".join(r.to_json() + "\n" for r in records[1::2]))
    return [plain, zipped]


class _Dom(html.parser.HTMLParser):
    """The elements of a page: tags with their attributes, and the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            found
            for name, found in self.elements
            if name == tag and all(found.get(k) == v for k, v in attrs.items())
        ]


def _parse(page: str) -> _Dom:
    dom = _Dom()
    dom.feed(page)
    return dom


@pytest.fixture
def page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "spend.html"
    files = [str(path) for path in write_sample(tmp_path)]
    assert main(["report", *files, "--html", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().err
    return out


def test_the_page_shows_every_day_the_splits_the_movers_and_the_anomaly(page: Path) -> None:
    """Thirty days on the chart (the outage as zero), four splits, movers, the spike marked."""
    dom = _parse(page.read_text(encoding="utf-8"))
    days = dom.find("g", **{"class": "day"})
    assert len(days) == 30
    assert [d["data-day"] for d in days][:2] == ["2026-11-01", "2026-11-02"]
    spend = {d["data-day"]: Decimal(d["data-spend"] or "x") for d in days}
    assert [day for day, value in spend.items() if value == 0] == ["2026-11-10", "2026-11-11"]
    exact = sum(
        (r.total_cost_usd for r in sample_records() if r.total_cost_usd is not None), Decimal(0)
    )
    assert sum(spend.values()) == exact  # the chart's days add up to the exact spend
    marked, day = [], None
    for tag, attrs in dom.elements:
        if tag == "g" and attrs.get("class") == "day":
            day = attrs["data-day"]
        elif tag == "circle" and attrs.get("class") == "anomaly":
            marked.append(day)
    # The spike, and the day the agent's tripled traffic first stood out.
    assert marked == [f"2026-11-{SPIKE_DAY + 1}", "2026-11-26"]
    text = " ".join(dom.text)
    assert "standard deviations above the days before" in text
    for section in ("totals", "chart", "by-feature", "by-model", "by-user_id", "by-project"):
        assert (
            dom.find("section", id=section)
            or dom.find("div", id=section)
            or dom.find("svg", id=section)
        ), section
    assert "agent" in text
    assert "o3" in text
    assert "ft:gpt-4o:acme:2026" in text  # the unpriced model, named apart
    assert len(dom.find("rect", **{"class": "unpriced"})) == 5  # days 0, 6, 12, 18, 24
    assert "Fri 20 Nov" in text


def test_the_page_is_self_contained(page: Path) -> None:
    """No script, no external resource: the file is the whole report."""
    dom = _parse(page.read_text(encoding="utf-8"))
    assert not dom.find("script")
    assert not dom.find("link")
    assert not dom.find("img")
    for _, attrs in dom.elements:
        for name in ("src", "href"):
            assert not attrs.get(name), attrs
    assert "http://" not in page.read_text().replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page.read_text()


def test_hostile_tags_are_escaped() -> None:
    """Markup and control characters in a tag reach the page as text, never as markup."""
    hostile = 'x"><script>alert(1)</script>\x1b[2J\u202e'
    record = CostRecord(
        provider="openai",
        operation="chat",
        model="gpt-4o",
        feature=hostile,
        user_id="<b>bold</b>",
        total_cost_usd=Decimal("0.01"),
        priced=True,
        timestamp=NOV,
    )
    page = render_html(ReportData.read([record]))
    assert "<script" not in page
    assert "<b>" not in page
    assert "\x1b" not in page
    assert "\u202e" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b[2J\\u202e" in page


def test_numbers_beyond_any_call_do_not_break_the_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file saying 1e400 dollars or tokens gives a page, not a crash."""

    def line(number: int, field: str) -> str:
        record = CostRecord(
            record_id=f"00000000-0000-4000-8000-00000000000{number}",
            provider="openai",
            operation="chat",
            model="gpt-4o",
            input_tokens=7,
            total_cost_usd=Decimal("0.5"),
            priced=True,
            timestamp=NOV,
        )
        text = record.to_json()
        old = '"total_cost_usd":0.5' if field == "total_cost_usd" else '"input_tokens":7'
        assert old in text
        return text.replace(old, f'"{field}":1e400')

    lines = [line(1, "total_cost_usd"), line(2, "input_tokens")]
    path = tmp_path / "huge.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "huge.html"
    assert main(["report", str(path), "--lenient", "--html", str(out)]) == 0
    assert "$1E+400" in out.read_text()


# --- in a real browser -------------------------------------------------------------------------

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def _browser() -> str:
    for name in (os.environ.get("LLMCOST_BROWSER", ""), *_BROWSERS):
        found = shutil.which(name) if name else None
        if found:
            return found
    reason = (
        "no Chromium to render the HTML report (install Debian's chromium package, or set "
        "LLMCOST_BROWSER)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(reason + "; CI must have one (.ci/run installs it)")
    pytest.skip(reason)


def _headless(browser: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [
        browser,
        "--headless",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *arguments,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def png_pixels(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """(width, height, channels, rows) of an 8-bit, non-interlaced PNG, with the stdlib only."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, chunks = 8, []
    width = height = channels = 0
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, interlace) == (8, 0), "an 8-bit, non-interlaced PNG"
            channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    previous = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for x in range(channels, stride):
                line[x] = (line[x] + line[x - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for x in range(stride):
                left = line[x - channels] if x >= channels else 0
                line[x] = (line[x] + ((left + previous[x]) >> 1)) & 0xFF
        elif kind == 4:
            for x in range(stride):
                a = line[x - channels] if x >= channels else 0
                b = previous[x]
                c = previous[x - channels] if x >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, channels, rows


def test_the_page_renders_in_a_real_browser(page: Path, tmp_path: Path) -> None:
    """Headless Chromium loads the page: the DOM it built holds the chart and the tables, and
    the screenshot shows them (mostly light background, the bars in the brand colour, the
    anomaly marker in red)."""
    browser = _browser()
    dumped = _headless(browser, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = _parse(dumped.stdout)
    assert len(dom.find("g", **{"class": "day"})) == 30
    assert dom.find("svg", id="chart")
    assert len(dom.find("circle", **{"class": "anomaly"})) == 2
    assert "By feature" in " ".join(dom.text)

    shot = tmp_path / "report.png"
    taken = _headless(
        browser,
        tmp_path / "profile",
        "--window-size=1280,1720",
        f"--screenshot={shot}",
        page.as_uri(),
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.exists(), taken.stderr[-2000:]
    width, height, channels, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 1720)
    brand = red = ink = 0
    for row in rows:
        for x in range(0, len(row), channels):
            r, g, b = row[x], row[x + 1], row[x + 2]
            if r < 100 and g < 100 and b > 200:
                brand += 1  # #4f46e5, the bars
            elif r > 160 and g < 60 and b < 60:
                red += 1  # #b91c1c, the anomaly marker and rising movers
            elif r < 80 and g < 80 and b < 80:
                ink += 1  # text
    assert brand > 20_000, brand  # thirty bars and the split bars
    assert red > 50, red
    assert ink > 5_000, ink  # text was drawn: a font was found and used
    if os.environ.get("LLMCOST_UPDATE_DOCS") == "1":
        target = DOCS / "images" / "report.png"
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, target)


def test_worker_processes_give_the_same_page_and_table(tmp_path: Path) -> None:
    """Split between worker processes by record id, the table and the page are identical to a
    single pass (sums are exact, every record is counted by exactly one worker)."""
    from llmcost.reading import RecordReader
    from llmcost.report import Summarizer, summarize_into

    files = [str(path) for path in write_sample(tmp_path)]
    results = []
    for workers in (1, 2):
        summarizer = Summarizer(("feature", "model"), where=["project=checkout"])
        page = ReportData.start(where=["project=checkout"], layout=summarizer.fields)
        summarize_into(RecordReader(files), summarizer, page, workers=workers)
        results.append((summarizer.rows(), render_html(page), summarizer.filtered_out))
    assert results[0] == results[1]
    assert sum(row.requests for row in results[0][0]) == 1828
