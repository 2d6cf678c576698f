"""``llmcost price`` and ``llmcost models``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmcost.cli import main


def test_price_prints_each_part_and_the_total(capsys: pytest.CaptureFixture[str]) -> None:
    """The table shows every part and the exact total."""
    code = main(
        [
            "price",
            "claude-sonnet-4-5",
            "--input",
            "12000",
            "--cache-read",
            "8000",
            "--cache-write",
            "2000",
            "--cache-write-1h",
            "500",
            "--output",
            "700",
            "--web-searches",
            "2",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "input (uncached)  $0.006" in out
    assert "cache write       $0.008625" in out
    assert "total             $0.047525" in out


def test_price_json_batch_and_tier(capsys: pytest.CaptureFixture[str]) -> None:
    """--format json gives exact decimal strings; --batch and --service-tier apply."""
    assert (
        main(
            [
                "price",
                "gpt-5.5",
                "--input",
                "1000",
                "--output",
                "1000",
                "--batch",
                "--format",
                "json",
            ]
        )
        == 0
    )
    batch = json.loads(capsys.readouterr().out)
    assert batch["total_cost_usd"] == "0.0175"
    assert (
        main(
            [
                "price",
                "gpt-5.5",
                "--input",
                "1000",
                "--output",
                "1000",
                "--service-tier",
                "priority",
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["total_cost_usd"] == "0.0875"


def test_price_unknown_model_and_bad_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown models exit 1; inconsistent or negative counts exit 2."""
    assert main(["price", "no-such-model", "--input", "1"]) == 1
    assert "no price for model 'no-such-model'" in capsys.readouterr().err
    assert main(["price", "gpt-4o", "--input", "1", "--cache-read", "5"]) == 2
    assert "exceed input_tokens" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(["price", "gpt-4o", "--input", "-3"])
    assert caught.value.code == 2


def test_price_with_override_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--catalog layers a file for this command only; a malformed file exits 1 naming it."""
    good = tmp_path / "contract.json"
    good.write_text('{"scale": {"openai": "0.5"}}')
    assert main(["price", "gpt-4o", "--input", "1000000", "--catalog", str(good)]) == 0
    assert "total             $1.25" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": {"gpt-4o": {"rates": {"input": "x"}}}}')
    assert main(["price", "gpt-4o", "--input", "1", "--catalog", str(bad)]) == 1
    assert "bad.json" in capsys.readouterr().err


def test_models_lists_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    """models lists a provider's models with rates; json output carries provenance."""
    assert main(["models", "--provider", "anthropic"]) == 0
    out = capsys.readouterr().out
    assert "claude-opus-4-8" in out
    assert "gpt-4o" not in out
    assert main(["models", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    gpt4o = next(r for r in rows if r["id"] == "gpt-4o")
    assert gpt4o["rates_per_million"]["input"] == "2.5"
    assert gpt4o["checked"] == "2026-12-06"


def test_price_takes_the_new_dimensions(capsys: pytest.CaptureFixture[str]) -> None:
    """Cached audio, images and preview searches have flags; inconsistent parts exit 2."""
    args = ["price", "gpt-realtime-mini", "--input", "10000", "--cache-read", "6000"]
    args += ["--cache-read-audio", "4000", "--cache-read-image", "1000", "--input-audio", "5000"]
    args += ["--input-image", "2000", "--output", "100", "--format", "json"]
    assert main(args) == 0
    payload = json.loads(capsys.readouterr().out)
    assert (payload["input_cost_usd"], payload["cache_read_cost_usd"]) == ("0.012", "0.00134")
    searches = ["price", "gpt-4.1", "--input", "0", "--web-searches", "3"]
    assert main([*searches, "--web-search-preview", "1", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["tool_cost_usd"] == "0.045"
    assert main([*searches, "--web-search-preview", "4"]) == 2
    assert "web_search_preview_requests (4) exceed" in capsys.readouterr().err
