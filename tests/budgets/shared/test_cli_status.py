"""``llmcost budgets status`` against a real Redis."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import redis

import llmcost
from llmcost.cli import main

if TYPE_CHECKING:
    from conftest import RedisServer


def test_status_shows_spent_reserved_and_limit_per_key(
    redis_server: RedisServer,
    redis_client: redis.Redis,
    make_store: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each user's key of today, with its spend and its limit, as a table and as JSON."""
    store = make_store(url=redis_server.url, prefix="cli:")
    llmcost.configure(
        budgets=[
            llmcost.budget(max_cost_usd="0.50", per="user_id", window="day", name="ud", store=store)
        ]
    )
    for user in ("u-1", "u-2", "u-2"):
        llmcost.record_usage(
            provider="openai", model="gpt-4o-mini", input_tokens=1000, output_tokens=0, user_id=user
        )
    assert main(["budgets", "status", "--redis", redis_server.url, "--prefix", "cli:"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "key",
        "spent_usd",
        "reserved_usd",
        "limit_usd",
        "calls",
        "in_flight",
    ]
    assert table[1].split()[1:] == ["0.00015", "0", "0.50", "1", "0"]
    assert table[2].split()[1:] == ["0.0003", "0", "0.50", "2", "0"]
    assert table[1].startswith("ud:u-1@")
    args = ["budgets", "status", "--redis", redis_server.url, "--prefix", "cli:", "--match"]
    assert main([*args, "ud:u-2", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["spent_usd"], row["calls"]) for row in rows] == [("0.0003", 2)]


def test_status_without_a_redis_url_says_what_to_give(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No --redis and no $LLMCOST_REDIS_URL: exit 2 with the option to give."""
    monkeypatch.delenv("LLMCOST_REDIS_URL", raising=False)
    assert main(["budgets", "status"]) == 2
    assert "--redis" in capsys.readouterr().err
