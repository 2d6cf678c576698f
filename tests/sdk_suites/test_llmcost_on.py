"""The harness's plugin turns llmcost on in a foreign suite and tallies what it saw, per test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

HERE = Path(__file__).parent

INNER = """
import llmcost
from llmcost import errors
from llmcost.testing import fake_openai_client


def test_a_billed_call():
    fake_openai_client().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
    )


def test_an_internal_error_is_counted_not_raised():
    errors.report_internal_error("probe", RuntimeError("a bug inside llmcost"))


def test_nothing():
    pass
"""


def test_the_plugin_instruments_counts_records_and_names_the_test_of_each_internal_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With ``-p llmcost_on`` the suite's calls are recorded, an internal error is counted as
    in production (the test passes) and attributed to the test that caused it."""
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(HERE))
    monkeypatch.setenv("LLMCOST_SDK_SUITES_OUT", str(out))
    monkeypatch.delenv("LLMCOST_RAISE_INTERNAL_ERRORS", raising=False)
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest_subprocess("-p", "llmcost_on", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    [tally_file] = out.glob("llmcost-*.json")
    tally = json.loads(tally_file.read_text())
    assert "openai" in tally["instrumented"]
    assert tally["records"] == 1
    assert tally["internal_errors"] == {"probe": 1}
    assert tally["tests"] == {
        "test_inner.py::test_an_internal_error_is_counted_not_raised": {"probe": 1}
    }
