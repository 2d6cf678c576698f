"""Fake providers for tests, examples and demos: real SDK clients, fake HTTP transport.

The fakes plug into the ``openai``, ``anthropic`` and ``google-genai`` clients through their
``httpx2`` transport, so every line of the real SDK runs; only the network is replaced.

Example:
    >>> import llmcost.testing
    >>> client = llmcost.testing.fake_openai_client(
    ...     usage={"input_tokens": 1200, "output_tokens": 300})  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from llmcost._lazy import lazy_attributes

__all__ = [
    "FakeAnthropicTransport",
    "FakeGeminiTransport",
    "FakeOpenAITransport",
    "fake_anthropic_client",
    "fake_async_anthropic_client",
    "fake_async_azure_openai_client",
    "fake_async_openai_client",
    "fake_azure_openai_client",
    "fake_gemini_client",
    "fake_openai_client",
]

# Imported on first use: each fake imports its SDK, which only tests and demos should pay for.
_lazy = lazy_attributes(
    __name__,
    {
        "FakeOpenAITransport": "llmcost.testing._openai:FakeOpenAITransport",
        "fake_openai_client": "llmcost.testing._openai:fake_openai_client",
        "fake_async_openai_client": "llmcost.testing._openai:fake_async_openai_client",
        "fake_azure_openai_client": "llmcost.testing._openai:fake_azure_openai_client",
        "fake_async_azure_openai_client": (
            "llmcost.testing._openai:fake_async_azure_openai_client"
        ),
        "FakeAnthropicTransport": "llmcost.testing._anthropic:FakeAnthropicTransport",
        "fake_anthropic_client": "llmcost.testing._anthropic:fake_anthropic_client",
        "fake_async_anthropic_client": "llmcost.testing._anthropic:fake_async_anthropic_client",
        "FakeGeminiTransport": "llmcost.testing._gemini:FakeGeminiTransport",
        "fake_gemini_client": "llmcost.testing._gemini:fake_gemini_client",
    },
)


def __getattr__(name: str) -> Any:
    return _lazy(name)
