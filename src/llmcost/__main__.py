"""``python -m llmcost``: the ``llmcost`` command line."""

from __future__ import annotations

from llmcost.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
