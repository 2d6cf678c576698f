"""Keep prices current without a redeploy: diff a newer catalog, load it, swap it live.

Run: ``python examples/prices_without_redeploy.py`` (offline; no API key needed). A platform
team ships prices as data (here: a copy of the bundled catalog in which OpenAI raised gpt-4o's
input price), reviews what would change with ``llmcost prices diff``, and a running service
loads the new prices without restarting. Every record names the catalog it was priced with.
"""

from __future__ import annotations

import json
import tempfile
from importlib import resources
from pathlib import Path

import llmcost
from llmcost.cli import main as llmcost_cli
from llmcost.pricing import use_catalog

# 1. Prices shipped as data: a directory of <provider>.json files in the bundled format.
prices = Path(tempfile.mkdtemp()) / "prices"
prices.mkdir()
bundled = resources.files("llmcost.pricing") / "data"
for name in ("openai.json", "anthropic.json"):
    (prices / name).write_text((bundled / name).read_text(encoding="utf-8"), encoding="utf-8")
openai_file = prices / "openai.json"
data = json.loads(openai_file.read_text(encoding="utf-8"))
data["checked"] = "2027-01-15"
for model in data["models"]:
    if model["id"] == "gpt-4o":
        model["rates"]["input"] = "3"  # the provider's new price
        model["checked"] = "2027-01-15"
openai_file.write_text(json.dumps(data, indent=1), encoding="utf-8")

# 2. Review what it would change (exit status 3: there are differences).
print("$ llmcost prices diff prices/ --provider openai")
status = llmcost_cli(["prices", "diff", str(prices), "--provider", "openai"])
print(f"(exit status {status})\n")

# 3. A running service: start with the bundled prices ...
sink = llmcost.sinks.MemorySink()
llmcost.configure(sinks=[sink])
before = llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=100_000)

# ... and load the new prices when the file changes (a reload hook, SIGHUP, a file watcher):
use_catalog(prices)
after = llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=100_000)

# 4. Every record says which prices it used.
for label, record in (("before the swap", before), ("after the swap", after)):
    print(f"{label}: ${record.total_cost_usd} priced with catalog {record.catalog_version}")
llmcost.shutdown()
