"""The llmcost command line as a whole (each sub-command has its own tests)."""

from __future__ import annotations

import subprocess
import sys


def test_a_closed_pipe_ends_the_command_quietly() -> None:
    """`llmcost models | head -1` must not print a BrokenPipeError traceback."""
    command = f"{sys.executable} -m llmcost.cli models | head -1"
    result = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip()
    assert "Traceback" not in result.stderr
    assert "BrokenPipeError" not in result.stderr


def test_no_command_prints_help_and_fails() -> None:
    """Without a sub-command the help goes to stderr and the exit code is 2."""
    result = subprocess.run(
        [sys.executable, "-m", "llmcost.cli"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "price" in result.stderr
