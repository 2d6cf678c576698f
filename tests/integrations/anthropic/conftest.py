"""Fixtures for the Anthropic integration tests: real SDK clients, fake HTTP, no network.

Bodies here are written for this project and modelled on recorded Anthropic responses
(same structure, same numbers); see ``Bodies`` below.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
import pytest

import llmcost

_KEY = "sk-ant-test-key"


def sse(events: list[dict[str, Any]]) -> bytes:
    """An SSE body with one event per dict, named after its ``type``."""
    return "".join(
        f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events
    ).encode()


def text_events(text: str) -> list[dict[str, Any]]:
    """``content_block_*`` events of one text block."""
    events: list[dict[str, Any]] = [
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]
    for word in text.split(" "):
        events.append(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": word + " "},
            }
        )
    events.append({"type": "content_block_stop", "index": 0})
    return events


class Bodies:
    """Response bodies modelled on recorded Anthropic API responses (numbers kept)."""

    @staticmethod
    def message(
        model: str, usage: dict[str, Any], *, message_id: str = "msg_01ProjectCreate000000001"
    ) -> dict[str, Any]:
        return {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "Four plus five equals nine."}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }

    @staticmethod
    def stream(
        model: str,
        start_usage: dict[str, Any],
        delta_usage: dict[str, Any],
        *,
        message_id: str = "msg_01ProjectStream000000001",
        stop: bool = True,
    ) -> list[dict[str, Any]]:
        start = {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": start_usage,
            },
        }
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": delta_usage,
        }
        events = [start, *text_events("Four plus five equals nine."), delta]
        if stop:
            events.append({"type": "message_stop"})
        return events


@pytest.fixture
def bodies() -> type[Bodies]:
    return Bodies


@pytest.fixture
def sink(memory_sink: llmcost.sinks.MemorySink) -> llmcost.sinks.MemorySink:
    """llmcost configured with a MemorySink and the anthropic SDK instrumented."""
    assert llmcost.instrument("anthropic") == ["anthropic"]
    from llmcost.integrations.anthropic import INTEGRATION

    assert INTEGRATION.patched
    return memory_sink


Responder = Callable[[httpx2.Request], httpx2.Response]


class Http:
    """Handlers for ``httpx2.MockTransport`` answering with one fixed body."""

    sse = staticmethod(sse)

    @staticmethod
    def json(body: Any, *, status: int = 200, request_id: str = "req_01ProjectJson") -> Responder:
        def handler(request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(
                status,
                headers={"content-type": "application/json", "request-id": request_id},
                content=json.dumps(body).encode(),
            )

        return handler

    @staticmethod
    def stream(events: list[dict[str, Any]], *, request_id: str = "req_01ProjectSse") -> Responder:
        def handler(request: httpx2.Request) -> httpx2.Response:
            return httpx2.Response(
                200,
                headers={
                    "content-type": "text/event-stream; charset=utf-8",
                    "request-id": request_id,
                },
                content=sse(events),
            )

        return handler


@pytest.fixture
def http() -> type[Http]:
    return Http


@pytest.fixture
def mock_client() -> Callable[..., Any]:
    """A real client (``asynchronous=True``: AsyncAnthropic) answered by ``handler``."""

    def make(handler: Responder, *, asynchronous: bool = False) -> Any:
        transport = httpx2.MockTransport(handler)
        if asynchronous:
            return anthropic.AsyncAnthropic(
                api_key=_KEY,
                base_url="https://api.anthropic.com",
                max_retries=0,
                http_client=httpx2.AsyncClient(transport=transport),
            )
        return anthropic.Anthropic(
            api_key=_KEY,
            base_url="https://api.anthropic.com",
            max_retries=0,
            http_client=httpx2.Client(transport=transport),
        )

    return make
