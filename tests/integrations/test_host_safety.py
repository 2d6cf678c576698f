"""Rule one end to end: llmcost's own failures never reach the application's SDK calls."""

from __future__ import annotations

from typing import Any

import pytest

import llmcost
from llmcost import _context
from llmcost.testing import (
    FakeAnthropicTransport,
    FakeOpenAITransport,
    fake_anthropic_client,
    fake_openai_client,
)

ASK = [{"role": "user", "content": "hi"}]


def _break_pricing(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmcost import pricing

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("a pricing bug")

    monkeypatch.setattr(pricing, "cost", broken)


def test_broken_pricing_leaves_every_sdk_call_untouched(
    swallow_internal_errors: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With pricing broken on purpose, OpenAI and Anthropic calls (plain and streamed) still
    return exactly what the SDK returns; the failures are counted, nothing is raised."""
    openai_fake = FakeOpenAITransport(text="Hello!", usage={"input_tokens": 10, "output_tokens": 3})
    anthropic_fake = FakeAnthropicTransport(
        text="Bonjour", usage={"input_tokens": 10, "output_tokens": 3}
    )
    openai_client = fake_openai_client(transport=openai_fake)
    anthropic_client = fake_anthropic_client(transport=anthropic_fake)
    llmcost.configure(sinks=[llmcost.sinks.MemorySink()])
    llmcost.instrument()
    _break_pricing(monkeypatch)

    completion = openai_client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert completion.choices[0].message.content == "Hello!"
    chunks = list(
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=ASK, stream=True)
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello!"
    message = anthropic_client.messages.create(
        model="claude-haiku-4-5", max_tokens=50, messages=ASK
    )
    assert message.content[0].text == "Bonjour"
    with anthropic_client.messages.stream(
        model="claude-haiku-4-5", max_tokens=50, messages=ASK
    ) as stream:
        assert stream.get_final_text() == "Bonjour"

    assert llmcost.stats()["internal_errors"] >= 4
    assert len(openai_fake.requests) == 2
    assert len(anthropic_fake.requests) == 2


def test_disabled_mode_passes_sdk_calls_straight_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LLMCOST_DISABLED=1: the patched SDK runs as if llmcost were absent; no records."""
    monkeypatch.setenv("LLMCOST_DISABLED", "1")
    sink = llmcost.sinks.MemorySink()
    llmcost.configure(sinks=[sink])
    llmcost.instrument()
    assert _context.state.active is False
    fake = FakeOpenAITransport(text="plain")
    client = fake_openai_client(transport=fake)
    with llmcost.budget(max_cost_usd=0.0000001):  # would refuse the call if llmcost were on
        completion = client.chat.completions.create(model="gpt-4o", messages=ASK)
    assert completion.choices[0].message.content == "plain"
    assert len(fake.requests) == 1
    assert sink.records == []


def test_a_call_whose_usage_cannot_be_read_is_charged_its_worst_case() -> None:
    """A billed call with unreadable usage counts in a budget at what was reserved, not $0."""
    from llmcost import _recorder

    sink = llmcost.sinks.MemorySink()
    llmcost.configure(sinks=[sink])
    with llmcost.budget(max_cost_usd=1) as budget:
        call = _recorder.start_call(
            "openai", "chat", "gpt-4o", request={"messages": ASK, "max_tokens": 1000}
        )
        reserved = budget.reserved_usd
        assert reserved > 0
        call.finish_unknown()
    [record] = sink.records
    assert record.total_cost_usd is None
    assert budget.spent_usd == reserved
    assert budget.reserved_usd == 0
    assert budget.unpriced_calls == 1


def test_a_stream_dropped_inside_a_scope_counts_when_the_scope_closes() -> None:
    """Garbage collection only hands the ending off to the delivery thread, which records it
    against the scope the stream was made in; llmcost.flush() waits for it."""
    import gc

    llmcost.configure()
    llmcost.instrument()
    client = fake_openai_client(usage={"input_tokens": 100, "output_tokens": 20})
    with llmcost.track_cost(feature="dropped") as scope:
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=ASK, stream=True)
        for _chunk in stream:
            break
        del stream, _chunk
        gc.collect()
    assert llmcost.flush(timeout=5)
    assert scope.calls == 1
    assert scope.records[0].feature == "dropped"


def test_shutdown_records_streams_dropped_before_it(tmp_path: Any) -> None:
    """shutdown() runs the handed-off endings before closing the sinks: no record is lost."""
    import gc

    path = tmp_path / "costs.jsonl"
    llmcost.configure(sinks=[llmcost.sinks.JSONLFileSink(path)])
    llmcost.instrument()
    client = fake_openai_client(usage={"input_tokens": 100, "output_tokens": 20})
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=ASK, stream=True)
    for _chunk in stream:
        break
    del stream, _chunk
    gc.collect()
    llmcost.shutdown()
    assert len(path.read_text().splitlines()) == 1
