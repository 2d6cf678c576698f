"""Cost baselines in the pytest plugin: save, compare, fail what grew, under xdist too, and a
Markdown summary for CI.

The inner tests spend through ``llmcost.record_usage`` with catalog prices (gpt-4o-mini at
$0.15 / $0.60 per million input / output tokens): deterministic, like fake providers or
recorded responses. ``PROMPT_SCALE=2`` plays the change that doubles a prompt.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

QUIET = (
    "-p", "no:cacheprovider", "-p", "no:asyncio", "-p", "no:hypothesispytest",
    "-p", "no:pytest_cov", "-p", "no:anyio", "-W", "error",
)  # fmt: skip

INNER = """
import os

import llmcost

SCALE = int(os.environ.get("PROMPT_SCALE", "1"))


def spend(feature, input_tokens, output_tokens=200):
    llmcost.record_usage(
        provider="openai", model="gpt-4o-mini", input_tokens=input_tokens,
        output_tokens=output_tokens, feature=feature,
    )


def test_summarize():
    spend("summaries", 1000 * SCALE)
    spend("search", 100)


def test_search():
    spend("search", 100)
    spend("search", 100)


def test_no_llm_calls():
    assert True
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("PROMPT_SCALE", raising=False)
    pytester.makepyfile(test_inner=INNER)
    return pytester


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*QUIET, *args)


def test_save_writes_each_tests_calls_tokens_and_cost(project: pytest.Pytester) -> None:
    """The baseline file holds, per test, calls, tokens and exact cost, in total and per
    feature; tests without calls are in it too (a call added later is a change)."""
    result = _run(project, "--llmcost-save-baseline=base.json")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*baseline saved: *base.json*"])
    document = json.loads((project.path / "base.json").read_text(), parse_float=Decimal)
    assert document["format"] == 1
    tests = document["tests"]
    assert list(tests) == [
        "test_inner.py::test_no_llm_calls",
        "test_inner.py::test_search",
        "test_inner.py::test_summarize",
    ]
    summarize = tests["test_inner.py::test_summarize"]
    # 1,000 in + 200 out, then 100 in + 200 out: 0.00027 + 0.000135.
    assert summarize["calls"] == 2
    assert summarize["tokens"] == 1500
    assert Decimal(summarize["usd"]) == Decimal("0.000405")
    assert summarize["features"]["summaries"] == {"calls": 1, "tokens": 1200, "usd": "0.00027"}
    assert tests["test_inner.py::test_no_llm_calls"] == {
        "calls": 0,
        "tokens": 0,
        "usd": None,
        "features": {},
    }


def test_a_doubled_prompt_fails_its_test_with_tokens_and_money(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Compared with the baseline, the test whose prompt doubled fails (in its call phase),
    naming tokens and cost per test and per feature; the others pass."""
    _run(project, "--llmcost-save-baseline=base.json").assert_outcomes(passed=3)
    _run(project, "--llmcost-compare-baseline=base.json").assert_outcomes(passed=3)

    monkeypatch.setenv("PROMPT_SCALE", "2")
    result = _run(project, "--llmcost-compare-baseline=base.json", "--llmcost-max-increase=10%")
    result.assert_outcomes(passed=2, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*test_summarize*",
            "*LLM cost regression: cost and tokens grew more than 10% against the baseline*",
            "*test: cost $0.000405 -> $0.000555 (+37.0%), tokens 1,500 -> 2,500 (+66.7%)*",
            "*search: cost $0.000135 -> $0.000135 (=), tokens 300 -> 300 (=)*",
            "*summaries: cost $0.00027 -> $0.00042 (+55.6%), tokens 1,200 -> 2,200 (+83.3%)*"
            "<- grew",
            "*--llmcost-save-baseline=*",
        ]
    )
    # The summary shows the test and the feature that grew.
    result.stdout.fnmatch_lines(
        [
            "*against the baseline *base.json (max +10%): 1 test(s) over*",
            "*$0.000405 -> $0.000555*+37.0%*1,500 -> 2,500*tokens*+66.7%*test_summarize*",
            "*by feature, against the baseline:*",
            "*$0.00027 -> $0.00042*summaries*",
        ]
    )
    # A looser threshold lets the same change through.
    _run(
        project, "--llmcost-compare-baseline=base.json", "--llmcost-max-increase=70%"
    ).assert_outcomes(passed=3)
    _run(
        project, "--llmcost-compare-baseline=base.json", "--llmcost-max-increase=60"
    ).assert_outcomes(passed=2, failed=1)


def test_compare_under_xdist(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each worker reads the baseline and fails its own tests; the controller saves the
    baseline from every worker's tests."""
    pytest.importorskip("xdist")
    result = _run(project, "-p", "xdist", "-n", "2", "--llmcost-save-baseline=base.json")
    result.assert_outcomes(passed=3)
    assert len(json.loads((project.path / "base.json").read_text())["tests"]) == 3
    monkeypatch.setenv("PROMPT_SCALE", "3")
    result = _run(project, "-p", "xdist", "-n", "2", "--llmcost-compare-baseline=base.json")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*LLM cost regression*", "*1 test(s) over*"])


def test_markdown_summary_for_github_actions(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With $GITHUB_STEP_SUMMARY set, a Markdown table of tests and features is appended."""
    _run(project, "--llmcost-save-baseline=base.json").assert_outcomes(passed=3)
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("PROMPT_SCALE", "2")
    _run(project, "--llmcost-compare-baseline=base.json").assert_outcomes(passed=2, failed=1)
    text = summary.read_text()
    assert text.startswith("# earlier step\n### LLM cost (llmcost)\n")
    assert "**1 test(s) over**" in text
    assert (
        "| ❌ | test_inner.py::test_summarize | $0.000405 | $0.000555 | +37.0% | 1,500 | 2,500 "
        "| +66.7% |"
    ) in text
    assert "| ❌ | summaries | $0.00027 | $0.00042 | +55.6% | 1,200 | 2,200 | +83.3% |" in text
    assert "| ✅ | search | $0.000405 | $0.000405 | = | 900 | 900 | = |" in text
    assert "| test_inner.py::test_summarize | 2 | 2,500 | $0.000555 |" in text


def test_new_tests_are_listed_not_failed(
    project: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test the baseline does not know is reported as new, never failed."""
    _run(project, "--llmcost-save-baseline=base.json").assert_outcomes(passed=3)
    project.makepyfile(
        test_more="import llmcost\n\ndef test_added():\n    llmcost.record_usage("
        "provider='openai', model='gpt-4o-mini', input_tokens=10, output_tokens=1)\n"
    )
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = _run(project, "--llmcost-compare-baseline=base.json")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*0 test(s) over, 0 other change(s), 1 new test(s)*"])
    assert "| 🆕 | test_more.py::test_added |" in summary.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--llmcost-compare-baseline=missing.json"], "*missing.json does not exist*"),
        (
            ["--llmcost-compare-baseline=base.json", "--llmcost-max-increase=ten"],
            "*--llmcost-max-increase: expected a percentage such as 10%, got 'ten'*",
        ),
        (["--llmcost-compare-baseline=bad.json"], "*bad.json is not an llmcost baseline file*"),
    ],
)
def test_bad_baseline_options_are_usage_errors(
    project: pytest.Pytester, args: list[str], message: str
) -> None:
    """A missing or foreign baseline file, or a bad percentage, stops the run at once."""
    _run(project, "--llmcost-save-baseline=base.json")
    (project.path / "bad.json").write_text('{"tests": "no"}')
    result = _run(project, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
