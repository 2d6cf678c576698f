"""Cost baselines: each test's calls, tokens and cost saved to a file, and compared on later runs.

``--llmcost-save-baseline=FILE`` writes, for every tracked test, what its setup and body cost:
calls, tokens (input + output) and dollars, in total and per ``feature`` tag.
``--llmcost-compare-baseline=FILE --llmcost-max-increase=10%`` fails a test whose tokens or
cost grew by more than that against the file. With fake providers or recorded responses both
are deterministic: the same code makes the same calls, so the gate never flakes.

The file is JSON with exact decimal money, its keys sorted, so that a change to it reads well
in a code review.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from llmcost.pytest_plugin._limits import _ZERO, _usd

if TYPE_CHECKING:
    from llmcost.types import CostRecord

FORMAT = 1
NO_FEATURE = "(no feature)"


@dataclass(frozen=True)
class Figures:
    """Calls, tokens (input + output) and cost of some calls; ``usd`` is None when none of
    them had a price (an unknown cost is never $0)."""

    calls: int = 0
    tokens: int = 0
    usd: Decimal | None = None

    def __add__(self, other: Figures) -> Figures:
        usd = self.usd if other.usd is None else other.usd + (self.usd or _ZERO)
        return Figures(self.calls + other.calls, self.tokens + other.tokens, usd)

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "tokens": self.tokens,
            "usd": None if self.usd is None else str(self.usd),
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> Figures:
        try:
            usd = data["usd"]
            calls, tokens = data["calls"], data["tokens"]
            if not isinstance(calls, int) or not isinstance(tokens, int) or calls < 0 or tokens < 0:
                raise ValueError("calls and tokens must be non-negative whole numbers")
            return cls(calls, tokens, None if usd is None else Decimal(str(usd)))
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise ValueError(f"{where}: expected calls, tokens and usd ({exc})") from None


@dataclass(frozen=True)
class Entry:
    """One test's figures, in total and per feature."""

    total: Figures = Figures()
    features: Mapping[str, Figures] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Iterable[CostRecord]) -> Entry:
        total = Figures()
        features: dict[str, Figures] = {}
        for record in records:
            figures = Figures(1, record.input_tokens + record.output_tokens, record.total_cost_usd)
            total += figures
            name = record.feature or NO_FEATURE
            features[name] = features.get(name, Figures()) + figures
        return cls(total, dict(sorted(features.items())))

    def to_json(self) -> dict[str, Any]:
        return {
            **self.total.to_json(),
            "features": {name: figures.to_json() for name, figures in self.features.items()},
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> Entry:
        if not isinstance(data, dict) or not isinstance(data.get("features", {}), dict):
            raise ValueError(f"{where}: expected an object with calls, tokens, usd, features")
        features = {
            str(name): Figures.from_json(value, f"{where}, feature {name!r}")
            for name, value in data.get("features", {}).items()
        }
        return cls(Figures.from_json(data, where), features)


def parse_increase(text: str, name: str) -> Decimal:
    """``"10%"`` (or ``"10"``) to ``Decimal("0.10")``; a clear error naming ``name``."""
    cleaned = text.strip().removesuffix("%").strip()
    try:
        percent = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{name}: expected a percentage such as 10%, got {text!r}") from None
    if not percent.is_finite() or percent < 0:
        raise ValueError(f"{name}: expected a non-negative percentage, got {text!r}")
    return percent / 100


def load(path: str) -> dict[str, Entry]:
    """The tests of a baseline file, by node id.

    Raises:
        ValueError: the file is missing or malformed; the message names it and says how.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError:
        raise ValueError(
            f"--llmcost-compare-baseline: {path} does not exist; write it first with "
            f"--llmcost-save-baseline={path}"
        ) from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"--llmcost-compare-baseline: cannot read {path}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("tests"), dict):
        raise ValueError(f"--llmcost-compare-baseline: {path} is not an llmcost baseline file")
    if document.get("format") != FORMAT:
        raise ValueError(
            f"--llmcost-compare-baseline: {path} has format {document.get('format')!r}; this "
            f"llmcost reads format {FORMAT} (save the baseline again)"
        )
    return {
        str(nodeid): Entry.from_json(data, f"{path}: test {nodeid!r}")
        for nodeid, data in document["tests"].items()
    }


def save(path: str, tests: Mapping[str, Entry]) -> None:
    """Write ``tests`` to ``path`` (sorted, exact money), replacing it whole."""
    import llmcost

    document = {
        "format": FORMAT,
        "llmcost_version": llmcost.__version__,
        "tests": {nodeid: tests[nodeid].to_json() for nodeid in sorted(tests)},
    }
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=False, ensure_ascii=False)
        handle.write("\n")
    os.replace(temporary, path)  # a run stopped halfway never leaves half a baseline


# --- comparing --------------------------------------------------------------------------------


def grew(before: Figures, now: Figures, limit: Decimal) -> list[str]:
    """What grew past ``limit`` (a fraction): ``["cost", "tokens"]``, or nothing."""
    found = []
    # A cost that was unknown (no price then) cannot have grown: tokens still tell.
    if before.usd is not None and now.usd is not None and now.usd > before.usd * (1 + limit):
        found.append("cost")
    if now.tokens > before.tokens * (1 + limit):
        found.append("tokens")
    return found


def change(before: Decimal | int | None, now: Decimal | int | None) -> str:
    """``+114.3%``, ``-20.0%``, ``new`` (from nothing), ``=``, or ``?`` (unknown cost)."""
    if before is None or now is None:
        return "?"
    if before == now:
        return "="
    if not before:
        return "new"
    return f"{(Decimal(now) - Decimal(before)) * 100 / Decimal(before):+.1f}%"


def percent(fraction: Decimal) -> str:
    """``Decimal("0.1")`` as ``10%``."""
    return f"{(fraction * 100).normalize():f}%"


def money(value: Decimal | None) -> str:
    return "unpriced" if value is None else _usd(value)


def describe(name: str, before: Figures, now: Figures) -> str:
    """``summarize: cost $0.0042 -> $0.0090 (+114.3%), tokens 1,200 -> 2,560 (+113.3%)``."""
    return (
        f"{name}: cost {money(before.usd)} -> {money(now.usd)} ({change(before.usd, now.usd)}), "
        f"tokens {before.tokens:,} -> {now.tokens:,} ({change(before.tokens, now.tokens)}), "
        f"calls {before.calls} -> {now.calls}"
    )


def regression_message(before: Entry, now: Entry, limit: Decimal, path: str) -> str | None:
    """The failure message of a test that grew past ``limit``, or None when it did not."""
    over = grew(before.total, now.total, limit)
    if not over:
        return None
    lines = [
        f"LLM cost regression: {' and '.join(over)} grew more than {percent(limit)} against "
        f"the baseline {path}",
        "  " + describe("test", before.total, now.total),
        "  by feature:",
    ]
    for name in sorted(set(before.features) | set(now.features)):
        old = before.features.get(name, Figures())
        new = now.features.get(name, Figures())
        mark = "  <- grew" if grew(old, new, limit) else ""
        lines.append("    " + describe(name, old, new) + mark)
    lines.append(
        f"  if the increase is intended, save a new baseline with --llmcost-save-baseline={path}"
    )
    return "\n".join(lines)
