"""Azure OpenAI through the real ``openai.AzureOpenAI`` / ``AsyncAzureOpenAI`` clients.

``model=`` names a deployment there: records are priced by the model the response reports,
name the deployment, and say ``provider="azure.ai.openai"``; before the response exists,
``configure(azure_deployments=...)`` says which model a deployment serves.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import httpx2
import openai
import pytest

import llmcost
from llmcost.testing import (
    FakeOpenAITransport,
    fake_async_azure_openai_client,
    fake_azure_openai_client,
)

from .openai.conftest import consume, invoke

MESSAGES = [{"role": "user", "content": "Hi"}]
USAGE = {"input_tokens": 1000, "output_tokens": 100}
#: gpt-4o at OpenAI's global-standard prices: 1,000 × $2.50/M + 100 × $10/M.
GPT_4O_COST = Decimal("0.0035")
#: gpt-4o-mini: 1,000 × $0.15/M + 100 × $0.60/M.
GPT_4O_MINI_COST = Decimal("0.00021")


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def azure(mode: str, transport: FakeOpenAITransport, **options: Any) -> Any:
    if mode == "async":
        return fake_async_azure_openai_client(transport=transport, **options)
    return fake_azure_openai_client(transport=transport, **options)


def configure(**options: Any) -> llmcost.sinks.MemorySink:
    sink = llmcost.sinks.MemorySink()
    llmcost.configure(sinks=[sink], **options)
    assert llmcost.instrument("openai") == ["openai"]
    return sink


async def test_a_call_is_priced_by_the_model_the_response_reports(mode):
    """The deployment name is recorded, never priced as if it were a model."""
    sink = configure()
    transport = FakeOpenAITransport(model="gpt-4o-2024-11-20", usage=USAGE)
    client = azure(mode, transport)
    await invoke(client.chat.completions.create, model="prod-chat", messages=MESSAGES)
    (record,) = sink.records
    assert record.provider == "azure.ai.openai"
    assert record.model == "prod-chat"
    assert record.deployment == "prod-chat"
    assert record.endpoint_host == "llmcost-fake.openai.azure.com"
    assert record.response_model == "gpt-4o-2024-11-20"
    assert record.priced_as == "gpt-4o"
    assert record.total_cost_usd == GPT_4O_COST
    assert record.cost_source == "catalog"
    assert "/openai/deployments/prod-chat/chat/completions" in str(transport.requests[0].url)


async def test_a_deployment_named_like_a_model_is_still_priced_by_the_response(mode):
    """A deployment called "gpt-4o" that serves gpt-4o-mini is priced as gpt-4o-mini."""
    sink = configure()
    client = azure(mode, FakeOpenAITransport(model="gpt-4o-mini-2024-07-18", usage=USAGE))
    await invoke(client.chat.completions.create, model="gpt-4o", messages=MESSAGES)
    (record,) = sink.records
    assert record.priced_as == "gpt-4o-mini"
    assert record.total_cost_usd == GPT_4O_MINI_COST


async def test_a_client_bound_to_a_deployment_records_that_deployment(mode):
    """With ``azure_deployment=`` the base URL names the deployment, not ``model=``."""
    sink = configure()
    transport = FakeOpenAITransport(model="gpt-4o-2024-11-20", usage=USAGE)
    client = azure(mode, transport, azure_deployment="bound-4o")
    await invoke(client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES)
    (record,) = sink.records
    assert record.deployment == "bound-4o"
    assert record.model == "gpt-4o-mini"
    assert record.priced_as == "gpt-4o"
    assert "/openai/deployments/bound-4o/" in str(transport.requests[0].url)


async def test_streams_ask_for_usage_and_hide_the_usage_chunk(mode):
    """Azure API versions from 2024-09-01 accept include_usage: the stream is exact."""
    sink = configure()
    transport = FakeOpenAITransport(model="gpt-4o-2024-11-20", usage=USAGE)
    client = azure(mode, transport)
    stream = await invoke(
        client.chat.completions.create, model="prod-chat", messages=MESSAGES, stream=True
    )
    chunks = await consume(stream)
    assert transport.request_json()["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks)
    (record,) = sink.records
    assert record.estimated is False
    assert record.stream is True
    assert record.deployment == "prod-chat"
    assert record.total_cost_usd == GPT_4O_COST


async def test_an_older_api_version_is_never_sent_stream_options(mode):
    """2024-06-01 predates stream_options on Azure: the request stays as asked, estimated."""
    sink = configure()
    transport = FakeOpenAITransport(model="gpt-4o-2024-11-20", usage=USAGE)
    client = azure(mode, transport, api_version="2024-06-01")
    stream = await invoke(
        client.chat.completions.create, model="prod-chat", messages=MESSAGES, stream=True
    )
    await consume(stream)
    assert "stream_options" not in transport.request_json()
    (record,) = sink.records
    assert record.estimated is True
    assert record.deployment == "prod-chat"


async def test_with_raw_response_is_recorded_once(mode):
    sink = configure()
    client = azure(mode, FakeOpenAITransport(model="gpt-4o-2024-11-20", usage=USAGE))
    raw = await invoke(
        client.chat.completions.with_raw_response.create, model="prod-chat", messages=MESSAGES
    )
    assert raw.http_response.status_code == 200
    (record,) = sink.records
    assert record.deployment == "prod-chat"
    assert record.total_cost_usd == GPT_4O_COST


async def test_the_responses_api_names_the_deployment_in_model(mode):
    sink = configure()
    client = azure(mode, FakeOpenAITransport(model="gpt-4o-2024-11-20", usage=USAGE))
    await invoke(client.responses.create, model="prod-chat", input="Hi")
    (record,) = sink.records
    assert (record.operation, record.deployment, record.priced_as) == (
        "responses",
        "prod-chat",
        "gpt-4o",
    )


def test_a_host_alone_says_azure():
    """A plain ``openai.OpenAI`` client pointed at an Azure host is Azure too."""
    sink = configure()
    client = openai.OpenAI(
        api_key="k",
        base_url="https://my-resource.cognitiveservices.azure.com/openai/v1",
        http_client=httpx2.Client(
            transport=FakeOpenAITransport(model="gpt-4o-2024-11-20", usage=USAGE)
        ),
    )
    client.chat.completions.create(model="prod-chat", messages=MESSAGES)
    (record,) = sink.records
    assert record.provider == "azure.ai.openai"
    assert record.deployment == "prod-chat"
    assert record.total_cost_usd == GPT_4O_COST


# --- before the response exists ------------------------------------------------------------


def test_unknown_model_raise_names_the_deployment_and_the_map():
    configure(unknown_model="raise")
    transport = FakeOpenAITransport(model="gpt-4o-2024-11-20", usage=USAGE)
    client = fake_azure_openai_client(transport=transport)
    with pytest.raises(llmcost.UnknownModelError) as caught:
        client.chat.completions.create(model="prod-chat", messages=MESSAGES)
    message = str(caught.value)
    assert "'prod-chat'" in message
    assert "azure_deployments" in message
    assert caught.value.model == "prod-chat"
    assert transport.requests == []  # refused before sending


def test_unknown_model_raise_lets_a_mapped_deployment_through():
    sink = configure(unknown_model="raise", azure_deployments={"prod-chat": "gpt-4o"})
    client = fake_azure_openai_client(model="gpt-4o-2024-11-20", usage=USAGE)
    client.chat.completions.create(model="prod-chat", messages=MESSAGES)
    assert sink.records[0].total_cost_usd == GPT_4O_COST


def test_a_deployment_named_after_a_catalog_model_passes_unknown_model_raise():
    sink = configure(unknown_model="raise")
    client = fake_azure_openai_client(model="gpt-4o-mini-2024-07-18", usage=USAGE)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert sink.records[0].priced_as == "gpt-4o-mini"


async def test_a_budget_estimates_a_mapped_deployment_before_sending(mode):
    """The worst case uses the mapped model's prices: too small a budget refuses the call."""
    configure(azure_deployments={"prod-chat": "gpt-4o"})
    transport = FakeOpenAITransport(model="gpt-4o-2024-11-20", usage=USAGE)
    client = azure(mode, transport)
    # 1,000 output tokens of gpt-4o cost $0.01 alone.
    with (
        llmcost.budget(max_cost_usd=0.005, on_exceed="raise"),
        pytest.raises(llmcost.BudgetExceeded),
    ):
        await invoke(
            client.chat.completions.create, model="prod-chat", messages=MESSAGES, max_tokens=1000
        )
    assert transport.requests == []
    with llmcost.budget(max_cost_usd=0.05, on_exceed="raise") as budget:
        await invoke(
            client.chat.completions.create, model="prod-chat", messages=MESSAGES, max_tokens=1000
        )
    assert budget.spent_usd == GPT_4O_COST  # settled with the response's price


def test_a_budget_cannot_price_an_unmapped_deployment_and_says_how_to():
    configure()
    transport = FakeOpenAITransport(model="gpt-4o-2024-11-20", usage=USAGE)
    client = fake_azure_openai_client(transport=transport)
    with (
        llmcost.budget(max_cost_usd=1, on_exceed="raise"),
        pytest.raises(llmcost.BudgetExceeded) as caught,
    ):
        client.chat.completions.create(model="prod-chat", messages=MESSAGES, max_tokens=10)
    assert "azure_deployments" in str(caught.value)
    assert transport.requests == []


def test_the_policy_checks_the_model_a_deployment_serves():
    policy = llmcost.Policy(allowed_models={"*": ["gpt-4o-mini"]})
    configure(policy=policy, azure_deployments={"cheap": "gpt-4o-mini", "big": "gpt-4o"})
    client = fake_azure_openai_client(model="gpt-4o-mini-2024-07-18", usage=USAGE)
    client.chat.completions.create(model="cheap", messages=MESSAGES, max_tokens=10)
    with pytest.raises(llmcost.PolicyViolation, match=r"'gpt-4o' \(Azure deployment 'big'\)"):
        client.chat.completions.create(model="big", messages=MESSAGES, max_tokens=10)


def test_when_the_map_and_the_response_disagree_the_response_wins_and_says_so(caplog):
    sink = configure(azure_deployments={"prod-chat": "gpt-4o"})
    client = fake_azure_openai_client(model="gpt-4o-mini-2024-07-18", usage=USAGE)
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        for _ in range(2):
            client.chat.completions.create(model="prod-chat", messages=MESSAGES)
    assert [record.total_cost_usd for record in sink.records] == [GPT_4O_MINI_COST] * 2
    assert llmcost.stats()["azure.deployment_map_mismatch"] == 2
    warnings = [r.getMessage() for r in caplog.records if "deployment_map" in r.getMessage()]
    assert len(warnings) == 1
    assert "'prod-chat'" in warnings[0]
    assert "'gpt-4o-mini'" in warnings[0]


def test_a_response_without_a_known_model_falls_back_on_the_map():
    sink = configure(azure_deployments={"prod-chat": "gpt-4o"})
    client = fake_azure_openai_client(model="my-fine-tune-xyz", usage=USAGE)
    client.chat.completions.create(model="prod-chat", messages=MESSAGES)
    (record,) = sink.records
    assert (record.priced_as, record.total_cost_usd) == ("gpt-4o", GPT_4O_COST)


@pytest.mark.parametrize(
    ("mapping", "problem"),
    [
        ({"prod": "no-such-model"}, "'no-such-model'"),
        ({"prod": ""}, "non-empty strings"),
        ({"prod": 4}, "non-empty strings"),
        (["prod"], "takes a mapping"),
    ],
)
def test_a_bad_deployment_map_is_refused_by_name(mapping, problem):
    with pytest.raises((TypeError, ValueError), match=problem) as caught:
        llmcost.configure(azure_deployments=mapping)
    assert "azure_deployments" in str(caught.value)
    assert not llmcost.is_configured()
