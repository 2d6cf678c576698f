"""Read two independent price datasets in llmcost's terms, for the cross-check test.

- genai-prices (a dev dependency): its bundled data snapshot, never its network updater.
- litellm: the OpenAI/Anthropic rows of its price JSON, vendored in ``peers/litellm.json``
  (see ``peers/refresh_litellm.py``; litellm itself is neither imported nor installed).

Both are turned into ``{dimension: Decimal}`` per peer model name, with rates in USD per 1M
tokens and fees in USD per request, and compared with what llmcost's catalog resolves the
same name to. Dimensions are llmcost's rate-card names; ``batch.*``, ``priority.*`` and
``flex.*`` are the variants; ``long.*`` the long-context tier (``long.above`` its threshold).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

from llmcost.pricing import Catalog
from llmcost.pricing._math import EXACT, RateCard

#: Prices are compared as in force on this day (both sides apply their dated changes).
WHEN = datetime(2026, 12, 6, tzinfo=timezone.utc)
PEERS_DIR = Path(__file__).parent / "peers"

_TOKEN_DIMENSIONS = (
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_long",
    "input_audio",
    "output_audio",
    "cache_read_audio",
    "input_image",
    "cache_read_image",
    "output_image",
)
_VARIANT_DIMENSIONS = ("input", "output", "cache_read")


@dataclass(frozen=True)
class Disagreement:
    """One dimension of one peer model where llmcost's price differs from the peer's."""

    peer: str
    model: str
    priced_as: str
    dimension: str
    ours: str
    theirs: str


def _tidy(value: Decimal) -> Decimal:
    with localcontext(EXACT):
        value = value.normalize()
        return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _per_million(value: Any) -> Decimal:
    # litellm writes USD per token as JSON floats: their shortest repr is the intended digits.
    with localcontext(EXACT):
        return _tidy(Decimal(repr(value)) * 1_000_000)


# --- litellm -----------------------------------------------------------------------------

_LITELLM_TOKEN_KEYS = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_read_input_token_cost": "cache_read",
    "cache_creation_input_token_cost": "cache_write",
    "cache_creation_input_token_cost_above_1hr": "cache_write_long",
    "cache_creation_input_token_cost_above_12hr": "cache_write_long",
    "input_cost_per_audio_token": "input_audio",
    "output_cost_per_audio_token": "output_audio",
    "cache_read_input_audio_token_cost": "cache_read_audio",
    "input_cost_per_image_token": "input_image",
    "cache_read_input_image_token_cost": "cache_read_image",
    "output_cost_per_image_token": "output_image",
}
_LITELLM_VARIANTS = {"_batches": "batch", "_priority": "priority", "_flex": "flex"}
_LITELLM_LONG = ("_above_272k_tokens", "_above_200k_tokens", "_above_100k_tokens")


def litellm_version() -> str:
    return str(_litellm_file()["version"])


def _litellm_file() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PEERS_DIR / "litellm.json").read_text(encoding="utf-8"))
    return data


def litellm_prices() -> dict[str, tuple[str, dict[str, Decimal]]]:
    """Peer name -> (provider hint, dimensions) for every vendored litellm row."""
    out: dict[str, tuple[str, dict[str, Decimal]]] = {}
    for name, row in _litellm_file()["models"].items():
        dims: dict[str, Decimal] = {}
        for key, dimension in _LITELLM_TOKEN_KEYS.items():
            if key in row:
                dims[dimension] = _per_million(row[key])
            for suffix, variant in _LITELLM_VARIANTS.items():
                if key + suffix in row and dimension in _VARIANT_DIMENSIONS:
                    dims[f"{variant}.{dimension}"] = _per_million(row[key + suffix])
            for suffix in _LITELLM_LONG:
                if key + suffix in row and dimension in _VARIANT_DIMENSIONS:
                    dims[f"long.{dimension}"] = _per_million(row[key + suffix])
                    dims["long.above"] = Decimal(int(suffix.split("_")[2][:-1]) * 1000)
        search = row.get("search_context_cost_per_query")
        if isinstance(search, Mapping) and "search_context_size_medium" in search:
            dims["web_search"] = _tidy(Decimal(repr(search["search_context_size_medium"])))
        provider = str(row.get("litellm_provider", ""))
        out[name] = ("bedrock" if provider.startswith("bedrock") else provider, dims)
    return out


# --- genai-prices ------------------------------------------------------------------------

_GENAI_TOKEN_KEYS = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cache_read",
    "cache_write_mtok": "cache_write",
    "cache_write_1h_mtok": "cache_write_long",
    "input_audio_mtok": "input_audio",
    "output_audio_mtok": "output_audio",
    "cache_audio_read_mtok": "cache_read_audio",
    "input_image_mtok": "input_image",
    "cache_image_read_mtok": "cache_read_image",
    "output_image_mtok": "output_image",
}
_GENAI_VARIANTS = {
    "batch": {"processing": "batch"},
    "priority": {"service_tier": "priority"},
    "flex": {"service_tier": "flex"},
}


def genai_prices_version() -> str:
    import genai_prices

    return str(genai_prices.__version__)


def _genai_dims(prices: Any, prefix: str, keys: Mapping[str, str]) -> dict[str, Decimal]:
    dims: dict[str, Decimal] = {}
    for key, dimension in keys.items():
        value = getattr(prices, key, None)
        if value is None:
            continue
        base = getattr(value, "base", value)
        dims[prefix + dimension] = _tidy(Decimal(base))
        tiers = getattr(value, "tiers", None)
        if tiers and not prefix and dimension in _VARIANT_DIMENSIONS:
            dims[f"long.{dimension}"] = _tidy(Decimal(tiers[0].price))
            dims["long.above"] = Decimal(tiers[0].start)
    return dims


def genai_prices(names: Mapping[str, str]) -> dict[str, tuple[str, dict[str, Decimal]]]:
    """Our name -> (provider hint, dimensions) for every genai-prices model that one of
    ``names`` (name -> provider) matches, each genai-prices model once (under the first of
    our names that matches it)."""
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    out: dict[str, tuple[str, dict[str, Decimal]]] = {}
    seen: set[str] = set()
    for name, provider in names.items():
        try:
            _provider, info = snapshot.find_provider_model(name, None, provider, None)
        except LookupError:
            continue
        if info is None or info.id in seen:
            continue
        seen.add(info.id)
        standard = info.get_prices(WHEN)
        dims = _genai_dims(standard, "", _GENAI_TOKEN_KEYS)
        searches = getattr(standard, "web_searches_kcount", None)
        if searches is not None:
            dims["web_search"] = _tidy(Decimal(searches) / 1000)
        for variant, context in _GENAI_VARIANTS.items():
            if not any(v.when == context for v in info.price_variants or ()):
                continue
            prices = info.get_prices(WHEN, context)
            keys = {k: v for k, v in _GENAI_TOKEN_KEYS.items() if v in _VARIANT_DIMENSIONS}
            dims.update(_genai_dims(prices, f"{variant}.", keys))
        out[name] = (provider, dims)
    return out


# --- llmcost -----------------------------------------------------------------------------


def ours(card_for: Any) -> dict[str, Decimal]:
    """llmcost's dimensions from a function ``(batch, service_tier) -> RateCard``."""
    standard: RateCard = card_for(False, None)
    dims = {name: getattr(standard, name) for name in _TOKEN_DIMENSIONS}
    dims["web_search"] = standard.web_search
    if standard.tiers:
        threshold, long = standard.tiers[-1]
        dims["long.above"] = Decimal(threshold)
        dims.update({f"long.{name}": getattr(long, name) for name in _VARIANT_DIMENSIONS})
    for variant, (batch, tier) in {
        "batch": (True, None),
        "priority": (False, "priority"),
        "flex": (False, "flex"),
    }.items():
        card: RateCard = card_for(batch, tier)
        dims.update({f"{variant}.{name}": getattr(card, name) for name in _VARIANT_DIMENSIONS})
    return dims


def compare(
    catalog: Catalog, peer: str, rows: Mapping[str, tuple[str, Mapping[str, Decimal]]]
) -> tuple[list[Disagreement], int, int]:
    """Every disagreement between ``catalog`` and a peer's rows; also how many rows and
    dimension cells were compared (rows the catalog does not price are skipped)."""
    found: list[Disagreement] = []
    compared_rows = compared_cells = 0
    for name, (provider, theirs) in sorted(rows.items()):
        model = catalog.resolve(name, provider or None)
        if model is None or not theirs:
            continue
        compared_rows += 1
        mine = ours(
            lambda batch, tier, model=model: model.card(at=WHEN, batch=batch, service_tier=tier)
        )
        for dimension, value in sorted(theirs.items()):
            if dimension not in mine:
                continue
            compared_cells += 1
            if mine[dimension] != value:
                found.append(
                    Disagreement(peer, name, model.id, dimension, str(mine[dimension]), str(value))
                )
    return found, compared_rows, compared_cells


def catalog_names(catalog: Catalog) -> dict[str, str]:
    """Every id and alias of the catalog, with its provider (what genai-prices is asked)."""
    names: dict[str, str] = {}
    for model in catalog.models():
        for name in (model.id, *model.aliases):
            names.setdefault(name, model.provider)
    return names


def table(rows: Iterator[Disagreement] | list[Disagreement]) -> str:
    """A plain-text table of disagreements, for a failing test's message."""
    header = ("peer", "model", "priced as", "dimension", "llmcost", "peer says")
    lines = [header] + [(d.peer, d.model, d.priced_as, d.dimension, d.ours, d.theirs) for d in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
