"""Fake providers for tests, examples and demos: real SDK clients, fake HTTP transport.

The fakes plug into the ``openai`` and ``anthropic`` clients through their ``httpx2``
transport, so every line of the real SDK runs; only the network is replaced.

Example:
    >>> import llmcost.testing
    >>> client = llmcost.testing.fake_openai_client(
    ...     usage={"input_tokens": 1200, "output_tokens": 300})  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "FakeAnthropicTransport",
    "FakeOpenAITransport",
    "fake_anthropic_client",
    "fake_async_anthropic_client",
    "fake_async_openai_client",
    "fake_openai_client",
]

# Imported on first use: each fake imports its SDK, which only tests and demos should pay for.
_LAZY = {
    "FakeOpenAITransport": "llmcost.testing._openai",
    "fake_openai_client": "llmcost.testing._openai",
    "fake_async_openai_client": "llmcost.testing._openai",
    "FakeAnthropicTransport": "llmcost.testing._anthropic",
    "fake_anthropic_client": "llmcost.testing._anthropic",
    "fake_async_anthropic_client": "llmcost.testing._anthropic",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'llmcost.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
