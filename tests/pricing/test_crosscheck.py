"""Cross-check: every overlapping model and dimension agrees with two independent price
datasets (genai-prices and litellm), or the disagreement is listed, with its reason, in
``known_disagreements.yaml``. A new disagreement fails with a table; a listed one that no
longer occurs fails too. Runs on every CI run, offline (see ``_peers.py``).
"""

from __future__ import annotations

import importlib.util
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from llmcost.pricing import get_catalog, load_catalog

pytest.importorskip("genai_prices")


def _load_peers() -> ModuleType:
    # The suite runs with --import-mode=importlib (no test directory on sys.path): load the
    # helper module by its path, registered so that its dataclass can find its module.
    name = "llmcost_tests_pricing_peers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("_peers.py"))
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_peers = _load_peers()
PEERS_DIR = _peers.PEERS_DIR
Disagreement = _peers.Disagreement
catalog_names = _peers.catalog_names
compare = _peers.compare
genai_prices = _peers.genai_prices
litellm_prices = _peers.litellm_prices
litellm_version = _peers.litellm_version
table = _peers.table

KNOWN_FILE = Path(__file__).with_name("known_disagreements.yaml")


def _known() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load(KNOWN_FILE.read_text(encoding="utf-8"))
    return entries


def _listed() -> set[Disagreement]:
    listed = set()
    for entry in _known():
        for model in entry["models"]:
            for dimension, (ours, theirs) in entry["dimensions"].items():
                # priced_as is not part of the listing: match on the rest.
                listed.add(Disagreement(entry["peer"], model, "", dimension, ours, theirs))
    return listed


def _key(d: Disagreement) -> Disagreement:
    return Disagreement(d.peer, d.model, "", d.dimension, d.ours, d.theirs)


@pytest.fixture(scope="module")
def peers() -> dict[str, Any]:
    catalog = get_catalog()
    return {
        "litellm": litellm_prices(),
        "genai-prices": genai_prices(catalog_names(catalog)),
    }


@pytest.fixture(scope="module")
def found(peers: dict[str, Any]) -> dict[str, tuple[list[Disagreement], int, int]]:
    catalog = get_catalog()
    return {peer: compare(catalog, peer, rows) for peer, rows in peers.items()}


def test_every_disagreement_is_known(found: dict[str, Any]) -> None:
    """A disagreement with either dataset that the file does not list fails, with a table."""
    listed = _listed()
    new = [d for rows, _, _ in found.values() for d in rows if _key(d) not in listed]
    assert not new, (
        f"{len(new)} new disagreement(s) with peer price data: fix the catalog, or list them "
        f"with a reason in {KNOWN_FILE.name}\n" + table(new)
    )


def test_no_listed_disagreement_is_stale(found: dict[str, Any]) -> None:
    """Each listed disagreement still occurs, with the values the file gives."""
    occurring = {_key(d) for rows, _, _ in found.values() for d in rows}
    stale = sorted(_listed() - occurring, key=lambda d: (d.peer, d.model, d.dimension))
    assert not stale, f"listed in {KNOWN_FILE.name} but no longer occurring:\n" + table(stale)


def test_every_listed_disagreement_has_a_reason() -> None:
    """Each entry says why llmcost differs, names its peer and gives both values."""
    for entry in _known():
        assert entry["peer"] in ("litellm", "genai-prices"), entry
        assert entry["models"], entry
        assert len(entry["reason"]) > 60, entry["models"]
        for ours, theirs in entry["dimensions"].values():
            assert Decimal(ours) != Decimal(theirs), entry["models"]


def test_the_check_compares_most_of_the_catalog(found: dict[str, Any]) -> None:
    """Not vacuous: hundreds of rows and thousands of cells are compared."""
    _, litellm_rows, litellm_cells = found["litellm"]
    _, genai_rows, genai_cells = found["genai-prices"]
    assert litellm_rows >= 250
    assert litellm_cells >= 1800
    assert genai_rows >= 95
    assert genai_cells >= 750
    compared = {
        get_catalog().resolve(name, provider).id  # type: ignore[union-attr]
        for rows in (litellm_prices(), genai_prices(catalog_names(get_catalog())))
        for name, (provider, _) in rows.items()
        if get_catalog().resolve(name, provider) is not None
    }
    assert len(compared) >= len(get_catalog()) - 3


def test_a_wrong_rate_is_caught(peers: dict[str, Any]) -> None:
    """A catalog with one wrong rate disagrees with both peers on exactly that cell."""
    wrong = load_catalog({"models": {"gpt-4o": {"rates": {"input": "2.6"}}}})
    for peer, rows in peers.items():
        disagreements, _, _ = compare(wrong, peer, rows)
        cells = {(d.model, d.dimension, d.ours, d.theirs) for d in disagreements}
        assert ("gpt-4o", "input", "2.6", "2.5") in cells, peer
        shown = table([d for d in disagreements if d.model == "gpt-4o"])
        assert shown.splitlines()[0].split() == [
            "peer",
            "model",
            "priced",
            "as",
            "dimension",
            "llmcost",
            "peer",
            "says",
        ]
        assert shown.splitlines()[1].split() == [peer, "gpt-4o", "gpt-4o", "input", "2.6", "2.5"]


def test_the_vendored_litellm_rows_say_where_they_come_from() -> None:
    """The litellm rows name their release, and its MIT licence travels with them."""
    assert litellm_version() == "1.110.2"
    assert "MIT" in (PEERS_DIR / "LICENSE-litellm").read_text(encoding="utf-8")
