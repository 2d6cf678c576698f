"""Refresh ``litellm.json``: the OpenAI and Anthropic price rows of litellm's dataset.

litellm is never imported, and not installed either (its dependencies fight openai 3.x):
its wheel carries the dataset as one JSON file, read here straight out of the zip. Only the
price facts llmcost cross-checks are kept (rows of the providers llmcost prices, cost keys).

Usage::

    pip download --no-deps litellm==<version> -d /tmp/prices
    python tests/pricing/peers/refresh_litellm.py /tmp/prices/litellm-<version>-*.whl

Then run ``pytest tests/pricing/test_crosscheck.py`` and update
``tests/pricing/known_disagreements.yaml`` with a reason for every new disagreement.
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path

_MEMBER = "litellm/model_prices_and_context_window_backup.json"
_PROVIDERS = {"openai", "anthropic"}
_BEDROCK = re.compile(r"^(?:[a-z-]{2,8}\.)?anthropic\.claude-")


def _keep(name: str, row: dict[str, object]) -> bool:
    provider = str(row.get("litellm_provider", ""))
    if "/" in name:
        return False
    if provider in _PROVIDERS:
        return True
    return provider.startswith("bedrock") and bool(_BEDROCK.match(name))


def extract(wheel: Path) -> dict[str, object]:
    """The kept rows of the wheel's dataset, with the wheel's version."""
    version = wheel.name.split("-")[1]
    with zipfile.ZipFile(wheel) as archive:
        data = json.loads(archive.read(_MEMBER))
    rows = {
        name: {
            key: value
            for key, value in row.items()
            if key in ("litellm_provider", "mode") or "cost" in key
        }
        for name, row in sorted(data.items())
        if isinstance(row, dict) and _keep(name, row)
    }
    return {
        "_source": f"litellm {version} wheel, {_MEMBER} (MIT licence: LICENSE-litellm)",
        "version": version,
        "models": rows,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(__file__).with_name("litellm.json")
    out.write_text(json.dumps(extract(Path(argv[1])), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
