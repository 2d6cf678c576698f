"""The cost summary at the end of the run: for the terminal, and as Markdown for a CI job's
summary page (``$GITHUB_STEP_SUMMARY``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from llmcost.pytest_plugin._baseline import Entry, Figures, change, grew, money, percent
from llmcost.pytest_plugin._limits import _ZERO, _usd
from llmcost.pytest_plugin._tally import _by_cost, _cost_label

if TYPE_CHECKING:
    from llmcost.pytest_plugin._session import _CostPlugin

_NO_FEATURE = "(no feature)"


def _summary_lines(plugin: _CostPlugin, *, full: bool) -> list[tuple[str, dict[str, bool]]]:
    """The terminal summary, as (text, markup) lines; a line starting with "=" is a header."""
    totals = plugin.totals
    budget = plugin.settings.session_budget
    plain: dict[str, bool] = {}
    alarm = {"red": True, "bold": True}
    lines: list[tuple[str, dict[str, bool]]] = [("= llmcost: LLM call cost =", plain)]

    headline = (
        f"session total {_usd(totals.total_usd)} for {totals.calls} call(s) in "
        f"{len(plugin.tests)} tracked test(s)"
    )
    if budget is not None and budget > 0:
        headline += f", {totals.total_usd * 100 / budget:.1f}% of the {_usd(budget)} budget"
    elif budget is not None:
        headline += f", over the {_usd(budget)} budget" if totals.total_usd else ""
    lines.append((headline, alarm if plugin.over_budget else plain))
    live_calls = totals.calls - totals.replayed_calls
    lines.append((f"  live spend  {_usd(totals.live_usd):>12}  {live_calls} call(s)", plain))
    if totals.replayed_calls:
        lines.append(
            (
                f"  replayed    {_usd(totals.replayed_usd):>12}  {totals.replayed_calls} call(s) "
                "answered by fake transports or recordings (no money spent)",
                plain,
            )
        )
    if plugin.over_budget:
        lines.append(
            (
                f"OVER BUDGET: more than the {_usd(budget or _ZERO)} session budget was spent; "
                "the run stopped after the test that crossed it",
                alarm,
            )
        )

    shown = None if full else 5
    ranked = sorted(
        (entry for entry in plugin.tests.values() if entry["calls"]),
        key=lambda entry: (-entry["total_usd"], entry["nodeid"]),
    )
    if ranked:
        lines.append(("tests, costliest first:" if full else "costliest tests:", plain))
        for entry in ranked[:shown]:
            limit = entry["limit_usd"]
            over = limit is not None and entry["total_usd"] > limit
            cost = _cost_label(entry["total_usd"], entry["calls"], entry["unpriced_calls"])
            lines.append(
                (
                    f"  {cost:>12}  {entry['calls']:>4} call(s)  "
                    f"{entry['nodeid']}" + (f"  (over its {_usd(limit)} limit)" if over else ""),
                    {"red": True} if over else plain,
                )
            )
        if shown is not None and len(ranked) > shown:
            lines.append((f"  ... {len(ranked) - shown} more with --llmcost-report=full", plain))
    for title, table in (("by model:", totals.models), ("by feature:", totals.features)):
        rows = _by_cost(table)
        if not rows:
            continue
        lines.append((title, plain))
        for name, row in rows[: None if full else 10]:
            cost = _cost_label(row.usd, row.calls, row.unpriced)
            lines.append((f"  {cost:>12}  {row.calls:>4} call(s)  {name or _NO_FEATURE}", plain))
    if totals.unpriced:
        listed = ", ".join(f"{name} x{count}" for name, count in sorted(totals.unpriced.items()))
        lines.append(
            (
                f"unpriced calls: {totals.unpriced_calls} ({listed}); their cost is unknown and "
                "not in the totals above",
                {"yellow": True} if plugin.settings.unpriced == "warn" else alarm,
            )
        )
    lines.extend(_baseline_lines(plugin, full=full))
    catalogs = ", ".join(sorted(totals.catalogs)) or "none (no priced calls)"
    lines.append((f"price catalog: {catalogs}", plain))
    if plugin.settings.json_path is not None:
        lines.append((f"per-test results: {plugin.settings.json_path}", plain))
    if plugin.settings.save_baseline is not None:
        lines.append((f"baseline saved: {plugin.settings.save_baseline}", plain))
    return lines


# --- against a baseline ---------------------------------------------------------------------


class Comparison:
    """This run's tests and features against the baseline: what grew, shrank or is new."""

    def __init__(self, plugin: _CostPlugin) -> None:
        assert plugin.baseline is not None
        self.limit = plugin.settings.max_increase
        self.path = os.path.relpath(plugin.settings.compare_baseline or "")
        #: (node id, before or None when new, now), in the order the tests finished.
        self.tests: list[tuple[str, Entry | None, Entry]] = [
            (nodeid, plugin.baseline.get(nodeid), now) for nodeid, now in plugin.measured.items()
        ]
        # Features over the tests that are in both, so a test left out of this run does not
        # look like a feature that got cheaper.
        before: dict[str, Figures] = {}
        now: dict[str, Figures] = {}
        for _, old, new in self.tests:
            if old is None:
                continue
            for name, figures in old.features.items():
                before[name] = before.get(name, Figures()) + figures
            for name, figures in new.features.items():
                now[name] = now.get(name, Figures()) + figures
        self.features = [
            (name, before.get(name, Figures()), now.get(name, Figures()))
            for name in sorted(set(before) | set(now))
        ]

    def over(self) -> list[tuple[str, Entry, Entry]]:
        return [
            (nodeid, old, new)
            for nodeid, old, new in self.tests
            if old is not None and grew(old.total, new.total, self.limit)
        ]

    def changed(self) -> list[tuple[str, Entry, Entry]]:
        return [
            (nodeid, old, new)
            for nodeid, old, new in self.tests
            if old is not None
            and (old.total.usd, old.total.tokens) != (new.total.usd, new.total.tokens)
        ]

    def new(self) -> list[str]:
        return [nodeid for nodeid, old, _ in self.tests if old is None]


def _baseline_lines(plugin: _CostPlugin, *, full: bool) -> list[tuple[str, dict[str, bool]]]:
    if plugin.baseline is None:
        return []
    plain: dict[str, bool] = {}
    compared = Comparison(plugin)
    over = compared.over()
    changed = compared.changed()
    lines = [
        (
            f"against the baseline {compared.path} (max +{percent(compared.limit)}): "
            f"{len(over)} test(s) over, {len(changed) - len(over)} other change(s), "
            f"{len(compared.new())} new test(s)",
            {"red": True, "bold": True} if over else plain,
        )
    ]
    for nodeid, old, new in changed[: None if full else 10]:
        alarm = {"red": True} if grew(old.total, new.total, compared.limit) else plain
        lines.append((f"  {_figures_change(old.total, new.total)}  {nodeid}", alarm))
    moved = [(name, was, now) for name, was, now in compared.features if was != now]
    if moved:
        lines.append(("by feature, against the baseline:", plain))
        for name, was, now in moved:
            alarm = {"red": True} if grew(was, now, compared.limit) else plain
            lines.append((f"  {_figures_change(was, now)}  {name}", alarm))
    return lines


def _figures_change(old: Figures, new: Figures) -> str:
    return (
        f"{money(old.usd):>10} -> {money(new.usd):<10} {change(old.usd, new.usd):>8}   "
        f"{old.tokens:>8,} -> {new.tokens:<8,} tokens {change(old.tokens, new.tokens):>8}"
    )


# --- Markdown, for a CI job's summary page ---------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_summary(plugin: _CostPlugin) -> str:
    """The run's LLM cost as Markdown: totals, costliest tests, and the baseline comparison
    (tests and features, tokens and money) when one was given."""
    totals = plugin.totals
    out = [
        "### LLM cost (llmcost)",
        "",
        f"Session total **{_usd(totals.total_usd)}** for {totals.calls} call(s) in "
        f"{len(plugin.tests)} tracked test(s): live {_usd(totals.live_usd)}, replayed "
        f"{_usd(totals.replayed_usd)}"
        + (f", {totals.unpriced_calls} unpriced call(s)" if totals.unpriced_calls else "")
        + ".",
        "",
    ]
    if plugin.baseline is not None:
        compared = Comparison(plugin)
        over = compared.over()
        verdict = f"**{len(over)} test(s) over**" if over else "no test over"
        out += [
            f"#### Against the baseline `{_cell(compared.path)}` (max +{percent(compared.limit)}):"
            f" {verdict}",
            "",
            "| | test | cost before | cost now | change | tokens before | tokens now | change |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for nodeid, old, new in compared.changed() or []:
            mark = "❌" if grew(old.total, new.total, compared.limit) else "✅"
            out.append(_markdown_row(mark, nodeid, old.total, new.total))
        for nodeid in compared.new():
            out.append(f"| 🆕 | {_cell(nodeid)} | | | new | | | new |")
        if not compared.changed() and not compared.new():
            out.append("| ✅ | every test as in the baseline | | | = | | | = |")
        out += [
            "",
            "| | feature | cost before | cost now | change | tokens before | tokens now | change |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, was, now in compared.features:
            mark = "❌" if grew(was, now, compared.limit) else "✅"
            out.append(_markdown_row(mark, name, was, now))
        out.append("")
    ranked = sorted(
        (entry for entry in plugin.tests.values() if entry["calls"]),
        key=lambda entry: (-entry["total_usd"], entry["nodeid"]),
    )[:10]
    if ranked:
        out += ["| costliest tests | calls | tokens | cost |", "|---|---:|---:|---:|"]
        for entry in ranked:
            tokens = entry["input_tokens"] + entry["output_tokens"]
            cost = _cost_label(entry["total_usd"], entry["calls"], entry["unpriced_calls"])
            out.append(f"| {_cell(entry['nodeid'])} | {entry['calls']} | {tokens:,} | {cost} |")
    return "\n".join(out)


def _markdown_row(mark: str, name: str, old: Figures, new: Figures) -> str:
    return (
        f"| {mark} | {_cell(name)} | {money(old.usd)} | {money(new.usd)} | "
        f"{change(old.usd, new.usd)} | {old.tokens:,} | {new.tokens:,} | "
        f"{change(old.tokens, new.tokens)} |"
    )
