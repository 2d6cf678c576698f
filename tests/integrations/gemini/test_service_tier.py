"""Gemini service tiers: the tier a response says it was served at is priced; when it says
nothing, the tier the request asked for (``config.service_tier``) is."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import httpx2
import pytest
from google import genai
from google.genai import types

import llmcost
from llmcost.testing._gemini import FAKE_GEMINI_API_KEY

# gemini-2.5-flash, 100 input and 200 output tokens, per tier
PRICE = {
    "standard": Decimal("0.00053"),
    "flex": Decimal("0.000265"),
    "priority": Decimal("0.000954"),
}


def _client(headers: dict[str, str] | None = None) -> genai.Client:
    usage = {"promptTokenCount": 100, "candidatesTokenCount": 200, "totalTokenCount": 300}
    body = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}}],
        "usageMetadata": usage,
        "modelVersion": "gemini-2.5-flash",
        "responseId": "r-tier",
    }

    def answer(request: httpx2.Request) -> httpx2.Response:
        if b"streamGenerateContent" in request.url.raw_path:
            return httpx2.Response(
                200,
                headers={"content-type": "text/event-stream", **(headers or {})},
                content=f"data: {json.dumps(body)}\r\n\r\n".encode(),
            )
        return httpx2.Response(200, json=body, headers=headers)

    transport = httpx2.MockTransport(answer)
    options = types.HttpOptions(
        httpx_client=httpx2.Client(transport=transport),
        httpx_async_client=httpx2.AsyncClient(transport=transport),
    )
    return genai.Client(api_key=FAKE_GEMINI_API_KEY, http_options=options)


@pytest.mark.parametrize(
    "asked",
    ["flex", "FLEX", "priority", "Priority", types.ServiceTier.FLEX],
)
def test_the_tier_asked_for_is_priced_when_the_response_does_not_say(
    sink: llmcost.sinks.MemorySink, asked: Any
) -> None:
    client = _client()
    client.models.generate_content(
        model="gemini-2.5-flash", contents="Hi", config={"service_tier": asked}
    )
    [record] = sink.records
    tier = "priority" if "PRIORITY" in str(asked).upper() else "flex"
    assert record.service_tier == tier
    assert record.total_cost_usd == PRICE[tier]


def test_the_tier_the_response_reports_wins_over_the_one_asked_for(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """A priority request over its limit is served at standard, and billed so."""
    client = _client(headers={"x-gemini-service-tier": "standard"})
    client.models.generate_content(
        model="gemini-2.5-flash",
        contents="Hi",
        config=types.GenerateContentConfig(service_tier=types.ServiceTier.PRIORITY),
    )
    [record] = sink.records
    assert (record.service_tier, record.total_cost_usd) == ("standard", PRICE["standard"])


def test_the_service_tier_header_is_read_on_streams_too(sink: llmcost.sinks.MemorySink) -> None:
    client = _client(headers={"x-gemini-service-tier": "standard"})
    chunks = list(
        client.models.generate_content_stream(
            model="gemini-2.5-flash", contents="Hi", config={"service_tier": "priority"}
        )
    )
    assert len(chunks) == 1
    [record] = sink.records
    assert record.stream
    assert (record.service_tier, record.total_cost_usd) == ("standard", PRICE["standard"])


def test_no_tier_asked_or_said_is_standard(sink: llmcost.sinks.MemorySink) -> None:
    asyncio.run(_client().aio.models.generate_content(model="gemini-2.5-flash", contents="Hi"))
    [record] = sink.records
    assert record.service_tier is None
    assert record.total_cost_usd == PRICE["standard"]


def test_a_budget_reserves_the_priority_price(sink: llmcost.sinks.MemorySink) -> None:
    """The worst case of a priority request is priced at priority rates, before sending: 200
    output tokens are $0.0005 at standard, $0.0009 at priority, against a $0.0007 limit."""
    client = _client()
    with llmcost.budget(max_cost_usd="0.0007"):
        client.models.generate_content(
            model="gemini-2.5-flash", contents="Hi", config={"max_output_tokens": 200}
        )
    with llmcost.budget(max_cost_usd="0.0007"), pytest.raises(llmcost.BudgetExceeded):
        client.models.generate_content(
            model="gemini-2.5-flash",
            contents="Hi",
            config={"max_output_tokens": 200, "service_tier": "priority"},
        )
    assert len(sink.records) == 1
