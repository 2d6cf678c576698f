"""The ``llmcost`` command line: one sub-command module each under :mod:`llmcost.commands`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

__all__ = ["main"]

# Each module exposes ``register(subparsers)``, which adds its sub-commands and sets
# ``func(args) -> int`` on them. Modules are imported only to build the parser.
_COMMAND_MODULES = (
    "llmcost.commands.pricing",  # llmcost price, llmcost models
    "llmcost.commands.reports",  # llmcost report, llmcost anomalies
    "llmcost.commands.demo",  # llmcost demo
    "llmcost.commands.budgets",  # llmcost budgets status
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    from llmcost import __version__

    parser = argparse.ArgumentParser(
        prog="llmcost", description="Price, report and watch LLM API spend."
    )
    parser.add_argument(
        "--version", action="version", version=f"llmcost {__version__}", help="print the version"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue  # a sub-command module not written yet
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = args.func(args)
    except BrokenPipeError:
        # The reader went away (`llmcost models | head -1`): stop quietly, as Unix tools do,
        # and keep Python from complaining again when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
