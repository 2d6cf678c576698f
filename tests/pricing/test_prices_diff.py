"""``llmcost prices diff`` and loading newer prices at run time (no redeploy)."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import llmcost
from llmcost.cli import main
from llmcost.errors import CatalogError
from llmcost.pricing import cost, diff_catalogs, get_catalog, load_catalog, use_catalog
from llmcost.types import Usage


def _newer_catalog(directory: Path) -> Path:
    """A copy of the bundled data with gpt-4o's input at $3, davinci-002 gone, gpt-7 new."""
    data_dir = resources.files("llmcost.pricing") / "data"
    for name in ("openai.json", "anthropic.json"):
        (directory / name).write_text((data_dir / name).read_text(encoding="utf-8"))
    path = directory / "openai.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    data["checked"] = "2027-01-15"
    for model in data["models"]:
        if model["id"] == "gpt-4o":
            model["rates"]["input"] = "3"
    data["models"] = [m for m in data["models"] if m["id"] != "davinci-002"]
    data["models"].append(
        {
            "id": "gpt-7",
            "tokenizer": "o200k_base",
            "rates": {"input": "1", "output": "4"},
            "source": "https://developers.openai.com/api/docs/pricing",
            "checked": "2027-01-15",
        }
    )
    path.write_text(json.dumps(data), encoding="utf-8")
    return directory


def test_diff_of_a_newer_catalog_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Changed, added and removed prices are listed; differences exit 3."""
    assert main(["prices", "diff", str(_newer_catalog(tmp_path))]) == 3
    out = capsys.readouterr().out
    assert out.startswith("catalog 2026.12.06 -> 2027.01.15+dir-")
    lines = {tuple(line.split()) for line in out.splitlines()}
    assert ("openai", "gpt-4o", "input", "2.5", "3", "+20.0%") in lines
    assert ("openai", "gpt-7", "(model)", "added") in lines
    assert ("openai", "davinci-002", "(model)", "removed") in lines
    assert not any("claude" in line for line in out.splitlines())


def test_diff_as_json_and_of_an_override(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An override file diffs the same way; JSON output carries exact decimal strings."""
    override = tmp_path / "acme.json"
    override.write_text(json.dumps({"version": "acme", "models": {"o3": {"scale": "0.8"}}}))
    assert main(["prices", "diff", str(override), "--format", "json"]) == 3
    payload = json.loads(capsys.readouterr().out)
    assert payload["new_version"] == "2026.12.06+acme"
    changes = {(c["model"], c["dimension"]): (c["old"], c["new"]) for c in payload["changes"]}
    assert changes[("o3", "input")] == ("2", "1.6")
    assert changes[("o3", "service_tier.flex.output")] == ("4", "3.2")
    assert {c["model"] for c in payload["changes"]} == {"o3"}


def test_no_differences_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    """The bundled data diffed against itself: no differences, exit 0."""
    data_dir = Path(str(resources.files("llmcost.pricing") / "data"))
    assert main(["prices", "diff", str(data_dir)]) == 0
    assert "no price differences" in capsys.readouterr().out


def test_a_malformed_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad provider file in the directory: exit 1, naming the file, model and field."""
    directory = _newer_catalog(tmp_path)
    data = json.loads((directory / "openai.json").read_text())
    data["models"][0]["rates"]["inptu"] = "1"
    (directory / "openai.json").write_text(json.dumps(data))
    assert main(["prices", "diff", str(directory)]) == 1
    err = capsys.readouterr().err
    assert "openai.json" in err
    assert "rates.inptu" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CatalogError, match=r"no <provider>\.json"):
        load_catalog(empty)


def test_diff_catalogs_sees_every_variant() -> None:
    """Batch, service-tier and long-context prices are compared, not only the standard card."""
    newer = load_catalog({"models": {"gpt-5.5": {"batch": {"multiplier": "0.4"}}}})
    dimensions = {c.dimension for c in diff_catalogs(get_catalog(), newer)}
    assert dimensions == {"batch.input", "batch.cache_read", "batch.cache_write", "batch.output"}


def test_configure_loads_a_newer_catalog_and_records_say_which(
    tmp_path: Path, memory_sink: llmcost.sinks.MemorySink
) -> None:
    """configure(catalog=<dir>) prices with the directory's prices and every record names the
    catalog version; use_catalog() swaps prices while the application runs."""
    directory = _newer_catalog(tmp_path)
    llmcost.configure(sinks=[memory_sink], catalog=directory)
    first = llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1_000_000)
    assert first.input_cost_usd == Decimal(3)
    assert first.catalog_version is not None
    assert first.catalog_version.startswith("2027.01.15+dir-")
    assert llmcost.record_usage(provider="openai", model="gpt-7", input_tokens=10).priced
    use_catalog(None)  # a new file, loaded without restarting: here, back to the bundled prices
    second = llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1_000_000)
    assert (second.input_cost_usd, second.catalog_version) == (Decimal("2.5"), "2026.12.06")
    assert cost("gpt-7", Usage(input_tokens=1)).priced is False


def test_the_bundled_data_directory_loads_as_a_catalog(tmp_path: Path) -> None:
    """A copy of the bundled data directory is a catalog with the same prices."""
    data_dir = Path(str(resources.files("llmcost.pricing") / "data"))
    copy = shutil.copytree(data_dir, tmp_path / "data")
    catalog = load_catalog(copy)
    assert list(diff_catalogs(get_catalog(), catalog)) == []
    assert len(catalog) == len(get_catalog())
