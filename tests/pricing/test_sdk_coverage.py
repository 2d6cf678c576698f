"""Every model id the installed SDKs name is priced, or listed as unpriced on purpose.

The walk reads the SDKs' model ``Literal`` types: every type alias named ``*Model`` /
``*ModelParam`` in ``openai.types`` and ``anthropic.types`` (``ChatModel``, ``ResponsesModel``,
``ImageModel``, ``Model`` …) and the ``model`` field of every request type there. An id that is
neither resolved by the catalog nor in ``llmcost/pricing/data/unpriced.json`` fails, so a new
SDK release that names a new model fails here until it is priced or listed with a reason.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import types
import typing
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from llmcost.pricing import get_catalog, unpriced_on_purpose

DOCS = Path(__file__).parents[2] / "docs" / "pricing.md"


def _literal_strings(annotation: Any, out: set[str], depth: int = 0) -> None:
    if depth > 8:
        return
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        out.update(arg for arg in typing.get_args(annotation) if isinstance(arg, str))
    elif origin in (typing.Union, typing.Annotated) or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            _literal_strings(arg, out, depth + 1)
    value = getattr(annotation, "__value__", None)  # a `type X = ...` alias
    if value is not None:
        _literal_strings(value, out, depth + 1)


def sdk_model_ids(package: str) -> dict[str, set[str]]:
    """Model id -> the types that name it, across every module of ``package``."""
    root = importlib.import_module(package)
    found: dict[str, set[str]] = {}
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            ids: set[str] = set()
            if name.endswith(("Model", "ModelParam")):
                _literal_strings(obj, ids)
            elif isinstance(obj, type) and "model" in getattr(obj, "__annotations__", {}):
                try:
                    hints = typing.get_type_hints(obj)
                except Exception:  # a forward reference the SDK resolves lazily
                    continue
                _literal_strings(hints.get("model"), ids)
            for model_id in ids:
                found.setdefault(model_id, set()).add(f"{info.name}.{name}")
    return found


@pytest.fixture(scope="module")
def sdk_ids() -> dict[str, dict[str, set[str]]]:
    pytest.importorskip("openai")
    pytest.importorskip("anthropic")
    return {"openai": sdk_model_ids("openai.types"), "anthropic": sdk_model_ids("anthropic.types")}


def _unpriced(sdk_ids: dict[str, dict[str, set[str]]]) -> dict[str, list[str]]:
    catalog = get_catalog()
    return {
        provider: sorted(i for i in ids if catalog.resolve(i, provider) is None)
        for provider, ids in sdk_ids.items()
    }


def test_every_sdk_model_is_priced_or_unpriced_on_purpose(
    sdk_ids: dict[str, dict[str, set[str]]],
) -> None:
    """No SDK id is silently unpriced: each is in the catalog or in unpriced.json."""
    listed = unpriced_on_purpose()
    missing = {
        model_id: sorted(sdk_ids[provider][model_id])[:2]
        for provider, ids in _unpriced(sdk_ids).items()
        for model_id in ids
        if model_id not in listed
    }
    assert not missing, (
        "model ids the installed SDKs name with no price and no entry in "
        "llmcost/pricing/data/unpriced.json (price them, or list them with a reason):\n"
        + "\n".join(
            f"  {model_id}  (from {', '.join(where)})" for model_id, where in missing.items()
        )
    )


def test_the_walk_finds_the_sdk_model_types(sdk_ids: dict[str, dict[str, set[str]]]) -> None:
    """Not vacuous: the walk sees the chat, responses and Claude model literals."""
    assert any(w.endswith(".ChatModel") for w in sdk_ids["openai"]["gpt-4o"])
    assert any(w.endswith(".Model") for w in sdk_ids["anthropic"]["claude-opus-4-8"])
    assert len(sdk_ids["openai"]) >= 50
    assert len(sdk_ids["anthropic"]) >= 5


def test_unpriced_on_purpose_is_really_unpriced() -> None:
    """Nothing on the list has a price (a listed id that gets priced must leave the list),
    and every entry has a reason."""
    catalog = get_catalog()
    for model_id, reason in unpriced_on_purpose().items():
        assert catalog.resolve(model_id) is None, model_id
        assert len(reason) > 40, model_id


def test_docs_state_the_measured_coverage(sdk_ids: dict[str, dict[str, set[str]]]) -> None:
    """docs/pricing.md states coverage as measured with the SDK releases it names, and
    lists every unpriced id."""
    text = DOCS.read_text(encoding="utf-8")
    for model_id in unpriced_on_purpose():
        assert f"`{model_id}`" in text, model_id
    measured = re.search(
        r"openai (\S+) and anthropic (\S+) name (\d+) model ids; llmcost prices (\d+)", text
    )
    assert measured, "docs/pricing.md lost its measured coverage sentence"
    if (version("openai"), version("anthropic")) != measured.group(1, 2):
        pytest.skip("the figure was measured with other SDK releases")
    total = sum(len(ids) for ids in sdk_ids.values())
    priced = total - sum(len(ids) for ids in _unpriced(sdk_ids).values())
    assert (int(measured.group(3)), int(measured.group(4))) == (total, priced)
