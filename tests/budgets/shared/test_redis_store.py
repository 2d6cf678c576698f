"""RedisBudgetStore on a real redis-server: the guarantees of issue 18, across processes."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmcost
from llmcost import errors, pricing, tokens
from llmcost.budgets import Amounts, BudgetStoreUnavailable, Limits, RedisBudgetStore
from llmcost.testing import FakeOpenAITransport, fake_openai_client
from llmcost.types import Usage

if TYPE_CHECKING:
    from conftest import RedisServer

WORKER = Path(__file__).with_name("worker.py")
MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Summarise the quarterly report in one line."}]
MAX_TOKENS = 1000


def worst_case() -> Decimal:
    """The worst case llmcost reserves for the worker's call."""
    estimate = tokens.estimate_request_input_tokens(
        "openai", "chat", {"model": MODEL, "messages": MESSAGES}
    )
    cost = pricing.cost(
        MODEL, Usage(input_tokens=estimate, output_tokens=MAX_TOKENS), provider="openai"
    ).total_cost_usd
    assert cost is not None
    return cost


def run_workers(
    server: RedisServer, prefix: str, limit: Decimal, *, fraction: float, calls: int
) -> list[dict[str, int]]:
    args = [str(a) for a in (server.url, prefix, 25, calls, fraction, 0.05, 60, limit)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(4)
    ]
    results = []
    for worker in workers:
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def day_key(name: str) -> str:
    return f"{name}@{datetime.now(timezone.utc):%Y-%m-%d}"


def test_four_processes_never_exceed_and_admit_all_that_fits(
    redis_server: RedisServer, redis_client: redis.Redis, make_store: Any
) -> None:
    """4 processes × 25 threads on one budget: never over it, and exactly as many as fit."""
    worst = worst_case()
    limit = worst * 20 + worst / 2  # room for 20 worst cases, not 21
    results = run_workers(redis_server, "t1:", limit, fraction=1.0, calls=3)
    admitted = sum(result["admitted"] for result in results)
    store = make_store(url=redis_server.url, prefix="t1:")
    totals = store.read(day_key("shared"))
    assert totals.spent.cost_usd <= limit
    assert totals.reserved == Amounts()
    assert admitted == totals.spent.calls
    assert 19 <= admitted <= 20  # within one call of the most that fits
    assert sum(result["refused"] for result in results) >= 80


def test_admissions_rise_after_settlement_when_real_cost_is_far_below_worst(
    redis_server: RedisServer, redis_client: redis.Redis, make_store: Any
) -> None:
    """Real cost a tenth of the worst case: settlement frees room, many more calls get in."""
    worst = worst_case()
    limit = worst * 20 + worst / 2
    results = run_workers(redis_server, "t2:", limit, fraction=0.1, calls=4)
    admitted = sum(result["admitted"] for result in results)
    totals = make_store(url=redis_server.url, prefix="t2:").read(day_key("shared"))
    assert totals.spent.cost_usd <= limit
    assert admitted == totals.spent.calls
    assert admitted >= 60  # three times the 20 that fit at the worst case


def test_a_killed_process_reservations_expire_within_the_ttl(
    redis_server: RedisServer, redis_client: redis.Redis, make_store: Any
) -> None:
    """SIGKILL while holding reservations: they are given back within reservation_ttl."""
    worst = worst_case()
    limit = worst * 3
    ttl = 3.0  # long enough to see the reservations held on a loaded machine
    args = [str(a) for a in (redis_server.url, "t3:", 3, 1, 1.0, 60.0, ttl, limit)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    worker = subprocess.Popen([sys.executable, str(WORKER), *args], env=env)
    store = make_store(url=redis_server.url, prefix="t3:")
    key = day_key("shared")
    try:
        deadline = time.monotonic() + 60
        while store.read(key).reserved.calls < 3:
            assert time.monotonic() < deadline, "the worker never reserved"
            time.sleep(0.05)
        # The budget is full of the worker's reservations: another process is refused.
        assert store.reserve(key, Amounts(worst, 0, 0, 1), Limits(cost_usd=limit)) is not None
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    killed = time.monotonic()
    while store.read(key).reserved != Amounts():
        assert time.monotonic() - killed < ttl + 2.0, "reservations outlived their ttl"
        time.sleep(0.05)
    assert store.read(key).spent == Amounts()
    assert store.reserve(key, Amounts(worst, 0, 0, 1), Limits(cost_usd=limit)) is None


def test_day_windows_split_at_midnight_utc_and_a_month_sums_its_days(
    redis_server: RedisServer, redis_client: redis.Redis, make_store: Any
) -> None:
    """23:59:59 and 00:00:01 UTC land in two days; the month holds both."""
    store = make_store(url=redis_server.url, prefix="t4:")
    daily = llmcost.budget(max_cost_usd=1, per="user_id", window="day", name="d", store=store)
    monthly = llmcost.budget(max_cost_usd=1, per="user_id", window="month", name="m", store=store)
    llmcost.configure(budgets=[daily, monthly])
    # Next year: Redis drops the keys of windows that ended more than a day ago.
    year = datetime.now(timezone.utc).year + 1
    for when in (
        datetime(year, 3, 9, 23, 59, 59, tzinfo=timezone.utc),
        datetime(year, 3, 10, 0, 0, 1, tzinfo=timezone.utc),
    ):
        llmcost.record_usage(
            provider="openai",
            model=MODEL,
            input_tokens=1000,
            output_tokens=100,
            user_id="u-1",
            timestamp=when,
        )
    one = pricing.cost(MODEL, Usage(input_tokens=1000, output_tokens=100)).total_cost_usd
    assert one is not None
    assert store.read(f"d:u-1@{year}-03-09").spent == Amounts(one, 1000, 100, 1)
    assert store.read(f"d:u-1@{year}-03-10").spent == Amounts(one, 1000, 100, 1)
    assert store.read(f"m:u-1@{year}-03").spent == Amounts(one * 2, 2000, 200, 2)
    assert [key for key, _, _ in store.status()] == [
        f"d:u-1@{year}-03-09",
        f"d:u-1@{year}-03-10",
        f"m:u-1@{year}-03",
    ]
    # Each key expires on its own, a day after its window ends: no cleanup job.
    ends = datetime(year, 3, 11, tzinfo=timezone.utc).timestamp()
    expires = redis_client.expiretime(f"t4:d:u-1@{year}-03-09")
    assert abs(int(expires) - ends) <= 1  # type: ignore[arg-type]


def test_a_month_budget_refuses_on_the_sum_of_earlier_days(
    redis_server: RedisServer, redis_client: redis.Redis, make_store: Any
) -> None:
    """Spend on the 1st of this month counts against a call made today."""
    store = make_store(url=redis_server.url, prefix="t5:")
    worst = worst_case()
    monthly = llmcost.budget(max_cost_usd=worst * 2, window="month", name="team", store=store)
    llmcost.configure(budgets=[monthly])
    llmcost.instrument()
    first = datetime.now(timezone.utc).replace(day=1, hour=0, minute=0, second=1)
    llmcost.record_usage(
        provider="openai", model=MODEL, input_tokens=10_000_000, output_tokens=0, timestamp=first
    )
    transport = FakeOpenAITransport()
    client = fake_openai_client(transport=transport)
    with pytest.raises(llmcost.BudgetExceeded, match="'team@"):
        client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS)
    assert transport.requests == []


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_redis_stopped_mid_run(
    own_redis: RedisServer,
    mode: str,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    """Redis down: 'open' admits and 'closed' refuses, each counted and logged once; what was
    settled before is all there when Redis comes back, and the outage's own settlements
    ('open') are sent then."""
    client = own_redis.client(timeout=0.3)
    request.addfinalizer(client.close)
    store = RedisBudgetStore(client, on_store_error=mode)  # type: ignore[arg-type]
    llmcost.configure(
        budgets=[llmcost.budget(max_cost_usd=1, name="svc", window="day", store=store)]
    )
    llmcost.instrument()
    transport = FakeOpenAITransport(usage={"input_tokens": 100, "output_tokens": 10})
    openai_client = fake_openai_client(transport=transport)

    def call() -> Any:
        return openai_client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=50)

    call()
    llmcost.flush()
    before = store.read(day_key("svc"))
    assert before.spent.calls == 1
    own_redis.stop()
    errors.reset_stats()
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="llmcost"):
        for _ in range(3):
            if mode == "open":
                call()
            else:
                with pytest.raises(BudgetStoreUnavailable, match="on_store_error='closed'"):
                    call()
    unreachable = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(unreachable) == 1
    assert errors.stats()["budget.store_errors"] >= 3
    assert len(transport.requests) == (4 if mode == "open" else 1)
    # 'open': the three calls made during the outage wait, settled, in this process.
    assert store.backlog == (3 if mode == "open" else 0)
    own_redis.start()
    after = store.read(day_key("svc"))  # Redis answers: the kept settlements are sent
    assert after.spent == before.spent  # nothing settled before the outage is lost
    assert store.backlog == 0
    outage = 3 if mode == "open" else 0
    assert store.read(day_key("svc")).spent.calls == 1 + outage
    call()
    llmcost.flush()
    assert store.read(day_key("svc")).spent.calls == 2 + outage
    assert store.read(day_key("svc")).reserved == Amounts()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    limit=st.decimals(min_value=0, max_value=1000, places=12),
    first=st.decimals(min_value=0, max_value=1000, places=12),
    second=st.decimals(min_value=0, max_value=1000, places=12),
)
def test_admission_is_exact_to_the_pico_dollar(
    redis_client: redis.Redis, limit: Decimal, first: Decimal, second: Decimal
) -> None:
    """A reservation fits iff spent + reserved + amount <= limit, exactly (no floats)."""
    store = RedisBudgetStore(redis_client, prefix=f"p:{time.monotonic_ns()}:")
    limits = Limits(cost_usd=limit)
    assert (store.reserve("k", Amounts(first, 0, 0, 1), limits) is None) == (first <= limit)
    held = first if first <= limit else Decimal(0)
    refusal = store.reserve("k", Amounts(second, 0, 0, 1), limits)
    assert (refusal is None) == (held + second <= limit)
    if refusal is not None:
        assert refusal.totals.reserved.cost_usd == held
    assert store.read("k").reserved.cost_usd == held + (second if refusal is None else 0)


def test_settlement_is_idempotent_by_record_id(redis_client: redis.Redis) -> None:
    """The same record settled twice (a retried script) is charged once."""
    store = RedisBudgetStore(redis_client, prefix="t6:")
    from llmcost.budgets._store import Entry

    entry = Entry("k", Limits(cost_usd=Decimal(1)))
    amount = Amounts(Decimal("0.5"), 10, 10, 1)
    token, refusals = store.reserve_all([entry], amount)
    assert refusals == [None]
    assert token is not None
    actual = Amounts(Decimal("0.1"), 5, 5, 1)
    store.settle_all(token, [entry], amount, actual, "rec-1")
    store.settle_all(token, [entry], amount, actual, "rec-1")
    assert store.read("k").spent == actual
    assert store.read("k").reserved == Amounts()


def test_bad_options_are_refused_by_name() -> None:
    """Options are checked when the store is made."""
    with pytest.raises(ValueError, match="on_store_error"):
        RedisBudgetStore(url="redis://127.0.0.1:1/0", on_store_error="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reservation_ttl"):
        RedisBudgetStore(url="redis://127.0.0.1:1/0", reservation_ttl=0)


def scripts_sent(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(stats.get(name, {}).get("calls", 0) for name in ("cmdstat_evalsha", "cmdstat_eval"))


def test_one_script_admits_a_call_on_every_budget_or_on_none(
    redis_client: redis.Redis, make_store: Any
) -> None:
    """Two Redis budgets on one call: one round trip each way; a refusal by the second names
    it and leaves nothing reserved on the first; an in-memory budget is released too."""
    store = make_store(redis_client, prefix="t7:")
    worst = worst_case()
    per_user = llmcost.budget(max_cost_usd=1, per="user_id", name="user", store=store)
    per_feature = llmcost.budget(
        max_cost_usd=worst * 2 + worst / 2, per="feature", name="feat", store=store
    )
    llmcost.configure(budgets=[per_user, per_feature])
    llmcost.instrument()
    estimate = tokens.estimate_request_input_tokens(
        "openai", "chat", {"model": MODEL, "messages": MESSAGES}
    )
    # Each call really costs its worst case: two fit in the feature's budget, not three.
    transport = FakeOpenAITransport(usage={"input_tokens": estimate, "output_tokens": MAX_TOKENS})
    client = fake_openai_client(transport=transport)
    request = {"model": MODEL, "messages": MESSAGES, "max_tokens": MAX_TOKENS}
    with llmcost.track_cost(user_id="u-1", feature="search"):
        client.chat.completions.create(**request)  # also loads the scripts into Redis
        before = scripts_sent(redis_client)
        client.chat.completions.create(**request)
        assert scripts_sent(redis_client) - before == 2  # admission + settlement
        with llmcost.budget(max_calls=10) as local:
            with pytest.raises(llmcost.BudgetExceeded, match="'feat:search'") as refused:
                client.chat.completions.create(**request)
            assert local.reserved_usd == 0
    assert refused.value.budget_name == "feat"
    assert len(transport.requests) == 2
    assert store.read("user:u-1").reserved == Amounts()
    assert store.read("user:u-1").spent.calls == 2
    assert store.read("feat:search").reserved == Amounts()
    assert store.read("feat:search").spent.cost_usd == worst * 2


def test_warn_mode_reserves_over_the_limit_and_counts(
    redis_client: redis.Redis, make_store: Any
) -> None:
    """on_exceed='warn' on Redis: the call goes through, the overshoot is counted."""
    store = make_store(redis_client, prefix="t8:")
    b = llmcost.budget(max_calls=1, window="day", name="w", store=store, on_exceed="warn")
    llmcost.configure(budgets=[b])
    llmcost.instrument()
    transport = FakeOpenAITransport()
    client = fake_openai_client(transport=transport)
    for _ in range(3):
        client.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=10)
    assert len(transport.requests) == 3
    assert b.exceeded_calls == 2
    assert store.read(day_key("w")).spent.calls == 3


def test_keys_without_a_window_expire_when_idle(redis_client: redis.Redis, make_store: Any) -> None:
    """A key of a budget without a window lives idle_ttl after its last use, then goes."""
    store = make_store(redis_client, prefix="t9:", idle_ttl=3600)
    llmcost.configure(budgets=[llmcost.budget(max_calls=5, per="user_id", name="n", store=store)])
    llmcost.record_usage(
        provider="openai", model=MODEL, input_tokens=1, output_tokens=1, user_id="u-9"
    )
    assert 3590 <= redis_client.ttl("t9:n:u-9") <= 3600
    assert store.read("n:u-9").spent.calls == 1


def test_kept_settlements_are_bounded_and_drops_are_counted(
    own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Past BACKLOG_LIMIT kept settlements, further ones are dropped, counted, logged once."""
    from llmcost.budgets import _redis
    from llmcost.budgets._store import Entry

    monkeypatch.setattr(_redis, "BACKLOG_LIMIT", 2)
    client = own_redis.client(timeout=0.3)
    store = RedisBudgetStore(client)
    own_redis.stop()
    entry = Entry("k", Limits(calls=10))
    errors.reset_stats()
    with caplog.at_level(logging.ERROR, logger="llmcost"):
        for number, what in enumerate(("kept", "kept", "dropped", "dropped")):
            with pytest.raises(BudgetStoreUnavailable, match=what):
                store.settle_all(None, [entry], Amounts(), Amounts(calls=1), f"r{number}")
    assert store.backlog == 2
    assert errors.stats()["budget.settlements_dropped"] == 2
    assert len([r for r in caplog.records if "dropped" in r.getMessage()]) == 1
    own_redis.start()
    assert store.read("k").spent.calls == 0  # this read sends the kept two
    assert store.read("k").spent.calls == 2
    client.close()


def test_a_settlement_after_the_reservation_expired_gives_it_back_once(
    redis_client: redis.Redis,
) -> None:
    """Whether the expiry sweep or the settlement removes an expired reservation, it is
    given back once and the real cost charged once."""
    from llmcost.budgets._store import Entry

    entry = Entry("k", Limits(cost_usd=Decimal(1)))
    reserved = Amounts(Decimal("0.4"), 100, 50, 1)
    actual = Amounts(Decimal("0.1"), 90, 20, 1)
    for swept_first in (True, False):
        store = RedisBudgetStore(redis_client, prefix=f"t10:{swept_first}:", reservation_ttl=0.05)
        token, _ = store.reserve_all([entry], reserved)
        assert token is not None
        time.sleep(0.1)
        if swept_first:
            assert store.read("k").reserved == Amounts()  # the read swept it
        store.settle_all(token, [entry], reserved, actual, "rec")
        totals = store.read("k")
        assert totals.spent == actual
        assert totals.reserved == Amounts()


def test_a_released_reservation_frees_its_room(redis_client: redis.Redis) -> None:
    """release_all gives a reservation back on every key, once."""
    from llmcost.budgets._store import Entry

    store = RedisBudgetStore(redis_client, prefix="t11:")
    entries = [Entry("a", Limits(calls=1)), Entry("b", Limits(cost_usd=Decimal("0.5")))]
    amount = Amounts(Decimal("0.5"), 10, 10, 1)
    token, refusals = store.reserve_all(entries, amount)
    assert refusals == [None, None]
    assert store.reserve_all(entries, amount)[0] is None  # both full
    store.release_all(token, entries, amount)
    store.release_all(token, entries, amount)  # a second release changes nothing
    assert store.read("a") == store.read("b") == (Amounts(), Amounts())
    assert store.reserve_all(entries, amount)[1] == [None, None]


def test_scripts_are_loaded_again_after_redis_forgets_them(
    redis_client: redis.Redis, make_store: Any
) -> None:
    """SCRIPT FLUSH (or a restarted Redis): the next call loads the scripts and goes on."""
    from llmcost.budgets._store import Entry

    store = make_store(redis_client, prefix="t12:")
    entry = Entry("k", Limits(calls=5))
    token, _ = store.reserve_all([entry], Amounts(calls=1))
    redis_client.script_flush()
    store.settle_all(token, [entry], Amounts(calls=1), Amounts(calls=1), "rec")
    redis_client.script_flush()
    assert store.reserve_all([entry], Amounts(calls=1))[1] == [None]
    assert store.read("k") == (Amounts(calls=1), Amounts(calls=1))


def test_an_admission_retried_after_it_ran_reserves_once(redis_client: redis.Redis) -> None:
    """The same admission sent twice (redis-py retries after a lost reply) reserves once."""
    from llmcost.budgets import _redis

    store = RedisBudgetStore(redis_client, prefix="t13:")
    keys = ["t13:k", "t13:k#r"]
    arg = "1|m-1:5:0:0:1|60000|5|0|0|1|3600|0|100|||||"
    for _ in range(2):
        assert store._run(store._admit, keys, arg) in (b"1", "1")
    assert store.read("k").reserved == Amounts(_redis.from_units(5), 0, 0, 1)


def test_an_overshoot_names_the_totals_before_the_call(redis_client: redis.Redis) -> None:
    """Refused or let through (warn mode), an overshoot reports the totals before the call;
    only the let-through call is reserved."""
    from llmcost.budgets._store import Entry

    store = RedisBudgetStore(redis_client, prefix="t14:")
    strict = Entry("s", Limits(cost_usd=Decimal("1.5"), calls=9))
    warn = Entry("w", Limits(cost_usd=Decimal("1.5")), force=True)
    amount = Amounts(Decimal(1), 7, 3, 1)
    assert store.reserve_all([strict, warn], amount)[1] == [None, None]
    before = (Amounts(), amount)
    token, refusals = store.reserve_all([strict, warn], amount)
    assert token is None  # the strict budget refuses: nothing reserved anywhere
    assert refusals == [
        _refusal("cost_usd", Decimal("1.5"), before),
        _refusal("cost_usd", Decimal("1.5"), before),
    ]
    token, refusals = store.reserve_all([warn], amount)
    assert token is not None  # warn mode: reserved over the limit, the overshoot named
    assert refusals == [_refusal("cost_usd", Decimal("1.5"), before)]
    assert store.read("w").reserved == amount + amount
    assert store.read("s").reserved == amount


def _refusal(dimension: str, limit: Decimal, totals: tuple[Amounts, Amounts]) -> Any:
    from llmcost.budgets._amounts import Refusal, Totals

    return Refusal(dimension, limit, Totals(*totals))


def test_the_arguments_kept_per_budget_key_are_bounded(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store kept per key the arguments that do not change, for a bounded number of keys."""
    from llmcost.budgets import _redis
    from llmcost.budgets._store import Entry

    monkeypatch.setattr(_redis, "FIXED_LIMIT", 3)
    store = RedisBudgetStore(redis_client, prefix="t15:")
    for user in range(10):
        entry = Entry(f"u-{user}", Limits(calls=1))
        assert store.reserve_all([entry], Amounts(calls=1))[1] == [None]
        assert len(store._fixed_args) <= 3
    assert store.read("u-9").reserved.calls == 1
