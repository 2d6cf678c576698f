"""The per-run state and hooks: which test is tracked, limits, aggregation (also as the xdist
controller), the session budget, the JSON file and the summary."""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from llmcost.pytest_plugin import _baseline as baseline
from llmcost.pytest_plugin._baseline import Entry
from llmcost.pytest_plugin._capture import LLMCost
from llmcost.pytest_plugin._limits import _failure_message, _Limits, _model_name, _usd
from llmcost.pytest_plugin._seams import activate, listen, settle
from llmcost.pytest_plugin._summary import _summary_lines, markdown_summary
from llmcost.pytest_plugin._tally import _dump_json, _Tally

if TYPE_CHECKING:
    from llmcost.pytest_plugin._settings import _Settings
    from llmcost.types import CostRecord

_PROPERTY = "llmcost"  # the user_properties key that carries a test's totals
_MARKER_MODES = ("fail", "reject")

_PLUGIN_KEY = pytest.StashKey["_CostPlugin"]()


class _CostPlugin:
    """The per-run state: which test is being tracked, per-test results and session totals."""

    def __init__(self, config: pytest.Config, settings: _Settings) -> None:
        self.config = config
        self.settings = settings
        self.is_worker = hasattr(config, "workerinput")
        self.session: pytest.Session | None = None
        #: The capture that records go to: the tracked test running now, if any.
        self.current: LLMCost | None = None
        self.remove_listener: Callable[[], None] | None = None
        self.totals = _Tally()
        #: JSON-ready results of each tracked test, by node id, in the order they finished.
        self.tests: dict[str, dict[str, Any]] = {}
        #: Outcomes of tests whose totals (on the teardown report) have not arrived yet.
        self.outcomes: dict[str, str] = {}
        self.over_budget = False
        #: The baseline compared against (each process reads the file itself), by node id.
        self.baseline: dict[str, Entry] | None = None
        if settings.compare_baseline is not None:
            try:
                self.baseline = baseline.load(settings.compare_baseline)
            except ValueError as exc:
                raise pytest.UsageError(str(exc)) from None
        #: Each tracked test's figures for a baseline, where the reports arrive.
        self.measured: dict[str, Entry] = {}

    # -- tracking, in the process that runs the test -------------------------------------------

    def _on_record(self, record: CostRecord) -> None:
        # Called by the recorder for every record, from any thread.
        capture = self.current
        if capture is not None:
            capture._add(record)

    def track(self, item: pytest.Item) -> LLMCost:
        """The capture of ``item``, started now if the test was not tracked from its setup."""
        capture = item.stash.get(_CAPTURE_KEY, None)
        if capture is None:
            capture = LLMCost(item.nodeid)
            item.stash[_CAPTURE_KEY] = capture
            settle()  # an earlier test's last calls belong to that test
            self.current = capture
        if self.remove_listener is None:
            self.remove_listener = listen(self._on_record)
        return capture

    def _tracked(self, item: pytest.Item) -> bool:
        return (
            self.settings.track_all
            or "llm_cost" in getattr(item, "fixturenames", ())
            or item.get_closest_marker("llm_budget") is not None
        )

    def _limits_for(self, item: pytest.Item) -> tuple[_Limits | None, str]:
        """The limits and mode of a test: its marker's, else the per-test budget's."""
        found = item.stash.get(_LIMITS_KEY, None)
        if found is None:
            marker = item.get_closest_marker("llm_budget")
            if marker is not None:
                found = _marker_limits(marker)
            elif self.settings.per_test_budget is not None:
                found = _Limits(usd=self.settings.per_test_budget), "fail"
            else:
                found = None, "fail"
            item.stash[_LIMITS_KEY] = found
        return found

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        if self._tracked(item):
            self.track(item)
        try:
            return (yield)
        finally:
            try:
                settle()  # this test's last calls count against it
            finally:
                self.current = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if item.stash.get(_CAPTURE_KEY, None) is None:
            return
        try:
            self._limits_for(item)
        except ValueError as exc:
            # A malformed marker is an error of that test, reported before it runs.
            item.stash[_LIMITS_KEY] = None, "fail"
            pytest.fail(str(exc), pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        capture = item.stash.get(_CAPTURE_KEY, None)
        if capture is None:
            return (yield)
        limits, mode = self._limits_for(item)
        activate()
        if mode == "reject" and limits is not None:
            import llmcost

            with llmcost.budget(
                max_cost_usd=limits.usd,
                max_total_tokens=limits.tokens,
                max_calls=limits.calls,
                warn_at=None,
                name=f"llm_budget of {item.nodeid}",
            ):
                result = yield
        else:
            result = yield
        # Reached only when the test passed: a failing test keeps its own failure. Failing
        # here, inside the call phase, makes it a test failure rather than a teardown error.
        settle()
        records = capture.records
        problems = limits.problems(records) if limits is not None else []
        if self.settings.unpriced == "fail" and not (limits and limits.usd is not None):
            unpriced = sorted(
                {f"{_model_name(r)!r} ({r.provider})" for r in records if r.total_cost_usd is None}
            )
            if unpriced:
                problems.append(
                    f"calls to models with no price ({', '.join(unpriced)}) with "
                    "--llmcost-unpriced=fail; add prices with llmcost.configure(catalog=...)"
                )
        failures = [_failure_message("LLM budget exceeded", problems, records)] if problems else []
        # What the test's setup and body cost: saved as its baseline, compared against it.
        measured = item.stash[_MEASURED_KEY] = Entry.of(records)
        before = self.baseline.get(item.nodeid) if self.baseline is not None else None
        if before is not None:
            path = self.settings.compare_baseline or ""
            regression = baseline.regression_message(
                before, measured, self.settings.max_increase, os.path.relpath(path)
            )
            if regression is not None:
                failures.append(regression)
        if failures:
            pytest.fail("\n\n".join(failures), pytrace=False)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        capture = item.stash.get(_CAPTURE_KEY, None)
        if capture is not None and call.when == "teardown":
            # The teardown report is a test's last: it carries the test's totals, to the xdist
            # controller or to the local aggregation below. Replace, never add: a re-run test
            # reports once.
            settle()
            payload = _Tally.of(capture.records).to_payload()
            limits, _ = self._limits_for(item)
            payload["limit_usd"] = None if limits is None or limits.usd is None else str(limits.usd)
            # A test that failed before its end was measured has its whole run as figures.
            measured = item.stash.get(_MEASURED_KEY, None) or Entry.of(capture.records)
            payload["baseline"] = measured.to_json()
            item.user_properties[:] = [p for p in item.user_properties if p[0] != _PROPERTY]
            item.user_properties.append((_PROPERTY, payload))
        return (yield)

    # -- aggregation, where the reports arrive (the xdist controller, or the only process) -----

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        nodeid = report.nodeid
        self.outcomes[nodeid] = _merge_outcome(self.outcomes.get(nodeid, "passed"), report)
        if report.when != "teardown":
            return
        outcome = self.outcomes.pop(nodeid)
        payload = next((value for name, value in report.user_properties if name == _PROPERTY), None)
        if not isinstance(payload, Mapping):
            return
        tally = _Tally.from_payload(payload)
        self.totals.merge(tally)
        if "baseline" in payload:
            self.measured[nodeid] = Entry.from_json(payload["baseline"], nodeid)
        limit = payload.get("limit_usd")
        self.tests[nodeid] = {
            "nodeid": nodeid,
            "outcome": outcome,
            "limit_usd": None if limit is None else Decimal(limit),
            **tally.to_json(),
        }
        self._enforce_session_budget()

    def _enforce_session_budget(self) -> None:
        budget = self.settings.session_budget
        if budget is None or self.over_budget or self.totals.total_usd <= budget:
            return
        self.over_budget = True
        reason = (
            f"llmcost: the LLM calls of this session cost {_usd(self.totals.total_usd)}, over "
            f"the --llm-budget of {_usd(budget)}"
        )
        dsession = self.config.pluginmanager.getplugin("dsession")
        if dsession is not None:
            # Under xdist the controller hands out the tests: ask it to stop.
            if not dsession.shouldstop:
                dsession.shouldstop = reason
        elif self.session is not None and not self.session.shouldfail:
            # pytest stops after the current test and exits with "tests failed".
            self.session.shouldfail = reason

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.session = session

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            return
        if self.over_budget and session.exitstatus in (
            pytest.ExitCode.OK,
            pytest.ExitCode.INTERRUPTED,
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.settings.json_path is not None:
            self._write_json(self.settings.json_path)
        if self.settings.save_baseline is not None:
            baseline.save(self.settings.save_baseline, self.measured)
        summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary_path and (self.totals.calls or self.baseline is not None):
            with open(summary_path, "a", encoding="utf-8") as handle:
                handle.write(markdown_summary(self) + "\n")

    def pytest_unconfigure(self) -> None:
        if self.remove_listener is not None:
            self.remove_listener()
            self.remove_listener = None

    # -- output --------------------------------------------------------------------------------

    def _write_json(self, path: str) -> None:
        import llmcost

        document = {
            "llmcost_version": llmcost.__version__,
            "catalog_versions": sorted(self.totals.catalogs),
            "budget_usd": self.settings.session_budget,
            "per_test_budget_usd": self.settings.per_test_budget,
            "over_budget": self.over_budget,
            **self.totals.to_json(),
            "tests": list(self.tests.values()),
        }
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(_dump_json(document) + "\n")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        settings = self.settings
        if self.is_worker or settings.report == "off":
            return
        asked = (
            settings.report is not None
            or settings.session_budget is not None
            or self.baseline is not None
            or settings.save_baseline is not None
        )
        if not asked and not self.totals.calls:
            return
        for line, markup in _summary_lines(self, full=settings.report == "full"):
            if line.startswith("="):
                terminalreporter.write_sep("=", line.strip("= "), **markup)
            else:
                terminalreporter.write_line(line, **markup)


def _merge_outcome(so_far: str, report: pytest.TestReport) -> str:
    """The outcome of a test from its phase reports: ``passed``, ``failed``, ``skipped`` or
    ``error`` (setup or teardown failed)."""
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped and so_far == "passed":
        return "skipped"
    return so_far


_CAPTURE_KEY = pytest.StashKey[LLMCost]()
_MEASURED_KEY = pytest.StashKey[Entry]()
_LIMITS_KEY = pytest.StashKey[tuple["_Limits | None", str]]()


def _marker_limits(marker: pytest.Mark) -> tuple[_Limits, str]:
    """The limits and mode of an ``llm_budget`` marker.

    Raises:
        ValueError: the marker is malformed; the message says how.
    """
    kwargs = dict(marker.kwargs)
    if marker.args:
        if len(marker.args) > 1 or "usd" in kwargs:
            raise ValueError(
                f"llm_budget: takes one positional argument (usd), got {marker.args!r}"
            )
        kwargs["usd"] = marker.args[0]
    mode = kwargs.pop("mode", "fail")
    unknown = sorted(set(kwargs) - {"usd", "tokens", "calls"})
    if unknown:
        raise ValueError(f"llm_budget: unknown argument(s) {', '.join(unknown)}")
    if mode not in _MARKER_MODES:
        raise ValueError(f"llm_budget: mode must be 'fail' or 'reject', got {mode!r}")
    if all(kwargs.get(name) is None for name in ("usd", "tokens", "calls")):
        raise ValueError("llm_budget: give at least one of usd=, tokens=, calls=")
    return _Limits.parse(**kwargs, where="llm_budget"), mode
