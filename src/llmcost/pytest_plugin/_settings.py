"""The plugin's options and ini settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal

import pytest

from llmcost.pytest_plugin._baseline import parse_increase
from llmcost.pytest_plugin._limits import _parse_usd

_REPORT_MODES = ("off", "summary", "full")
_UNPRICED_MODES = ("warn", "fail")


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
    save_baseline: str | None = None
    compare_baseline: str | None = None
    #: The growth against the baseline that fails a test, as a fraction (0.10 for 10%).
    max_increase: Decimal = Decimal("0.10")

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

        def path(option: str) -> str | None:
            value, _ = setting(option)
            # pytest changes back to its start directory before the session ends: pin the
            # path to the directory it was given in.
            return None if value is None else os.path.join(start, value)

        start = str(config.invocation_params.dir)
        json_path = path("llmcost_json")
        save_baseline = path("llmcost_save_baseline")
        compare_baseline = path("llmcost_compare_baseline")
        increase, increase_name = setting("llmcost_max_increase")
        try:
            max_increase = parse_increase(increase or "10%", increase_name)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
        track_all = (
            session_budget is not None
            or per_test_budget is not None
            or json_path is not None
            or unpriced is not None
            or report in ("summary", "full")
            or save_baseline is not None
            or compare_baseline is not None
        )
        return cls(
            session_budget=session_budget,
            per_test_budget=per_test_budget,
            report=report,
            json_path=json_path,
            unpriced=unpriced or "warn",
            track_all=track_all,
            save_baseline=save_baseline,
            compare_baseline=compare_baseline,
            max_increase=max_increase,
        )
