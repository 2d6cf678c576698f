"""``llmcost report --html``: one self-contained HTML page a person can read at a glance.

The page is a single file, inline CSS and SVG, no script, no font, no network: it opens the
same on a laptop, in a CI artefact viewer or attached to an e-mail. It shows the daily spend
(days without calls shown as zero), the split by feature, model, user and project, the top
movers against the previous period, unpriced calls and estimated spend apart from the exact
spend, and the days whose spend jumped, marked on the chart.

One streaming pass over the records fills a :class:`ReportData` (memory grows with days and
distinct keys, never with records); :func:`render_html` turns it into the page.

Example:
    >>> import llmcost
    >>> from llmcost.report_html import ReportData, render_html
    >>> data = ReportData.read(llmcost.read_records("costs.jsonl"))  # doctest: +SKIP
    >>> open("spend.html", "w").write(render_html(data))  # doctest: +SKIP
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from llmcost.report import (
    _EXACT,
    _ZERO,
    DIMENSIONS,
    DayAnomaly,
    ReportData,
    _Day,
    _float,
    _Split,
    format_usd,
    printable,
    usd_column,
)

__all__ = ["DIMENSIONS", "DayAnomaly", "ReportData", "render_html"]

# --- the page -----------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0;
  --panel: #ffffff; --bg: #f1f5f9; --brand: #4f46e5; --brand-soft: #a5b4fc;
  --up: #b91c1c; --down: #047857; --warn: #b45309; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 28px 40px; }
header { display: flex; justify-content: space-between; align-items: flex-end; gap: 16px;
  margin-bottom: 18px; }
h1 { font-size: 22px; margin: 0; letter-spacing: -0.01em; }
h2 { font-size: 15px; margin: 0 0 12px; }
.sub { color: var(--muted); font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(5, 1fr); gap: 12px; margin-bottom: 16px; }
.card, .panel { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; }
.card { padding: 12px 14px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: 0.04em; }
.card .value { font-size: 22px; font-weight: 650; margin-top: 2px;
  font-variant-numeric: tabular-nums; }
.card .note { color: var(--muted); font-size: 12px; }
.panel { padding: 16px 18px; margin-bottom: 16px; }
.grid2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; }
.grid2 .panel { margin-bottom: 0; }
.legend { display: flex; gap: 16px; color: var(--muted); font-size: 12px; margin-bottom: 6px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 5px; vertical-align: -1px; }
svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  fill: var(--muted); }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th { text-align: left; color: var(--muted); font-weight: 500; font-size: 12px;
  border-bottom: 1px solid var(--line); padding: 4px 6px; }
td { padding: 5px 6px; border-bottom: 1px solid #f1f5f9; vertical-align: middle; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.name { max-width: 200px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.bar { height: 8px; border-radius: 4px; background: var(--brand); min-width: 1px; }
.track { background: #eef2ff; border-radius: 4px; width: 100px; }
.rest td { color: var(--muted); } .rest .bar { background: #cbd5e1; }
.up { color: var(--up); } .down { color: var(--down); } .warn { color: var(--warn); }
.none { color: var(--muted); font-style: italic; }
footer { color: var(--muted); font-size: 12px; margin-top: 18px; }
"""


def _e(text: str | None) -> str:
    """Text for the page: control characters escaped, then HTML-escaped."""
    return html.escape(printable("(none)" if text is None else text), quote=True)


def render_html(data: ReportData, *, title: str = "LLM spend") -> str:
    """The page for ``data``: one self-contained HTML document (inline CSS and SVG only)."""
    from llmcost import __version__

    data._derive()
    shown = data.shown_days()
    previous_days, current_days = data.periods()
    in_shown = set(shown)
    exact = _sum(entry.exact for day, entry in data.days.items() if day in in_shown)
    estimated = _sum(entry.estimated for day, entry in data.days.items() if day in in_shown)
    requests = sum(entry.requests for day, entry in data.days.items() if day in in_shown)
    unpriced = sum(entry.unpriced for day, entry in data.days.items() if day in in_shown)
    now_spend = _period_spend(data, current_days)
    then_spend = _period_spend(data, previous_days)
    anomalies = data.anomalies()
    period = f"{shown[0]:%d %b %Y} – {shown[-1]:%d %b %Y}" if shown else "no records"
    where = ", ".join(str(c) for c in data.where)

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)} · {period}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        '<header><div><h1 id="title">' + _e(title) + "</h1>",
        f'<div class="sub">{period} · {len(shown)} day(s)'
        + (f" · where {_e(where)}" if where else "")
        + "</div></div>",
        '<div class="sub">'
        + (f"{len(data.sources)} file(s) · " if data.sources else "")
        + f"{data.records:,} record(s)</div></header>",
        '<section class="cards" id="totals">',
        _card("Spend", format_usd(_EXACT.add(exact, estimated)), f"{requests:,} calls"),
        _card("Exact", format_usd(exact), "priced from the provider's usage"),
        _card("Estimated", format_usd(estimated), "tokens counted locally"),
        _card(
            "Unpriced calls",
            f"{unpriced:,}",
            "cost unknown, not $0" if unpriced else "every call priced",
            warn=bool(unpriced),
        ),
        _change_card(then_spend, now_spend, len(current_days)),
        "</section>",
        '<section class="panel" id="daily"><h2>Daily spend</h2>',
        '<div class="legend"><span><i style="background:var(--brand)"></i>exact</span>'
        '<span><i style="background:var(--brand-soft)"></i>estimated</span>'
        '<span><i style="background:var(--up);border-radius:5px"></i>anomaly</span>'
        '<span><i style="background:var(--warn)"></i>day with unpriced calls</span></div>',
        _chart(data, shown, anomalies),
        "</section>",
        '<section class="grid2" id="splits">',
    ]
    for name, label in DIMENSIONS:
        parts.append(_split_panel(name, label, data.split(name)))
    parts.append("</section>")
    parts.append('<section class="grid2" style="margin-top:16px">')
    parts.append(_movers_panel(data, previous_days, current_days))
    parts.append(_apart_panel(data, anomalies))
    parts.append("</section>")
    parts.append(
        f"<footer>llmcost {_e(__version__)} · money is cut, never rounded up · "
        "unpriced calls are counted apart: their cost is unknown, never $0</footer>"
    )
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _sum(values: Iterable[Decimal]) -> Decimal:
    total = _ZERO
    for value in values:
        total = _EXACT.add(total, value)
    return total


def _period_spend(data: ReportData, days: Sequence[date]) -> Decimal:
    return _sum(
        _EXACT.add(data.days[day].exact, data.days[day].estimated)
        for day in days
        if day in data.days
    )


def _card(label: str, value: str, note: str, *, warn: bool = False) -> str:
    style = ' class="value warn"' if warn else ' class="value"'
    return (
        f'<div class="card"><div class="label">{_e(label)}</div><div{style}>{_e(value)}</div>'
        f'<div class="note">{_e(note)}</div></div>'
    )


def _change_card(before: Decimal, now: Decimal, days: int) -> str:
    if not days:
        return _card("Change", "-", "not enough days to compare")
    change = _EXACT.subtract(now, before)
    text = f"{_float(change) * 100 / _float(before):+.1f}%" if before else "new" if now else "0%"
    css = "up" if change > 0 else "down" if change < 0 else ""
    sign = "+" if change > 0 else "-" if change < 0 else ""
    return (
        '<div class="card"><div class="label">Change</div>'
        f'<div class="value {css}">{_e(text)}</div>'
        f'<div class="note">last {days} day(s): {sign}{_e(format_usd(abs(change)))}</div></div>'
    )


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover


def _chart(data: ReportData, shown: list[date], anomalies: list[DayAnomaly]) -> str:
    width, height = 1100, 280
    left, right, top, bottom = 64, 12, 18, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    if not shown:
        return '<p class="none">No records in this period.</p>'
    totals = []
    for day in shown:
        entry = data.days.get(day, _Day())
        totals.append((entry, _float(entry.exact), _float(entry.estimated)))
    peak = max(exact + estimated for _, exact, estimated in totals)
    ceiling = _nice_ceiling(peak)
    slot = plot_w / len(shown)
    bar = max(1.0, min(28.0, slot * 0.72))
    marked = {anomaly.day: anomaly for anomaly in anomalies}

    def y_of(value: float) -> float:
        return top + plot_h - (value / ceiling) * plot_h

    out = [
        f'<svg id="chart" role="img" aria-label="Daily spend" viewBox="0 0 {width} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg">'
    ]
    ticks = [ceiling * n / 4 for n in range(5)]
    labels = usd_column([Decimal(repr(tick)) for tick in ticks])
    for tick, label in zip(ticks, labels, strict=True):
        y = y_of(tick)
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#e2e8f0" stroke-width="1"/>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{_e(label)}</text>'
        )
    every = max(1, math.ceil(len(shown) / 14))
    for index, (day, (entry, exact, estimated)) in enumerate(zip(shown, totals, strict=True)):
        x = left + slot * index + (slot - bar) / 2
        spend = _EXACT.add(entry.exact, entry.estimated)
        tip = f"{day.isoformat()}: {format_usd(spend)} · {entry.requests:,} call(s)"
        if entry.estimated:
            tip += f" · {format_usd(entry.estimated)} estimated"
        if entry.unpriced:
            tip += f" · {entry.unpriced:,} unpriced"
        y_exact = y_of(exact)
        y_total = y_of(exact + estimated)
        out.append(f'<g class="day" data-day="{day.isoformat()}" data-spend="{spend}">')
        out.append(f"<title>{_e(tip)}</title>")
        if exact + estimated == 0:
            # A day without spend is drawn as zero, not left out.
            out.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - 1:.1f}" width="{bar:.1f}" height="1" '
                'fill="#cbd5e1"/>'
            )
        if exact > 0:
            out.append(
                f'<rect x="{x:.1f}" y="{y_exact:.1f}" width="{bar:.1f}" '
                f'height="{top + plot_h - y_exact:.1f}" rx="2" fill="#4f46e5"/>'
            )
        if estimated > 0:
            out.append(
                f'<rect x="{x:.1f}" y="{y_total:.1f}" width="{bar:.1f}" '
                f'height="{y_exact - y_total:.1f}" rx="2" fill="#a5b4fc"/>'
            )
        if entry.unpriced:
            out.append(
                f'<rect class="unpriced" x="{x + bar / 2 - 3:.1f}" y="{top + plot_h + 3:.1f}" '
                'width="6" height="6" rx="1" fill="#b45309"/>'
            )
        anomaly = marked.get(day)
        if anomaly is not None:
            cx = x + bar / 2
            out.append(
                f'<circle class="anomaly" cx="{cx:.1f}" cy="{max(y_total - 9, 6):.1f}" r="5" '
                f'fill="#b91c1c"><title>{_e(day.isoformat())}: {_e(format_usd(spend))} is '
                f"{anomaly.z_score:.1f} standard deviations above the days before</title>"
                "</circle>"
            )
        out.append("</g>")
        if index % every == 0:
            out.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 8}" text-anchor="middle">'
                f"{day:%d %b}</text>"
            )
    out.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        'stroke="#94a3b8" stroke-width="1"/>'
    )
    out.append("</svg>")
    return "".join(out)


def _split_panel(name: str, label: str, rows: list[tuple[str | None, _Split]]) -> str:
    shown = rows[:8]
    rest = rows[8:]
    if rest:
        other = _Split()
        for _, split in rest:
            other.cost = _EXACT.add(other.cost, split.cost)
            other.requests += split.requests
            other.unpriced += split.unpriced
        shown = [*shown, (f"{len(rest)} more", other)]
    total = _sum(split.cost for _, split in rows)
    money = usd_column([split.cost for _, split in shown])
    out = [f'<div class="panel" id="by-{name}"><h2>By {label.lower()}</h2>']
    if not rows:
        out.append('<p class="none">No records.</p></div>')
        return "".join(out)
    out.append(
        '<table><tr><th></th><th class="num">spend</th><th></th><th class="num">share</th>'
        '<th class="num">calls</th></tr>'
    )
    for (value, split), text in zip(shown, money, strict=True):
        share = min(_float(split.cost) / _float(total), 1.0) if total else 0.0
        name_cell = _e(value) if value is not None else '<span class="none">(none)</span>'
        if split.unpriced and split.unpriced == split.requests:
            text = "unpriced"
        calls = f"{split.requests:,}" + (
            f' <span class="warn">({split.unpriced:,} unpriced)</span>' if split.unpriced else ""
        )
        css = ' class="rest"' if rest and value == shown[-1][0] and split is shown[-1][1] else ""
        out.append(
            f'<tr{css}><td class="name" title="{_e(value)}">{name_cell}</td>'
            f'<td class="num">{_e(text)}</td>'
            f'<td><div class="track"><div class="bar" style="width:{share * 100:.1f}%">'
            "</div></div></td>"
            f'<td class="num">{share * 100:.1f}%</td><td class="num">{calls}</td></tr>'
        )
    out.append("</table></div>")
    return "".join(out)


def _movers_panel(data: ReportData, previous: list[date], current: list[date]) -> str:
    out = ['<div class="panel" id="movers"><h2>Top movers</h2>']
    if not previous:
        out.append('<p class="none">Not enough days to compare periods.</p></div>')
        return "".join(out)
    out.append(
        f'<div class="sub" style="margin:-6px 0 8px">{current[0]:%d %b} – {current[-1]:%d %b} '
        f"against {previous[0]:%d %b} – {previous[-1]:%d %b}</div>"
    )
    moves = data.movers()
    if not moves:
        out.append('<p class="none">No change.</p></div>')
        return "".join(out)
    out.append(
        '<table><tr><th></th><th></th><th class="num">before</th><th class="num">now</th>'
        '<th class="num">change</th></tr>'
    )
    befores = usd_column([before for _, _, before, _ in moves])
    nows = usd_column([now for _, _, _, now in moves])
    for (kind, value, before, now), before_text, now_text in zip(moves, befores, nows, strict=True):
        change = _EXACT.subtract(now, before)
        css = "up" if change > 0 else "down"
        arrow = "▲" if change > 0 else "▼"
        percent = f" ({_float(change) * 100 / _float(before):+.0f}%)" if before else " (new)"
        out.append(
            f'<tr><td class="sub">{_e(kind)}</td><td class="name" title="{_e(value)}">'
            f'{_e(value)}</td><td class="num">{_e(before_text)}</td>'
            f'<td class="num">{_e(now_text)}</td><td class="num {css}">{arrow} '
            f"{_e(format_usd(abs(change)))}{_e(percent)}</td></tr>"
        )
    out.append("</table></div>")
    return "".join(out)


def _apart_panel(data: ReportData, anomalies: list[DayAnomaly]) -> str:
    out = ['<div class="panel" id="apart"><h2>Unpriced, estimated and anomalous</h2>']
    if data.unpriced_models:
        out.append(
            '<table id="unpriced"><tr><th>unpriced model</th><th>provider</th>'
            '<th class="num">calls</th></tr>'
        )
        for (model, provider), count in sorted(
            data.unpriced_models.items(), key=lambda item: (-item[1], item[0])
        )[:8]:
            out.append(
                f'<tr><td class="name warn">{_e(model)}</td><td>{_e(provider)}</td>'
                f'<td class="num">{count:,}</td></tr>'
            )
        out.append("</table>")
    else:
        out.append('<p class="sub">Every call had a price.</p>')
    if data.estimated_models:
        rows = sorted(data.estimated_models.items(), key=lambda item: -item[1].cost)[:8]
        money = usd_column([split.cost for _, split in rows])
        out.append(
            '<table id="estimated" style="margin-top:10px"><tr><th>estimated model</th>'
            '<th class="num">spend</th><th class="num">calls</th></tr>'
        )
        for (model, split), text in zip(rows, money, strict=True):
            out.append(
                f'<tr><td class="name">{_e(model)}</td><td class="num">{_e(text)}</td>'
                f'<td class="num">{split.requests:,}</td></tr>'
            )
        out.append("</table>")
    if anomalies:
        out.append(
            '<table id="anomalies" style="margin-top:10px"><tr><th>anomalous day</th>'
            '<th class="num">spend</th><th class="num">usual</th><th class="num">z</th></tr>'
        )
        for anomaly in anomalies:
            out.append(
                f'<tr><td class="up">{anomaly.day:%a %d %b}</td>'
                f'<td class="num">{_e(format_usd(anomaly.spend))}</td>'
                f'<td class="num">{_e(format_usd(Decimal(repr(anomaly.mean))))}</td>'
                f'<td class="num">{anomaly.z_score:.1f}</td></tr>'
            )
        out.append("</table>")
    else:
        out.append('<p class="sub">No day stands out from the days before it.</p>')
    out.append("</div>")
    return "".join(out)
