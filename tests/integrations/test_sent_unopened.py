"""Calls sent unopened: nothing acts before sending, so the call is opened after it returned.

With no budget open, no model policy and unknown models not refused, a non-streamed call costs
its caller three clock readings and a hand-over; the recorder's call is made on the delivery
thread (llmcost._pending) in the caller's context. These tests hold that path to what the
opened path guarantees: the same record (time, latency, scopes, ids, replay flag, errors),
and internal errors that never reach the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import anthropic
import httpx2
import openai
import pytest

import llmcost
from llmcost import _pending, _recorder
from llmcost.integrations import anthropic as anthropic_integration
from llmcost.integrations import openai as openai_integration
from llmcost.sinks import MemorySink
from llmcost.testing import (
    fake_anthropic_client,
    fake_async_anthropic_client,
    fake_async_openai_client,
    fake_openai_client,
)

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
ASK = {
    "model": "claude-haiku-4-5",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Hi"}],
}
USAGE = {"input_tokens": 120, "output_tokens": 30}


def _openai_call(is_async: bool, **options: Any) -> Callable[[], Any]:
    if is_async:
        async_client = fake_async_openai_client(usage=USAGE, **options)
        return lambda: async_client.chat.completions.create(**CHAT)
    client = fake_openai_client(usage=USAGE, **options)
    return lambda: client.chat.completions.create(**CHAT)


def _anthropic_call(is_async: bool, **options: Any) -> Callable[[], Any]:
    if is_async:
        async_client = fake_async_anthropic_client(usage=USAGE, **options)
        return lambda: async_client.messages.create(**ASK)
    client = fake_anthropic_client(usage=USAGE, **options)
    return lambda: client.messages.create(**ASK)


CALLS = {
    "openai": _openai_call,
    "anthropic": _anthropic_call,
}


async def _run(call: Callable[[], Any]) -> Any:
    result = call()
    if inspect.isawaitable(result):
        result = await result
    return result


@pytest.fixture(params=["openai", "anthropic"])
def provider(request: pytest.FixtureRequest, memory_sink: MemorySink) -> str:
    assert llmcost.instrument(request.param) == [request.param]
    return str(request.param)


@pytest.fixture(params=["sync", "async"])
def is_async(request: pytest.FixtureRequest) -> bool:
    return request.param == "async"


async def test_nothing_is_opened_before_sending_without_budget_or_policy(
    provider: str, is_async: bool, memory_sink: MemorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real_start_call = _recorder.start_call

    def counting_start_call(*args: Any, **kwargs: Any) -> Any:
        opened.append(args[0])
        return real_start_call(*args, **kwargs)

    for module in (openai_integration, anthropic_integration):
        monkeypatch.setattr(module, "start_call", counting_start_call)
    call = CALLS[provider](is_async)
    await _run(call)
    assert opened == []
    with llmcost.budget(max_cost_usd=1):
        await _run(call)  # a budget must see the call first: opened before sending
    assert opened == [provider]
    # So must a model policy and the refusal of unknown models.
    llmcost.configure(sinks=[memory_sink], policy=llmcost.Policy(require_max_tokens=False))
    await _run(call)
    llmcost.configure(sinks=[memory_sink], unknown_model="raise")
    await _run(call)
    assert opened == [provider] * 3
    assert [record.input_tokens for record in memory_sink.records] == [120] * 4


async def test_the_record_has_the_send_time_the_latency_and_the_response(
    provider: str, is_async: bool, memory_sink: MemorySink
) -> None:
    call = CALLS[provider](is_async, latency=0.02, request_id="req_sent_unopened")
    before = datetime.now(timezone.utc)
    started = time.perf_counter()
    response = await _run(call)
    elapsed_ms = (time.perf_counter() - started) * 1000
    returned = datetime.now(timezone.utc)
    time.sleep(0.05)  # the record is made later: neither its time nor latency include this
    [record] = memory_sink.records
    assert before <= record.timestamp <= returned
    assert 20 <= record.latency_ms <= elapsed_ms
    assert record.response_id == response.id
    assert record.request_id == "req_sent_unopened"  # the transport's request-id header
    assert record.replayed is True  # the fake transports say so: no header to read here
    assert (record.input_tokens, record.output_tokens) == (120, 30)
    assert record.total_cost_usd is not None
    assert record.total_cost_usd > 0


async def test_the_scopes_are_those_of_the_caller_even_once_closed(
    provider: str, is_async: bool, memory_sink: MemorySink
) -> None:
    call = CALLS[provider](is_async)
    with llmcost.track_cost("outer", project="p"):
        with llmcost.track_cost("inner", team="search") as inner:
            await _run(call)
        await _run(call)
    assert inner.calls == 1
    first, second = memory_sink.records
    assert (first.feature, first.project, first.tags) == ("inner", "p", {"team": "search"})
    assert (second.feature, second.tags) == ("outer", {})


async def test_concurrent_tasks_keep_their_own_attribution(
    provider: str, memory_sink: MemorySink
) -> None:
    call = CALLS[provider](True, latency=0.01)

    async def one(feature: str) -> None:
        with llmcost.track_cost(feature):
            await _run(call)

    await asyncio.gather(*(one(f"task-{index}") for index in range(8)))
    assert sorted(record.feature for record in memory_sink.records) == [
        f"task-{index}" for index in range(8)
    ]


@pytest.mark.parametrize(
    ("provider_name", "options", "status"),
    [("openai", {"status_code": 500}, 500), ("anthropic", {"error": "overloaded"}, 529)],
)
async def test_a_failed_call_is_recorded_as_failed_with_its_request_id(
    provider_name: str,
    options: dict[str, Any],
    status: int,
    is_async: bool,
    memory_sink: MemorySink,
) -> None:
    llmcost.instrument(provider_name)
    call = CALLS[provider_name](is_async, **options)
    with pytest.raises((openai.APIStatusError, anthropic.APIStatusError)) as caught:
        await _run(call)
    assert caught.value.status_code == status
    [record] = memory_sink.records
    assert record.status == "error"
    assert record.error_type == type(caught.value).__name__
    assert record.total_cost_usd == 0
    assert record.request_id == caught.value.request_id
    assert record.request_id is not None
    assert record.replayed is True


def _mock_client(provider: str, transport: httpx2.MockTransport) -> Any:
    if provider == "openai":
        return openai.OpenAI(
            api_key="sk-test", max_retries=0, http_client=httpx2.Client(transport=transport)
        )
    return anthropic.Anthropic(
        api_key="sk-ant-test", max_retries=0, http_client=httpx2.Client(transport=transport)
    )


def _answer(provider: str) -> httpx2.Response:
    if provider == "openai":
        client = fake_openai_client(usage=USAGE)
        body = client.chat.completions.with_raw_response.create(**CHAT).http_response.content
        headers = {"content-type": "application/json", "x-request-id": "req_mock"}
    else:
        anthropic_client = fake_anthropic_client(usage=USAGE)
        body = anthropic_client.messages.with_raw_response.create(**ASK).http_response.content
        headers = {"content-type": "application/json", "request-id": "req_mock"}
    return httpx2.Response(200, headers=headers, content=body)


@pytest.mark.parametrize("budgeted", [False, True])
def test_a_transport_marks_itself_as_replaying(
    provider: str, budgeted: bool, memory_sink: MemorySink
) -> None:
    """Opened first (a budget) or after return, a parsed response is replayed only when its
    transport says so: it carries no headers to read."""
    llmcost.uninstrument()
    answer = _answer(provider)
    llmcost.instrument(provider)

    class ReplayingTransport(httpx2.MockTransport):
        llmcost_replayed = True

    def handler(request: httpx2.Request) -> httpx2.Response:
        return answer

    with contextlib.ExitStack() as stack:
        if budgeted:
            stack.enter_context(llmcost.budget(max_cost_usd=1))
        for transport in (httpx2.MockTransport(handler), ReplayingTransport(handler)):
            client = _mock_client(provider, transport)
            if provider == "openai":
                client.chat.completions.create(**CHAT)
            else:
                client.messages.create(**ASK)
    plain, marked = memory_sink.records
    assert (plain.replayed, marked.replayed) == (False, True)
    assert plain.request_id == marked.request_id == "req_mock"


@pytest.mark.usefixtures("swallow_internal_errors")
async def test_a_failure_to_open_it_afterwards_is_counted_never_raised(
    provider: str, is_async: bool, memory_sink: MemorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("opening bug")

    module = openai_integration if provider == "openai" else anthropic_integration
    monkeypatch.setattr(module, "_open_after_return", broken)
    response = await _run(CALLS[provider](is_async))
    assert response.id
    _pending.run_pending()
    assert memory_sink.records == []
    kind = "internal_errors.openai.record" if provider == "openai" else "internal_errors.anthropic"
    assert llmcost.stats()[kind] == 1


def test_under_the_suite_that_failure_surfaces_at_the_next_reader(
    provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("opening bug")

    module = openai_integration if provider == "openai" else anthropic_integration
    monkeypatch.setattr(module, "_open_after_return", broken)
    CALLS[provider](False)()
    with pytest.raises(RuntimeError, match="opening bug"):
        _pending.run_pending()


def test_a_raw_response_is_opened_at_once_and_recorded(
    provider: str, memory_sink: MemorySink
) -> None:
    if provider == "openai":
        raw: Any = fake_openai_client(usage=USAGE).chat.completions.with_raw_response.create(**CHAT)
    else:
        raw = fake_anthropic_client(usage=USAGE).messages.with_raw_response.create(**ASK)
    [record] = memory_sink.records
    assert record.request_id == raw.http_response.headers.get(
        "x-request-id" if provider == "openai" else "request-id"
    )
    assert (record.input_tokens, record.output_tokens, record.replayed) == (120, 30, True)


@pytest.mark.parametrize(
    ("provider_name", "options", "error"),
    [
        ("openai", {"status_code": 429}, openai.RateLimitError),
        ("anthropic", {"error": "rate_limit"}, anthropic.RateLimitError),
    ],
)
def test_without_a_delivery_thread_the_users_exception_still_comes_back(
    provider_name: str,
    options: dict[str, Any],
    error: type[Exception],
    memory_sink: MemorySink,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No thread can be started (interpreter exit, a thread limit): the caller still gets
    their own exception or response; the records wait for the next reader."""
    llmcost.instrument(provider_name)
    _pending.run_pending()
    deadline = time.monotonic() + 10
    while (_pending._state["woken"] or _pending._state["busy"]) and time.monotonic() < deadline:
        time.sleep(0.001)  # the thread is asleep with no wake-up outstanding: False is restored

    def no_thread() -> None:
        raise RuntimeError("can't create new thread at interpreter shutdown")

    monkeypatch.setattr(_pending, "_start_worker", no_thread)
    monkeypatch.setitem(_pending._state, "worker", None)
    monkeypatch.setitem(_pending._state, "woken", False)
    with pytest.raises(error):
        CALLS[provider_name](False, **options)()
    assert CALLS[provider_name](False)().id
    # Under the suite each failed wake-up surfaces at a reader, after the work ran.
    surfaced = []
    while True:
        try:
            _pending.run_pending()
        except RuntimeError as exc:
            surfaced.append(str(exc))
            continue
        break
    assert surfaced
    assert all("new thread" in message for message in surfaced)
    assert [record.status for record in memory_sink.records] == ["error", "ok"]


async def test_results_are_told_apart_by_what_they_are_learnt_once_per_type(
    is_async: bool, memory_sink: MemorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parsed message is handed over as it is; a raw response (read later) is opened at
    once. What a result type is gets learnt by duck typing the first time it is seen, so no
    private SDK class is relied on, and the hot path is a set lookup afterwards."""
    llmcost.instrument("anthropic")
    monkeypatch.setattr(anthropic_integration, "_PARSED_TYPES", set())
    opened_now: list[object] = []
    real_open = anthropic_integration._open_guarded

    def counting_open(*args: Any) -> Any:
        if args[-1] is None:  # opened at return, not on the delivery thread
            opened_now.append(args)
        return real_open(*args)

    monkeypatch.setattr(anthropic_integration, "_open_guarded", counting_open)
    message = await _run(_anthropic_call(is_async))
    if is_async:
        raw = await fake_async_anthropic_client(usage=USAGE).messages.with_raw_response.create(
            **ASK
        )
    else:
        raw = fake_anthropic_client(usage=USAGE).messages.with_raw_response.create(**ASK)
    learnt = anthropic_integration._PARSED_TYPES
    assert learnt == {type(message)}
    assert len(opened_now) == 1  # the raw response only
    first, second = memory_sink.records
    assert first.response_id == message.id
    assert second.request_id == raw.http_response.headers["request-id"]
    assert [(r.input_tokens, r.output_tokens) for r in (first, second)] == [(120, 30)] * 2


def test_latency_uses_one_clock_even_when_the_clock_is_replaced(
    provider: str, memory_sink: MemorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ends of the latency are read from time.perf_counter as it is at call time, so a
    test that fakes the clock gets consistent latencies."""
    readings = iter(range(1_000, 100_000, 1))

    def fake_clock() -> float:
        return float(next(readings))

    call = CALLS[provider](False)
    call()  # warm up the SDK and llmcost with the real clock
    _pending.run_pending()
    monkeypatch.setattr(time, "perf_counter", fake_clock)
    call()
    monkeypatch.undo()
    record = memory_sink.records[-1]
    assert record.latency_ms is not None
    assert 0 < record.latency_ms < 1_000_000  # a few fake seconds, never a real-clock mix
