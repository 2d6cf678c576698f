"""The delivery example of docs/sinks.md runs and prints what its comments say."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sinks.md"


def test_the_outage_example_runs_and_loses_nothing() -> None:
    """The 'Try it: an outage' example: flush returns False in time, then all 500 arrive."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"<!-- example: outage -->\n```python\n(.*?)```", text, re.DOTALL)
    assert match, "docs/sinks.md lost its outage example"
    done = subprocess.run(
        [sys.executable, "-c", match.group(1)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["False", "True 500", "0"]
    assert "Delivery guarantees" in text
