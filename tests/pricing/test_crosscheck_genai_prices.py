"""Cross-check: our base rates agree with genai-prices, or the difference is written down.

For every model that both catalogs price, today's standard short-context rates must be equal,
unless ``genai_prices_known_differences.json`` lists the model and rate with the reason. A
listed difference that no longer exists fails too, so the file cannot go stale.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmcost.pricing import get_catalog

genai_prices = pytest.importorskip("genai_prices")

KNOWN = json.loads(
    (Path(__file__).parent / "genai_prices_known_differences.json").read_text(encoding="utf-8")
)
WHEN = datetime(2026, 11, 22, tzinfo=timezone.utc)
# our rate name -> genai-prices price key (both USD per 1M tokens)
FIELDS = {
    "input": "input_mtok",
    "output": "output_mtok",
    "cache_read": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
    "cache_write_1h": "cache_write_1h_mtok",
    "input_audio": "input_audio_mtok",
    "output_audio": "output_audio_mtok",
}


def _theirs(model_id: str, provider: str) -> Any | None:
    from genai_prices import data_snapshot

    try:
        _provider, info = data_snapshot.get_snapshot().find_provider_model(
            model_id, None, provider, None
        )
    except LookupError:
        return None
    return info.get_prices(WHEN) if info is not None else None


def _base(value: Any) -> Decimal | None:
    if value is None:
        return None
    return Decimal(value.base) if hasattr(value, "base") else Decimal(value)


def _differences() -> dict[str, dict[str, tuple[str | None, str | None]]]:
    found: dict[str, dict[str, tuple[str | None, str | None]]] = {}
    for model in get_catalog().models():
        theirs = _theirs(model.id, model.provider)
        if theirs is None:
            continue
        ours = model._periods[-1][1].rates.model_dump(exclude_none=True)
        for field, key in FIELDS.items():
            mine = ours.get(field)
            other = _base(getattr(theirs, key, None))
            if mine != other:
                found.setdefault(model.id, {})[field] = (
                    None if mine is None else str(mine),
                    None if other is None else str(other),
                )
    return found


def test_base_rates_agree_or_are_explained() -> None:
    """Every disagreement with genai-prices is listed with a reason, and nothing else is."""
    differences = _differences()
    unexplained = {
        model: fields
        for model, fields in differences.items()
        if set(fields) - set(KNOWN.get(model, {}).get("fields", {}))
    }
    assert unexplained == {}
    stale = {
        model: entry
        for model, entry in KNOWN.items()
        if not model.startswith("_") and set(entry["fields"]) - set(differences.get(model, {}))
    }
    assert stale == {}


def test_known_differences_have_reasons() -> None:
    """Each listed difference says why our value was chosen."""
    for model, entry in KNOWN.items():
        if model.startswith("_"):
            continue
        assert len(entry["reason"]) > 20, model


def test_most_models_are_compared() -> None:
    """The check is not vacuous: nearly every model of ours is also in genai-prices."""
    compared = sum(1 for m in get_catalog().models() if _theirs(m.id, m.provider) is not None)
    assert compared >= 85
