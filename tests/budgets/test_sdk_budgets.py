"""Budgets through the real SDK clients, with the fake transports of llmcost.testing."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import anthropic
import httpx2
import openai
import pytest

import llmcost
from llmcost import pricing, tokens
from llmcost.testing import (
    FakeAnthropicTransport,
    FakeOpenAITransport,
    fake_anthropic_client,
    fake_async_anthropic_client,
    fake_async_openai_client,
    fake_openai_client,
)
from llmcost.types import Usage

pytestmark = pytest.mark.usefixtures("sink")

MESSAGES = [{"role": "user", "content": "Write a haiku about budgets."}]


def chat_worst_case(model: str, max_tokens: int, messages: Any = MESSAGES) -> Decimal:
    request = {"model": model, "messages": messages}
    estimate = tokens.estimate_request_input_tokens("openai", "chat", request)
    cost = pricing.cost(
        model, Usage(input_tokens=estimate, output_tokens=max_tokens), provider="openai"
    )
    assert cost.total_cost_usd is not None
    return cost.total_cost_usd


def test_rejected_openai_call_sends_no_request() -> None:
    """A call whose worst case does not fit is refused with zero HTTP requests."""
    transport = FakeOpenAITransport()
    client = fake_openai_client(transport=transport)
    worst = chat_worst_case("gpt-4o", 4000)
    with (
        llmcost.budget(max_cost_usd=worst - Decimal("0.000001"), name="tiny") as b,
        pytest.raises(llmcost.BudgetExceeded, match="'tiny'"),
    ):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=4000)
    assert transport.requests == []
    assert (b.calls, b.spent_usd, b.reserved_usd) == (0, 0, 0)


def test_rejected_anthropic_call_sends_no_request() -> None:
    """Same for the Anthropic client, sync and async."""
    transport = FakeAnthropicTransport()
    client = fake_anthropic_client(transport=transport)
    with llmcost.budget(max_cost_usd="0.0000001"), pytest.raises(llmcost.BudgetExceeded):
        client.messages.create(model="claude-haiku-4-5", max_tokens=100, messages=MESSAGES)

    async def run() -> None:
        aclient = fake_async_anthropic_client(transport=transport)
        async with llmcost.budget(max_cost_usd="0.0000001"):
            with pytest.raises(llmcost.BudgetExceeded):
                await aclient.messages.create(
                    model="claude-haiku-4-5", max_tokens=100, messages=MESSAGES
                )

    asyncio.run(run())
    assert transport.requests == []


def test_admitted_call_settles_to_the_real_cost() -> None:
    """After the call the budget holds the record's exact cost and tokens, nothing reserved."""
    client = fake_openai_client(usage={"input_tokens": 1200, "output_tokens": 300})
    with llmcost.budget(max_cost_usd=1) as b:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=500)
        client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert b.reserved_usd == 0
    assert b.calls == 2
    assert b.spent_usd == sum(r.total_cost_usd for r in b.records if r.total_cost_usd)
    assert b.records[0].input_tokens == 1200
    assert b.input_tokens == 1200 + b.records[1].input_tokens


def test_call_without_max_tokens_is_bounded_by_the_catalog() -> None:
    """No cap: the model's maximum output is the worst case, so a small budget refuses it."""
    transport = FakeOpenAITransport()
    client = fake_openai_client(transport=transport)
    price = pricing.get_catalog().resolve("gpt-5", "openai")
    assert price is not None
    assert price.max_output_tokens
    with llmcost.budget(max_cost_usd=chat_worst_case("gpt-5", 1000)) as b:
        with pytest.raises(llmcost.BudgetExceeded) as info:
            client.chat.completions.create(model="gpt-5", messages=MESSAGES)
        assert f"up to {price.max_output_tokens:,} output tokens" in str(info.value)
        client.chat.completions.create(model="gpt-5", messages=MESSAGES, max_completion_tokens=1000)
    assert len(transport.requests) == 1
    assert b.calls == 1


def test_async_budget() -> None:
    """async with budget: tasks inherit it; refusals happen before sending."""
    transport = FakeOpenAITransport(usage={"input_tokens": 10, "output_tokens": 10})

    async def run() -> llmcost.Budget:
        client = fake_async_openai_client(transport=transport)
        async with llmcost.budget(max_calls=2) as b:
            await asyncio.gather(
                *(
                    client.chat.completions.create(
                        model="gpt-4o-mini", messages=MESSAGES, max_tokens=10
                    )
                    for _ in range(2)
                )
            )
            with pytest.raises(llmcost.BudgetExceeded):
                await client.responses.create(model="gpt-4o-mini", input="hi", max_output_tokens=5)
        return b

    b = asyncio.run(run())
    assert b.calls == 2
    assert len(transport.requests) == 2


def test_threads_share_the_budget_with_bind_context() -> None:
    """Threads see the budget only when the context is carried across."""
    transport = FakeOpenAITransport()
    client = fake_openai_client(transport=transport)

    def call() -> None:
        client.embeddings.create(model="text-embedding-3-small", input="x")

    with llmcost.budget(max_calls=3) as b, ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(llmcost.bind_context(call)) for _ in range(3)]:
            future.result()
        unbound = pool.submit(call)  # no context: outside the budget, not counted
        unbound.result()
        refused = pool.submit(llmcost.bind_context(call))
        with pytest.raises(llmcost.BudgetExceeded):
            refused.result()
    assert b.calls == 3
    assert len(transport.requests) == 4


def test_stream_holds_its_reservation_until_the_end() -> None:
    """A stream reserves while it is read and settles at exhaustion."""
    client = fake_openai_client(usage={"input_tokens": 50, "output_tokens": 8})
    with llmcost.budget(max_cost_usd=1) as b:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, max_tokens=100, stream=True
        )
        assert b.reserved_usd > 0
        assert b.calls == 0
        chunks = list(stream)
    assert chunks
    assert b.reserved_usd == 0
    assert b.calls == 1
    assert b.records[0].output_tokens == 8
    assert b.spent_usd == b.records[0].total_cost_usd


def test_stream_broken_midway_settles_what_it_consumed() -> None:
    """A stream that fails after some chunks settles an estimate of what was streamed."""
    client = fake_openai_client(
        text="one two three four five six seven eight",
        usage={"input_tokens": 50, "output_tokens": 8},
        fail_after_events=4,
    )
    with llmcost.budget(max_cost_usd=1) as b:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, max_tokens=100, stream=True
        )
        # The fake breaks the connection; which exception the SDK raises for it varies by
        # release (httpx2's ReadError, or its own APIConnectionError): not llmcost's concern.
        with pytest.raises((openai.APIConnectionError, httpx2.ReadError)):
            for _ in stream:
                pass
    assert b.reserved_usd == 0
    assert b.calls == 1
    record = b.records[0]
    assert record.status == "error"
    assert record.output_tokens > 0
    assert record.estimated
    assert b.spent_usd == record.total_cost_usd
    assert b.spent_usd > 0


def test_anthropic_stream_error_settles_consumed_tokens() -> None:
    """An Anthropic stream that errors midway settles what it reported so far."""
    client = fake_anthropic_client(
        usage={"input_tokens": 40, "output_tokens": 6}, error_after_events=4
    )
    with (
        llmcost.budget(max_cost_usd=1) as b,
        # An SSE error event mid-stream: the SDK raises its status error (overloaded_error).
        pytest.raises(anthropic.APIStatusError, match="overloaded_error"),
        client.messages.stream(
            model="claude-haiku-4-5", max_tokens=100, messages=MESSAGES
        ) as stream,
    ):
        for _ in stream:
            pass
    assert b.reserved_usd == 0
    assert b.calls == 1
    assert b.records[0].status == "error"
    assert b.records[0].input_tokens == 40
    assert b.spent_usd == b.records[0].total_cost_usd


def test_early_break_settles() -> None:
    """Breaking out of a stream still settles (the proxy records on close)."""
    client = fake_openai_client(text="a b c d e f g", usage={"input_tokens": 5, "output_tokens": 7})
    with (
        llmcost.budget(max_cost_usd=1) as b,
        client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, max_tokens=50, stream=True
        ) as stream,
    ):
        for _ in stream:
            break
    assert b.reserved_usd == 0
    assert b.calls == 1


def test_cancelled_task_releases_its_reservation() -> None:
    """Cancelling a task mid-call (transport sleeping) leaves nothing reserved."""
    transport = FakeOpenAITransport(latency=5.0)
    atransport = FakeAnthropicTransport(latency=5.0)

    async def run() -> llmcost.Budget:
        client = fake_async_openai_client(transport=transport)
        aclient = fake_async_anthropic_client(transport=atransport)
        async with llmcost.budget(max_cost_usd=1) as b:
            tasks = [
                asyncio.create_task(
                    client.chat.completions.create(
                        model="gpt-4o-mini", messages=MESSAGES, max_tokens=100
                    )
                ),
                asyncio.create_task(
                    aclient.messages.create(
                        model="claude-haiku-4-5", max_tokens=100, messages=MESSAGES
                    )
                ),
            ]
            # Both calls admitted and their requests on the (sleeping) wire.
            while b.totals().reserved.calls < 2 or not transport.requests:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            assert b.reserved_usd > 0
            assert b.calls == 0
            for task in tasks:
                task.cancel()
            for task in tasks:
                with pytest.raises(asyncio.CancelledError):
                    await task
        return b

    b = asyncio.run(run())
    assert b.totals().reserved == llmcost.budgets.Amounts()
    assert b.spent_usd == 0


RACE_CALLS = 50
RACE_FITS = 10


def race_setup() -> tuple[dict[str, Any], Decimal, dict[str, int]]:
    request = {"model": "gpt-4o-mini", "messages": MESSAGES, "max_tokens": 100}
    estimate = tokens.estimate_request_input_tokens("openai", "chat", request)
    # The fake bills exactly the worst case, so settling never frees room for another call.
    usage = {"input_tokens": estimate, "output_tokens": 100}
    worst = pricing.cost("gpt-4o-mini", Usage(**usage), provider="openai").total_cost_usd
    assert worst is not None
    return request, worst, usage


def test_fifty_threads_race_for_a_budget_that_fits_ten() -> None:
    """Exactly 10 of 50 concurrent threads are admitted; spent + reserved never passes the limit."""
    request, worst, usage = race_setup()
    transport = FakeOpenAITransport(usage=usage, latency=0.05)
    client = fake_openai_client(transport=transport)
    limit = worst * RACE_FITS
    start = threading.Barrier(RACE_CALLS)
    peaks: list[Decimal] = []
    outcomes: list[str] = []
    lock = threading.Lock()

    with llmcost.budget(max_cost_usd=limit) as b:

        def worker() -> None:
            start.wait()
            try:
                client.chat.completions.create(**request)
                outcome = "ok"
            except llmcost.BudgetExceeded:
                outcome = "refused"
            totals = b.totals()
            with lock:
                outcomes.append(outcome)
                peaks.append(totals.spent.cost_usd + totals.reserved.cost_usd)

        threads = [threading.Thread(target=llmcost.bind_context(worker)) for _ in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert outcomes.count("ok") == RACE_FITS
    assert outcomes.count("refused") == RACE_CALLS - RACE_FITS
    assert len(transport.requests) == RACE_FITS
    assert max(peaks) <= limit
    assert b.spent_usd == limit
    assert b.reserved_usd == 0
    assert b.calls == RACE_FITS


def test_fifty_tasks_race_for_a_budget_that_fits_ten() -> None:
    """The same race with asyncio tasks."""
    request, worst, usage = race_setup()
    transport = FakeOpenAITransport(usage=usage, latency=0.05)
    limit = worst * RACE_FITS

    async def run() -> tuple[list[Any], llmcost.Budget]:
        client = fake_async_openai_client(transport=transport)
        async with llmcost.budget(max_cost_usd=limit) as b:
            results = await asyncio.gather(
                *(client.chat.completions.create(**request) for _ in range(RACE_CALLS)),
                return_exceptions=True,
            )
        return results, b

    results, b = asyncio.run(run())
    refused = [r for r in results if isinstance(r, llmcost.BudgetExceeded)]
    assert len(refused) == RACE_CALLS - RACE_FITS
    assert len(transport.requests) == RACE_FITS
    assert b.spent_usd == limit
    assert b.reserved_usd == 0


def test_warn_mode_sends_the_call() -> None:
    """on_exceed='warn' lets an over-budget call through and counts it."""
    transport = FakeOpenAITransport()
    client = fake_openai_client(transport=transport)
    with llmcost.budget(max_cost_usd="0.0000001", on_exceed="warn", warn_at=None) as b:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=10)
    assert len(transport.requests) == 1
    assert b.exceeded_calls == 1
    assert b.calls == 1


def test_budgets_see_records_not_made_by_other_sinks(sink: llmcost.sinks.MemorySink) -> None:
    """The record a budget settles is the one the sinks receive."""
    client = fake_openai_client()
    with llmcost.budget(max_cost_usd=1) as b:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=10)
    assert [r.record_id for r in b.records] == [r.record_id for r in sink.records]


def test_anthropic_stream_closed_before_any_event_settles_an_estimate() -> None:
    """Closed before message_start: the prompt was billed, so the budget is charged an
    estimate of it, never $0 and never a leaked reservation."""
    client = fake_anthropic_client(usage={"input_tokens": 40, "output_tokens": 6})
    ask = {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": MESSAGES}
    with llmcost.budget(max_cost_usd=1) as b:
        client.messages.create(**ask, stream=True).close()
    assert (b.reserved_usd, b.calls, b.unpriced_calls) == (0, 1, 0)
    [record] = b.records
    assert record.estimated is True
    assert record.input_tokens == tokens.estimate_request_input_tokens("anthropic", "messages", ask)
    assert b.spent_usd == record.total_cost_usd
    assert b.spent_usd > 0


def test_user_exception_in_an_anthropic_stream_settles_what_was_seen() -> None:
    """The user's own exception inside the stream: settled as an ok, estimated call."""
    client = fake_anthropic_client(usage={"input_tokens": 40, "output_tokens": 6})

    def consume() -> None:
        with client.messages.create(
            model="claude-haiku-4-5", max_tokens=100, messages=MESSAGES, stream=True
        ) as stream:
            for _ in stream:
                raise ValueError("the user's bug")

    with llmcost.budget(max_cost_usd=1) as b, pytest.raises(ValueError, match="the user's bug"):
        consume()
    assert (b.reserved_usd, b.calls) == (0, 1)
    assert (b.records[0].status, b.records[0].input_tokens) == ("ok", 40)
