"""Price calls with a contract discount, an explicit rate, a private model and an Azure alias.

Run: ``python examples/pricing_overrides.py`` (offline; no API key needed).
"""

from __future__ import annotations

from llmcost.pricing import cost, get_catalog, use_catalog
from llmcost.types import Usage

usage = Usage(input_tokens=12_000, cache_read_tokens=8_000, output_tokens=900)

print("bundled gpt-4o:      ", cost("gpt-4o", usage).total_cost_usd)

# An override layer: the same structure works as a JSON file passed by path.
use_catalog(
    {
        "version": "acme-contract-2026",
        "scale": {"openai": "0.85"},  # a 15% discount on every OpenAI rate
        "models": {
            "claude-sonnet-4-5": {"rates": {"output": "12"}},  # a negotiated output rate
            "acme-distilled-1": {  # a private model, priced per 1M tokens
                "provider": "openai",
                "rates": {"input": "0.3", "output": "1.2"},
                "tokenizer": "o200k_base",
                "max_output_tokens": 8192,
            },
        },
        "aliases": {"prod-chat-eastus": "gpt-4o-2024-08-06"},  # an Azure deployment name
    }
)

print("catalog version:     ", get_catalog().version)
print("discounted gpt-4o:   ", cost("gpt-4o", usage).total_cost_usd)
print("Azure deployment:    ", cost("prod-chat-eastus", usage, provider="azure").total_cost_usd)
print("private model:       ", cost("acme-distilled-1", usage).total_cost_usd)
print("sonnet, own output:  ", cost("claude-sonnet-4-5", usage).output_cost_usd)
print("unknown model priced:", cost("someone-elses-model", usage).priced)

use_catalog(None)  # back to the bundled prices
print("bundled again:       ", cost("gpt-4o", usage).total_cost_usd)
