"""The pytest plugin, driven through pytester: fixture, marker, options, summary, JSON, xdist.

Inner runs happen in-process (fast) with ``-W error``, so a warning from the plugin fails them.
Money in the inner tests comes from ``llmcost.record_usage`` (the same recorder the SDK
integrations use) with catalog prices: gpt-4o-mini at $0.15 / $0.60 per million input /
output tokens, so ``spend()`` (1,000 in, 200 out) costs exactly $0.00027.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmcost
from llmcost import pytest_plugin
from llmcost.pytest_plugin._limits import _usd
from llmcost.pytest_plugin._tally import _Tally
from llmcost.types import CostRecord

pytest_plugins = ["pytester"]

HELPERS = """
import threading
from decimal import Decimal

import pytest

import llmcost


def spend(model="gpt-4o-mini", input_tokens=1000, output_tokens=200, **fields):
    return llmcost.record_usage(
        provider="openai", model=model, input_tokens=input_tokens,
        output_tokens=output_tokens, **fields
    )
"""

ONE_CALL = Decimal("0.00027")  # spend() with its defaults


# pytest-asyncio, when installed, warns about its own unset option in runs that turn every
# warning into an error; hypothesis and coverage take seconds to import in each xdist worker
# and subprocess. None of them is needed by the inner runs.
QUIET = (
    "-p", "no:cacheprovider", "-p", "no:asyncio", "-p", "no:hypothesispytest",
    "-p", "no:pytest_cov", "-p", "no:anyio", "-W", "error",
)  # fmt: skip


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*QUIET, *args)


def write(pytester: pytest.Pytester, body: str, name: str = "test_inner") -> None:
    pytester.makepyfile(**{name: HELPERS + body})


def call_phase_failures(pytester: pytest.Pytester, *args: str) -> dict[str, str]:
    """Run in-process and map each failed test to the phase it failed in."""
    reprec = pytester.inline_run(*QUIET, *args)
    return {
        report.nodeid.split("::")[-1]: report.when
        for report in reprec.getreports("pytest_runtest_logreport")
        if report.failed
    }


# --- the llm_cost fixture ---------------------------------------------------------------------


def test_fixture_totals_records_and_groupings(pytester: pytest.Pytester) -> None:
    """The fixture sees exactly the calls of its test, grouped exactly by model and feature."""
    write(
        pytester,
        """
def test_one(llm_cost):
    spend(feature="search")
    spend(feature="search")
    spend(model="gpt-4o", input_tokens=1000, output_tokens=100, feature="chat")
    spend(input_tokens=10, output_tokens=0)
    assert llm_cost.calls == 4
    assert len(llm_cost.records) == 4
    assert llm_cost.total_usd == Decimal("0.00054") + Decimal("0.0035") + Decimal("0.0000015")
    assert llm_cost.by_model() == {
        "gpt-4o": Decimal("0.0035"), "gpt-4o-mini": Decimal("0.0005415")
    }
    assert list(llm_cost.by_feature()) == ["chat", "search", None]
    assert llm_cost.by_feature()["search"] == Decimal("0.00054")
    assert llm_cost.total_tokens == 3 * 1000 + 2 * 200 + 100 + 10
    assert llm_cost.live_usd == llm_cost.total_usd and llm_cost.replayed_usd == 0
    llm_cost.assert_under(usd="0.005", tokens=4000, calls=4)

def test_two_starts_empty(llm_cost):
    assert llm_cost.calls == 0 and llm_cost.total_usd == 0
    spend()
    assert llm_cost.total_usd == Decimal("0.00027")
""",
    )
    result = run(pytester)
    result.assert_outcomes(passed=2)


def test_fixture_counts_calls_from_other_threads_and_from_setup(pytester: pytest.Pytester) -> None:
    """Calls made by fixtures and by worker threads belong to the test."""
    write(
        pytester,
        """
@pytest.fixture
def warmed_up():
    spend(feature="warmup")

def test_threads(warmed_up, llm_cost):
    workers = [threading.Thread(target=spend) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert llm_cost.calls == 4
    assert llm_cost.by_feature()["warmup"] == Decimal("0.00027")
""",
    )
    run(pytester).assert_outcomes(passed=1)


def test_assert_under_failure_lists_the_costliest_calls_first(pytester: pytest.Pytester) -> None:
    """The failure message says which limit broke and lists the costliest calls first."""
    write(
        pytester,
        """
def test_over(llm_cost):
    spend(feature="cheap")
    spend(model="gpt-4o", input_tokens=100000, output_tokens=5000, feature="report")
    llm_cost.assert_under(usd=0.01)
""",
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*LLM cost limit exceeded: cost $0.30027 is over the $0.01 limit",
            "*costliest calls:",
            "*$0.30  openai chat gpt-4o feature=report  100,000 in / 5,000 out",
            "*$0.00027  openai chat gpt-4o-mini feature=cheap  1,000 in / 200 out",
        ]
    )


def test_assert_under_tokens_and_calls_limits(pytester: pytest.Pytester) -> None:
    """Token and call limits fail on their own, each named in the message."""
    write(
        pytester,
        """
def test_tokens(llm_cost):
    spend()
    llm_cost.assert_under(tokens=1199)

def test_calls(llm_cost):
    spend()
    spend()
    llm_cost.assert_under(calls=1)

def test_exactly_at_the_limits_passes(llm_cost):
    spend()
    llm_cost.assert_under(usd="0.00027", tokens=1200, calls=1)
""",
    )
    result = run(pytester)
    result.assert_outcomes(failed=2, passed=1)
    result.stdout.fnmatch_lines(["*1,200 tokens is over the 1,199 token limit*"])
    result.stdout.fnmatch_lines(["*2 calls is over the 1 call limit*"])


def test_assert_under_fails_when_a_call_has_no_price(pytester: pytest.Pytester) -> None:
    """An unknown price is never $0: a dollar ceiling cannot be shown to hold."""
    write(
        pytester,
        """
def test_unpriced(llm_cost):
    spend(model="no-such-model-x")
    assert llm_cost.total_usd == 0 and len(llm_cost.unpriced) == 1
    llm_cost.assert_under(usd=1)
""",
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*1 call(s) have no price*'no-such-model-x' (openai)*"])


def test_assert_under_rejects_bad_limits() -> None:
    """Bad limits are errors that name the argument, not silent passes."""
    capture = pytest_plugin.LLMCost()
    with pytest.raises(ValueError, match="at least one"):
        capture.assert_under()
    with pytest.raises(ValueError, match="usd"):
        capture.assert_under(usd="lots")
    with pytest.raises(ValueError, match="usd"):
        capture.assert_under(usd=-1)
    with pytest.raises(ValueError, match="tokens"):
        capture.assert_under(tokens=1.5)  # type: ignore[arg-type]
    capture.assert_under(usd=0, tokens=0, calls=0)  # nothing spent, nothing over


# --- the llm_budget marker --------------------------------------------------------------------


def test_marker_fail_mode_fails_in_the_call_phase(pytester: pytest.Pytester) -> None:
    """An over-budget test is a failure of its call phase, never a teardown error."""
    write(
        pytester,
        """
@pytest.mark.llm_budget(usd=0.0005)
def test_under():
    spend()

@pytest.mark.llm_budget(usd=0.0005)
def test_over():
    spend()
    spend()

@pytest.mark.llm_budget(calls=1, tokens=10**6)
def test_too_many_calls():
    spend()
    spend()

@pytest.mark.llm_budget(0.0001)
def test_positional_usd():
    spend()

@pytest.mark.llm_budget(usd=0.0001)
def test_own_failure_wins():
    spend()
    assert False, "the test's own failure"
""",
    )
    assert call_phase_failures(pytester) == {
        "test_over": "call",
        "test_too_many_calls": "call",
        "test_positional_usd": "call",
        "test_own_failure_wins": "call",
    }
    result = run(pytester)
    result.stdout.fnmatch_lines(["*LLM budget exceeded: cost $0.00054 is over the $0.0005 limit"])
    result.stdout.fnmatch_lines(["*the test's own failure*"])
    assert "ERROR at teardown" not in result.stdout.str()


def test_marker_reject_mode_refuses_the_call_before_it_is_sent(pytester: pytest.Pytester) -> None:
    """mode="reject" runs the test inside llmcost.budget: the over-budget call never leaves.

    Real Anthropic SDK client on a fake transport: claude-sonnet-4-6 with 2,000 input and 400
    output tokens costs $0.012 a call; a call's worst case (1,024 output tokens) is ~$0.0154.
    """
    write(
        pytester,
        """
from llmcost.testing import FakeAnthropicTransport, fake_anthropic_client

def agent(transport, steps):
    client = fake_anthropic_client(transport=transport)
    for step in range(steps):
        client.messages.create(
            model="claude-sonnet-4-6", max_tokens=1024,
            messages=[{"role": "user", "content": f"step {step}"}],
        )

@pytest.mark.llm_budget(usd=0.03, mode="reject")
def test_refused_and_caught(llm_cost):
    transport = FakeAnthropicTransport(usage={"input_tokens": 2000, "output_tokens": 400})
    with pytest.raises(llmcost.BudgetExceeded):
        agent(transport, steps=10)
    # Two calls fit ($0.024 spent); the third's worst case does not: it was never sent.
    assert len(transport.requests) == llm_cost.calls == 2
    assert llm_cost.total_usd == Decimal("0.024")
    assert llm_cost.records[0].replayed

@pytest.mark.llm_budget(usd=0.03, mode="reject")
def test_refused_and_not_caught():
    agent(FakeAnthropicTransport(usage={"input_tokens": 2000, "output_tokens": 400}), steps=10)

@pytest.mark.llm_budget(usd=0.03, calls=2, mode="reject")
def test_within_budget():
    agent(FakeAnthropicTransport(usage={"input_tokens": 2000, "output_tokens": 400}), steps=1)
""",
    )
    assert call_phase_failures(pytester) == {"test_refused_and_not_caught": "call"}
    result = run(pytester)
    result.stdout.fnmatch_lines(["*BudgetExceeded: llmcost budget*refused the anthropic messages*"])
    result.stdout.fnmatch_lines(["*replayed*$0.06  5 call(s) answered by fake transports*"])


def test_marker_on_a_class_applies_to_its_tests(pytester: pytest.Pytester) -> None:
    """The marker works at class (and module) level like any marker."""
    write(
        pytester,
        """
@pytest.mark.llm_budget(usd=0.0003)
class TestFeature:
    def test_cheap(self):
        spend()

    def test_dear(self):
        spend(output_tokens=1000)
""",
    )
    run(pytester).assert_outcomes(passed=1, failed=1)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("llm_budget()", "give at least one of usd=, tokens=, calls="),
        ("llm_budget(usd='ten')", "llm_budget usd: expected a dollar amount"),
        ("llm_budget(usd=1, mode='warn')", "mode must be 'fail' or 'reject'"),
        ("llm_budget(usd=1, dollars=2)", "unknown argument(s) dollars"),
        ("llm_budget(calls=-1)", "llm_budget calls: expected a non-negative whole number"),
    ],
)
def test_marker_with_bad_arguments_is_a_clear_error(
    pytester: pytest.Pytester, marker: str, message: str
) -> None:
    """A malformed marker is an error of its test, before it runs, naming what is wrong."""
    write(
        pytester,
        f"\n@pytest.mark.{marker}\ndef test_bad():\n    spend()\n\ndef test_good(llm_cost):\n"
        "    pass\n",
    )
    result = run(pytester)
    result.assert_outcomes(errors=1, passed=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_bad*", f"*{message}*"])
    assert "Traceback" not in result.stdout.str()


def test_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    """--strict-markers accepts llm_budget, and `pytest --markers` documents it."""
    write(pytester, "\n@pytest.mark.llm_budget(usd=1)\ndef test_it():\n    spend()\n")
    run(pytester, "--strict-markers").assert_outcomes(passed=1)
    result = run(pytester, "--markers")
    result.stdout.fnmatch_lines(["*llm_budget(usd=None, tokens=None, calls=None, mode='fail')*"])


# --- options ----------------------------------------------------------------------------------


def test_per_test_budget_option_and_marker_override(pytester: pytest.Pytester) -> None:
    """--llm-budget-per-test applies to every test; a marker on a test overrides it."""
    write(
        pytester,
        """
def test_cheap():
    spend()

def test_dear():
    spend()
    spend()

@pytest.mark.llm_budget(usd=0.001)
def test_allowed_more():
    spend()
    spend()
""",
    )
    assert call_phase_failures(pytester, "--llm-budget-per-test=0.0003") == {"test_dear": "call"}


def test_per_test_budget_from_the_ini_file(pytester: pytest.Pytester) -> None:
    """Every option is also an ini setting."""
    pytester.makeini("[pytest]\nllm_budget_per_test = 0.0003\n")
    write(pytester, "\ndef test_dear():\n    spend()\n    spend()\n")
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*over the $0.0003 limit*"])


def test_command_line_wins_over_the_ini_file(pytester: pytest.Pytester) -> None:
    """An option given on the command line overrides the ini setting."""
    pytester.makeini("[pytest]\nllm_budget_per_test = 0.0003\n")
    write(pytester, "\ndef test_dear():\n    spend()\n    spend()\n")
    run(pytester, "--llm-budget-per-test=$1").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--llm-budget=cheap", "--llm-budget: expected a dollar amount such as 0.50, got 'cheap'"),
        ("--llm-budget-per-test=-2", "--llm-budget-per-test: expected a non-negative"),
        ("--llmcost-report=loud", "--llmcost-report: expected one of off|summary|full"),
        ("--llmcost-unpriced=ignore", "--llmcost-unpriced: expected one of warn|fail"),
    ],
)
def test_bad_option_values_are_usage_errors(
    pytester: pytest.Pytester, option: str, message: str
) -> None:
    """A bad option value stops pytest before any test runs, naming the option."""
    write(pytester, "\ndef test_it():\n    spend()\n")
    result = run(pytester, option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_session_budget_stops_the_run_and_fails_it(pytester: pytest.Pytester) -> None:
    """Once the session is over budget no further test starts, and the run fails."""
    write(
        pytester,
        """
def test_1():
    spend()

def test_2():
    spend()

def test_3():
    spend()
""",
    )
    result = run(pytester, "--llm-budget=0.0005")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2)  # test_3 never ran
    result.stdout.fnmatch_lines(
        [
            "*session total $0.00054 for 2 call(s) in 2 tracked test(s), 108.0% of the $0.0005*",
            "*OVER BUDGET*",
        ]
    )


def test_session_budget_within_limits_reports_its_share(pytester: pytest.Pytester) -> None:
    """Under budget the run passes and the summary says how much of the budget was used."""
    write(pytester, "\ndef test_1():\n    spend()\n\ndef test_2():\n    spend()\n")
    result = run(pytester, "--llm-budget=0.001")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*session total $0.00054 for 2 call(s)*54.0% of the $0.001*"])
    assert "OVER BUDGET" not in result.stdout.str()


def test_unpriced_warn_lists_them_and_fail_fails_the_test(pytester: pytest.Pytester) -> None:
    """--llmcost-unpriced=warn (default) lists unpriced calls; =fail fails their test."""
    write(pytester, '\ndef test_mystery(llm_cost):\n    spend(model="mystery-model-1")\n')
    warned = run(pytester)
    warned.assert_outcomes(passed=1)
    warned.stdout.fnmatch_lines(
        [
            "*unpriced     1 call(s)  test_inner.py::test_mystery",
            "*unpriced calls: 1 (mystery-model-1 (openai) x1); their cost is unknown*",
        ]
    )
    failed = run(pytester, "--llmcost-unpriced=fail")
    failed.assert_outcomes(failed=1)
    failed.stdout.fnmatch_lines(["*calls to models with no price ('mystery-model-1' (openai))*"])


def test_summary_shows_tests_models_features_replayed_and_catalog(
    pytester: pytest.Pytester,
) -> None:
    """The summary ranks tests, models and features, and keeps replayed spend apart."""
    write(
        pytester,
        """
def test_live(llm_cost):
    spend(feature="search")

def test_replayed(llm_cost):
    spend(model="gpt-4o", feature="chat", replayed=True)
""",
    )
    result = run(pytester)
    result.stdout.fnmatch_lines(
        [
            "*= llmcost: LLM call cost =*",
            "session total $0.00477 for 2 call(s) in 2 tracked test(s)",
            "  live spend*$0.00027  1 call(s)",
            "  replayed*$0.0045  1 call(s) answered by fake transports or recordings*",
            "costliest tests:",
            "*$0.0045     1 call(s)  test_inner.py::test_replayed",
            "*$0.00027     1 call(s)  test_inner.py::test_live",
            "by model:",
            "*$0.0045     1 call(s)  gpt-4o",
            "*$0.00027     1 call(s)  gpt-4o-mini",
            "by feature:",
            "*$0.0045     1 call(s)  chat",
            "*$0.00027     1 call(s)  search",
            "price catalog: *",
        ]
    )


def test_report_off_full_and_the_default(pytester: pytest.Pytester) -> None:
    """off prints nothing; summary shows the 5 costliest tests; full shows all of them."""
    body = "".join(f"\ndef test_{n}(llm_cost):\n    spend(output_tokens={n})\n" for n in range(7))
    write(pytester, body)
    assert "LLM call cost" not in run(pytester, "--llmcost-report=off").stdout.str()
    summary = run(pytester).stdout.str()
    assert "test_inner.py::test_6" in summary
    assert "test_inner.py::test_1\n" not in summary
    assert "2 more with --llmcost-report=full" in summary
    full = run(pytester, "--llmcost-report=full").stdout.str()
    assert all(f"test_inner.py::test_{n}\n" in full for n in range(7))


def test_untracked_runs_are_silent_and_do_not_switch_llmcost_on(
    pytester: pytest.Pytester,
) -> None:
    """Without the fixture, the marker or an option, the plugin does nothing at all."""
    pytester.makepyfile(
        test_plain="""
import sys

def test_plain():
    assert "llmcost._recorder" not in sys.modules
    assert "pydantic" not in sys.modules
    assert "openai" not in sys.modules
"""
    )
    result = pytester.runpytest_subprocess(*QUIET)
    result.assert_outcomes(passed=1)
    assert "LLM call cost" not in result.stdout.str()


def test_json_results_per_test_are_exact(pytester: pytest.Pytester) -> None:
    """--llmcost-json writes per-test results; money is an exact JSON number."""
    write(
        pytester,
        """
def test_a():
    spend(feature="search")
    spend(feature="search")

def test_b():
    spend(model="gpt-4o", feature="chat", replayed=True)

def test_c():
    spend(model="mystery-model-2")
    assert False

def test_d():
    pass
""",
    )
    run(pytester, "--llmcost-json=out/costs.json", "--llm-budget=1")
    document = json.loads(
        (pytester.path / "out" / "costs.json").read_text(encoding="utf-8"), parse_float=Decimal
    )
    tests = {entry["nodeid"].split("::")[-1]: entry for entry in document["tests"]}
    assert list(tests) == ["test_a", "test_b", "test_c", "test_d"]
    assert tests["test_a"]["total_usd"] == Decimal("0.00054")
    assert tests["test_a"]["by_feature"] == [
        {"feature": "search", "usd": Decimal("0.00054"), "calls": 2, "unpriced_calls": 0}
    ]
    assert tests["test_b"]["replayed_usd"] == Decimal("0.0045")
    assert tests["test_b"]["live_usd"] == 0
    assert tests["test_c"]["outcome"] == "failed"
    assert tests["test_c"]["unpriced_calls"] == 1
    assert tests["test_c"]["by_model"][0]["usd"] is None
    assert tests["test_d"] == {**tests["test_d"], "outcome": "passed", "calls": 0}
    assert document["total_usd"] == Decimal("0.00504")
    assert document["live_usd"] == Decimal("0.00054")
    assert document["budget_usd"] == 1
    assert document["over_budget"] is False
    assert document["unpriced_models"] == {"mystery-model-2 (openai)": 1}
    assert document["catalog_versions"]


def test_xdist_controller_aggregates_the_workers_and_enforces_the_session_budget(
    pytester: pytest.Pytester,
) -> None:
    """Under pytest-xdist each worker's per-test totals reach the controller, which writes the
    JSON, prints the summary and stops the run once the whole session is over budget."""
    pytest.importorskip("xdist")
    body = "".join(f"\ndef test_{n}():\n    spend(feature='f{n % 2}')\n" for n in range(12))
    write(pytester, body)
    result = run(pytester, "-p", "xdist", "-n", "2", "--llm-budget=0.0015", "--llmcost-json=c.json")
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*OVER BUDGET*"])
    document = json.loads((pytester.path / "c.json").read_text(), parse_float=Decimal)
    finished = len(document["tests"])
    assert 6 <= finished < 12  # over budget after the 6th call; in-flight tests may finish
    assert document["over_budget"] is True
    assert document["total_usd"] == finished * ONE_CALL
    assert sum(row["calls"] for row in document["by_feature"]) == finished
    result.stdout.fnmatch_lines([f"*session total {_usd(finished * ONE_CALL)} *"])


# --- internals: money stays exact across the trip from the workers ----------------------------

_records = st.lists(
    st.builds(
        CostRecord,
        provider=st.sampled_from(["openai", "anthropic"]),
        operation=st.just("chat"),
        model=st.sampled_from(["m1", "m2", None]),
        feature=st.sampled_from(["a", "b", None]),
        input_tokens=st.integers(0, 10**6),
        output_tokens=st.integers(0, 10**6),
        total_cost_usd=st.none() | st.decimals(min_value=0, max_value=100, places=9),
        replayed=st.booleans(),
    ),
    max_size=8,
)


@settings(max_examples=50, deadline=None)
@given(_records, _records)
def test_tallies_merged_from_payloads_equal_the_tally_of_all_records(
    first: list[CostRecord], second: list[CostRecord]
) -> None:
    """Splitting records across tests (and workers) never changes a total by a fraction."""
    merged = _Tally.of(first)
    merged_payload = _Tally.from_payload(_Tally.of(second).to_payload())
    merged.merge(merged_payload)
    whole = _Tally.of(first + second)
    assert merged.to_json() == whole.to_json()
    priced = [r.total_cost_usd for r in first + second if r.total_cost_usd is not None]
    assert whole.total_usd == sum(priced, Decimal(0))


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal(0), "$0.00"),
        (Decimal("0.00027"), "$0.00027"),
        (Decimal("12.5"), "$12.50"),
        (Decimal("1234.5678"), "$1,234.5678"),
        (Decimal("0.00000128"), "$0.00000128"),
        (Decimal("0E-8"), "$0.00"),
        (Decimal("3"), "$3.00"),
    ],
)
def test_usd_formatting(amount: Decimal, text: str) -> None:
    """Amounts print exactly, never with fewer than two decimals."""
    assert _usd(amount) == text


def test_importing_the_plugin_is_cheap() -> None:
    """The plugin loads in every pytest run: it must not import an SDK or the recorder."""
    code = (
        "import sys, llmcost.pytest_plugin; "
        "heavy = [m for m in ('openai', 'anthropic', 'tiktoken', 'opentelemetry', 'httpx2', "
        "'llmcost._recorder', 'pydantic') if m in sys.modules]; print(heavy)"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_llmcost_stays_configured_as_the_user_left_it(pytester: pytest.Pytester) -> None:
    """The fixture switches llmcost on only if it is off, keeping the user's configuration."""
    write(
        pytester,
        """
sink = llmcost.sinks.MemorySink()

@pytest.fixture(autouse=True)
def configured():
    llmcost.configure(project="mine", sinks=[sink])

def test_it(llm_cost):
    spend()
    assert llm_cost.records[0].project == "mine"
    assert len(sink) == 1
""",
    )
    run(pytester).assert_outcomes(passed=1)
    llmcost.reset()
