"""Bedrock and Vertex clients: same resource classes (or their own beta copies), catalog ids.

``AnthropicBedrock`` is built with an API key (bearer auth), so no boto3 is needed; Bedrock
*streams* are decoded with botocore's event-stream parser, which is not installed here, and
the fake does not encode them: they are not tested. ``AnthropicVertex`` takes an access
token, so google-auth is not needed, and its streams are plain SSE.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import anthropic
import httpx2
import pytest

import llmcost
from llmcost.testing import FakeAnthropicTransport

ASK: dict[str, Any] = {"max_tokens": 100, "messages": [{"role": "user", "content": "Hello"}]}
USAGE = {"input_tokens": 1000, "output_tokens": 100}
# claude-haiku-4-5: $1 in, $5 out per million tokens.
COST = Decimal("0.0015")


def bedrock(transport: FakeAnthropicTransport, *, asynchronous: bool = False) -> Any:
    if asynchronous:
        return anthropic.AsyncAnthropicBedrock(
            api_key="fake-bedrock-key",
            aws_region="us-east-1",
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=transport),
        )
    return anthropic.AnthropicBedrock(
        api_key="fake-bedrock-key",
        aws_region="us-east-1",
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
    )


def vertex(transport: FakeAnthropicTransport, *, asynchronous: bool = False) -> Any:
    options: dict[str, Any] = {
        "region": "us-east5",
        "project_id": "fake-project",
        "access_token": "fake-token",
        "max_retries": 0,
    }
    if asynchronous:
        return anthropic.AsyncAnthropicVertex(
            http_client=httpx2.AsyncClient(transport=transport), **options
        )
    return anthropic.AnthropicVertex(http_client=httpx2.Client(transport=transport), **options)


@pytest.mark.parametrize(
    "model",
    [
        "anthropic.claude-haiku-4-5-20251001-v1:0",
        "us.anthropic.claude-haiku-4-5-20251001-v1:0",
        "global.anthropic.claude-haiku-4-5-20251001-v1:0",
    ],
)
@pytest.mark.parametrize("namespace", ["messages", "beta"])
def test_bedrock_model_ids_are_priced_through_the_catalog(
    sink: llmcost.sinks.MemorySink, model: str, namespace: str
) -> None:
    """Bedrock ids (plain, regional, global) resolve to the catalog's Claude price; a
    geographic cross-region id (``us.``) costs AWS's 10% regional premium."""
    transport = FakeAnthropicTransport(usage=USAGE)
    client = bedrock(transport)
    resource = client.messages if namespace == "messages" else client.beta.messages
    resource.create(model=model, **ASK)
    assert transport.requests[0].url.path == f"/model/{model}/invoke"
    [record] = sink.records
    assert record.provider == "anthropic"
    assert record.model == model
    assert record.priced_as == "claude-haiku-4-5"
    assert record.total_cost_usd == (COST * Decimal("1.1") if model.startswith("us.") else COST)


def test_async_bedrock_is_recorded(sink: llmcost.sinks.MemorySink) -> None:
    """The async Bedrock client shares the async resource class."""
    client = bedrock(FakeAnthropicTransport(usage=USAGE), asynchronous=True)
    asyncio.run(client.beta.messages.parse(model="anthropic.claude-haiku-4-5-20251001-v1:0", **ASK))
    assert [r.total_cost_usd for r in sink.records] == [COST]


@pytest.mark.parametrize("target", ["create", "create_stream", "stream"])
@pytest.mark.parametrize("namespace", ["messages", "beta"])
def test_vertex_model_ids_are_priced_through_the_catalog(
    sink: llmcost.sinks.MemorySink, target: str, namespace: str
) -> None:
    """Vertex ids (``model@date``) resolve to the catalog's Claude price, streams included."""
    transport = FakeAnthropicTransport(usage=USAGE)
    client = vertex(transport)
    resource = client.messages if namespace == "messages" else client.beta.messages
    model = "claude-haiku-4-5@20251001"
    if target == "create":
        resource.create(model=model, **ASK)
    elif target == "create_stream":
        for _ in resource.create(model=model, stream=True, **ASK):
            pass
    else:
        with resource.stream(model=model, **ASK) as stream:
            stream.until_done()
    assert transport.requests[0].url.path.endswith(
        "/models/claude-haiku-4-5@20251001:"
        + ("rawPredict" if target == "create" else "streamRawPredict")
    )
    [record] = sink.records
    assert record.model == model
    assert record.priced_as == "claude-haiku-4-5"
    assert record.total_cost_usd == COST
    assert record.stream is (target != "create")


def test_async_vertex_stream_is_recorded(sink: llmcost.sinks.MemorySink) -> None:
    """The async Vertex stream helper is recorded once."""
    client = vertex(FakeAnthropicTransport(usage=USAGE), asynchronous=True)

    async def consume() -> None:
        async with client.messages.stream(model="claude-haiku-4-5@20251001", **ASK) as stream:
            await stream.until_done()

    asyncio.run(consume())
    assert [r.total_cost_usd for r in sink.records] == [COST]


def test_vertex_count_tokens_is_not_recorded(sink: llmcost.sinks.MemorySink) -> None:
    """Vertex's own beta class copies count_tokens too; it stays free."""
    transport = FakeAnthropicTransport(usage=USAGE)
    client = vertex(transport)
    counted = client.beta.messages.count_tokens(
        model="claude-haiku-4-5@20251001", messages=ASK["messages"]
    )
    assert counted.input_tokens == 1000
    assert len(transport.requests) == 1
    assert sink.records == []
