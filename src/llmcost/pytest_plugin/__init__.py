"""The llmcost pytest plugin: LLM cost ceilings for tests, and a cost summary of the run.

Loaded through the ``pytest11`` entry point whenever llmcost is installed, and inert unless
used: it only registers its marker, options and fixture. A test is *tracked* (its LLM calls are
collected, from the start of its setup to the end of its teardown) when it uses the
``llm_cost`` fixture or the ``llm_budget`` marker, or when any llmcost option is given, in
which case every test is tracked.

Example:
    .. code-block:: python

        import pytest


        def test_summary_is_cheap(llm_cost):
            summarize("a long text")
            llm_cost.assert_under(usd=0.01)


        @pytest.mark.llm_budget(usd=0.05, mode="reject")
        def test_agent_stays_in_budget():
            run_agent()  # the call that would overshoot raises llmcost.BudgetExceeded, unsent

Options (each also an ini setting): ``--llm-budget=USD`` (the whole session),
``--llm-budget-per-test=USD``, ``--llmcost-report=off|summary|full``,
``--llmcost-json=PATH`` (per-test results) and ``--llmcost-unpriced=warn|fail``.

Under pytest-xdist each worker tracks its own tests; the per-test totals travel to the
controller on the test reports (``user_properties``), and the controller aggregates them,
prints the summary, writes the JSON file and enforces the session budget.

Importing this module imports no SDK, tokenizer, HTTP client or OpenTelemetry, nor even the
llmcost recorder: that is imported when the first tracked test starts.
"""

from __future__ import annotations

import pytest

from llmcost.pytest_plugin._capture import LLMCost
from llmcost.pytest_plugin._seams import activate
from llmcost.pytest_plugin._session import _PLUGIN_KEY, _CostPlugin
from llmcost.pytest_plugin._settings import _Settings

__all__ = ["LLMCost"]

_MARKER_DOC = (
    "llm_budget(usd=None, tokens=None, calls=None, mode='fail'): fail the test when its LLM "
    "calls cost more than usd dollars, tokens tokens or calls calls; mode='reject' runs it "
    "inside llmcost.budget() so the over-budget call is refused before it is sent."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmcost", "LLM call cost (llmcost)")
    options = (
        (
            "--llm-budget",
            "llm_budget",
            "USD",
            "fail the run, stopping after the test that crossed it, when the LLM calls of the "
            "whole session cost more than USD dollars",
        ),
        (
            "--llm-budget-per-test",
            "llm_budget_per_test",
            "USD",
            "fail every test whose LLM calls cost more than USD dollars (an llm_budget marker "
            "overrides it)",
        ),
        (
            "--llmcost-report",
            "llmcost_report",
            "off|summary|full",
            "the LLM cost summary at the end of the run (default: summary, shown when a "
            "tracked test made LLM calls)",
        ),
        ("--llmcost-json", "llmcost_json", "PATH", "write per-test LLM cost results to PATH"),
        (
            "--llmcost-unpriced",
            "llmcost_unpriced",
            "warn|fail",
            "what a call to a model with no known price does: listed in the summary (warn, "
            "the default) or fails its test (fail)",
        ),
        (
            "--llmcost-save-baseline",
            "llmcost_save_baseline",
            "FILE",
            "write each tracked test's LLM calls, tokens and cost (in total and per feature) "
            "to FILE, a baseline for --llmcost-compare-baseline",
        ),
        (
            "--llmcost-compare-baseline",
            "llmcost_compare_baseline",
            "FILE",
            "fail the tests whose LLM tokens or cost grew more than --llmcost-max-increase "
            "against the baseline FILE",
        ),
        (
            "--llmcost-max-increase",
            "llmcost_max_increase",
            "PERCENT",
            "the growth against the baseline that fails a test (default: 10%)",
        ),
    )
    for flag, dest, metavar, text in options:
        group.addoption(flag, action="store", dest=dest, metavar=metavar, default=None, help=text)
        parser.addini(dest, f"{text} (same as {flag})", type="string", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER_DOC)
    plugin = _CostPlugin(config, _Settings.from_config(config))
    config.stash[_PLUGIN_KEY] = plugin
    config.pluginmanager.register(plugin, "llmcost-session")


@pytest.fixture
def llm_cost(request: pytest.FixtureRequest) -> LLMCost:
    """The LLM calls made during this test: ``.total_usd``, ``.records``, ``.calls``,
    ``.by_model()``, ``.by_feature()``, ``.assert_under(usd=..., tokens=..., calls=...)``."""
    plugin = request.config.stash[_PLUGIN_KEY]
    capture = plugin.track(request.node)
    activate()
    return capture
