"""Override layers (contract discounts, explicit rates, new models, aliases) and their errors."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from llmcost.errors import CatalogError
from llmcost.pricing import cost, get_catalog, load_catalog, use_catalog
from llmcost.pricing._catalog import _parse_provider_file
from llmcost.types import Usage

D = Decimal
USAGE = Usage(input_tokens=1_000_000, output_tokens=1_000_000)


def test_provider_scale_is_a_contract_discount() -> None:
    """A provider scale multiplies every rate of that provider and only that provider."""
    catalog = use_catalog({"scale": {"openai": "0.8"}})
    assert cost("gpt-4o", USAGE).total_cost_usd == D("10")  # (2.5 + 10) x 0.8
    assert cost("claude-opus-4-8", USAGE).total_cost_usd == D("30")  # untouched
    assert catalog.version.startswith("2026.12.06+override-")


def test_model_scale_stacks_with_provider_scale_and_keeps_history() -> None:
    """Model and provider scales multiply; dated prices keep their periods."""
    use_catalog({"scale": {"openai": "0.5"}, "models": {"o3": {"scale": "0.9"}}})
    before_cut = cost("o3", USAGE, at=datetime(2025, 5, 1, tzinfo=timezone.utc))
    assert before_cut.total_cost_usd == D("22.5")  # (10 + 40) x 0.45
    assert cost("o3", USAGE).total_cost_usd == D("4.5")  # (2 + 8) x 0.45


def test_explicit_rates_replace_only_what_they_name() -> None:
    """Override rates merge key by key into the model's latest prices."""
    use_catalog({"models": {"gpt-4o": {"rates": {"input": "2"}}}})
    result = cost("gpt-4o", USAGE)
    assert (result.input_cost_usd, result.output_cost_usd) == (D("2"), D("10"))
    assert cost("gpt-4o-2024-08-06", USAGE).input_cost_usd == D("2")  # aliases follow


def test_new_model_with_its_own_reasoning_rate() -> None:
    """A new model needs provider and rates; a reasoning rate prices reasoning apart."""
    catalog = use_catalog(
        {
            "models": {
                "acme-reasoner": {
                    "provider": "openai",
                    "rates": {"input": "3", "output": "12", "reasoning": "20"},
                    "tokenizer": "o200k_base",
                    "max_output_tokens": 4096,
                }
            }
        }
    )
    model = catalog.resolve("openai/acme-reasoner")
    assert model is not None
    assert (model.provider, model.max_output_tokens, model.source) == (
        "openai",
        4096,
        "<override mapping>",
    )
    result = cost(
        "acme-reasoner", Usage(input_tokens=1000, output_tokens=1000, reasoning_tokens=600)
    )
    # 400 x 12 + 600 x 20 = 16800 per 1M
    assert result.output_cost_usd == D("0.0168")
    assert result.input_cost_usd == D("0.003")


def test_alias_maps_a_deployment_name_to_a_model() -> None:
    """An alias (an Azure deployment name) prices as its target."""
    use_catalog({"aliases": {"prod-chat": "gpt-4o-2024-08-06"}})
    result = cost("prod-chat", USAGE, provider="azure")
    assert result.priced_as == "gpt-4o"
    assert result.total_cost_usd == D("12.5")


def test_file_override_and_layering(tmp_path: Path) -> None:
    """A JSON file works like a mapping; layers stack over a base; the bundled one is untouched."""
    first = tmp_path / "contract.json"
    first.write_text(json.dumps({"version": "acme-2026", "scale": {"anthropic": 0.5}}))
    second = tmp_path / "aliases.json"
    second.write_text(json.dumps({"aliases": {"support-bot": "claude-haiku-4-5"}}))
    base = load_catalog(first)
    layered = load_catalog(second, base=base)
    assert base.version == "2026.12.06+acme-2026"
    assert layered.version.startswith("2026.12.06+acme-2026+override-")
    model = layered.resolve("support-bot")
    assert model is not None
    assert model.rates["input"] == D("0.5")  # $1 x 0.5 from the first layer
    assert get_catalog().resolve("claude-haiku-4-5").rates["input"] == D("1")  # type: ignore[union-attr]


def test_use_catalog_none_restores_the_bundled_catalog(tmp_path: Path) -> None:
    """use_catalog(path) activates an override; use_catalog(None) restores the bundled data."""
    path = tmp_path / "o.json"
    path.write_text('{"models": {"gpt-4o": {"scale": 0.1}}}')
    use_catalog(str(path))
    assert cost("gpt-4o", USAGE).total_cost_usd == D("1.25")
    use_catalog(None)
    assert cost("gpt-4o", USAGE).total_cost_usd == D("12.5")


def test_numbers_in_json_files_are_exact(tmp_path: Path) -> None:
    """A JSON number such as 0.1 is read as Decimal('0.1'), never a binary float."""
    path = tmp_path / "o.json"
    path.write_text('{"models": {"gpt-4o": {"rates": {"input": 0.1}}}}')
    catalog = load_catalog(path)
    assert catalog.resolve("gpt-4o").rates["input"] == D("0.1")  # type: ignore[union-attr]


BAD: list[tuple[str, Any, str | None, str | None]] = [
    ("typo-in-rate", {"models": {"gpt-4o": {"rates": {"inptu": "2"}}}}, "gpt-4o", "rates.inptu"),
    ("negative-rate", {"models": {"gpt-4o": {"rates": {"input": "-1"}}}}, "gpt-4o", "rates.input"),
    ("not-a-number", {"scale": {"openai": "cheap"}}, None, "scale.openai"),
    ("top-level-typo", {"scales": {"openai": "0.8"}}, None, "scales"),
    (
        "new-model-no-provider",
        {"models": {"mystery": {"rates": {"input": "1"}}}},
        "mystery",
        "provider",
    ),
    (
        "new-model-no-rates",
        {"models": {"mystery": {"provider": "openai"}}},
        "mystery",
        "rates.input",
    ),
    ("alias-to-nothing", {"aliases": {"prod": "gpt-99"}}, "prod", "aliases"),
    ("bad-tokenizer", {"models": {"gpt-4o": {"tokenizer": "p50k"}}}, "gpt-4o", "tokenizer"),
    (
        "two-long-retentions",
        {"models": {"gpt-4o": {"rates": {"cache_write_1h": "1", "cache_write_12h": "2"}}}},
        "gpt-4o",
        "rates",
    ),
]


@pytest.mark.parametrize(
    ("data", "model", "field"), [pytest.param(d, m, f, id=i) for i, d, m, f in BAD]
)
def test_malformed_override_names_model_and_field(
    data: Any, model: str | None, field: str | None
) -> None:
    """A malformed override raises CatalogError naming the source, the model and the field."""
    with pytest.raises(CatalogError) as caught:
        load_catalog(data)
    error = caught.value
    assert error.source == "<override mapping>"
    assert error.model == model
    assert error.field == field
    assert "<override mapping>" in str(error)
    if field:
        assert repr(field) in str(error)


def test_malformed_file_names_the_file(tmp_path: Path) -> None:
    """Invalid JSON, a missing file and a non-object all name the file."""
    broken = tmp_path / "broken.json"
    broken.write_text('{"scale": {"openai": 0.8,}}')
    with pytest.raises(CatalogError, match=r"broken\.json.*line 1"):
        load_catalog(broken)
    with pytest.raises(CatalogError, match=r"missing\.json"):
        load_catalog(tmp_path / "missing.json")
    listing = tmp_path / "list.json"
    listing.write_text("[]")
    with pytest.raises(CatalogError, match=r"list\.json.*JSON object"):
        load_catalog(listing)


def test_malformed_provider_file_names_file_model_and_field() -> None:
    """A bad bundled-format file names the file, the model and the field."""
    data = {
        "provider": "openai",
        "source": "https://example.com",
        "checked": "2026-11-22",
        "models": [
            {
                "id": "ok-model",
                "rates": {"input": "1"},
                "source": "https://x",
                "checked": "2026-11-22",
            },
            {
                "id": "bad-model",
                "rates": {"input": "1"},
                "source": "https://x",
                "checked": "someday",
            },
        ],
    }
    with pytest.raises(CatalogError) as caught:
        _parse_provider_file(data, "data/openai.json")
    assert (caught.value.source, caught.value.model, caught.value.field) == (
        "data/openai.json",
        "bad-model",
        "checked",
    )
    data["models"] = [data["models"][0], data["models"][0]]  # type: ignore[index]
    with pytest.raises(CatalogError, match="duplicate model id"):
        _parse_provider_file(data, "data/openai.json")
