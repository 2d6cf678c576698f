"""The conformance harness reads outcomes right and fails on what it must fail on."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

HERE = Path(__file__).parent


def load_harness() -> ModuleType:
    # harness.py is a script, not a package module: load it from its path.
    spec = importlib.util.spec_from_file_location("llmcost_sdk_suites_harness", HERE / "harness.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining classes
    spec.loader.exec_module(module)
    return module


harness = load_harness()

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
  <testcase classname="tests.test_client.TestClient" name="test_ok" />
  <testcase classname="tests.test_client.TestClient" name="test_broken[strict]">
    <failure message="AssertionError: assert True is False&#10;more">trace</failure>
  </testcase>
  <testcase classname="tests.test_client.TestClient" name="test_skip">
    <skipped type="pytest.skip" message="no aiohttp">why</skipped>
  </testcase>
  <testcase classname="tests.test_client.TestClient" name="test_teardown">
    <error message="error at teardown">trace</error>
  </testcase>
</testsuite></testsuites>
"""


def test_junit_outcomes_and_first_message_line(tmp_path: Path) -> None:
    """Each test's worst outcome and the first line of its failure message are read."""
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    outcomes, messages = harness.read_junit(path)
    prefix = "tests.test_client.TestClient::"
    assert outcomes == {
        prefix + "test_ok": "passed",
        prefix + "test_broken[strict]": "failed",
        prefix + "test_skip": "skipped",
        prefix + "test_teardown": "error",
    }
    assert messages[prefix + "test_broken[strict]"] == "AssertionError: assert True is False"


def test_differences_name_each_changed_test_and_excuse_only_listed_flaky_ones() -> None:
    """A changed outcome is a difference, a test missing from one run too; a known-flaky
    pattern excuses only its own SDK's tests."""
    plain = {"a::one": "passed", "a::two": "passed", "a::three": "failed", "a::gone": "passed"}
    on = {"a::one": "passed", "a::two": "failed", "a::three": "passed", "a::new": "passed"}
    flaky = [
        harness.Flaky("openai", "a::thr*", "timing"),
        harness.Flaky("anthropic", "a::two", "x"),
    ]
    found, excused = harness.differences("openai", plain, on, flaky)
    assert found == {
        "a::two": ("passed", "failed"),
        "a::gone": ("passed", "absent"),
        "a::new": ("absent", "passed"),
    }
    assert excused == {"a::three": ("failed", "passed")}


def test_the_known_flaky_list_parses_and_every_entry_gives_a_reason(tmp_path: Path) -> None:
    """The checked-in list parses; an entry without a reason is refused, naming its line."""
    assert all(entry.reason for entry in harness.read_flaky())
    bad = tmp_path / "flaky.txt"
    bad.write_text("# comment\nopenai tests.test_client::test_x\n")
    with pytest.raises(SystemExit, match=r"flaky.txt:2"):
        harness.read_flaky(bad)


def run(outcomes: dict[str, str], **tally: object) -> object:
    result = harness.Run(outcomes=dict(outcomes))
    for name, value in tally.items():
        setattr(result, name, value)
    return result


@pytest.mark.parametrize(
    ("on", "conforms"),
    [
        ({"instrumented": {"openai"}, "records": 5}, True),
        ({"instrumented": {"openai"}, "records": 0}, False),  # llmcost was not on
        ({"instrumented": set(), "records": 5}, False),
        (
            {
                "instrumented": {"openai"},
                "records": 5,
                "internal_errors": Counter({"stream.item": 2}),
                "errors_by_test": {"a::one": {"stream.item": 2}},
            },
            False,
        ),
    ],
    ids=["conforms", "no-records", "nothing-patched", "internal-errors"],
)
def test_the_report_fails_on_internal_errors_and_when_llmcost_saw_nothing(
    capsys: pytest.CaptureFixture[str], on: dict[str, object], conforms: bool
) -> None:
    """Same outcomes are not enough: llmcost must have recorded, and counted no error."""
    outcomes = {"a::one": "passed"}
    assert harness.report("openai", "3.0.0", run(outcomes), run(outcomes, **on), []) is conforms
    printed = capsys.readouterr().out
    assert "differences: 0" in printed
    if on.get("internal_errors"):
        assert "2 stream.item (in 1 tests, e.g. a::one)" in printed


def test_the_report_lists_a_difference_with_its_message(capsys: pytest.CaptureFixture[str]) -> None:
    """A test that passes plain and fails instrumented fails the run, with its message."""
    plain = run({"a::one": "passed"})
    on = run({"a::one": "failed"}, instrumented={"openai"}, records=1)
    on.messages = {"a::one": "StreamAlreadyConsumed"}  # type: ignore[attr-defined]
    assert harness.report("anthropic", "2.0.0", plain, on, []) is False
    printed = capsys.readouterr().out
    assert "differences: 1 (1 passed -> failed)" in printed
    assert "passed -> failed: a::one" in printed
    assert "StreamAlreadyConsumed" in printed
