"""The offline quickstart (``llmcost demo`` / ``examples/quickstart.py``) does what the README
promises: real SDK clients on fake providers, three features, one refused call, a JSONL file
and a per-feature summary, with exact costs."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest

import llmcost
from llmcost import cli
from llmcost.demo import run_demo


def test_demo_records_three_features_and_one_refusal(tmp_path: Path) -> None:
    """Nine calls to three providers are made and priced exactly; the tenth is refused before
    it is sent."""
    path = tmp_path / "costs.jsonl"
    out = io.StringIO()
    result = run_demo(path, out=out)

    assert [r.feature for r in result.records] == [
        "support_chat",
        "support_chat",
        "summarize",
        "search",
        "translate",
        "live_chat",
        "live_chat",
        "live_chat",
        "summarize",
    ]
    assert {r.provider for r in result.records} == {"openai", "anthropic", "gcp.gemini"}
    assert all(r.replayed and r.priced and r.project == "helpdesk" for r in result.records)
    # gpt-4o-mini 1,200 in / 300 out; claude-sonnet-4-6 3,000 in (2,000 cache reads) / 250 out;
    # text-embedding-3-small 64 in; gemini-2.5-flash 400 in / 1,100 out (700 thinking);
    # streamed: gpt-4o-mini 900 / 120, claude-haiku-4-5 1,800 / 90, gemini-2.5-flash again.
    costs = [r.total_cost_usd for r in result.records]
    assert costs == [
        Decimal("0.00036"),
        Decimal("0.00036"),
        Decimal("0.00735"),
        Decimal("0.00000128"),
        Decimal("0.00287"),
        Decimal("0.000207"),
        Decimal("0.00225"),
        Decimal("0.00287"),
        Decimal("0.00735"),
    ]
    gemini = [r for r in result.records if r.provider == "gcp.gemini"]
    assert [(r.output_tokens, r.reasoning_tokens) for r in gemini] == [(1100, 700), (1100, 700)]
    assert result.total_usd == sum(costs, Decimal(0))

    refused = result.refused
    assert isinstance(refused, llmcost.BudgetExceeded)
    assert refused.budget_name == "nightly-digest"
    assert refused.limit == Decimal("0.02")
    assert refused.spent == Decimal("0.00735")


def test_demo_writes_jsonl_and_summarises_it_per_feature(tmp_path: Path) -> None:
    """The JSONL file holds every record, and the printed summary is read back from it."""
    path = tmp_path / "nested" / "costs.jsonl"
    out = io.StringIO()
    result = run_demo(path, out=out)

    on_disk = list(llmcost.read_records(path))
    assert [r.record_id for r in on_disk] == [r.record_id for r in result.records]
    assert {row.key[0]: row.requests for row in result.by_feature} == {
        "summarize": 2,
        "support_chat": 2,
        "search": 1,
        "translate": 1,
        "live_chat": 3,
    }
    assert sum(row.total_cost_usd for row in result.by_feature) == result.total_usd
    text = out.getvalue()
    assert "refused before sending: llmcost.BudgetExceeded" in text
    assert f"9 records appended to {path}" in text
    assert "TOTAL" in text
    assert "Every call was answered by a fake transport (replayed=True)" in text


def test_demo_appends_and_summarises_only_its_own_records(tmp_path: Path) -> None:
    """A file that already holds records keeps them; the summary covers this run only."""
    path = tmp_path / "costs.jsonl"
    run_demo(path, out=io.StringIO())
    result = run_demo(path, out=io.StringIO())
    assert len(list(llmcost.read_records(path))) == 18
    assert sum(row.requests for row in result.by_feature) == len(result.records) == 9


def test_demo_leaves_llmcost_switched_off(tmp_path: Path) -> None:
    """The demo shuts llmcost down (sinks closed) and removes its patches when it ends."""
    run_demo(tmp_path / "costs.jsonl", out=io.StringIO())
    assert not llmcost.is_configured()
    from llmcost.testing import fake_openai_client

    client = fake_openai_client()
    with llmcost.track_cost(feature="after") as scope:
        client.embeddings.create(model="text-embedding-3-small", input="x")
    assert scope.calls == 0


def test_llmcost_demo_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`llmcost demo --jsonl PATH` runs the same demo and exits 0."""
    path = tmp_path / "demo.jsonl"
    assert cli.main(["demo", "--jsonl", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "llmcost demo" in printed
    assert "Cost by feature" in printed
    assert len(list(llmcost.read_records(path))) == 9


def test_demo_without_a_path_uses_a_temporary_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no path the records go to a new temporary directory, never the working one."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    result = run_demo(out=io.StringIO())
    assert result.jsonl_path.parent.parent == tmp_path
    assert result.jsonl_path.parent.name.startswith("llmcost-demo-")
    assert result.jsonl_path.is_file()


def test_demo_shows_one_stream_per_provider_with_its_exact_usage(tmp_path: Path) -> None:
    """Each provider's streamed call is recorded once, as a stream, with the very token counts
    its stream reported to the application (not an estimate), and the demo prints both."""
    out = io.StringIO()
    result = run_demo(tmp_path / "costs.jsonl", out=out)
    assert [(reply.provider, record.provider) for reply, record in result.streams] == [
        ("openai", "openai"),
        ("anthropic", "anthropic"),
        ("gemini", "gcp.gemini"),
    ]
    for reply, record in result.streams:
        assert record.stream
        assert not record.estimated
        assert reply.chunks > 1
        assert reply.text
        assert (record.input_tokens, record.output_tokens) == (
            reply.input_tokens,
            reply.output_tokens,
        )
    assert [(r.input_tokens, r.output_tokens) for _, r in result.streams] == [
        (900, 120),
        (1800, 90),
        (400, 1100),
    ]
    text = out.getvalue()
    assert "the stream said 900 in / 120 out; llmcost recorded 900 in / 120 out (exact)" in text
    assert "the stream said 1,800 in / 90 out; llmcost recorded 1,800 in / 90 out (exact)" in text
