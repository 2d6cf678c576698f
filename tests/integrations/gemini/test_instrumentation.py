"""The google-genai adapter: one record per billed request, through the real SDK."""

from __future__ import annotations

import gc
import logging
from decimal import Decimal
from typing import Any

import httpx2
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import models, types

import llmcost
from llmcost.integrations import _seams, gemini
from llmcost.testing import FakeGeminiTransport, fake_gemini_client

USAGE = {
    "input_tokens": 1200,
    "cache_read_tokens": 1000,
    "output_tokens": 380,
    "reasoning_tokens": 300,
}
# gemini-2.5-flash: 200 x 0.3 + 1000 x 0.03 + 380 x 2.5 per 1M
COST = Decimal("0.00104")


def test_generate_content_records_once(sink: llmcost.sinks.MemorySink) -> None:
    """A call makes one record: thinking as output, the cache as reads, the exact price."""
    transport = FakeGeminiTransport(usage=USAGE, request_id="rq-1")
    client = fake_gemini_client(transport=transport)
    with llmcost.track_cost(feature="chat") as scope:
        response = client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert response.text == "Hello from the fake Gemini API."
    [record] = sink.records
    assert (record.provider, record.operation, record.model) == (
        "gcp.gemini",
        "generate_content",
        "gemini-2.5-flash",
    )
    assert (record.input_tokens, record.cache_read_tokens) == (1200, 1000)
    assert (record.output_tokens, record.reasoning_tokens) == (380, 300)
    assert record.total_cost_usd == COST == scope.total_cost_usd
    assert record.response_id == response.response_id
    assert record.request_id == "rq-1"
    assert record.replayed
    assert not record.stream
    assert not record.estimated
    assert record.feature == "chat"


def test_vertex_ai_is_its_own_provider_and_flex_is_priced(sink: llmcost.sinks.MemorySink) -> None:
    """A Vertex AI client records gcp.vertex_ai; its Flex traffic is priced at flex rates."""
    client = fake_gemini_client(
        vertexai=True,
        traffic_type="ON_DEMAND_FLEX",
        usage={"input_tokens": 100, "output_tokens": 200},
    )
    client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    [record] = sink.records
    assert (record.provider, record.service_tier) == ("gcp.vertex_ai", "flex")
    assert record.total_cost_usd == Decimal("0.000265")  # 100 x 0.15 + 200 x 1.25 per 1M


def test_stream_records_the_last_usage_once(sink: llmcost.sinks.MemorySink) -> None:
    """A stream makes one record when read to the end, from the last cumulative usage."""
    client = fake_gemini_client(usage=USAGE, text="one two three four five")
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"))
    assert len(chunks) == 5
    [record] = sink.records
    assert record.replayed
    assert record.stream
    assert not record.estimated
    assert (record.input_tokens, record.output_tokens) == (1200, 380)
    assert record.total_cost_usd == COST


def test_stream_abandoned_early_is_recorded_as_estimated(sink: llmcost.sinks.MemorySink) -> None:
    """A stream left after its first chunk is still recorded, with the counts seen so far."""
    client = fake_gemini_client(usage=USAGE, text="one two three four five")
    for _chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"):
        break
    gc.collect()
    llmcost.flush()
    [record] = sink.records
    assert record.stream
    assert record.estimated
    assert record.input_tokens == 1200
    assert 300 < record.output_tokens < 380  # thoughts and the first share of the answer


async def test_async_calls_and_streams(sink: llmcost.sinks.MemorySink) -> None:
    """client.aio records like the sync client."""
    client = fake_gemini_client(usage=USAGE)
    await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    stream = await client.aio.models.generate_content_stream(
        model="gemini-2.5-flash", contents="Hi"
    )
    async for _chunk in stream:
        pass
    assert [(r.stream, r.total_cost_usd) for r in sink.records] == [(False, COST), (True, COST)]


def test_chats_record_each_message(sink: llmcost.sinks.MemorySink) -> None:
    """client.chats goes through the same path: one record per message sent."""
    client = fake_gemini_client(usage=USAGE)
    chat = client.chats.create(model="gemini-2.5-flash")
    chat.send_message("Hi")
    for _chunk in chat.send_message_stream("And again"):
        pass
    assert [r.stream for r in sink.records] == [False, True]


def _weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


def test_automatic_function_calling_records_every_request(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """AFC sends the model twice for one generate_content: both requests are billed, so
    both are recorded (the response the SDK returns carries only the last one's usage)."""
    bodies = [
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"functionCall": {"name": "_weather", "args": {"city": "Paris"}}}
                        ],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {"promptTokenCount": 50, "candidatesTokenCount": 10},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "hop-1",
        },
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": "Sunny."}]},
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {"promptTokenCount": 80, "candidatesTokenCount": 4},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "hop-2",
        },
    ]
    sent: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return httpx2.Response(200, json=bodies[len(sent) - 1])

    transport = httpx2.MockTransport(answer)
    client = genai.Client(
        api_key="k", http_options=types.HttpOptions(httpx_client=httpx2.Client(transport=transport))
    )
    response = client.models.generate_content(
        model="gemini-2.5-flash",
        contents="Weather in Paris?",
        config=types.GenerateContentConfig(tools=[_weather]),
    )
    assert response.text == "Sunny."
    assert len(sent) == 2
    assert [(r.response_id, r.input_tokens, r.output_tokens) for r in sink.records] == [
        ("hop-1", 50, 10),
        ("hop-2", 80, 4),
    ]


@pytest.mark.parametrize("vertexai", [False, True])
def test_free_endpoints_make_no_record(sink: llmcost.sinks.MemorySink, vertexai: bool) -> None:
    """count_tokens and compute_tokens are not billed: no record."""
    client = fake_gemini_client(vertexai=vertexai)
    client.models.count_tokens(model="gemini-2.5-flash", contents="Hi")
    if vertexai:
        client.models.compute_tokens(model="gemini-2.5-flash", contents="Hi")
    assert sink.records == []


def test_embeddings(sink: llmcost.sinks.MemorySink) -> None:
    """embed_content is recorded as embeddings at the embedding model's input rate."""
    client = fake_gemini_client(vertexai=True, embedding_tokens=1000)
    client.models.embed_content(model="gemini-embedding-001", contents=["a", "b"])
    [record] = sink.records
    assert (record.operation, record.input_tokens, record.output_tokens) == ("embeddings", 2000, 0)
    assert record.total_cost_usd == Decimal("0.0003")  # 2000 x 0.15 per 1M


def test_errors_pass_through_and_are_recorded(sink: llmcost.sinks.MemorySink) -> None:
    """The SDK's exception reaches the caller unchanged; the record says error."""
    client = fake_gemini_client(error="rate_limit")
    with pytest.raises(genai_errors.ClientError) as raised:
        client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert raised.value.code == 429
    [record] = sink.records
    assert (record.status, record.error_type) == ("error", "ClientError")


async def test_stream_errors_pass_through_and_are_recorded(
    sink: llmcost.sinks.MemorySink,
) -> None:
    """A stream the API refuses raises the SDK's error where the user iterates, sync and
    async; each is recorded once as a streamed error."""
    client = fake_gemini_client(error="unavailable")
    with pytest.raises(genai_errors.ServerError):
        for _chunk in client.models.generate_content_stream(
            model="gemini-2.5-flash", contents="Hi"
        ):
            pass

    async def consume() -> None:
        stream = await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash", contents="Hi"
        )
        async for _chunk in stream:
            pass

    with pytest.raises(genai_errors.ServerError):
        await consume()
    assert [(r.status, r.error_type, r.stream) for r in sink.records] == [
        ("error", "ServerError", True),
        ("error", "ServerError", True),
    ]


def test_budget_refuses_before_sending(sink: llmcost.sinks.MemorySink) -> None:
    """A budget that cannot cover the worst case refuses the call: nothing is sent."""
    transport = FakeGeminiTransport()
    client = fake_gemini_client(transport=transport)
    with pytest.raises(llmcost.BudgetExceeded), llmcost.budget(max_cost_usd=0.000001):
        client.models.generate_content(model="gemini-2.5-pro", contents="Hi" * 100)
    assert transport.requests == []


def test_uninstrument_stops_recording(sink: llmcost.sinks.MemorySink) -> None:
    """After uninstrument() nothing is recorded and the SDK methods are the originals."""
    llmcost.uninstrument("google.genai")
    assert not hasattr(models.Models._generate_content, "__wrapped__")
    fake_gemini_client().models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert sink.records == []


def test_without_the_private_methods_the_public_ones_are_patched(
    memory_sink: llmcost.sinks.MemorySink,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """If a release renames the per-request methods, the public methods are patched, with one
    warning that earlier AFC hops are then not recorded; calls are still recorded once."""
    monkeypatch.setattr(gemini, "_per_request_methods", lambda: False)
    monkeypatch.setattr(gemini, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        assert llmcost.instrument("google.genai") == ["google.genai"]
    assert "not recorded" in caplog.text
    patched = {name for _, name, *_ in gemini.INTEGRATION.applied}
    assert patched == {"generate_content", "generate_content_stream", "embed_content"}
    client = fake_gemini_client(usage=USAGE)
    client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    for _chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"):
        pass
    assert [(r.stream, r.total_cost_usd) for r in memory_sink.records] == [
        (False, COST),
        (True, COST),
    ]


def test_the_per_request_methods_are_what_is_patched(sink: llmcost.sinks.MemorySink) -> None:
    """With google-genai as released, the private per-request methods are patched (six
    targets, sync and async), never count_tokens or compute_tokens."""
    patched = {(owner.__name__, name) for owner, name, *_ in gemini.INTEGRATION.applied}
    assert patched == {
        (cls, name)
        for cls in ("Models", "AsyncModels")
        for name in ("_generate_content", "_generate_content_stream", "_embed_content")
    }


def test_without_the_api_client_vertex_ai_is_recorded_as_gemini(
    sink: llmcost.sinks.MemorySink,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """If a release renames Models._api_client, a Vertex AI call is still recorded (as
    gcp.gemini), the seam is counted and one warning names the attribute."""
    _seams.forget_warnings()
    attribute, consequence = _seams.SEAMS["genai_api_client"]
    monkeypatch.setitem(_seams.SEAMS, "genai_api_client", (f"{attribute}_renamed", consequence))
    client = fake_gemini_client(vertexai=True)
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        for _ in range(2):
            client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert [r.provider for r in sink.records] == ["gcp.gemini", "gcp.gemini"]
    assert caplog.text.count("_api_client_renamed") == 1
    assert llmcost.stats()["seams_missing.genai_api_client"] == 2


@pytest.mark.parametrize(
    "config",
    [{"max_output_tokens": 200}, types.GenerateContentConfig(max_output_tokens=200)],
)
def test_budget_worst_case_uses_max_output_tokens(
    sink: llmcost.sinks.MemorySink,
    config: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """config.max_output_tokens bounds the worst case: a small budget lets a capped call
    through, and refuses the same call without the cap (the model's 65,536-token limit);
    an uncapped call under a budget that lets it through is warned about once per model."""
    monkeypatch.setattr(gemini, "_warned", set())
    client = fake_gemini_client(usage={"input_tokens": 10, "output_tokens": 150})
    with llmcost.budget(max_cost_usd=0.01) as budget:
        client.models.generate_content(model="gemini-2.5-flash", contents="Hi", config=config)
        with pytest.raises(llmcost.BudgetExceeded):
            client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert budget.spent_usd == Decimal("0.000378")  # 10 x 0.3 + 150 x 2.5 per 1M
    assert len(sink.records) == 1
    assert "max_output_tokens" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="llmcost"), llmcost.budget(max_cost_usd=1):
        for _ in range(2):
            client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert caplog.text.count("set no config.max_output_tokens") == 1
