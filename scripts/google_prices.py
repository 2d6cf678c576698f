"""Regenerate ``src/llmcost/pricing/data/google.json`` from two independent price datasets.

Base, long-context, batch and dated rates come from genai-prices (``pip install genai-prices``),
whose Google entries cite https://ai.google.dev/gemini-api/docs/pricing; the Flex and Priority
tiers and the output caps come from litellm's dataset (read as JSON, never imported:
``pip download --no-deps litellm -d /tmp/p`` and pass the wheel). Every rate both datasets
give is compared; a disagreement is written into the model's ``note``. Dimensions the catalog
schema cannot express are listed in the file's ``notes``.

Usage: python scripts/google_prices.py /tmp/p/litellm-*.whl > src/llmcost/pricing/data/google.json
"""

from __future__ import annotations

import itertools
import json
import sys
import zipfile
from datetime import date
from decimal import Decimal
from typing import Any

import genai_prices.data as gp

CHECKED = "2026-11-22"
SOURCE = "https://ai.google.dev/gemini-api/docs/pricing"
MILLION = Decimal(1_000_000)
# genai-prices field -> catalog rate name
RATES = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cache_read",
    "input_audio_mtok": "input_audio",
    "output_audio_mtok": "output_audio",
}
# Models whose main output is billed per image or video token: the schema cannot price them.
UNPRICEABLE = ("output_image_mtok", "output_video_mtok")


def _s(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _lit_rate(entry: dict[str, Any], key: str) -> Decimal | None:
    value = entry.get(key)
    return None if value is None else Decimal(str(value)) * MILLION


def _rates_and_tiers(prices: Any) -> tuple[dict[str, str], list[dict[str, Any]], Decimal | None]:
    rates: dict[str, str] = {}
    tiers: dict[int, dict[str, str]] = {}
    for field, name in RATES.items():
        value = getattr(prices, field, None)
        if value is None:
            continue
        if hasattr(value, "base"):
            rates[name] = _s(value.base)
            for tier in value.tiers:
                tiers.setdefault(int(tier.start), {})[name] = _s(tier.price)
        else:
            rates[name] = _s(Decimal(value))
    searches = getattr(prices, "web_searches_kcount", None)
    per_search = None if searches is None else Decimal(searches) / 1000
    tier_list = [{"above_input_tokens": k, "rates": v} for k, v in sorted(tiers.items())]
    return rates, tier_list, per_search


def _variant(prices: Any, base_tiers: list[dict[str, Any]]) -> dict[str, Any]:
    rates, tiers, _ = _rates_and_tiers(prices)
    out: dict[str, Any] = {"rates": rates}
    if base_tiers:
        # A rate the variant omits (e.g. cache reads in batch) stays at the standard tier rate.
        own = {t["above_input_tokens"]: t["rates"] for t in tiers}
        out["tiers"] = [
            {
                "above_input_tokens": t["above_input_tokens"],
                "rates": t["rates"] | own.get(t["above_input_tokens"], {}),
            }
            for t in base_tiers
        ]
    return out


def _periods(model: Any) -> list[tuple[date | None, Any]]:
    prices = model.prices
    if not isinstance(prices, list):
        return [(None, prices)]
    out = []
    for conditional in prices:
        start = getattr(conditional.constraint, "start_date", None)
        out.append((start, conditional.prices))
    return sorted(out, key=lambda p: p[0] or date.min)


def _variant_at(model: Any, kind: str, start: date | None) -> Any | None:
    found = []
    for variant in model.price_variants or []:
        when = variant.when
        if kind == "batch" and when.get("processing") != "batch":
            continue
        if kind != "batch" and when.get("service_tier") != kind:
            continue
        found.append((getattr(variant.constraint, "start_date", None) or date.min, variant.prices))
    if not found:
        return None
    found.sort(key=lambda p: p[0])
    chosen = found[0][1]  # history before the first dated variant is not modelled: use it
    for begin, prices in found:
        if begin <= (start or date.min):
            chosen = prices
    return chosen


def _lit_tier(entry: dict[str, Any], suffix: str) -> dict[str, Any] | None:
    rates = {}
    for key, name in (
        ("input_cost_per_token", "input"),
        ("output_cost_per_token", "output"),
        ("cache_read_input_token_cost", "cache_read"),
        ("input_cost_per_audio_token", "input_audio"),
    ):
        value = _lit_rate(entry, f"{key}_{suffix}")
        if value is not None:
            rates[name] = _s(value)
    if not rates:
        return None
    tiers = {}
    for key, name in (
        ("input_cost_per_token_above_200k_tokens", "input"),
        ("output_cost_per_token_above_200k_tokens", "output"),
        ("cache_read_input_token_cost_above_200k_tokens", "cache_read"),
    ):
        value = _lit_rate(entry, f"{key}_{suffix}")
        if value is not None:
            tiers[name] = _s(value)
    out: dict[str, Any] = {"rates": rates}
    if tiers:
        out["tiers"] = [{"above_input_tokens": 200000, "rates": tiers}]
    return out


def _compare(ours: dict[str, str], lit: dict[str, Any]) -> list[str]:
    diffs = []
    for name, key in (
        ("input", "input_cost_per_token"),
        ("output", "output_cost_per_token"),
        ("cache_read", "cache_read_input_token_cost"),
        ("input_audio", "input_cost_per_audio_token"),
    ):
        theirs = _lit_rate(lit, key)
        if theirs is None or name not in ours:
            continue
        if Decimal(ours[name]) != theirs:
            diffs.append(f"{name}: genai-prices {ours[name]}, litellm {_s(theirs)}")
    return diffs


def build(litellm_wheel: str) -> dict[str, Any]:
    with zipfile.ZipFile(litellm_wheel) as wheel:
        lit = json.loads(wheel.read("litellm/model_prices_and_context_window_backup.json"))
    google = next(p for p in gp.providers if p.id == "google")
    models = []
    skipped = []
    for model in google.models:
        if not model.id.startswith("gemini-"):
            continue  # Claude on Vertex is priced by the Anthropic file; Gemma is mostly free
        periods = _periods(model)
        if any(getattr(p, f, None) is not None for _, p in periods for f in UNPRICEABLE):
            skipped.append(model.id)
            continue
        lit_entry = lit.get(f"gemini/{model.id}") or {}
        entries = []
        for start, prices in periods:
            rates, tiers, per_search = _rates_and_tiers(prices)
            fields: dict[str, Any] = {"rates": rates, "tiers": tiers}
            if per_search is not None:
                fields["web_search_per_request"] = _s(per_search)
            batch = _variant_at(model, "batch", start)
            if batch is not None:
                fields["batch"] = _variant(batch, tiers)
            tiers_by_name = {}
            for tier in ("flex", "priority"):
                own = _variant_at(model, tier, start)
                if own is not None:
                    tiers_by_name[tier] = _variant(own, tiers)
                elif start is None or len(periods) == 1:
                    from_lit = _lit_tier(lit_entry, tier)
                    if from_lit is not None:
                        tiers_by_name[tier] = from_lit
            if tiers_by_name:
                fields["service_tiers"] = tiers_by_name
            entries.append((start, fields))
        _latest_start, latest = entries[-1]
        entry: dict[str, Any] = {"id": model.id, "aliases": _aliases(model)}
        context = model.context_window or lit_entry.get("max_input_tokens")
        if context:
            entry["context_window"] = int(context)
        if lit_entry.get("max_output_tokens"):
            entry["max_output_tokens"] = int(lit_entry["max_output_tokens"])
        entry["rates"] = latest["rates"]
        if latest["tiers"]:
            entry["tiers"] = latest["tiers"]
        for key in ("batch", "service_tiers", "web_search_per_request"):
            if key in latest:
                entry[key] = latest[key]
        history = []
        for (_start, fields), (next_start, _) in itertools.pairwise(entries):
            old = {
                "until": next_start.isoformat(),
                "rates": fields["rates"],
                "tiers": fields["tiers"],
            }
            for key in ("batch", "service_tiers", "web_search_per_request"):
                if key in fields:
                    old[key] = fields[key]
            history.append(old)
        if history:
            entry["history"] = history
        entry["source"] = SOURCE
        entry["checked"] = CHECKED
        notes = []
        if not lit_entry:
            notes.append("Only in genai-prices (litellm has no gemini/ entry).")
        else:
            # Compare today's rates (the period in force on the checked date).
            today = date.fromisoformat(CHECKED)
            current = next(f for s, f in reversed(entries) if s is None or s <= today)
            diffs = _compare(current["rates"], lit_entry)
            if diffs:
                notes.append("litellm disagrees: " + "; ".join(diffs) + "; genai-prices kept.")
        if notes:
            entry["note"] = " ".join(notes)
        models.append(entry)
    models.sort(key=lambda m: m["id"])
    return {
        "provider": "google",
        "source": SOURCE,
        "checked": CHECKED,
        "notes": [
            "Rates are USD per 1M tokens; web_search_per_request is USD per grounded search.",
            "Generated by scripts/google_prices.py from genai-prices "
            f"{_version('genai-prices')} and litellm's dataset; see docs/integrations/gemini.md.",
            "One price for the Gemini Developer API and Vertex AI (Google lists the same rates).",
            "Not expressible in this schema: context-cache storage per hour, cached audio reads "
            "(priced at the text cache-read rate), image/video input tokens on Live models "
            "(priced at the text input rate).",
            "Left out (output billed per image or video token): " + ", ".join(sorted(skipped)),
        ],
        "models": models,
    }


def _aliases(model: Any) -> list[str]:
    names: list[str] = []

    def walk(clause: Any) -> None:
        if hasattr(clause, "equals"):
            names.append(clause.equals)
        for attr in ("or_", "and_"):
            for inner in getattr(clause, attr, None) or []:
                walk(inner)

    walk(model.match)
    found = {n.lower() for n in names}
    # Stable versions of the 1.x and 2.0 models are published with a -001/-002 suffix (the
    # name responses report as model_version), which the catalog's matcher does not strip.
    if model.id.startswith(("gemini-1.", "gemini-2.0-")):
        found |= {f"{model.id}-001", f"{model.id}-002"}
    # The SDK accepts "models/<id>" for the model argument, and budgets price it before sending.
    found |= {f"models/{name}" for name in (*found, model.id)}
    return sorted(found - {model.id})


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    json.dump(build(sys.argv[1]), sys.stdout, indent=1)
    sys.stdout.write("\n")
