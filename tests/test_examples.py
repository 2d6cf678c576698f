"""Every example runs, offline, and says something meaningful: examples never rot.

Each script in ``examples/`` runs in its own interpreter (as a reader would run it) with
warnings turned into errors; each example directory of tests runs under pytest with the
llmcost plugin. New examples are picked up by the globs below without any change here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
TEST_DIRECTORIES = sorted(
    path for path in EXAMPLES.iterdir() if path.is_dir() and any(path.glob("test_*.py"))
)
TIMEOUT = 120  # seconds: generous, CI machines are slow and each run imports the SDKs

#: What a script must print beyond an amount of money (every example prints at least one).
EXPECTED_OUTPUT = {
    "cost_baseline.py": [
        "LLM cost regression: cost and tokens grew more than 10%",
        "summaries: cost $",
        "pytest exit code: 1 (the build fails)",
    ],
    "quickstart.py": [
        "refused before sending: llmcost.BudgetExceeded",
        "Cost by feature",
        "support_chat",
        "summarize",
        "search",
        "llmcost recorded 900 in / 120 out (exact)",
        "no money was spent",
        "records appended to",
    ],
}
AMOUNT = re.compile(r"\$\d|\d\.\d")  # "$0.00036", "0.029", "Decimal('0.0035')"


def _environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    # No key is needed; make sure none leaks in, and temporary files land in tmp_path.
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    env["TMPDIR"] = str(tmp_path)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def test_there_are_examples() -> None:
    """The globs find the examples (an empty glob would make this module pass vacuously)."""
    assert EXAMPLES / "quickstart.py" in SCRIPTS
    assert EXAMPLES / "pytest_ceilings" in TEST_DIRECTORIES


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_example_script_runs(script: Path, tmp_path: Path) -> None:
    """The script exits 0 without a warning or a traceback and prints what it promises."""
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        cwd=tmp_path,  # scripts that write files write them here
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{script.name} failed:\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    for expected in EXPECTED_OUTPUT.get(script.name, []):
        assert expected in done.stdout, f"{script.name} did not print {expected!r}:\n{done.stdout}"
    assert AMOUNT.search(done.stdout), f"{script.name} printed no amount:\n{done.stdout}"


@pytest.mark.parametrize("directory", TEST_DIRECTORIES, ids=lambda path: path.name)
def test_example_test_suite_passes(directory: Path, tmp_path: Path) -> None:
    """An example test suite passes under pytest and the plugin prints its cost summary."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(directory),
            "-p",
            "no:cacheprovider",
            "-p",
            "no:hypothesispytest",
            "-p",
            "no:pytest_cov",
            "-W",
            "error",
            f"--llmcost-json={tmp_path / 'costs.json'}",
        ],
        cwd=tmp_path,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{directory.name} failed:\n{done.stdout}\n{done.stderr}"
    assert " passed" in done.stdout
    assert "llmcost: LLM call cost" in done.stdout
    assert (tmp_path / "costs.json").is_file()


def test_docs_testing_examples_run(tmp_path: Path) -> None:
    """The first examples of docs/testing.md print what their comments say (the third, a
    replaying transport, only defines a class), and its fixture example passes under pytest."""
    text = (EXAMPLES.parent / "docs" / "testing.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    env = _environment(tmp_path)
    outputs = []
    for block in blocks[:3]:
        done = subprocess.run(
            [sys.executable, "-W", "error", "-c", block],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.splitlines())
    assert outputs == [["0.00036", "True", "Three bullet points."], ["['a', 'b']"], []]

    (tmp_path / "test_doc_fixture.py").write_text(blocks[3], encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path), "-p", "no:cacheprovider",
         "-p", "no:asyncio", "-p", "no:hypothesispytest", "-p", "no:pytest_cov", "-W", "error"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
