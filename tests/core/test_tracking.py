"""track_cost scopes: tags, nesting, cost per workflow, async tasks, threads, generators."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

import llmcost
from llmcost.sinks import MemorySink


def spend(**tags: str) -> llmcost.CostRecord:
    """One priced gpt-4o call: 1000 in, 100 out = $0.0035."""
    return llmcost.record_usage(
        provider="openai", model="gpt-4o", input_tokens=1000, output_tokens=100, **tags
    )


def test_decorator_tags_records_and_extra_kwargs_become_tags(memory_sink: MemorySink) -> None:
    """@track_cost(feature=..., user_id=..., tier=...) tags every record made inside."""

    @llmcost.track_cost(feature="support_chat", user_id="u-42", tier="pro")
    def answer() -> str:
        spend()
        return "done"

    assert answer() == "done"
    (record,) = memory_sink.records
    assert record.feature == "support_chat"
    assert record.user_id == "u-42"
    assert record.tags == {"tier": "pro"}


def test_configure_defaults_apply_and_scopes_override() -> None:
    """Project/environment/tags from configure() are defaults; scopes win over them."""
    sink = MemorySink()
    llmcost.configure(
        project="checkout", environment="production", tags={"team": "a"}, sinks=[sink]
    )
    spend()
    with llmcost.track_cost(environment="staging", tags={"team": "b", "x": "1"}):
        spend()
    outside, inside = sink.records
    assert (outside.project, outside.environment, outside.tags) == (
        "checkout",
        "production",
        {"team": "a"},
    )
    assert (inside.project, inside.environment, inside.tags) == (
        "checkout",
        "staging",
        {"team": "b", "x": "1"},
    )


def test_environment_variables_give_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """LLMCOST_PROJECT and LLMCOST_ENVIRONMENT fill in what configure() was not given."""
    monkeypatch.setenv("LLMCOST_PROJECT", "env-project")
    monkeypatch.setenv("LLMCOST_ENVIRONMENT", "env-environment")
    llmcost.configure()
    record = spend()
    assert (record.project, record.environment) == ("env-project", "env-environment")
    llmcost.configure(project="explicit")
    assert spend().project == "explicit"


def test_nested_scopes_inherit_and_inner_wins(memory_sink: MemorySink) -> None:
    """Inner scopes inherit outer tags; where both set a value, the inner one wins."""
    with llmcost.track_cost(feature="outer", user_id="u-1", tags={"a": "1", "b": "1"}):
        with llmcost.track_cost(feature="inner", tags={"b": "2"}):
            spend()
        spend()
    inner, outer = memory_sink.records
    assert (inner.feature, inner.user_id, inner.tags) == ("inner", "u-1", {"a": "1", "b": "2"})
    assert (outer.feature, outer.user_id, outer.tags) == ("outer", "u-1", {"a": "1", "b": "1"})


def test_every_enclosing_scope_counts_every_record(memory_sink: MemorySink) -> None:
    """Cost per workflow: an outer scope's totals include the inner scopes' records."""
    with llmcost.track_cost(feature="workflow") as outer:
        with llmcost.track_cost(feature="step1") as step1:
            spend()
        with llmcost.track_cost(feature="step2") as step2:
            spend()
            spend()
    assert (step1.calls, step2.calls, outer.calls) == (1, 2, 3)
    assert step1.total_cost_usd == Decimal("0.0035")
    assert outer.total_cost_usd == Decimal("0.0105")
    assert outer.total_cost_usd == step1.total_cost_usd + step2.total_cost_usd
    assert (outer.input_tokens, outer.output_tokens) == (3000, 300)
    assert outer.records == memory_sink.records


def test_unpriced_records_are_counted_apart(memory_sink: MemorySink) -> None:
    """A record without a price adds to unpriced_calls, never to the dollar total."""
    llmcost.configure(sinks=[memory_sink], unknown_model="ignore")
    with llmcost.track_cost() as scope:
        spend()
        llmcost.record_usage(provider="acme", model="mystery-1", input_tokens=10)
    assert scope.calls == 2
    assert scope.unpriced_calls == 1
    assert scope.total_cost_usd == Decimal("0.0035")


def test_each_decorated_call_gets_a_fresh_scope(memory_sink: MemorySink) -> None:
    """A decorated function's scope starts empty on every invocation."""
    scopes: list[llmcost.CostScope] = []

    @llmcost.track_cost(feature="f")
    def work() -> None:
        spend()

    with llmcost.track_cost() as outer:
        work()
        work()
    scopes.append(outer)
    assert outer.calls == 2
    assert [r.feature for r in memory_sink.records] == ["f", "f"]


async def test_async_decorator_and_async_with(memory_sink: MemorySink) -> None:
    """Async functions and `async with` scopes tag their records too."""

    @llmcost.track_cost(feature="async_feature")
    async def work() -> int:
        await asyncio.sleep(0)
        spend()
        return 7

    async with llmcost.track_cost(project="p") as scope:
        assert await work() == 7
    (record,) = memory_sink.records
    assert (record.feature, record.project) == ("async_feature", "p")
    assert scope.calls == 1


async def test_scopes_follow_into_asyncio_tasks(memory_sink: MemorySink) -> None:
    """Tasks created inside a scope inherit it (contextvars copy on task creation)."""

    async def child(name: str) -> None:
        await asyncio.sleep(0)
        with llmcost.track_cost(tags={"child": name}):
            spend()

    with llmcost.track_cost(feature="fanout") as scope:
        await asyncio.gather(*(child(str(i)) for i in range(5)))
    assert scope.calls == 5
    assert {r.feature for r in memory_sink.records} == {"fanout"}
    assert sorted(r.tags["child"] for r in memory_sink.records) == ["0", "1", "2", "3", "4"]


def test_threads_need_bind_context(memory_sink: MemorySink) -> None:
    """A plain thread does not see the scope; bind_context carries it across."""
    with llmcost.track_cost(feature="threaded") as scope, ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: spend(), range(3)))
        list(pool.map(llmcost.bind_context(lambda _: spend()), range(20)))
    features = [r.feature for r in memory_sink.records]
    assert features.count(None) == 3
    assert features.count("threaded") == 20
    assert scope.calls == 20
    assert scope.total_cost_usd == Decimal("0.0035") * 20


def test_bound_function_runs_concurrently_in_many_threads(memory_sink: MemorySink) -> None:
    """The same bound function may run in several threads at once."""
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait(timeout=5)
        spend()

    with llmcost.track_cost(feature="parallel") as scope:
        bound = llmcost.bind_context(work)
        threads = [threading.Thread(target=bound) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert scope.calls == 4


def test_partly_consumed_generator_scope(memory_sink: MemorySink) -> None:
    """A decorated generator tags the calls its own code makes, not its consumer's."""

    @llmcost.track_cost(feature="gen")
    def produce() -> object:
        for _ in range(3):
            spend()
            yield "item"

    gen = produce()
    assert next(gen) == "item"
    spend()  # the consumer's call, between two steps of the generator
    assert next(gen) == "item"
    gen.close()  # partly consumed: the third call never happens
    assert [r.feature for r in memory_sink.records] == ["gen", None, "gen"]


def test_generator_send_throw_and_return_value(memory_sink: MemorySink) -> None:
    """send(), throw() and the return value pass through the decorated generator."""

    @llmcost.track_cost(feature="gen")
    def echo() -> object:
        received = []
        try:
            while True:
                value = yield len(received)
                received.append(value)
        except KeyError:
            spend()
            return received

    gen = echo()
    assert next(gen) == 0
    assert gen.send("a") == 1
    with pytest.raises(StopIteration) as stop:
        gen.throw(KeyError("stop"))
    assert stop.value.value == ["a"]
    assert memory_sink.records[0].feature == "gen"


async def test_async_generator_scope(memory_sink: MemorySink) -> None:
    """A decorated async generator tags its own calls and can be closed early."""

    @llmcost.track_cost(feature="agen")
    async def produce() -> object:
        for i in range(3):
            spend()
            yield i

    agen = produce()
    assert await agen.__anext__() == 0
    spend()
    assert await agen.__anext__() == 1
    await agen.aclose()
    assert [r.feature for r in memory_sink.records] == ["agen", None, "agen"]


def test_scope_exits_on_exception(memory_sink: MemorySink) -> None:
    """An exception leaves the scope: calls after it are no longer tagged."""

    def fail_inside_scope() -> None:
        with llmcost.track_cost(feature="boom"):
            spend()
            raise RuntimeError("user error")

    with pytest.raises(RuntimeError):
        fail_inside_scope()
    spend()
    assert [r.feature for r in memory_sink.records] == ["boom", None]


async def test_one_scope_object_open_in_many_tasks_at_once(memory_sink: MemorySink) -> None:
    """A module-level scope entered by concurrent tasks never crashes and tags each task."""
    shared = llmcost.track_cost(feature="shared")

    async def task() -> None:
        async with shared:
            await asyncio.sleep(0)
            spend()
            await asyncio.sleep(0)
        spend()  # after leaving: untagged in this task, whatever the others do

    await asyncio.gather(*(task() for _ in range(10)))
    features = [r.feature for r in memory_sink.records]
    assert features.count("shared") == 10
    assert features.count(None) == 10
    assert shared.calls == 10


def test_one_scope_object_open_in_many_threads(memory_sink: MemorySink) -> None:
    """The same scope object may be open in several threads at once."""
    shared = llmcost.track_cost(feature="shared")
    barrier = threading.Barrier(4)

    def work() -> None:
        with shared:
            barrier.wait(timeout=5)
            spend()
        spend()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.feature for r in memory_sink.records].count("shared") == 4
    assert shared.calls == 4


@pytest.mark.parametrize(
    ("keyword", "meant"),
    [("feture", "feature"), ("userid", "user_id"), ("enviroment", "environment")],
)
def test_track_cost_refuses_a_near_miss_of_a_parameter(keyword: str, meant: str) -> None:
    """A typo of a parameter is refused with the likely name, not taken as a tag."""
    with pytest.raises(TypeError, match=f"did you mean '{meant}'"):
        llmcost.track_cost(**{keyword: "chat"})


def test_track_cost_still_takes_free_form_tags() -> None:
    """Genuine tag names pass, and tags={...} takes any name, near misses included."""
    with llmcost.track_cost(feature="chat", tier="pro", project_id="p1") as scope:
        pass
    assert scope.tags == {"tier": "pro", "project_id": "p1"}
    with llmcost.track_cost(tags={"feture": "x"}) as scope:
        pass
    assert scope.tags == {"feture": "x"}


@pytest.mark.parametrize(
    ("keyword", "meant"),
    [("cache_read", "cache_read_tokens"), ("userid", "user_id"), ("feture", "feature")],
)
def test_record_usage_refuses_a_near_miss(
    memory_sink: MemorySink, keyword: str, meant: str
) -> None:
    """record_usage(cache_read=50) would have priced 50 cached tokens as fresh input."""
    with pytest.raises(TypeError, match=f"did you mean '{meant}'"):
        llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=100, **{keyword: 50})
    assert memory_sink.records == []


def test_long_lived_scopes_and_budgets_keep_totals_not_every_record(
    memory_sink: MemorySink,
) -> None:
    """Memory is bounded: the newest 1,000 records are kept, the totals count every call."""
    with llmcost.track_cost(feature="batch") as scope, llmcost.budget(max_cost_usd=100) as budget:
        made = [
            llmcost.record_usage(provider="openai", model="gpt-4o-mini", input_tokens=100)
            for _ in range(1005)
        ]
    assert scope.calls == budget.calls == 1005
    assert [r.record_id for r in scope.records] == [r.record_id for r in made[5:]]
    assert len(budget.records) == 1000
    assert scope.total_cost_usd == budget.spent_usd == sum(r.total_cost_usd for r in made)
    with llmcost.track_cost(keep_records=True) as everything:
        for _ in range(1002):
            llmcost.record_usage(provider="openai", model="gpt-4o-mini", input_tokens=1)
    assert len(everything.records) == 1002
    with llmcost.track_cost(keep_records=False) as none:
        llmcost.record_usage(provider="openai", model="gpt-4o-mini", input_tokens=1)
    assert (none.calls, none.records) == (1, [])
    with pytest.raises(TypeError, match="keep_records"):
        llmcost.track_cost(keep_records=-1)
