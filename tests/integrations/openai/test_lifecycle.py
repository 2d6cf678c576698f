"""instrument() / uninstrument(), attribution, and what each record says about the client."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
import time

import openai
import pytest

import llmcost
from llmcost.integrations import openai as openai_integration
from llmcost.testing import FakeOpenAITransport

from .conftest import USAGE, invoke, make_client

MESSAGES = [{"role": "user", "content": "Hello"}]


def test_supported_versions_are_declared():
    assert openai_integration.INTEGRATION.min_version == (3, 0)
    assert openai_integration.INTEGRATION.max_version == (4,)
    assert openai_integration.INTEGRATION.supported_range == ">=3.0, <4"


def test_double_instrument_patches_once(memory_sink, transport):
    assert llmcost.instrument("openai") == ["openai"]
    first = vars(openai.resources.chat.completions.Completions)["create"]
    assert llmcost.instrument("openai") == ["openai"]
    assert vars(openai.resources.chat.completions.Completions)["create"] is first
    make_client("sync", transport).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(memory_sink.records) == 1


def test_uninstrument_restores_the_originals(memory_sink, transport):
    before = dict(vars(openai.resources.chat.completions.Completions))
    llmcost.instrument("openai")
    assert vars(openai.resources.chat.completions.Completions)["create"] is not before["create"]
    llmcost.uninstrument()
    assert vars(openai.resources.chat.completions.Completions)["create"] is before["create"]
    assert vars(openai.resources.chat.completions.Completions)["parse"] is before["parse"]
    make_client("sync", transport).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert memory_sink.records == []
    # and instrumenting again works after an uninstrument
    llmcost.instrument("openai")
    make_client("sync", transport).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(memory_sink.records) == 1


def test_inactive_llmcost_passes_straight_through(transport):
    llmcost.configure()
    llmcost.instrument("openai")
    llmcost.shutdown()
    client = make_client("sync", transport)
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    assert type(stream) is openai.Stream
    list(stream)
    assert "stream_options" not in transport.request_json()


def test_sdk_imported_after_instrument_is_patched():
    """Importing llmcost and instrument() never import openai; importing it later patches it."""
    code = textwrap.dedent(
        """
        import sys
        import llmcost, llmcost.integrations.openai, llmcost.testing
        assert "openai" not in sys.modules and "httpx2" not in sys.modules
        sink = llmcost.sinks.MemorySink()
        llmcost.configure(sinks=[sink])
        assert "openai" in llmcost.instrument("openai")
        assert "openai" not in sys.modules, "instrument() imported openai"
        from llmcost.testing import fake_openai_client
        client = fake_openai_client(usage={"input_tokens": 7, "output_tokens": 2})
        client.chat.completions.create(model="gpt-4o-mini", messages=[])
        [record] = sink.records
        print(record.input_tokens, record.output_tokens, record.replayed)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["7", "2", "True"]


async def test_scopes_and_tags_land_on_records(sink, mode, transport):
    client = make_client(mode, transport)
    with llmcost.track_cost(feature="support_chat", user_id="u-42", tier="pro") as outer:
        with llmcost.track_cost(feature="retrieval") as inner:
            await invoke(client.embeddings.create, model="text-embedding-3-small", input="q")
        await invoke(client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES)
    embed, chat = sink.records
    assert (embed.feature, embed.user_id, embed.tags) == ("retrieval", "u-42", {"tier": "pro"})
    assert (chat.feature, chat.user_id) == ("support_chat", "u-42")
    assert inner.records == [embed]
    assert outer.records == [embed, chat]
    assert outer.total_cost_usd == embed.total_cost_usd + chat.total_cost_usd


async def test_decorated_function_scope(sink, transport):
    client = make_client("async", transport)

    @llmcost.track_cost(feature="summarise")
    async def summarise() -> str:
        reply = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        return reply.choices[0].message.content

    assert await summarise() == transport.text
    assert sink.records[0].feature == "summarise"


async def test_data_residency_of_the_client_is_recorded(sink, mode):
    if "data_residency" not in inspect.signature(openai.OpenAI).parameters:
        pytest.skip(f"openai {openai.__version__} has no data_residency option")
    transport = FakeOpenAITransport(usage=USAGE)
    client = make_client(mode, transport, data_residency="eu")
    await invoke(client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES)
    assert str(transport.requests[0].url).startswith("https://eu.api.openai.com/v1/")
    [record] = sink.records
    assert record.data_residency == "eu"


async def test_regional_base_url_implies_residency(sink, mode, transport):
    client = make_client(mode, transport, base_url="https://us.api.openai.com/v1")
    await invoke(client.chat.completions.create, model="gpt-4o-mini", messages=MESSAGES)
    assert sink.records[0].data_residency == "us"


async def test_service_tier_as_served_is_recorded_and_priced(sink, mode):
    """The tier the response says was served is priced, not the one requested."""
    transport = FakeOpenAITransport(usage=USAGE, service_tier="flex")
    client = make_client(mode, transport)
    await invoke(
        client.chat.completions.create,
        model="gpt-5-mini",
        messages=MESSAGES,
        service_tier="auto",
    )
    [record] = sink.records
    assert record.service_tier == "flex"
    flex = llmcost.pricing.cost(
        "gpt-5-mini", record.usage, provider="openai", service_tier="flex"
    ).total_cost_usd
    assert record.total_cost_usd == flex


def test_a_slow_sink_never_slows_a_call_or_a_reader(transport):
    """A sink that takes 0.5 s per record: calls, budgeted or not, and the figures read after
    them take no part of that time; the sink still gets every record, in order."""
    seen: list[llmcost.CostRecord] = []

    def slow(record: llmcost.CostRecord) -> None:
        time.sleep(0.5)
        seen.append(record)

    memory = llmcost.sinks.MemorySink()
    llmcost.configure(sinks=[llmcost.sinks.CallbackSink(slow), memory])
    llmcost.instrument("openai")
    client = make_client("sync", transport)
    llmcost.tokens.count_tokens("warm up", "gpt-4o-mini")  # budgets load the tokenizer once
    started = time.perf_counter()
    with llmcost.track_cost(feature="chat") as scope:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        with llmcost.budget(max_cost_usd=1) as budget:
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        total = scope.total_cost_usd
    spent = budget.spent_usd
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5  # three calls and two reads, none waiting for the sink
    assert len(memory.records) == 3  # synchronous sinks have them at once ...
    assert total == sum(record.total_cost_usd for record in memory.records)
    assert spent == sum(record.total_cost_usd for record in memory.records[1:])
    assert seen == []  # ... the slow one gets them on the delivery thread
    assert llmcost.flush(timeout=10)
    assert [record.record_id for record in seen] == [r.record_id for r in memory.records]
