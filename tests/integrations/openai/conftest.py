"""Fixtures for the OpenAI integration tests: the real SDK client over a fake transport."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest

import llmcost
from llmcost.testing import FakeOpenAITransport, fake_async_openai_client, fake_openai_client

BODIES = Path(__file__).parent / "bodies"

USAGE = {
    "input_tokens": 1200,
    "output_tokens": 300,
    "cache_read_tokens": 1000,
    "reasoning_tokens": 100,
}


def body(name: str) -> Any:
    """A response body written for these tests (``.json`` parsed, ``.sse`` as text)."""
    text = (BODIES / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


def make_client(mode: str, transport: FakeOpenAITransport, **options: Any) -> Any:
    """A sync or async fake client on ``transport``."""
    if mode == "async":
        return fake_async_openai_client(transport=transport, **options)
    return fake_openai_client(transport=transport, **options)


async def invoke(method: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a sync or async SDK method and return its result."""
    result = method(**kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


async def consume(stream: Any) -> list[Any]:
    """Every item of a sync or async stream."""
    if hasattr(stream, "__aiter__"):
        return [item async for item in stream]
    return list(stream)


def resolve(client: Any, path: str) -> Any:
    target = client
    for part in path.split("."):
        target = getattr(target, part)
    return target


@pytest.fixture
def sink(memory_sink: llmcost.sinks.MemorySink) -> llmcost.sinks.MemorySink:
    """llmcost configured with a MemorySink and the openai SDK instrumented."""
    assert llmcost.instrument("openai") == ["openai"]
    return memory_sink


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def transport() -> FakeOpenAITransport:
    return FakeOpenAITransport(usage=USAGE)


@pytest.fixture
def client(mode: str, transport: FakeOpenAITransport) -> openai.OpenAI | openai.AsyncOpenAI:
    return make_client(mode, transport)
