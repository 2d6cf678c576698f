"""Model-name matching: ids, snapshots, prefixes, Bedrock/Vertex ids, aliases, memoization."""

from __future__ import annotations

import typing

import pytest

from llmcost.pricing import get_catalog, is_known, load_catalog

CASES = [
    ("gpt-4o", None, "gpt-4o"),
    ("GPT-4o", None, "gpt-4o"),
    ("gpt-4o-2024-08-06", None, "gpt-4o"),
    ("gpt-4o-2024-05-13", None, "gpt-4o-2024-05-13"),  # an exact snapshot with its own price
    ("openai/gpt-4o-mini", None, "gpt-4o-mini"),
    ("gpt-6-astra-2026-09-03", None, "gpt-6-astra"),  # an unlisted dated snapshot
    ("gpt-4-0613", None, "gpt-4"),
    ("gpt-3.5-turbo-0613", None, "gpt-3.5-turbo-0613"),
    ("claude-sonnet-4-5-20250929", None, "claude-sonnet-4-5"),
    ("anthropic/claude-opus-4-8", None, "claude-opus-4-8"),
    ("claude-3-5-haiku-latest", None, "claude-3-5-haiku"),
    ("claude-3-5-haiku-20241022", None, "claude-3-5-haiku"),
    ("claude-sonnet-4-20250514", None, "claude-sonnet-4-0"),
    ("anthropic.claude-3-5-sonnet-20241022-v2:0", "bedrock", "claude-3-5-sonnet"),
    ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", None, "claude-sonnet-4-5"),
    ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", None, "claude-haiku-4-5"),
    ("global.anthropic.claude-opus-4-6-v1", None, "claude-opus-4-6"),
    ("claude-sonnet-4-5@20250929", "vertex_ai", "claude-sonnet-4-5"),
    ("claude-3-5-sonnet-v2@20241022", None, "claude-3-5-sonnet"),
    ("claude-opus-4-1@20250805", None, "claude-opus-4-1"),
    ("gpt-4o", "azure", "gpt-4o"),
    ("gpt-4o", "some-gateway", "gpt-4o"),  # an unknown provider hint does not filter
]


@pytest.mark.parametrize(("name", "provider", "expected"), CASES)
def test_resolves(name: str, provider: str | None, expected: str) -> None:
    """Each spelling resolves to the catalog id it names."""
    model = get_catalog().resolve(name, provider)
    assert model is not None
    assert model.id == expected


@pytest.mark.parametrize(
    ("name", "provider"),
    [("gpt-4o", "anthropic"), ("claude-opus-4-8", "openai"), ("gpt-7-galaxy", None), ("", None)],
)
def test_does_not_resolve(name: str, provider: str | None) -> None:
    """A name of another provider, or no known model, resolves to None."""
    assert get_catalog().resolve(name, provider) is None
    assert not is_known(name, provider)


def test_resolution_is_memoized() -> None:
    """A name resolves once: the second lookup is served from the memo (hits and misses)."""
    catalog = load_catalog({})
    first = catalog.resolve("claude-sonnet-4-5@20250929")
    assert ("claude-sonnet-4-5@20250929", None) in catalog._memo
    assert catalog.resolve("claude-sonnet-4-5@20250929") is first
    assert catalog.resolve("unknown-x") is None
    assert catalog._memo[("unknown-x", None)] is None


def test_memo_is_bounded() -> None:
    """Invented names cannot grow the memo without bound."""
    catalog = load_catalog({})
    for i in range(5000):
        catalog.resolve(f"made-up-{i}")
    assert len(catalog._memo) <= 4096


def _literals(annotation: object) -> list[str]:
    out: list[str] = []
    for arg in typing.get_args(annotation):
        if isinstance(arg, str):
            out.append(arg)
        else:
            out.extend(_literals(arg))
    return out


def test_every_sdk_model_is_priced() -> None:
    """Every chat, reasoning and embedding model the installed SDKs list has a price."""
    from anthropic.types.model_param import ModelParam
    from openai.types.embedding_model import EmbeddingModel
    from openai.types.shared.chat_model import ChatModel

    names = _literals(ChatModel) + _literals(EmbeddingModel) + _literals(ModelParam)
    assert len(names) > 100
    missing = [n for n in names if get_catalog().resolve(n) is None]
    assert missing == []


def test_models_listing() -> None:
    """models() lists a provider's models sorted by id; aliases of providers work."""
    catalog = get_catalog()
    anthropic = catalog.models("anthropic")
    assert anthropic
    assert all(m.provider == "anthropic" for m in anthropic)
    assert [m.id for m in anthropic] == sorted(m.id for m in anthropic)
    assert catalog.models("bedrock") == anthropic
    providers = ("anthropic", "openai", "google")
    assert len(catalog.models()) == len(catalog) == sum(len(catalog.models(p)) for p in providers)
