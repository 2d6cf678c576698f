"""The cost summary at the end of the run, for the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    catalogs = ", ".join(sorted(totals.catalogs)) or "none (no priced calls)"
    lines.append((f"price catalog: {catalogs}", plain))
    if plugin.settings.json_path is not None:
        lines.append((f"per-test results: {plugin.settings.json_path}", plain))
    return lines
