"""The admission engine driven directly through the recorder's start_call / finish / abandon."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

import pytest

import llmcost
from llmcost import pricing, tokens
from llmcost._recorder import start_call
from llmcost.budgets import _admission, _estimate, _store
from llmcost.types import Usage

MESSAGES = [{"role": "user", "content": "Summarise the plot of Hamlet in one line."}]


def chat(model: str = "gpt-4o-mini", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": MESSAGES, **extra}


def worst_case(model: str, request: dict[str, Any], output: int, **options: Any) -> Decimal:
    estimate = tokens.estimate_request_input_tokens("openai", "chat", request)
    cost = pricing.cost(
        model, Usage(input_tokens=estimate, output_tokens=output), provider="openai", **options
    )
    assert cost.total_cost_usd is not None
    return cost.total_cost_usd


@pytest.fixture(autouse=True)
def _configured() -> None:
    llmcost.configure()


def test_no_budget_no_policy_no_reservation() -> None:
    """Calls outside any budget are admitted without a reservation (nothing estimated)."""
    call = start_call("openai", "chat", "gpt-4o-mini", request=chat())
    assert call.reservation is None


def test_reserves_the_exact_worst_case_and_settles_to_the_real_cost() -> None:
    """Reserved = estimated input × input rate + max_tokens × output rate, exactly."""
    request = chat(max_tokens=200)
    with llmcost.budget(max_cost_usd=1) as b:
        call = start_call("openai", "chat", "gpt-4o-mini", request=request)
        assert b.reserved_usd == worst_case("gpt-4o-mini", request, 200)
        assert b.spent_usd == 0
        call.finish(Usage(input_tokens=20, output_tokens=7))
        # The record is made after finish (llmcost._pending); reading a figure waits for it.
        assert b.reserved_usd == 0
        [record] = b.records
    assert record.total_cost_usd is not None
    assert b.reserved_usd == 0
    assert b.spent_usd == record.total_cost_usd
    assert (b.calls, b.input_tokens, b.output_tokens, b.total_tokens) == (1, 20, 7, 27)
    assert b.records == [record]
    assert b.remaining_usd == Decimal(1) - record.total_cost_usd


def test_output_ceiling_falls_back_to_the_catalog_and_multiplies_by_n() -> None:
    """No cap: the catalog's max output; n=3 triples it; max_completion_tokens wins."""
    price = pricing.get_catalog().resolve("gpt-4o-mini", "openai")
    assert price is not None
    assert price.max_output_tokens
    assert _estimate.output_ceiling("chat", chat(), price) == price.max_output_tokens
    assert _estimate.output_ceiling("chat", chat(n=3), price) == 3 * price.max_output_tokens
    assert (
        _estimate.output_ceiling("chat", chat(max_completion_tokens=50, max_tokens=9), price) == 50
    )
    assert _estimate.output_ceiling("responses", {"max_output_tokens": 70}, price) == 70
    assert _estimate.output_ceiling("embeddings", {"input": "x"}, price) == 0
    assert _estimate.output_ceiling("messages", {"max_tokens": 1024}, None) == 1024
    assert _estimate.output_ceiling("chat", chat(), None) is None
    # Legacy completions: 16 tokens by default, per choice, per prompt.
    assert _estimate.output_ceiling("completions", {"prompt": "hi"}, None) == 16
    assert (
        _estimate.output_ceiling(
            "completions", {"prompt": ["a", "b"], "max_tokens": 10, "n": 2, "best_of": 3}, None
        )
        == 60
    )


def test_service_tier_prices_the_worst_case() -> None:
    """The request's service_tier selects the tier's rates for the worst case."""
    model = next(
        m.id
        for m in pricing.get_catalog().models("openai")
        if "flex" in m.service_tiers and m.max_output_tokens
    )
    request = chat(model, max_completion_tokens=1000)
    flex = request | {"service_tier": "flex"}
    with llmcost.budget(max_cost_usd=100) as b:
        start_call("openai", "chat", model, request=flex)
        reserved_flex = b.reserved_usd
    assert reserved_flex == worst_case(model, request, 1000, service_tier="flex")
    assert reserved_flex < worst_case(model, request, 1000)


def test_refusal_names_the_budget_and_carries_the_figures() -> None:
    """BudgetExceeded has the name, limit, spent, reserved and estimate, and says what to do."""
    request = chat(max_tokens=10_000)
    expected = worst_case("gpt-4o-mini", request, 10_000)
    with (
        llmcost.budget(max_cost_usd=expected / 2, name="checkout"),
        pytest.raises(llmcost.BudgetExceeded) as info,
    ):
        start_call("openai", "chat", "gpt-4o-mini", request=request)
    error = info.value
    assert error.budget_name == "checkout"
    assert error.limit == expected / 2
    assert (error.spent, error.reserved, error.estimate) == (0, 0, expected)
    assert error.dimension == "cost_usd"
    message = str(error)
    assert "'checkout'" in message
    assert "gpt-4o-mini" in message
    assert "max_tokens" in message
    assert "on_exceed='warn'" in message


def test_settle_and_release_are_idempotent() -> None:
    """Settle then release is a no-op release; a second settle does nothing."""
    with llmcost.budget(max_cost_usd=1, max_calls=5) as b:
        call = start_call("openai", "chat", "gpt-4o-mini", request=chat(max_tokens=10))
        reservation = call.reservation
        assert reservation is not None
        call.finish(Usage(input_tokens=5, output_tokens=5))
        [record] = b.records
        assert not reservation.open
        reservation.release()
        reservation.settle(record)
        assert (b.calls, b.reserved_usd, b.spent_usd) == (1, 0, record.total_cost_usd)
        abandoned = start_call("openai", "chat", "gpt-4o-mini", request=chat(max_tokens=10))
        assert b.reserved_usd > 0
        abandoned.abandon()
        abandoned.abandon()
        abandoned.finish(Usage(input_tokens=1))
        assert (b.calls, b.reserved_usd, len(b.records)) == (1, 0, 1)


def test_failed_call_releases_its_worst_case_and_counts_as_a_call() -> None:
    """A call that raised costs nothing (unless streamed): spent stays, the call counts."""
    with llmcost.budget(max_cost_usd=1) as b:
        call = start_call("openai", "chat", "gpt-4o-mini", request=chat(max_tokens=10))
        call.fail(RuntimeError("500"))
    assert (b.spent_usd, b.reserved_usd, b.calls) == (0, 0, 1)


def test_nested_budgets_all_apply_and_the_outermost_short_one_is_named() -> None:
    """Both budgets reserve; a refusal by the inner one undoes the outer reservation."""
    request = chat(max_tokens=1000)
    one = worst_case("gpt-4o-mini", request, 1000)
    with llmcost.budget(max_cost_usd=one * 3, name="outer") as outer:
        with llmcost.budget(max_cost_usd=one, name="inner") as inner:
            start_call("openai", "chat", "gpt-4o-mini", request=request)
            assert outer.reserved_usd == inner.reserved_usd == one
            with pytest.raises(llmcost.BudgetExceeded) as info:
                start_call("openai", "chat", "gpt-4o-mini", request=request)
            assert info.value.budget_name == "inner"
            assert outer.reserved_usd == one  # the refused call's outer reservation was undone
        with llmcost.budget(max_cost_usd=one * 10, name="wide"):
            start_call("openai", "chat", "gpt-4o-mini", request=request)
            start_call("openai", "chat", "gpt-4o-mini", request=request)
            assert outer.reserved_usd == one * 3
            with pytest.raises(llmcost.BudgetExceeded) as info:
                start_call("openai", "chat", "gpt-4o-mini", request=request)
            assert info.value.budget_name == "outer"


def test_same_budget_entered_twice_counts_once() -> None:
    """Re-entering the same budget object does not reserve the call twice."""
    b = llmcost.budget(max_calls=1)
    with b, b:
        call = start_call("openai", "embeddings", "text-embedding-3-small", request={"input": "x"})
        call.finish(Usage(input_tokens=1))
    assert b.calls == 1
    assert len(b.records) == 1


def test_named_budgets_share_a_store() -> None:
    """Budgets with one store and one name share their totals (e.g. per tenant)."""
    store = _store.InMemoryBudgetStore()
    request = {"model": "text-embedding-3-small", "input": "x"}
    for _ in range(2):
        with llmcost.budget(max_calls=2, name="tenant-42", store=store):
            start_call("openai", "embeddings", "text-embedding-3-small", request=request).finish(
                Usage(input_tokens=1)
            )
    with llmcost.budget(max_calls=2, name="tenant-42", store=store) as third:
        assert third.calls == 2
        with pytest.raises(llmcost.BudgetExceeded, match="max_calls=2 is used up"):
            start_call("openai", "embeddings", "text-embedding-3-small", request=request)


def test_token_limits() -> None:
    """Input, output and total token limits use the estimate and the output ceiling."""
    request = chat(max_tokens=100)
    estimate = tokens.estimate_request_input_tokens("openai", "chat", request)
    with (
        llmcost.budget(max_input_tokens=estimate - 1),
        pytest.raises(llmcost.BudgetExceeded) as info,
    ):
        start_call("openai", "chat", "gpt-4o-mini", request=request)
    assert info.value.dimension == "input_tokens"
    assert info.value.estimate == estimate
    with (
        llmcost.budget(max_output_tokens=99),
        pytest.raises(llmcost.BudgetExceeded, match="max_output_tokens=99"),
    ):
        start_call("openai", "chat", "gpt-4o-mini", request=request)
    with llmcost.budget(max_total_tokens=estimate + 100) as b:
        start_call("openai", "chat", "gpt-4o-mini", request=request)
        assert b.totals().reserved.total_tokens == estimate + 100


def test_unknown_model_with_a_cost_limit_is_refused_with_advice() -> None:
    """An unpriceable worst case cannot be enforced: refuse (raise) or let through (warn)."""
    request = chat("my-azure-deployment", max_tokens=100)
    with (
        llmcost.budget(max_cost_usd=1, name="b"),
        pytest.raises(llmcost.BudgetExceeded) as info,
    ):
        start_call("openai", "chat", "my-azure-deployment", request=request)
    assert info.value.estimate is None
    assert "no price" in str(info.value)
    assert "configure(catalog=...)" in str(info.value)
    with llmcost.budget(max_cost_usd=1, on_exceed="warn") as b:
        call = start_call("openai", "chat", "my-azure-deployment", request=request)
        call.finish(Usage(input_tokens=10, output_tokens=10))
    assert b.exceeded_calls == 1
    assert b.unpriced_calls == 1
    assert (b.spent_usd, b.calls, b.total_tokens) == (0, 1, 20)


def test_unknown_model_still_obeys_token_and_call_limits() -> None:
    """Token and call limits do not need a price."""
    request = chat("my-azure-deployment", max_tokens=100)
    with llmcost.budget(max_calls=1, max_total_tokens=10_000) as b:
        start_call("openai", "chat", "my-azure-deployment", request=request).finish(
            Usage(input_tokens=10, output_tokens=10)
        )
        with pytest.raises(llmcost.BudgetExceeded, match="max_calls"):
            start_call("openai", "chat", "my-azure-deployment", request=request)
    assert b.total_tokens == 20


def test_unbounded_output_with_a_token_limit_is_refused() -> None:
    """No cap and no catalog maximum: an output limit cannot be enforced."""
    with (
        llmcost.budget(max_output_tokens=1000),
        pytest.raises(llmcost.BudgetExceeded, match="sets no output cap"),
    ):
        start_call("openai", "chat", "my-model", request=chat("my-model"))


def test_warn_mode_lets_calls_through_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    """on_exceed='warn': every call goes, overshoots are counted, one log line."""
    caplog.set_level(logging.WARNING, logger="llmcost")
    with llmcost.budget(max_calls=1, on_exceed="warn", warn_at=None, name="soft") as b:
        for _ in range(3):
            start_call(
                "openai", "embeddings", "text-embedding-3-small", request={"input": "x"}
            ).finish(Usage(input_tokens=1))
    assert b.calls == 3
    assert b.exceeded_calls == 2
    lines = [r.getMessage() for r in caplog.records if "'soft'" in r.getMessage()]
    assert len(lines) == 1
    assert "would have refused" in lines[0]
    assert "on_exceed='warn'" in lines[0]


def test_warn_at_logs_once_and_calls_on_warn(caplog: pytest.LogCaptureFixture) -> None:
    """Crossing warn_at of a limit logs one warning and calls on_warn once."""
    caplog.set_level(logging.WARNING, logger="llmcost")
    seen: list[llmcost.Budget] = []
    with llmcost.budget(max_calls=10, warn_at=0.5, on_warn=seen.append, name="w") as b:
        for index in range(8):
            start_call(
                "openai", "embeddings", "text-embedding-3-small", request={"input": "x"}
            ).finish(Usage(input_tokens=1))
            assert b.calls == index + 1  # reading a figure settles the calls that returned
            assert len(seen) == (1 if index >= 4 else 0)
    assert seen == [b]
    assert len([r for r in caplog.records if "has used" in r.getMessage()]) == 1


def test_a_failing_on_warn_callback_does_not_break_the_call() -> None:
    """The user's callback raising is logged and counted, never raised into the call."""

    def boom(budget: llmcost.Budget) -> None:
        raise RuntimeError("callback bug")

    with llmcost.budget(max_calls=1, on_warn=boom) as b:
        start_call("openai", "embeddings", "text-embedding-3-small", request={"input": "x"}).finish(
            Usage(input_tokens=1)
        )
    assert len(b.records) == 1
    assert b.calls == 1
    assert llmcost.stats()["budget.on_warn_errors"] == 1


def test_estimation_errors_never_block_a_call(
    monkeypatch: pytest.MonkeyPatch, swallow_internal_errors: None
) -> None:
    """A bug in the estimator is counted; the call goes through and call limits still hold."""

    def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("estimator bug")

    monkeypatch.setattr(tokens, "estimate_request_input_tokens", broken)
    with llmcost.budget(max_cost_usd=Decimal("0.000001"), max_calls=1) as b:
        call = start_call("openai", "chat", "gpt-4o-mini", request=chat())
        assert call.reservation is not None
        call.finish(Usage(input_tokens=1, output_tokens=1))
        with pytest.raises(llmcost.BudgetExceeded, match="max_calls"):
            start_call("openai", "chat", "gpt-4o-mini", request=chat())
    assert b.calls == 1
    assert llmcost.stats()["internal_errors.budget.estimate"] >= 1


def test_estimation_errors_fail_the_test_suite(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the suite's RAISE_INTERNAL_ERRORS an estimator bug surfaces instead."""
    monkeypatch.setattr(tokens, "estimate_request_input_tokens", lambda *a, **k: 1 / 0)
    with llmcost.budget(max_total_tokens=10**6), pytest.raises(ZeroDivisionError):
        start_call("openai", "chat", "gpt-4o-mini", request=chat())


def test_a_calls_only_budget_does_not_count_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """No cost or input limit open: the request is not tokenized (nothing needs it)."""
    monkeypatch.setattr(tokens, "estimate_request_input_tokens", lambda *a, **k: 1 / 0)
    with llmcost.budget(max_calls=1, max_output_tokens=10**6) as b:
        start_call("openai", "chat", "gpt-4o-mini", request=chat(max_tokens=50))
        assert b.totals().reserved.output_tokens == 50
        assert b.totals().reserved.input_tokens == 0


def test_anthropic_cache_writes_are_priced_in_the_worst_case() -> None:
    """A request with cache_control prices its input at the cache-write rate."""
    base = {
        "model": "claude-haiku-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello"}],
    }
    cached = {
        **base,
        "system": [{"type": "text", "text": "Rules", "cache_control": {"type": "ephemeral"}}],
    }
    uncached = {**base, "system": [{"type": "text", "text": "Rules"}]}
    with llmcost.budget(max_cost_usd=1) as plain:
        start_call("anthropic", "messages", "claude-haiku-4-5", request=uncached)
    with llmcost.budget(max_cost_usd=1) as writes:
        start_call("anthropic", "messages", "claude-haiku-4-5", request=cached)
    estimate = tokens.estimate_request_input_tokens("anthropic", "messages", cached)
    expected = pricing.cost(
        "claude-haiku-4-5",
        Usage(input_tokens=estimate, cache_write_tokens=estimate, output_tokens=100),
        provider="anthropic",
    ).total_cost_usd
    assert writes.reserved_usd == expected
    assert writes.reserved_usd > plain.reserved_usd


def test_anthropic_api_estimator_uses_count_tokens() -> None:
    """estimator='anthropic_api' asks the client's free count_tokens for exact input."""
    from llmcost.testing import FakeAnthropicTransport, fake_anthropic_client

    transport = FakeAnthropicTransport(usage={"input_tokens": 4321, "output_tokens": 1})
    client = fake_anthropic_client(transport=transport)
    request = {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": MESSAGES}
    with llmcost.budget(max_input_tokens=100_000, estimator="anthropic_api") as b:
        start_call("anthropic", "messages", "claude-haiku-4-5", request=request, client=client)
        assert b.totals().reserved.input_tokens == 4321
        start_call(
            "anthropic", "messages", "claude-haiku-4-5", request=request, client=client.messages
        )
        assert b.totals().reserved.input_tokens == 2 * 4321
    assert [r.url.path for r in transport.requests] == ["/v1/messages/count_tokens"] * 2


def test_anthropic_api_estimator_falls_back_without_a_sync_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No client, or an async one: the local estimate is used and the fallback logged once."""
    from llmcost.testing import fake_async_anthropic_client

    caplog.set_level(logging.WARNING, logger="llmcost")
    request = {"model": "claude-haiku-4-5", "max_tokens": 10, "messages": MESSAGES}
    local = tokens.estimate_request_input_tokens("anthropic", "messages", request)
    with llmcost.budget(max_input_tokens=100_000, estimator="anthropic_api") as b:
        start_call("anthropic", "messages", "claude-haiku-4-5", request=request)
        start_call("anthropic", "messages", "claude-haiku-4-5", request=request)
        client = fake_async_anthropic_client()
        start_call("anthropic", "messages", "claude-haiku-4-5", request=request, client=client)
        assert b.totals().reserved.input_tokens == 3 * local
    messages = [r.getMessage() for r in caplog.records if "anthropic_api" in r.getMessage()]
    assert len(messages) == 2  # once for "no client", once for "async client"


def test_budget_validation() -> None:
    """Bad settings are clear errors naming the argument."""
    with pytest.raises(ValueError, match="max_cost_usd"):
        llmcost.budget(-1)
    with pytest.raises(ValueError, match="max_cost_usd"):
        llmcost.budget("lots")
    with pytest.raises(ValueError, match="max_cost_usd"):
        llmcost.budget(float("nan"))
    with pytest.raises(ValueError, match="max_calls"):
        llmcost.budget(max_calls=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_exceed"):
        llmcost.budget(1, on_exceed="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="warn_at"):
        llmcost.budget(1, warn_at=1.5)
    with pytest.raises(ValueError, match="estimator"):
        llmcost.budget(1, estimator="remote")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="store"):
        llmcost.budget(1, store=object())  # type: ignore[arg-type]
    assert llmcost.budget(0.1).limits.cost_usd == Decimal("0.1")


def test_decorator_gives_each_invocation_a_fresh_budget() -> None:
    """Sync and async decorated functions each run in their own budget."""
    seen: list[llmcost.Budget] = []

    @llmcost.budget(max_calls=1)
    def work() -> None:
        seen.append(llmcost._context.budget_stack.get()[-1])
        start_call("openai", "embeddings", "text-embedding-3-small", request={"input": "x"})

    @llmcost.budget(max_calls=1)
    async def awork() -> None:
        seen.append(llmcost._context.budget_stack.get()[-1])
        start_call("openai", "embeddings", "text-embedding-3-small", request={"input": "x"})

    work()
    work()  # would be refused if the budget were shared
    asyncio.run(awork())
    asyncio.run(awork())
    assert len({id(b) for b in seen}) == 4
    assert llmcost._context.budget_stack.get() == ()
    with pytest.raises(TypeError, match="generator"):

        @llmcost.budget(max_calls=1)
        def gen() -> Any:
            yield 1


def test_budget_repr_and_remaining() -> None:
    """The repr shows the name and limits; remaining is None without a cost limit."""
    b = llmcost.budget(max_cost_usd="0.05", max_calls=3, name="r")
    assert "name='r'" in repr(b)
    assert "max_calls=3" in repr(b)
    assert b.remaining_usd == Decimal("0.05")
    assert llmcost.budget(max_calls=1).remaining_usd is None


def test_charge_record_adds_manual_records_once() -> None:
    """charge_record (for record_usage) adds a record's cost to each open budget once."""
    record = llmcost.record_usage(
        provider="openai", model="gpt-4o-mini", input_tokens=100, output_tokens=10
    )
    assert record.total_cost_usd is not None
    store = _store.InMemoryBudgetStore()
    outer = llmcost.budget(max_cost_usd=1, name="shared", store=store)
    inner = llmcost.budget(max_cost_usd=1, name="shared", store=store)
    other = llmcost.budget(max_calls=5)
    _admission.charge_record((outer, inner, other, other), record)
    assert outer.spent_usd == record.total_cost_usd  # shared key charged once
    assert (other.calls, other.input_tokens, other.reserved_usd) == (1, 100, 0)
    assert inner.records == [record]
    assert other.records == [record]


def test_llmcost_budget_stays_the_function_after_the_module_is_imported() -> None:
    """The module is llmcost.budgets, so importing it never rebinds llmcost.budget."""
    import subprocess
    import sys

    code = (
        "import llmcost.budgets, llmcost\n"
        "from llmcost.budgets import InMemoryBudgetStore\n"
        "with llmcost.budget(max_cost_usd=1, name='x') as b:\n"
        "    pass\n"
        "print(type(b).__name__, b.name, llmcost.budgets.Budget is llmcost.Budget)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["Budget", "x", "True"]


def test_record_usage_counts_toward_open_budgets() -> None:
    """The manual path has nothing to refuse, but its cost still counts in open budgets."""
    import llmcost

    with llmcost.budget(max_cost_usd=1) as outer, llmcost.budget(max_calls=5) as inner:
        record = llmcost.record_usage(
            provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=100
        )
    assert outer.spent_usd == record.total_cost_usd
    assert (outer.calls, inner.calls) == (1, 1)
    assert outer.reserved_usd == 0


async def test_one_budget_object_open_in_many_tasks_at_once() -> None:
    """A module-level budget entered by concurrent tasks never crashes and counts them all."""
    import asyncio

    import llmcost

    shared = llmcost.budget(max_calls=100, name="app-wide")

    async def task() -> None:
        async with shared:
            await asyncio.sleep(0)
            llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1)
            await asyncio.sleep(0)

    await asyncio.gather(*(task() for _ in range(10)))
    assert shared.calls == 10


def test_warn_mode_message_does_not_advise_warn_mode(caplog) -> None:
    """In warn mode the logged overshoot reads as a report, not as advice to use warn mode;
    a zero in the error's figures reads 0, not 0E-7."""
    import logging

    import llmcost
    from llmcost import _recorder

    llmcost.configure()
    with (
        caplog.at_level(logging.WARNING, logger="llmcost"),
        llmcost.budget(max_cost_usd="0.000001", on_exceed="warn") as b,
    ):
        call = _recorder.start_call(
            "openai", "chat", "gpt-4o", request={"messages": [], "max_tokens": 100}
        )
        call.abandon()
    assert b.exceeded_calls == 1
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "would have refused" in text
    assert "use on_exceed='warn'" not in text
    with (
        llmcost.budget(max_cost_usd="0.000001") as strict,
        pytest.raises(llmcost.BudgetExceeded) as refused,
    ):
        _recorder.start_call(
            "openai", "chat", "gpt-4o", request={"messages": [], "max_tokens": 100}
        )
    assert "use on_exceed='warn'" in str(refused.value)
    assert str(refused.value.reserved) == "0"
    assert strict.reserved_usd == 0
