"""Keyed and windowed budgets in one process, configure(budgets=...), and typo answers."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from decimal import Decimal

import pytest

import llmcost
from llmcost.budgets import Amounts, InMemoryBudgetStore, Limits, shared_memory_store
from llmcost.budgets._keys import window_of
from llmcost.budgets._store import Entry
from llmcost.testing import FakeOpenAITransport, fake_openai_client

pytestmark = pytest.mark.usefixtures("sink")

MESSAGES = [{"role": "user", "content": "hi"}]


def ask(client: object) -> None:
    client.chat.completions.create(  # type: ignore[attr-defined]
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=100
    )


def today() -> str:
    return f"{datetime.now(timezone.utc):%Y-%m-%d}"


def test_per_user_daily_budget_configured_once_limits_each_user_alone() -> None:
    """configure(budgets=[...]) applies to every call; each user has their own total."""
    llmcost.configure(
        sinks=[llmcost.sinks.MemorySink()],
        budgets=[llmcost.budget(max_calls=2, per="user_id", window="day", name="user-day")],
    )
    llmcost.instrument()
    transport = FakeOpenAITransport()
    client = fake_openai_client(transport=transport)
    with llmcost.track_cost(user_id="u-1"):
        ask(client)
        ask(client)
        with pytest.raises(llmcost.BudgetExceeded, match=f"'user-day:u-1@{today()}'"):
            ask(client)
    with llmcost.track_cost(user_id="u-2"):
        ask(client)  # another user's budget is untouched
    assert len(transport.requests) == 3
    llmcost.flush()
    store = shared_memory_store()
    assert store.read(f"user-day:u-1@{today()}").spent.calls == 2
    assert store.read(f"user-day:u-2@{today()}").spent.calls == 1


def test_template_keys_and_calls_without_the_value() -> None:
    """A template reads tags; a call without the tag is charged to the '-' key."""
    b = llmcost.budget(max_cost_usd=1, per="customer:{tags[customer]}", name="cust")
    client = fake_openai_client()
    with b:
        with llmcost.track_cost(tags={"customer": "acme"}):
            ask(client)
            assert b.current_key() == "cust:customer:acme"
            assert b.calls == 1
        ask(client)
    llmcost.flush()
    assert shared_memory_store().read("cust:customer:-").spent.calls == 1


def test_a_value_cannot_pose_as_another_window() -> None:
    """'@' in a per value is escaped: the window part of a key is always the budget's own."""
    b = llmcost.budget(max_calls=1, per="user_id", window="day", name="u")
    when = datetime(2026, 3, 9, 12, tzinfo=timezone.utc)
    who = llmcost._context.Attribution(user_id="x@2026-03-10")
    assert b._entry(who, when).key == "u:x%402026-03-10@2026-03-09"


def test_windows_split_at_midnight_and_follow_a_timezone() -> None:
    """23:59:59 and 00:00:01 UTC are two days; a tz moves the day's start."""
    late = datetime(2026, 3, 9, 23, 59, 59, tzinfo=timezone.utc)
    early = datetime(2026, 3, 10, 0, 0, 1, tzinfo=timezone.utc)
    assert window_of("day", late, timezone.utc)[0] == "2026-03-09"
    assert window_of("day", early, timezone.utc)[0] == "2026-03-10"
    assert window_of("month", late, timezone.utc)[0] == window_of("month", early, timezone.utc)[0]
    assert window_of("hour", late, timezone.utc) == (
        "2026-03-09T23",
        datetime(2026, 3, 10, tzinfo=timezone.utc),
    )
    assert window_of("month", datetime(2026, 12, 31, tzinfo=timezone.utc), timezone.utc)[1] == (
        datetime(2027, 1, 1, tzinfo=timezone.utc)
    )
    tokyo = llmcost.budget(max_calls=1, window="day", tz="Asia/Tokyo", name="jp")
    assert tokyo._entry(None, late).key == "jp@2026-03-10 Asia/Tokyo"


def test_record_usage_lands_in_the_window_of_its_timestamp() -> None:
    """A month budget sums the days; each day budget holds its own."""
    daily = llmcost.budget(max_cost_usd=1, window="day", name="d")
    monthly = llmcost.budget(max_cost_usd=1, window="month", name="m")
    llmcost.configure(budgets=[daily, monthly])
    year = datetime.now(timezone.utc).year + 1  # windows that ended are dropped
    for day in (1, 2):
        llmcost.record_usage(
            provider="openai",
            model="gpt-4o-mini",
            input_tokens=100,
            output_tokens=10,
            timestamp=datetime(year, 4, day, 12, tzinfo=timezone.utc),
        )
    store = shared_memory_store()
    assert store.read(f"d@{year}-04-01").spent.calls == 1
    assert store.read(f"d@{year}-04-02").spent.calls == 1
    assert store.read(f"m@{year}-04").spent.calls == 2


def test_in_memory_keys_of_ended_windows_are_dropped() -> None:
    """No cleanup job: a new window's key sweeps ended ones that hold nothing."""
    store = InMemoryBudgetStore()
    old = Entry("k@1999-01-01", Limits(calls=5), expires_at=1.0)
    token, _ = store.reserve_all([old], Amounts(calls=1))
    store.settle_all(token, [old], Amounts(calls=1), Amounts(calls=1), "r1")
    store.reserve_all([Entry("k@2999-01-01", Limits(calls=5), expires_at=3e10)], Amounts(calls=1))
    assert store.keys() == ["k@2999-01-01"]


@pytest.mark.parametrize(
    ("keyword", "suggestion"),
    [("max_cost_usdd", "max_cost_usd"), ("on_exceeed", "on_exceed"), ("windows", "window")],
)
def test_a_misspelt_keyword_gets_an_answer(keyword: str, suggestion: str) -> None:
    """budget() and Budget() name the parameter a near miss meant."""
    with pytest.raises(TypeError, match=f"did you mean '{suggestion}'"):
        llmcost.budget(**{keyword: 1})
    with pytest.raises(TypeError, match=f"did you mean '{suggestion}'"):
        llmcost.Budget(**{keyword: 1})
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        llmcost.budget(colour="red")


def test_bad_keyed_budgets_are_refused_by_name() -> None:
    """Mistakes in per, window, tz and configure(budgets=) name the input."""
    with pytest.raises(ValueError, match="needs a name"):
        llmcost.budget(max_calls=1, per="user_id")
    with pytest.raises(ValueError, match="per='userid'"):
        llmcost.budget(max_calls=1, per="userid", name="x")
    with pytest.raises(ValueError, match=r"\{team\}"):
        llmcost.budget(max_calls=1, per="{team}", name="x")
    with pytest.raises(ValueError, match="window"):
        llmcost.budget(max_calls=1, window="week", name="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Mars/Olympus"):
        llmcost.budget(max_calls=1, window="day", tz="Mars/Olympus", name="x")
    with pytest.raises(TypeError, match="list of budgets"):
        llmcost.configure(budgets=llmcost.budget(max_calls=1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"llmcost\.budget"):
        llmcost.configure(budgets=[Decimal(1)])


def test_a_keyed_decorator_shares_totals_across_invocations() -> None:
    """Each decorated call opens a fresh budget object, on the same per-key totals."""
    client = fake_openai_client()

    @llmcost.budget(max_calls=2, per="feature", window="hour", name="feat")
    def work() -> None:
        with llmcost.track_cost(feature="search"):
            ask(client)

    work()
    work()
    with pytest.raises(llmcost.BudgetExceeded, match="'feat:search@"):
        work()


def test_reset_forgets_the_shared_in_memory_totals() -> None:
    """llmcost.reset() empties the in-process store keyed budgets share."""
    llmcost.configure(budgets=[llmcost.budget(max_calls=1, window="day", name="r")])
    llmcost.record_usage(provider="openai", model="gpt-4o-mini", input_tokens=1, output_tokens=1)
    assert shared_memory_store().keys() == [f"r@{today()}"]
    llmcost.reset()
    assert shared_memory_store().keys() == []


def test_budgets_import_redis_only_when_the_redis_store_is_used() -> None:
    """`import llmcost`, llmcost.budgets and a keyed budget leave redis-py unimported."""
    code = (
        "import sys, llmcost, llmcost.budgets; "
        "llmcost.budget(max_calls=1, per='user_id', window='day', name='x'); "
        "print('redis' in sys.modules); "
        "llmcost.budgets.RedisBudgetStore; "
        "print('redis' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert output.split() == ["False", "True"]
