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


def test_sdists_are_found_under_either_name_a_release_gave_them(tmp_path: Path) -> None:
    """openai's sdist is ``openai-X.tar.gz``, google-genai's ``google_genai-X.tar.gz`` (PEP 625)."""
    (tmp_path / "openai-3.0.0.tar.gz").write_bytes(b"")
    (tmp_path / "google_genai-3.0.0.tar.gz").write_bytes(b"")
    assert harness.sdist_path(tmp_path, "openai", "3.0.0") == tmp_path / "openai-3.0.0.tar.gz"
    found = harness.sdist_path(tmp_path, "google-genai", "3.0.0")
    assert found == tmp_path / "google_genai-3.0.0.tar.gz"
    assert harness.sdist_path(tmp_path, "anthropic", "2.0.0") is None


def test_the_oldest_constraints_raise_only_the_listed_pins_of_that_sdk() -> None:
    """--oldest builds on .ci/oldest.txt; anthropic's suite gets its httpx2 raised, nothing else."""
    pins = harness.OLDEST_PINS.read_text()
    assert harness.oldest_constraints("openai") == pins.rstrip("\n") + "\n"
    raised = harness.oldest_constraints("anthropic").splitlines()
    assert "httpx2==2.9.1" in raised
    assert not any(line.startswith("httpx2==2.7") for line in raised)
    assert [line for line in raised if not line.startswith("httpx2")] == [
        line for line in pins.splitlines() if not line.startswith("httpx2")
    ]


def test_the_sdists_pytest_configuration_is_the_file_that_has_a_pytest_section(
    tmp_path: Path,
) -> None:
    """A pyproject.toml without a pytest section is not the configuration; none at all fails."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    with pytest.raises(SystemExit, match="no pytest configuration"):
        harness.config_file(tmp_path)
    (tmp_path / "setup.cfg").write_text("[tool:pytest]\nasyncio_mode = auto\n")
    assert harness.config_file(tmp_path) == tmp_path / "setup.cfg"
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\nasyncio_mode = 'auto'\n")
    assert harness.config_file(tmp_path) == tmp_path / "pyproject.toml"


def fake_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkgns" / "sdk" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_in_package_tests_run_in_place_only_when_they_are_the_sdists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests inside the installed package are run where it is installed; missing ones are
    copied from the sdist, different ones refused, naming the file."""
    site = fake_package(tmp_path / "site", {"__init__.py": ""})
    sdist = fake_package(
        tmp_path / "sdist", {"__init__.py": "", "tests/__init__.py": "", "tests/test_a.py": "A"}
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setitem(harness.IN_PACKAGE, "fake-sdk", "pkgns.sdk")
    # find_spec imports the parent package: let it go with the test
    monkeypatch.setitem(sys.modules, "pkgns", None)
    monkeypatch.delitem(sys.modules, "pkgns")
    assert harness.installed_tests("fake-sdk", sdist) == site
    assert (site / "pkgns" / "sdk" / "tests" / "test_a.py").read_text() == "A"
    (sdist / "pkgns" / "sdk" / "tests" / "test_a.py").write_text("B")
    with pytest.raises(SystemExit, match=r"differ from its sdist's.*test_a\.py"):
        harness.installed_tests("fake-sdk", sdist)
