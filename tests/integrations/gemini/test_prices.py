"""The bundled Gemini prices: names that resolve, batch, tiers and dated changes, exactly."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from importlib import resources

import pytest

from llmcost.pricing import cost, get_catalog
from llmcost.types import Usage

D = Decimal
BEFORE = datetime(2026, 11, 22, tzinfo=timezone.utc)
AFTER = datetime(2027, 1, 2, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gemini-2.5-flash", "gemini-2.5-flash"),
        ("models/gemini-2.5-pro", "gemini-2.5-pro"),
        ("gemini-2.5-flash-preview-09-2025", "gemini-2.5-flash"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("models/gemini-1.5-pro-002", "gemini-1.5-pro"),
        ("gemini-flash-latest", "gemini-3.8-flash"),
        ("gemini-embedding-001", "gemini-embedding-001"),
    ],
)
def test_names_resolve(name: str, expected: str) -> None:
    """Ids, versioned ids and the SDK's models/ form resolve, with the Gemini provider hint."""
    found = get_catalog().resolve(name, "gcp.gemini")
    assert found is not None
    assert (found.id, found.provider) == (expected, "google")


def test_vertex_ai_hint_still_finds_claude() -> None:
    """Vertex AI serves Claude too: its provider name does not hide the Anthropic prices."""
    found = get_catalog().resolve("claude-sonnet-4-5@20250929", "gcp.vertex_ai")
    assert found is not None
    assert found.provider == "anthropic"


def test_every_gemini_entry_has_provenance() -> None:
    """Each model names its source and checked date; the file says what it cannot price."""
    models = get_catalog().models("google")
    assert len(models) >= 35
    for model in models:
        assert model.source.startswith("https://ai.google.dev/"), model.id
        # 2026-12-06: cached-audio and image rates added where genai-prices lists them.
        assert model.checked.isoformat() in ("2026-11-22", "2026-12-06"), model.id
    data = json.loads(
        (resources.files("llmcost.pricing") / "data" / "google.json").read_text(encoding="utf-8")
    )
    assert any("Not expressible" in note for note in data["notes"])


def test_batch_halves_tokens_but_not_cache_reads() -> None:
    """gemini-2.5-flash batch: input and output at half price, cache reads at the standard."""
    usage = Usage(input_tokens=2000, cache_read_tokens=1000, output_tokens=400)
    standard = cost("gemini-2.5-flash", usage, at=BEFORE)
    batch = cost("gemini-2.5-flash", usage, at=BEFORE, batch=True)
    assert (standard.input_cost_usd, standard.cache_read_cost_usd, standard.output_cost_usd) == (
        D("0.0003"),
        D("0.00003"),
        D("0.001"),
    )
    assert (batch.input_cost_usd, batch.cache_read_cost_usd, batch.output_cost_usd) == (
        D("0.00015"),
        D("0.00003"),
        D("0.0005"),
    )


def test_long_context_cliff_in_batch_too() -> None:
    """gemini-2.5-pro above 200k input tokens: the long-context rates, halved in batch."""
    usage = Usage(input_tokens=200_001, output_tokens=1000)
    assert cost("gemini-2.5-pro", usage, at=BEFORE).total_cost_usd == D("0.5150025")
    assert cost("gemini-2.5-pro", usage, at=BEFORE, batch=True).total_cost_usd == D("0.25750125")
    at_threshold = Usage(input_tokens=200_000, output_tokens=1000)
    assert cost("gemini-2.5-pro", at_threshold, at=BEFORE).total_cost_usd == D("0.26")


def test_priority_and_flex_tiers() -> None:
    """Flex and priority are priced at their own rates; an unknown tier as standard."""
    usage = Usage(input_tokens=1000, output_tokens=1000)
    totals = {
        tier: cost("gemini-2.5-flash", usage, at=BEFORE, service_tier=tier).total_cost_usd
        for tier in (None, "flex", "priority", "provisioned_throughput")
    }
    assert totals == {
        None: D("0.0028"),
        "flex": D("0.0014"),
        "priority": D("0.00504"),
        "provisioned_throughput": D("0.0028"),
    }


def test_dated_change_prices_a_call_at_the_rate_of_its_day() -> None:
    """gemini-3.8-flash: the introductory rate until 2027-01-01, the full rate after."""
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert cost("gemini-3.8-flash", usage, at=BEFORE).total_cost_usd == D("4.5")
    assert cost("gemini-3.8-flash", usage, at=AFTER).total_cost_usd == D("9")
