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

import os
import threading
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from llmcost.types import CostRecord

__all__ = ["LLMCost"]

_ZERO = Decimal(0)
_PROPERTY = "llmcost"  # the user_properties key that carries a test's totals
_REPORT_MODES = ("off", "summary", "full")
_UNPRICED_MODES = ("warn", "fail")
_MARKER_MODES = ("fail", "reject")
_NO_FEATURE = "(no feature)"
_MARKER_DOC = (
    "llm_budget(usd=None, tokens=None, calls=None, mode='fail'): fail the test when its LLM "
    "calls cost more than usd dollars, tokens tokens or calls calls; mode='reject' runs it "
    "inside llmcost.budget() so the over-budget call is refused before it is sent."
)


# --- money and limits -------------------------------------------------------------------------


def _parse_usd(value: object, name: str) -> Decimal:
    """A non-negative dollar amount from a number or a string such as ``"0.50"`` or ``"$2"``."""
    if isinstance(value, bool):
        raise ValueError(f"{name}: expected a dollar amount such as 0.50, got {value!r}")
    text = str(value).strip().removeprefix("$")
    try:
        # str() first so a float such as 0.1 means the dollar amount a person wrote.
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{name}: expected a dollar amount such as 0.50, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{name}: expected a non-negative dollar amount, got {value!r}")
    return amount


def _parse_count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}: expected a non-negative whole number, got {value!r}")
    return value


def _usd(amount: Decimal) -> str:
    """``$0.00027``, ``$12.50``: every digit of the exact amount, and at least the cents."""
    text = f"{amount:,f}"
    if "." in text:
        text = text.rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def _model_name(record: CostRecord) -> str:
    return record.model or record.response_model or "(unknown model)"


def _record_tokens(record: CostRecord) -> int:
    return record.input_tokens + record.output_tokens


@dataclass(frozen=True)
class _Limits:
    """What a test may spend; any of the three may be unset."""

    usd: Decimal | None = None
    tokens: int | None = None
    calls: int | None = None

    @classmethod
    def parse(
        cls, usd: object = None, tokens: object = None, calls: object = None, *, where: str
    ) -> _Limits:
        return cls(
            usd=None if usd is None else _parse_usd(usd, f"{where} usd"),
            tokens=None if tokens is None else _parse_count(tokens, f"{where} tokens"),
            calls=None if calls is None else _parse_count(calls, f"{where} calls"),
        )

    def problems(self, records: list[CostRecord]) -> list[str]:
        """Why ``records`` break these limits; empty when they do not."""
        found = []
        if self.usd is not None:
            total = sum((r.total_cost_usd for r in records if r.total_cost_usd is not None), _ZERO)
            if total > self.usd:
                found.append(f"cost {_usd(total)} is over the {_usd(self.usd)} limit")
            unpriced = [r for r in records if r.total_cost_usd is None]
            if unpriced:
                # An unknown price is never $0: the ceiling cannot be shown to hold.
                models = sorted({f"{_model_name(r)!r} ({r.provider})" for r in unpriced})
                found.append(
                    f"{len(unpriced)} call(s) have no price, so the {_usd(self.usd)} limit "
                    f"cannot be checked: {', '.join(models)}; add prices with "
                    "llmcost.configure(catalog=...)"
                )
        if self.tokens is not None:
            tokens = sum(_record_tokens(r) for r in records)
            if tokens > self.tokens:
                found.append(f"{tokens:,} tokens is over the {self.tokens:,} token limit")
        if self.calls is not None and len(records) > self.calls:
            found.append(f"{len(records)} calls is over the {self.calls} call limit")
        return found


def _costliest_calls(records: list[CostRecord], limit: int = 5) -> list[str]:
    def key(record: CostRecord) -> tuple[bool, Decimal]:
        # Unpriced calls first: their cost is unknown, so they may well be the costliest.
        cost = record.total_cost_usd
        return (cost is None, cost if cost is not None else _ZERO)

    lines = []
    for record in sorted(records, key=key, reverse=True)[:limit]:
        cost = "unpriced" if record.total_cost_usd is None else _usd(record.total_cost_usd)
        feature = f" feature={record.feature}" if record.feature else ""
        replayed = " (replayed)" if record.replayed else ""
        lines.append(
            f"  {cost:>12}  {record.provider} {record.operation} {_model_name(record)}"
            f"{feature}  {record.input_tokens:,} in / {record.output_tokens:,} out{replayed}"
        )
    if len(records) > limit:
        lines.append(f"  ... and {len(records) - limit} more")
    return lines


def _failure_message(title: str, problems: list[str], records: list[CostRecord]) -> str:
    lines = [f"{title}: " + "; ".join(problems)]
    if records:
        lines.append("costliest calls:")
        lines.extend(_costliest_calls(records))
    return "\n".join(lines)


# --- the fixture object -----------------------------------------------------------------------


class LLMCost:
    """The LLM calls made during one test, returned by the ``llm_cost`` fixture.

    Calls are collected from the start of the test's setup to the end of its teardown, from
    every thread. Totals are exact Decimals; a call whose model has no price is in
    :attr:`unpriced` and never counted as $0.

    Example:
        .. code-block:: python

            def test_search_cost(llm_cost):
                search("red shoes")
                assert llm_cost.calls == 1
                assert llm_cost.by_feature()["search"] < Decimal("0.001")
                llm_cost.assert_under(usd=0.01, tokens=5_000)
    """

    def __init__(self, nodeid: str = "") -> None:
        self.nodeid = nodeid
        self._records: list[CostRecord] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LLMCost(calls={self.calls}, total_usd={self.total_usd})"

    def _add(self, record: CostRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> list[CostRecord]:
        """Every :class:`~llmcost.CostRecord` made during the test so far, oldest first."""
        _make_pending_records()
        with self._lock:
            return list(self._records)

    @property
    def calls(self) -> int:
        """How many LLM calls were recorded."""
        return len(self.records)

    @property
    def total_usd(self) -> Decimal:
        """The cost of every priced call, live and replayed."""
        return sum((r.total_cost_usd for r in self.records if r.total_cost_usd is not None), _ZERO)

    @property
    def live_usd(self) -> Decimal:
        """The cost of the calls a live provider answered (money actually spent)."""
        return sum(
            (
                r.total_cost_usd
                for r in self.records
                if r.total_cost_usd is not None and not r.replayed
            ),
            _ZERO,
        )

    @property
    def replayed_usd(self) -> Decimal:
        """The cost of the calls answered by a fake transport or a recording."""
        return self.total_usd - self.live_usd

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens of every call."""
        return sum(_record_tokens(r) for r in self.records)

    @property
    def unpriced(self) -> list[CostRecord]:
        """The calls whose model has no price in the catalog (their cost is unknown)."""
        return [r for r in self.records if r.total_cost_usd is None]

    def by_model(self) -> dict[str, Decimal]:
        """Cost per requested model, costliest first (unpriced models are absent)."""
        return self._group(_model_name)

    def by_feature(self) -> dict[str | None, Decimal]:
        """Cost per ``feature`` tag, costliest first; None holds the untagged calls."""
        return self._group(lambda record: record.feature)

    def _group(self, key: Callable[[CostRecord], Any]) -> dict[Any, Decimal]:
        totals: dict[Any, Decimal] = {}
        for record in self.records:
            if record.total_cost_usd is not None:
                name = key(record)
                totals[name] = totals.get(name, _ZERO) + record.total_cost_usd
        return dict(sorted(totals.items(), key=lambda item: item[1], reverse=True))

    def assert_under(
        self,
        usd: float | str | Decimal | None = None,
        tokens: int | None = None,
        calls: int | None = None,
    ) -> None:
        """Fail the test when the calls so far cost more than ``usd`` dollars, used more than
        ``tokens`` tokens or were more than ``calls`` calls.

        With a ``usd`` limit, a call whose model has no price also fails the assertion: its
        cost is unknown, so the limit cannot be shown to hold.

        Raises:
            AssertionError: a limit is exceeded; the message lists the costliest calls.
            ValueError: no limit was given, or a limit is not a non-negative number.

        Example:
            >>> LLMCost().assert_under(usd="0.01", calls=3)
        """
        if usd is None and tokens is None and calls is None:
            raise ValueError("assert_under() needs at least one of usd=, tokens=, calls=")
        limits = _Limits.parse(usd, tokens, calls, where="assert_under()")
        records = self.records
        problems = limits.problems(records)
        if problems:
            raise AssertionError(_failure_message("LLM cost limit exceeded", problems, records))


# --- per-test and session totals --------------------------------------------------------------


@dataclass
class _Row:
    """One line of a "by model" or "by feature" table."""

    usd: Decimal = _ZERO
    calls: int = 0
    #: Calls in ``calls`` that have no price: ``usd`` leaves them out.
    unpriced: int = 0

    @property
    def json_usd(self) -> Decimal | None:
        """The cost for the JSON report: None when no call of the row has a price."""
        return None if self.unpriced == self.calls else self.usd

    def add(self, other: _Row) -> None:
        self.usd += other.usd
        self.calls += other.calls
        self.unpriced += other.unpriced

    def to_payload(self) -> list[Any]:
        return [str(self.usd), self.calls, self.unpriced]

    @classmethod
    def from_payload(cls, data: list[Any]) -> _Row:
        usd, calls, unpriced = data
        return cls(Decimal(usd), int(calls), int(unpriced))


class _Tally:
    """Totals of many records, mergeable, and serialisable for the trip from an xdist worker."""

    def __init__(self) -> None:
        self.live_usd = _ZERO
        self.replayed_usd = _ZERO
        self.calls = 0
        self.replayed_calls = 0
        self.input_tokens = 0
        self.output_tokens = 0
        #: "model (provider)" -> number of calls with no price.
        self.unpriced: dict[str, int] = {}
        self.models: dict[str, _Row] = {}
        self.features: dict[str, _Row] = {}  # "" holds the calls without a feature tag
        self.catalogs: set[str] = set()

    @property
    def total_usd(self) -> Decimal:
        return self.live_usd + self.replayed_usd

    @property
    def unpriced_calls(self) -> int:
        return sum(self.unpriced.values())

    @classmethod
    def of(cls, records: Iterable[CostRecord]) -> _Tally:
        tally = cls()
        for record in records:
            cost = record.total_cost_usd
            tally.calls += 1
            tally.input_tokens += record.input_tokens
            tally.output_tokens += record.output_tokens
            if record.replayed:
                tally.replayed_calls += 1
            if cost is None:
                key = f"{_model_name(record)} ({record.provider})"
                tally.unpriced[key] = tally.unpriced.get(key, 0) + 1
                row = _Row(calls=1, unpriced=1)
            else:
                if record.replayed:
                    tally.replayed_usd += cost
                else:
                    tally.live_usd += cost
                row = _Row(cost, 1)
            tally.models.setdefault(_model_name(record), _Row()).add(row)
            tally.features.setdefault(record.feature or "", _Row()).add(row)
            if record.catalog_version:
                tally.catalogs.add(record.catalog_version)
        return tally

    def merge(self, other: _Tally) -> None:
        self.live_usd += other.live_usd
        self.replayed_usd += other.replayed_usd
        self.calls += other.calls
        self.replayed_calls += other.replayed_calls
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        for key, count in other.unpriced.items():
            self.unpriced[key] = self.unpriced.get(key, 0) + count
        for mine, theirs in ((self.models, other.models), (self.features, other.features)):
            for name, row in theirs.items():
                mine.setdefault(name, _Row()).add(row)
        self.catalogs |= other.catalogs

    def to_payload(self) -> dict[str, Any]:
        """Plain str/int/list/dict values only: execnet carries these between processes, and
        money travels as exact decimal strings."""
        return {
            "live_usd": str(self.live_usd),
            "replayed_usd": str(self.replayed_usd),
            "calls": self.calls,
            "replayed_calls": self.replayed_calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "unpriced": dict(self.unpriced),
            "models": {name: row.to_payload() for name, row in self.models.items()},
            "features": {name: row.to_payload() for name, row in self.features.items()},
            "catalogs": sorted(self.catalogs),
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> _Tally:
        tally = cls()
        tally.live_usd = Decimal(payload["live_usd"])
        tally.replayed_usd = Decimal(payload["replayed_usd"])
        tally.calls = int(payload["calls"])
        tally.replayed_calls = int(payload["replayed_calls"])
        tally.input_tokens = int(payload["input_tokens"])
        tally.output_tokens = int(payload["output_tokens"])
        tally.unpriced = {str(k): int(v) for k, v in payload["unpriced"].items()}
        tally.models = {k: _Row.from_payload(v) for k, v in payload["models"].items()}
        tally.features = {k: _Row.from_payload(v) for k, v in payload["features"].items()}
        tally.catalogs = set(payload["catalogs"])
        return tally

    def to_json(self) -> dict[str, Any]:
        """The totals for the JSON report: Decimal money, features with None for untagged."""
        return {
            "total_usd": self.total_usd,
            "live_usd": self.live_usd,
            "replayed_usd": self.replayed_usd,
            "calls": self.calls,
            "replayed_calls": self.replayed_calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "unpriced_calls": self.unpriced_calls,
            "unpriced_models": dict(sorted(self.unpriced.items())),
            "by_model": [
                {
                    "model": name,
                    "usd": row.json_usd,
                    "calls": row.calls,
                    "unpriced_calls": row.unpriced,
                }
                for name, row in _by_cost(self.models)
            ],
            "by_feature": [
                {
                    "feature": name or None,
                    "usd": row.json_usd,
                    "calls": row.calls,
                    "unpriced_calls": row.unpriced,
                }
                for name, row in _by_cost(self.features)
            ],
        }


def _by_cost(table: Mapping[str, _Row]) -> list[tuple[str, _Row]]:
    return sorted(table.items(), key=lambda item: (-item[1].usd, -item[1].calls, item[0]))


def _cost_label(usd: Decimal, calls: int, unpriced: int) -> str:
    """``$0.0012``, or ``unpriced`` / ``$0.0012 + 2 unpriced``: an unknown price is never $0."""
    if not unpriced:
        return _usd(usd)
    if unpriced == calls:
        return "unpriced"
    return f"{_usd(usd)} + {unpriced} unpriced"


def _dump_json(value: Any, indent: str = "") -> str:
    """JSON text where Decimals are exact JSON numbers (``json.dumps`` would need floats)."""
    import json

    inner = indent + "  "
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {_dump_json(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        items = [f"{inner}{_dump_json(v, inner)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{indent}]"
    return json.dumps(value, ensure_ascii=False)


# --- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settings:
    session_budget: Decimal | None = None
    per_test_budget: Decimal | None = None
    #: None when not asked for: the summary is then shown only when tracked tests made calls.
    report: str | None = None
    json_path: str | None = None
    unpriced: str = "warn"
    #: Track every test, not only those that use the fixture or the marker.
    track_all: bool = False

    @classmethod
    def from_config(cls, config: pytest.Config) -> _Settings:
        """Options win over ini settings; bad values are usage errors that name the setting."""

        def setting(option: str) -> tuple[str | None, str]:
            value = config.getoption(option)
            if value is not None:
                return str(value).strip(), "--" + option.replace("_", "-")
            text = str(config.getini(option) or "").strip()
            return (text or None), f"ini setting {option}"

        def choice(option: str, allowed: tuple[str, ...]) -> str | None:
            value, name = setting(option)
            if value is not None and value not in allowed:
                raise pytest.UsageError(
                    f"{name}: expected one of {'|'.join(allowed)}, got {value!r}"
                )
            return value

        def usd(option: str) -> Decimal | None:
            value, name = setting(option)
            if value is None:
                return None
            try:
                return _parse_usd(value, name)
            except ValueError as exc:
                raise pytest.UsageError(str(exc)) from None

        session_budget = usd("llm_budget")
        per_test_budget = usd("llm_budget_per_test")
        report = choice("llmcost_report", _REPORT_MODES)
        unpriced = choice("llmcost_unpriced", _UNPRICED_MODES)
        json_path, _ = setting("llmcost_json")
        if json_path is not None:
            # pytest changes back to its start directory before the session ends: pin the
            # path to the directory it was given in.
            json_path = os.path.join(str(config.invocation_params.dir), json_path)
        track_all = (
            session_budget is not None
            or per_test_budget is not None
            or json_path is not None
            or unpriced is not None
            or report in ("summary", "full")
        )
        return cls(
            session_budget=session_budget,
            per_test_budget=per_test_budget,
            report=report,
            json_path=json_path,
            unpriced=unpriced or "warn",
            track_all=track_all,
        )


# --- hooks ------------------------------------------------------------------------------------


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
    _activate_llmcost()
    return capture


def _make_pending_records() -> None:
    """Run the endings of streams a test dropped without closing (garbage collection hands
    them to llmcost's delivery thread), so they count against the test that made them."""
    import llmcost

    llmcost.flush(timeout=5.0)


def _activate_llmcost() -> None:
    """Switch llmcost on for the test if nobody did, keeping any configuration the user made,
    and patch the installed SDKs so their calls are recorded."""
    import llmcost

    llmcost.instrument()


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
            _make_pending_records()  # an earlier test's last calls belong to that test
            self.current = capture
        if self.remove_listener is None:
            from llmcost import _recorder

            self.remove_listener = _recorder.add_listener(self._on_record)
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
                _make_pending_records()  # this test's last calls count against it
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
        _activate_llmcost()
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
        _make_pending_records()
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
        if problems:
            pytest.fail(_failure_message("LLM budget exceeded", problems, records), pytrace=False)
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
            _make_pending_records()
            payload = _Tally.of(capture.records).to_payload()
            limits, _ = self._limits_for(item)
            payload["limit_usd"] = None if limits is None or limits.usd is None else str(limits.usd)
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
        asked = settings.report is not None or settings.session_budget is not None
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


def _summary_lines(plugin: _CostPlugin, *, full: bool) -> list[tuple[str, dict[str, bool]]]:
    """The terminal summary, as (text, markup) lines; a line starting with "=" is a header."""
    totals = plugin.totals
    budget = plugin.settings.session_budget
    plain: dict[str, bool] = {}
    alarm = {"red": True, "bold": True}
    lines: list[tuple[str, dict[str, bool]]] = [("= llmcost: LLM call cost =", plain)]

    headline = (
        f"session total {_usd(totals.total_usd)} for {totals.calls} call(s) in "
        f"{len(plugin.tests)} tracked test(s)"
    )
    if budget is not None and budget > 0:
        headline += f", {totals.total_usd * 100 / budget:.1f}% of the {_usd(budget)} budget"
    elif budget is not None:
        headline += f", over the {_usd(budget)} budget" if totals.total_usd else ""
    lines.append((headline, alarm if plugin.over_budget else plain))
    live_calls = totals.calls - totals.replayed_calls
    lines.append((f"  live spend  {_usd(totals.live_usd):>12}  {live_calls} call(s)", plain))
    if totals.replayed_calls:
        lines.append(
            (
                f"  replayed    {_usd(totals.replayed_usd):>12}  {totals.replayed_calls} call(s) "
                "answered by fake transports or recordings (no money spent)",
                plain,
            )
        )
    if plugin.over_budget:
        lines.append(
            (
                f"OVER BUDGET: more than the {_usd(budget or _ZERO)} session budget was spent; "
                "the run stopped after the test that crossed it",
                alarm,
            )
        )

    shown = None if full else 5
    ranked = sorted(
        (entry for entry in plugin.tests.values() if entry["calls"]),
        key=lambda entry: (-entry["total_usd"], entry["nodeid"]),
    )
    if ranked:
        lines.append(("tests, costliest first:" if full else "costliest tests:", plain))
        for entry in ranked[:shown]:
            limit = entry["limit_usd"]
            over = limit is not None and entry["total_usd"] > limit
            cost = _cost_label(entry["total_usd"], entry["calls"], entry["unpriced_calls"])
            lines.append(
                (
                    f"  {cost:>12}  {entry['calls']:>4} call(s)  "
                    f"{entry['nodeid']}" + (f"  (over its {_usd(limit)} limit)" if over else ""),
                    {"red": True} if over else plain,
                )
            )
        if shown is not None and len(ranked) > shown:
            lines.append((f"  ... {len(ranked) - shown} more with --llmcost-report=full", plain))
    for title, table in (("by model:", totals.models), ("by feature:", totals.features)):
        rows = _by_cost(table)
        if not rows:
            continue
        lines.append((title, plain))
        for name, row in rows[: None if full else 10]:
            cost = _cost_label(row.usd, row.calls, row.unpriced)
            lines.append((f"  {cost:>12}  {row.calls:>4} call(s)  {name or _NO_FEATURE}", plain))
    if totals.unpriced:
        listed = ", ".join(f"{name} x{count}" for name, count in sorted(totals.unpriced.items()))
        lines.append(
            (
                f"unpriced calls: {totals.unpriced_calls} ({listed}); their cost is unknown and "
                "not in the totals above",
                {"yellow": True} if plugin.settings.unpriced == "warn" else alarm,
            )
        )
    catalogs = ", ".join(sorted(totals.catalogs)) or "none (no priced calls)"
    lines.append((f"price catalog: {catalogs}", plain))
    if plugin.settings.json_path is not None:
        lines.append((f"per-test results: {plugin.settings.json_path}", plain))
    return lines
