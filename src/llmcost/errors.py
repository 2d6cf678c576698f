"""Exceptions, the internal-error guard, and the counters behind :func:`llmcost.stats`.

Rule one of llmcost is that it never breaks the host application: every piece of llmcost work
that runs inside a user's call goes through :func:`internal_guard`, which catches, logs once per
kind on the ``llmcost`` logger, and counts. The project's own test suite flips
:data:`RAISE_INTERNAL_ERRORS` so that a swallowed error fails the test instead.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

__all__ = [
    "BudgetExceeded",
    "CatalogError",
    "CorruptRecordError",
    "LLMCostError",
    "PolicyViolation",
    "UnknownModelError",
    "count",
    "internal_guard",
    "report_internal_error",
    "stats",
]

logger = logging.getLogger("llmcost")

F = TypeVar("F", bound=Callable[..., Any])

#: When True, errors caught by :func:`internal_guard` are re-raised. The project's test suite
#: sets this (via ``LLMCOST_RAISE_INTERNAL_ERRORS=1`` or directly) so swallowed bugs fail tests.
RAISE_INTERNAL_ERRORS: bool = os.environ.get("LLMCOST_RAISE_INTERNAL_ERRORS") == "1"


class LLMCostError(Exception):
    """Base class of every error llmcost raises on purpose."""


class UnknownModelError(LLMCostError, LookupError):
    """The pricing catalog has no price for a model and ``unknown_model="raise"`` is set."""

    def __init__(self, model: str, provider: str | None = None, advice: str | None = None) -> None:
        self.model = model
        self.provider = provider
        where = f" (provider {provider!r})" if provider else ""
        super().__init__(
            f"no price for model {model!r}{where} in the llmcost catalog; "
            + (
                advice
                or "add it with configure(catalog=...) or an alias, or set unknown_model='warn'"
            )
        )


class CatalogError(LLMCostError, ValueError):
    """A catalog or override file is malformed. The message names the file, model and field."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        model: str | None = None,
        field: str | None = None,
    ) -> None:
        self.source = source
        self.model = model
        self.field = field
        where = ", ".join(
            part
            for part in (
                f"file {source}" if source else "",
                f"model {model!r}" if model else "",
                f"field {field!r}" if field else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class CorruptRecordError(LLMCostError, ValueError):
    """A line of a JSONL cost file is not a valid CostRecord."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        super().__init__(f"{path}:{line}: {reason}")


class BudgetExceeded(LLMCostError):
    """A call was refused before it was sent because a budget could not cover its worst case.

    Attributes carry what a person needs to act: which budget, its limit, what was spent and
    reserved, and the refused call's estimate.
    """

    def __init__(
        self,
        message: str,
        *,
        budget_name: str | None = None,
        limit: Decimal | int | None = None,
        spent: Decimal | int | None = None,
        reserved: Decimal | int | None = None,
        estimate: Decimal | int | None = None,
        dimension: str = "cost_usd",
    ) -> None:
        self.budget_name = budget_name
        self.limit = _plain(limit)
        self.spent = _plain(spent)
        self.reserved = _plain(reserved)
        self.estimate = _plain(estimate)
        self.dimension = dimension
        super().__init__(message)


def _plain(amount: Decimal | int | None) -> Decimal | int | None:
    # A zero that went through exact arithmetic reads "0E-7"; show a person a plain 0.
    if isinstance(amount, Decimal) and amount == 0:
        return Decimal(0)
    return amount


class PolicyViolation(LLMCostError):
    """A call breaks the configured model policy (allowlist, required output cap)."""


# --- counters ------------------------------------------------------------------------------

_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()
_logged_kinds: set[str] = set()


def _locks_after_fork_in_child() -> None:
    # The counters are touched on every record, from any thread: a fork while another thread
    # held the lock would leave the child's first record waiting for ever.
    global _counts_lock
    _counts_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_locks_after_fork_in_child)


def count(name: str, amount: int = 1) -> None:
    """Add ``amount`` to the counter ``name`` (shown by :func:`llmcost.stats`)."""
    with _counts_lock:
        _counts[name] += amount


def stats() -> dict[str, int]:
    """A snapshot of llmcost's counters: records made, internal errors, sink failures, drops.

    Example:
        >>> import llmcost
        >>> llmcost.stats().get("internal_errors", 0)
        0
    """
    with _counts_lock:
        return dict(_counts)


def reset_stats() -> None:
    """Zero every counter and forget which error kinds were already logged (for tests)."""
    with _counts_lock:
        _counts.clear()
        _logged_kinds.clear()


def report_internal_error(kind: str, exc: BaseException) -> None:
    """Count an internal error and log it once per ``kind``; re-raise under the test suite."""
    count("internal_errors")
    count(f"internal_errors.{kind}")
    with _counts_lock:
        first = kind not in _logged_kinds
        _logged_kinds.add(kind)
    if first:
        logger.error(
            "llmcost internal error in %s (further errors of this kind are counted, not logged)",
            kind,
            exc_info=exc,
        )
    if RAISE_INTERNAL_ERRORS:
        raise exc


class internal_guard:  # lower-case: it reads like a function, `with internal_guard("x"):`
    """Catch, log once and count any exception raised inside; usable as ``with`` or decorator.

    A decorated function that fails returns None. Never wrap the user's own SDK call with
    this: user exceptions must pass through unchanged.

    Example:
        >>> with internal_guard("pricing"):
        ...     price_the_call()  # doctest: +SKIP
    """

    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        report_internal_error(self.kind, exc)
        return True

    def __call__(self, func: F) -> F:
        kind = self.kind

        @functools.wraps(func)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except Exception as exc:  # rule one: never break the host application
                report_internal_error(kind, exc)
                return None

        return guarded  # type: ignore[return-value]


def near_miss(
    key: str,
    known: Iterable[str],
    *,
    cutoff: float = 0.8,
    fuzzy: Iterable[str] | None = None,
) -> str | None:
    """The name in ``known`` that ``key`` most likely misspells, or None.

    A keyword that llmcost would otherwise take as a free-form tag is refused when it is a
    near miss of a known name: the same letters but for ``_``/``-`` and case (``userid``), a
    prefix of it up to a ``_`` (``cache_read`` for ``cache_read_tokens``), or a letter or two
    away (``feture``, ``enviroment``) from one of ``fuzzy`` (default: all of ``known``; a
    shorter list keeps plausible tag names such as ``seed`` apart from ``speed``).

    Example:
        >>> near_miss("feture", ["feature", "project"]), near_miss("tier", ["feature"])
        ('feature', None)
    """
    import difflib

    names = [name for name in known if name != key]

    def squash(name: str) -> str:
        return name.replace("_", "").replace("-", "").lower()

    for name in names:
        if squash(name) == squash(key):
            return name
    # The shortest name the key is a prefix of: cache_read means cache_read_tokens, not
    # cache_read_audio_tokens.
    prefixed = [
        name
        for name in names
        if len(key) >= 4 and name.startswith(key) and name[len(key) : len(key) + 1] == "_"
    ]
    if prefixed:
        return min(prefixed, key=len)
    candidates = names if fuzzy is None else [name for name in fuzzy if name != key]
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=cutoff)
    return close[0] if close else None
