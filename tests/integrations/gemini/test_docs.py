"""docs/integrations/gemini.md: each example runs as written and prints what its comments say."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "integrations" / "gemini.md"
# The offline examples: those on the fakes (the first one needs a real key and network).
BLOCKS = [
    block
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    if "llmcost.testing" in block
]


def _promised(block: str) -> list[str]:
    """The outputs a block's ``print(...)  # output`` comments promise, in order."""
    return [
        line.split("#", 1)[1].strip()
        for line in block.splitlines()
        if line.lstrip().startswith("print(") and "#" in line
    ]


def test_doc_has_examples() -> None:
    """The page has its runnable examples, each promising some output."""
    assert len(BLOCKS) >= 2
    assert all(_promised(block) for block in BLOCKS)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_doc_example_prints_what_it_says(index: int, tmp_path: Path) -> None:
    """Run in a fresh interpreter with warnings as errors; stdout matches the comments."""
    block = BLOCKS[index]
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", block],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == _promised(block)
