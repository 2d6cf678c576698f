"""``llmcost demo``: the offline quickstart (fake providers, no API key, no network)."""

from __future__ import annotations

import argparse

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo`` to the ``llmcost`` command line."""
    demo = subparsers.add_parser(
        "demo",
        help="run the offline demo: real SDK clients on fake providers, no API key needed",
        description=(
            "Run real OpenAI and Anthropic SDK clients against llmcost's fake providers: three "
            "features tagged with track_cost, one call refused by a budget, records written to "
            "a JSONL file and a cost summary per feature. No API key and no network are used."
        ),
    )
    demo.add_argument(
        "--jsonl",
        metavar="PATH",
        default=None,
        help="write the records to PATH (default: costs.jsonl in a new temporary directory)",
    )
    demo.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    # Imported here: the demo imports both SDKs, which other sub-commands never need.
    from llmcost.demo import run_demo

    run_demo(args.jsonl)
    return 0
