"""OpenAI-compatible gateways reached through the real ``openai`` client with another base_url.

The provider is told from the host; calls are never priced with another provider's prices
unless the user says so; a cost the gateway reports is recorded exactly, as
``cost_source="provider"``, and is what budgets settle with.
"""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmcost
from llmcost import cli
from llmcost.integrations.openai import GATEWAY_HOSTS, provider_for_host
from llmcost.reading import read_records
from llmcost.testing import FakeOpenAITransport

from .openai.conftest import consume, invoke, make_client

MESSAGES = [{"role": "user", "content": "Hi"}]
USAGE = {"input_tokens": 1000, "output_tokens": 100}
GPT_4O_COST = Decimal("0.0035")
OPENROUTER = "https://openrouter.ai/api/v1"
GROQ = "https://api.groq.com/openai/v1"
LITELLM = "http://litellm.internal:4000"


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def configure(**options: Any) -> llmcost.sinks.MemorySink:
    sink = llmcost.sinks.MemorySink()
    llmcost.configure(sinks=[sink], **options)
    assert llmcost.instrument("openai") == ["openai"]
    return sink


@pytest.mark.parametrize(
    ("host", "provider"),
    [
        ("api.openai.com", "openai"),
        ("eu.api.openai.com", "openai"),
        ("openrouter.ai", "openrouter"),
        ("api.groq.com", "groq"),
        ("api.deepseek.com", "deepseek"),
        ("api.mistral.ai", "mistral_ai"),
        ("api.x.ai", "x_ai"),
        ("api.perplexity.ai", "perplexity"),
        ("generativelanguage.googleapis.com", "gcp.gemini"),
        ("api.together.xyz", "together"),
        ("api.fireworks.ai", "fireworks"),
        ("res.openai.azure.com", "azure.ai.openai"),
        ("res.services.ai.azure.com", "azure.ai.openai"),
        ("localhost", "openai_compatible"),
        ("api.openai.com.evil.example", "openai_compatible"),
        ("notopenrouter.ai", "openai_compatible"),
    ],
)
def test_the_provider_is_told_from_the_host(host, provider):
    assert provider_for_host(host) == provider


def test_every_known_gateway_is_named_in_lower_case_without_openai():
    assert all(name == name.lower() and name != "openai" for name in GATEWAY_HOSTS.values())


async def test_a_groq_call_is_never_priced_with_openais_prices(mode, caplog):
    """Even a model named like OpenAI's: unpriced, with one warning naming the host."""
    sink = configure()
    transport = FakeOpenAITransport(usage=USAGE)
    client = make_client(mode, transport, base_url=GROQ)
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        await invoke(client.chat.completions.create, model="gpt-4o", messages=MESSAGES)
        await invoke(client.chat.completions.create, model="gpt-4o", messages=MESSAGES)
    record = sink.records[0]
    assert (record.provider, record.endpoint_host) == ("groq", "api.groq.com")
    assert record.total_cost_usd is None
    assert record.priced is False
    assert record.cost_source is None
    assert record.input_tokens == 1000
    warnings = [r.getMessage() for r in caplog.records if "no price" in r.getMessage()]
    assert len(warnings) == 1
    assert "api.groq.com" in warnings[0]
    assert "price_gateways_as" in warnings[0]


async def test_price_gateways_as_prices_a_host_with_a_catalog_provider(mode):
    sink = configure(price_gateways_as={"litellm.internal": "openai"})
    client = make_client(mode, FakeOpenAITransport(usage=USAGE), base_url=LITELLM)
    await invoke(client.chat.completions.create, model="gpt-4o", messages=MESSAGES)
    (record,) = sink.records
    assert (record.provider, record.endpoint_host) == ("openai_compatible", "litellm.internal")
    assert (record.total_cost_usd, record.cost_source) == (GPT_4O_COST, "catalog")


def test_price_gateways_as_takes_a_provider_name_too():
    sink = configure(price_gateways_as={"Groq": "openai"})
    client = make_client("sync", FakeOpenAITransport(usage=USAGE), base_url=GROQ)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert sink.records[0].total_cost_usd == GPT_4O_COST


def test_a_catalog_layer_with_the_gateways_models_prices_it():
    layer = {
        "models": {
            "llama-3.3-70b-versatile": {
                "provider": "groq",
                "rates": {"input": "0.59", "output": "0.79"},
            }
        }
    }
    sink = configure(catalog=layer)
    client = make_client("sync", FakeOpenAITransport(usage=USAGE), base_url=GROQ)
    client.chat.completions.create(model="llama-3.3-70b-versatile", messages=MESSAGES)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    llama, gpt = sink.records
    assert llama.total_cost_usd == Decimal("0.000669")  # 1,000 × 0.59/M + 100 × 0.79/M
    assert gpt.total_cost_usd is None  # still not OpenAI's prices on Groq


def test_geminis_openai_compatible_endpoint_is_priced_with_googles_prices():
    sink = configure()
    client = make_client(
        "sync",
        FakeOpenAITransport(usage=USAGE),
        base_url="https://generativelanguage.googleapis.com/v1beta/openai/",
    )
    client.chat.completions.create(model="gemini-2.5-flash", messages=MESSAGES)
    (record,) = sink.records
    assert record.provider == "gcp.gemini"
    assert (record.priced_as, record.cost_source) == ("gemini-2.5-flash", "catalog")


def test_unknown_model_raise_refuses_an_unpriced_gateway_call_before_sending():
    configure(unknown_model="raise")
    transport = FakeOpenAITransport(usage=USAGE)
    client = make_client("sync", transport, base_url="http://vllm.local:8000/v1")
    with pytest.raises(llmcost.UnknownModelError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert "vllm.local" in str(caught.value)
    assert "price_gateways_as" in str(caught.value)
    assert transport.requests == []


@pytest.mark.parametrize(
    ("mapping", "problem"),
    [
        ({"openrouter.ai": "nobody"}, "'nobody'"),
        ({"": "openai"}, "non-empty strings"),
        ("openrouter.ai", "takes a mapping"),
    ],
)
def test_a_bad_gateway_map_is_refused_by_name(mapping, problem):
    with pytest.raises((TypeError, ValueError), match=problem) as caught:
        llmcost.configure(price_gateways_as=mapping)
    assert "price_gateways_as" in str(caught.value)


# --- costs the provider reports -------------------------------------------------------------


async def test_openrouters_usage_cost_is_recorded_as_the_providers(mode):
    sink = configure()
    transport = FakeOpenAITransport(usage=USAGE, usage_cost="0.000123", model="openai/gpt-4o")
    client = make_client(mode, transport, base_url=OPENROUTER)
    await invoke(client.chat.completions.create, model="openai/gpt-4o", messages=MESSAGES)
    (record,) = sink.records
    assert record.provider == "openrouter"
    assert record.total_cost_usd == Decimal("0.000123")
    assert record.cost_source == "provider"
    assert record.priced is True
    assert record.input_cost_usd is None  # only the total is reported: no guessed split
    assert record.input_tokens == 1000


async def test_openrouters_usage_cost_in_a_stream(mode):
    """OpenRouter always ends a stream with its usage chunk: the user sees it, as sent."""
    sink = configure()
    transport = FakeOpenAITransport(usage=USAGE, usage_cost="0.0042")
    client = make_client(mode, transport, base_url=OPENROUTER)
    stream = await invoke(
        client.chat.completions.create, model="openai/gpt-4o", messages=MESSAGES, stream=True
    )
    chunks = await consume(stream)
    assert "stream_options" not in transport.request_json()
    assert chunks[-1].usage is not None
    (record,) = sink.records
    assert (record.total_cost_usd, record.cost_source, record.estimated) == (
        Decimal("0.0042"),
        "provider",
        False,
    )


async def test_a_litellm_proxys_cost_header_is_recorded_from_a_raw_response(mode):
    sink = configure()
    transport = FakeOpenAITransport(usage=USAGE, headers={"x-litellm-response-cost": "0.00042"})
    client = make_client(mode, transport, base_url=LITELLM)
    await invoke(
        client.chat.completions.with_raw_response.create, model="gpt-4o", messages=MESSAGES
    )
    (record,) = sink.records
    assert (record.total_cost_usd, record.cost_source) == (Decimal("0.00042"), "provider")
    assert record.endpoint_host == "litellm.internal"


async def test_a_litellm_proxys_cost_header_is_recorded_from_a_stream(mode):
    sink = configure()
    transport = FakeOpenAITransport(usage=USAGE, headers={"x-litellm-response-cost": "1.5E-5"})
    client = make_client(mode, transport, base_url=LITELLM)
    stream = await invoke(
        client.chat.completions.create, model="gpt-4o", messages=MESSAGES, stream=True
    )
    await consume(stream)
    assert sink.records[0].total_cost_usd == Decimal("0.000015")


async def test_a_provider_cost_wins_over_the_catalog(mode):
    sink = configure(price_gateways_as={"openrouter": "openai"})
    client = make_client(
        mode,
        FakeOpenAITransport(usage=USAGE, usage_cost="0.003", model="gpt-4o"),
        base_url=OPENROUTER,
    )
    await invoke(client.chat.completions.create, model="gpt-4o", messages=MESSAGES)
    (record,) = sink.records
    assert (record.total_cost_usd, record.cost_source) == (Decimal("0.003"), "provider")


@pytest.mark.parametrize("bad", ['"a lot"', "-1", '"NaN"', "true", '"Infinity"'])
def test_a_malformed_provider_cost_is_counted_and_warned_once(bad, caplog):
    sink = configure(price_gateways_as={"openrouter.ai": "openai"})
    client = make_client(
        "sync",
        FakeOpenAITransport(usage=USAGE, usage_cost=bad, model="gpt-4o"),
        base_url=OPENROUTER,
    )
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    # The catalog prices it, since the user said how; the bad value is the provider's input.
    assert [r.total_cost_usd for r in sink.records] == [GPT_4O_COST] * 2
    assert {r.cost_source for r in sink.records} == {"catalog"}
    assert llmcost.stats()["records.provider_cost_malformed"] == 2
    warnings = [r.getMessage() for r in caplog.records if "cannot read" in r.getMessage()]
    assert len(warnings) == 1
    assert "openrouter.ai" in warnings[0]


def test_a_malformed_cost_header_leaves_an_unpriced_gateway_call_unpriced():
    sink = configure()
    transport = FakeOpenAITransport(usage=USAGE, headers={"x-litellm-response-cost": "n/a"})
    client = make_client("sync", transport, base_url=LITELLM)
    client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    (record,) = sink.records
    assert (record.total_cost_usd, record.cost_source) == (None, None)
    assert llmcost.stats()["records.provider_cost_malformed"] == 1


def test_a_budget_settles_with_the_cost_the_provider_reported():
    configure(price_gateways_as={"openrouter.ai": "openai"})
    client = make_client(
        "sync",
        FakeOpenAITransport(usage=USAGE, usage_cost="0.0001", model="gpt-4o"),
        base_url=OPENROUTER,
    )
    with llmcost.budget(max_cost_usd=1) as budget:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=10)
    assert budget.spent_usd == Decimal("0.0001")


def test_the_jsonl_sink_and_reader_carry_the_new_fields(tmp_path):
    path = tmp_path / "costs.jsonl"
    llmcost.configure(sinks=[llmcost.sinks.JSONLFileSink(path)])
    llmcost.instrument("openai")
    client = make_client(
        "sync", FakeOpenAITransport(usage=USAGE, usage_cost="0.000123"), base_url=OPENROUTER
    )
    client.chat.completions.create(model="openai/gpt-4o", messages=MESSAGES)
    llmcost.flush()
    (record,) = list(read_records(path))
    assert (record.endpoint_host, record.cost_source) == ("openrouter.ai", "provider")
    assert record.total_cost_usd == Decimal("0.000123")


def test_reports_group_by_the_new_fields_and_the_html_report_takes_them(tmp_path, capsys):
    path = tmp_path / "costs.jsonl"
    llmcost.configure(sinks=[llmcost.sinks.JSONLFileSink(path)])
    llmcost.instrument("openai")
    openrouter = FakeOpenAITransport(usage=USAGE, usage_cost="0.000123")
    make_client("sync", openrouter, base_url=OPENROUTER).chat.completions.create(
        model="openai/gpt-4o", messages=MESSAGES
    )
    make_client("sync", FakeOpenAITransport(usage=USAGE), base_url=GROQ).chat.completions.create(
        model="llama", messages=MESSAGES
    )
    llmcost.flush()
    by = "provider,endpoint_host,cost_source"
    assert cli.main(["report", str(path), "--by", by, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("openrouter,openrouter.ai,provider,1,0,")
    assert lines[2].startswith("groq,api.groq.com,,1,1,")
    html = tmp_path / "report.html"
    assert cli.main(["report", str(path), "--by", "cost_source", "--html", str(html)]) == 0
    assert "provider" in html.read_text()


_COSTS = st.decimals(min_value=0, max_value=Decimal(1000), allow_nan=False, places=12)


@settings(max_examples=60, deadline=None)
@given(_COSTS)
def test_a_cost_header_round_trips_exactly(amount):
    """The header text becomes the record's Decimal digit for digit, never through a float."""
    sink = configure()
    text = str(amount)
    transport = FakeOpenAITransport(usage=USAGE, headers={"x-litellm-response-cost": text})
    client = make_client("sync", transport, base_url=LITELLM)
    client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    record = sink.records[-1]
    assert record.total_cost_usd == amount
    assert str(record.total_cost_usd) == text
    assert llmcost.CostRecord.from_json(record.to_json()).total_cost_usd == amount


@settings(max_examples=60, deadline=None)
@given(_COSTS)
def test_a_usage_cost_in_a_raw_json_body_round_trips_exactly(amount):
    sink = configure()
    text = str(amount)
    transport = FakeOpenAITransport(usage=USAGE, usage_cost=text)
    client = make_client("sync", transport, base_url=OPENROUTER)
    client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    assert str(sink.records[-1].total_cost_usd) == text


@settings(max_examples=60, deadline=None)
@given(st.decimals(min_value=0, max_value=Decimal(1000), allow_nan=False, places=9))
def test_a_usage_cost_the_sdk_parsed_keeps_its_digits(amount):
    """A parsed response's cost went through the SDK's float: up to 15 significant digits
    (all a provider sends) come back as the provider's text."""
    sink = configure()
    text = str(amount)
    transport = FakeOpenAITransport(usage=USAGE, usage_cost=text)
    client = make_client("sync", transport, base_url=OPENROUTER)
    client.chat.completions.create(model="m", messages=MESSAGES)
    assert sink.records[-1].total_cost_usd == amount


def _docs_examples() -> list[str]:
    text = (Path(__file__).parents[2] / "docs" / "integrations" / "openai.md").read_text()
    start, end = text.index("## Azure OpenAI"), text.index("## Supported versions")
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


@pytest.mark.parametrize("index", [0, 1])
def test_the_docs_examples_print_what_their_comments_say(index, capsys):
    code = _docs_examples()[index]
    exec(compile(code, f"docs/integrations/openai.md example {index}", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    # Every "# ..." line right after a print() is the output the docs promise.
    promised = [
        line.strip()[2:]
        for line in code.splitlines()
        if line.startswith("# ") and not line.startswith("# A real")
    ]
    inline = [
        line.split("# ", 1)[1]
        for line in code.splitlines()
        if line.startswith("print(") and "# " in line
    ]
    for expected in promised + inline:
        assert any(" ".join(expected.split()) == " ".join(out.split()) for out in printed), (
            expected,
            printed,
        )
    assert printed
