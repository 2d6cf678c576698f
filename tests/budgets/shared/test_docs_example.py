"""The runnable example of docs/budgets.md runs against a real Redis and prints what it says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import redis

if TYPE_CHECKING:
    from conftest import RedisServer

DOC = Path(__file__).resolve().parents[3] / "docs" / "budgets.md"


def test_runnable_example_of_the_redis_budget(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    """Two calls for alice, the third refused by her daily budget; bob is not affected."""
    text = DOC.read_text(encoding="utf-8").split("### Runnable example", 1)[1]
    code = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert code is not None
    expected = [line[2:] for line in code.group(1).splitlines() if line.startswith("# ")]
    env = {**os.environ, "REDIS_URL": redis_server.url, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", code.group(1)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == expected
    assert expected[2] == "alice refused: user-day"
