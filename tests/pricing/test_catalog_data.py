"""The bundled data: provenance on every entry, tokenizers and limits the budget engine needs."""

from __future__ import annotations

import json
from datetime import date
from importlib import resources

from llmcost.pricing import get_catalog


def test_every_entry_has_source_and_checked_date() -> None:
    """Each model names where its price was read and when it was checked."""
    for model in get_catalog().models():
        assert model.source.startswith("https://"), model.id
        assert isinstance(model.checked, date)
        assert date(2026, 1, 1) <= model.checked <= date(2026, 12, 6)


def test_tokenizers_and_limits() -> None:
    """Tokenizers follow the provider; chat models carry their output cap."""
    catalog = get_catalog()
    for model in catalog.models("anthropic"):
        assert model.tokenizer == "claude"
        assert model.max_output_tokens
    for model in catalog.models("openai"):
        assert model.tokenizer in ("o200k_base", "cl100k_base")
    assert catalog.resolve("gpt-4o").tokenizer == "o200k_base"  # type: ignore[union-attr]
    assert catalog.resolve("gpt-4").tokenizer == "cl100k_base"  # type: ignore[union-attr]
    assert catalog.resolve("text-embedding-3-small").tokenizer == "cl100k_base"  # type: ignore[union-attr]
    gpt4o = catalog.resolve("gpt-4o")
    assert gpt4o is not None
    assert (gpt4o.context_window, gpt4o.max_output_tokens) == (128_000, 16_384)


def test_data_files_are_plain_json_with_string_money() -> None:
    """Rates are written as strings so that they load as exact Decimals."""
    data_dir = resources.files("llmcost.pricing") / "data"
    for name in ("openai.json", "anthropic.json"):
        data = json.loads((data_dir / name).read_text(encoding="utf-8"))
        for model in data["models"]:
            for value in model["rates"].values():
                assert isinstance(value, str), (name, model["id"])


def test_version_and_repr() -> None:
    """The bundled catalog has a date version; ModelPrice reprs name the model."""
    catalog = get_catalog()
    assert catalog.version == "2026.12.06"
    assert "gpt-4o" in repr(catalog.resolve("gpt-4o"))
    assert "96" in repr(catalog) or "models=" in repr(catalog)
