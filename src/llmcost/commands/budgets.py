"""``llmcost budgets status``: spent, reserved and limit per budget key in a shared store.

Exit codes: 0 success; 1 the store cannot be reached or redis-py is missing; 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal
from typing import Any

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``budgets status`` to the ``llmcost`` command line."""
    budgets = subparsers.add_parser(
        "budgets",
        help="inspect budgets kept in a shared store",
        description="Inspect the budgets kept in a shared budget store (Redis).",
    )
    actions = budgets.add_subparsers(dest="budgets_command", metavar="ACTION", required=True)
    status = actions.add_parser(
        "status",
        help="spent / reserved / limit per budget key",
        description=(
            "Show, for every budget key in the Redis store (one per budget, per key value and "
            "window, e.g. 'user-day:u-42@2026-12-06'), what was spent, what calls in flight "
            "hold reserved, and the limit."
        ),
    )
    status.add_argument(
        "--redis",
        default=os.environ.get("LLMCOST_REDIS_URL"),
        help="Redis URL, such as redis://localhost:6379/0 (default: $LLMCOST_REDIS_URL)",
    )
    status.add_argument("--prefix", default="llmcost:budget:", help="the store's key prefix")
    status.add_argument("--match", default="", help="only keys that start with this")
    status.add_argument("--format", choices=("table", "json"), default="table")
    status.set_defaults(func=_run_status)


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}" if value else "0"


def _run_status(args: argparse.Namespace) -> int:
    if not args.redis:
        print(
            "llmcost budgets status: give --redis URL (or set LLMCOST_REDIS_URL)", file=sys.stderr
        )
        return 2
    try:
        import redis

        from llmcost.budgets import RedisBudgetStore
    except ModuleNotFoundError:
        print(
            'llmcost budgets status needs redis-py: pip install "llmcost[redis]"', file=sys.stderr
        )
        return 1
    store = RedisBudgetStore(url=args.redis, prefix=args.prefix)
    try:
        found = store.status()
    except redis.RedisError as exc:
        print(f"llmcost budgets status: cannot read {args.redis}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    rows: list[dict[str, Any]] = []
    for key, totals, limits in found:
        if not key.startswith(args.match):
            continue
        rows.append(
            {
                "key": key,
                "spent_usd": _plain(totals.spent.cost_usd),
                "reserved_usd": _plain(totals.reserved.cost_usd),
                "limit_usd": limits.get("max_cost_usd", ""),
                "calls": totals.spent.calls,
                "in_flight": totals.reserved.calls,
                "tokens": totals.spent.total_tokens,
                "other_limits": {k: v for k, v in limits.items() if k != "max_cost_usd"},
            }
        )
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no budget keys under {args.prefix!r}")
        return 0
    headers = ("key", "spent_usd", "reserved_usd", "limit_usd", "calls", "in_flight")
    table = [headers, *[tuple(str(row[h]) for h in headers) for row in rows]]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    for line in table:
        cells = [line[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)
        ]
        print("  ".join(cells).rstrip())
    return 0
