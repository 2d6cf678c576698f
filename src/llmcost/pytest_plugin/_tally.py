"""Totals of many records: per test, per model, per feature; mergeable across xdist workers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from llmcost.pytest_plugin._limits import _ZERO, _model_name, _usd

if TYPE_CHECKING:
    from llmcost.types import CostRecord


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
