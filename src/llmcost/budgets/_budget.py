"""Budgets that act before money is spent: :func:`budget` and :class:`Budget`.

A budget is a context manager (``with`` / ``async with``), a decorator, or configured once for
every call (``llmcost.configure(budgets=[...])``). Every instrumented call it covers is checked
*before it is sent*: its worst case is reserved on the budget, or the call is refused with
:class:`llmcost.BudgetExceeded`. A budget may be keyed (``per="user_id"``) and windowed
(``window="day"``): each key and window then has its own totals. See ``docs/budgets.md``.
"""

from __future__ import annotations

import difflib
import inspect
import itertools
import logging
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from llmcost import errors
from llmcost._context import (
    Attribution,
    StackedScope,
    budget_stack,
    scope_stack,
    state,
    warn_if_not_instrumented,
)
from llmcost.budgets._amounts import Limits, Totals
from llmcost.budgets._keys import WINDOWS, Window, check_per, per_value, window_of
from llmcost.budgets._store import BudgetStore, Entry, InMemoryBudgetStore

if TYPE_CHECKING:
    from llmcost.types import CostRecord

__all__ = ["Budget", "budget", "shared_memory_store"]

logger = logging.getLogger("llmcost")

F = TypeVar("F", bound=Callable[..., Any])
OnExceed = Literal["raise", "warn"]
Estimator = Literal["local", "anthropic_api"]

_unnamed = itertools.count(1)
_ZERO = Decimal(0)
#: How long a key outlives its window: ``llmcost budgets status`` still shows yesterday.
WINDOW_GRACE = timedelta(days=1)
#: The keyword arguments of budget(), for the answer to a misspelt one.
_PARAMETERS = (
    "max_cost_usd",
    "max_input_tokens",
    "max_output_tokens",
    "max_total_tokens",
    "max_calls",
    "on_exceed",
    "warn_at",
    "on_warn",
    "name",
    "store",
    "estimator",
    "per",
    "window",
    "tz",
)
#: Keyed and windowed budgets without a store of their own keep their totals here, so that
#: every budget of the same name in this process shares them (a budget is opened per request).
_shared_store = InMemoryBudgetStore()


def shared_memory_store() -> InMemoryBudgetStore:
    """The in-process store keyed and windowed budgets use when given no ``store``."""
    return _shared_store


def _refuse_unknown(where: str, unknown: dict[str, Any]) -> None:
    """A TypeError for keyword arguments budget() does not take, suggesting the near miss."""
    for keyword in unknown:
        close = difflib.get_close_matches(keyword, _PARAMETERS, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]!r}?" if close else f" (it takes {', '.join(_PARAMETERS)})"
        raise TypeError(f"{where}() got an unexpected keyword argument {keyword!r}{hint}")


def _timezone(tz: object) -> tzinfo:
    if tz is None:
        return timezone.utc
    if isinstance(tz, tzinfo):
        return tz
    if not isinstance(tz, str):
        raise TypeError(f"budget(tz=...) must be a timezone name or a tzinfo, got {tz!r}")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"budget(tz={tz!r}) is not a known timezone name") from None


def _current_attribution() -> Any:
    scopes = scope_stack.get()
    if scopes:
        return scopes[-1].attribution
    config = state.config
    return config.attribution if config is not None else Attribution()


#: Records a budget object keeps (its figures count every call).
KEEP_RECORDS = 1000

#: Guards the rarely changed bookkeeping of every budget (unpriced and overshooting calls, the
#: one warning): one lock for all, since a lock per budget costs every request that opens one.
_bookkeeping_lock = threading.Lock()
#: warn_at as an exact Decimal, per value given (str() first: 0.8 means the decimal 0.8).
_fractions: dict[float | Decimal, Decimal] = {}


def _tidy(amount: Decimal) -> Decimal:
    """Drop trailing zeros left by subtraction (0.0098500 -> 0.00985), without exponents."""
    if not amount:
        return _ZERO
    tidy = amount.normalize()
    exponent = tidy.as_tuple().exponent
    return tidy.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else tidy


def _money_limit(value: Any) -> Decimal | None:
    if value is None:
        return None
    if type(value) is int and value >= 0:  # the common case, exact and finite
        return Decimal(value)
    if isinstance(value, bool):
        raise TypeError(f"budget(max_cost_usd=...) must be a number of dollars, got {value!r}")
    try:
        # str() first: a float like 0.1 means the decimal 0.1, not its binary approximation.
        # A plain int converts exactly without the string (a budget is opened per request).
        if isinstance(value, Decimal):
            amount = value
        elif type(value) is int:
            amount = Decimal(value)
        else:
            amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(
            f"budget(max_cost_usd=...) must be a number of dollars, got {value!r}"
        ) from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"budget(max_cost_usd=...) must be a finite amount >= 0, got {value!r}")
    return amount


def _count_limit(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"budget({name}=...) must be an int >= 0 or None, got {value!r}")
    return value


class Budget(StackedScope):
    """An open budget: its limits, what was spent and what is reserved by calls in flight.

    Get one from :func:`llmcost.budget`. Figures are read from the budget's store, so they
    include calls made from other threads and tasks that share it. Money is exact Decimal.

    Attributes:
        name: The name given, or None.
        limits: The limits (``cost_usd``, ``input_tokens``, ``output_tokens``,
            ``total_tokens``, ``calls``; None where unlimited).
        on_exceed: ``"raise"`` or ``"warn"``.
        records: The records of the calls settled on this budget object.
        unpriced_calls: Calls whose model had no price (they add tokens but no cost).
        exceeded_calls: Calls let through over a limit (``on_exceed="warn"``).

    Example:
        >>> import llmcost
        >>> with llmcost.budget(max_cost_usd=0.05, name="request") as b:
        ...     pass
        >>> b.spent_usd, b.remaining_usd
        (Decimal('0'), Decimal('0.05'))
    """

    def __init__(
        self,
        max_cost_usd: Decimal | float | int | str | None = None,
        *,
        max_input_tokens: int | None = None,
        max_output_tokens: int | None = None,
        max_total_tokens: int | None = None,
        max_calls: int | None = None,
        on_exceed: OnExceed = "raise",
        warn_at: float | None = 0.8,
        on_warn: Callable[[Budget], object] | None = None,
        name: str | None = None,
        store: BudgetStore | None = None,
        estimator: Estimator = "local",
        per: str | None = None,
        window: Window | None = None,
        tz: str | tzinfo | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            _refuse_unknown("Budget", unknown)
        self._setup(
            max_cost_usd,
            max_input_tokens,
            max_output_tokens,
            max_total_tokens,
            max_calls,
            on_exceed,
            warn_at,
            on_warn,
            name,
            store,
            estimator,
            per,
            window,
            tz,
        )

    def _setup(
        self,
        max_cost_usd: Decimal | float | int | str | None,
        max_input_tokens: int | None,
        max_output_tokens: int | None,
        max_total_tokens: int | None,
        max_calls: int | None,
        on_exceed: OnExceed,
        warn_at: float | None,
        on_warn: Callable[[Budget], object] | None,
        name: str | None,
        store: BudgetStore | None,
        estimator: Estimator,
        per: str | None,
        window: Window | None,
        tz: str | tzinfo | None,
    ) -> None:
        if on_exceed not in ("raise", "warn"):
            raise ValueError(f"budget(on_exceed=...) must be 'raise' or 'warn', got {on_exceed!r}")
        if warn_at is not None and (
            isinstance(warn_at, bool)
            or not isinstance(warn_at, (int, float, Decimal))
            or not 0 < warn_at <= 1
        ):
            raise ValueError(
                f"budget(warn_at=...) must be a fraction in (0, 1] or None, got {warn_at!r}"
            )
        if on_warn is not None and not callable(on_warn):
            raise TypeError(f"budget(on_warn=...) must be callable, got {on_warn!r}")
        if estimator not in ("local", "anthropic_api"):
            raise ValueError(
                f"budget(estimator=...) must be 'local' or 'anthropic_api', got {estimator!r}"
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"budget(name=...) must be a string, got {name!r}")
        if store is not None and not isinstance(store, BudgetStore):
            raise TypeError(
                f"budget(store=...) must implement reserve/settle/release/read, got {store!r}"
            )
        # A budget is opened per request: the unset limits skip their checks.
        self.limits = Limits(  # cost, input, output, total, calls
            None if max_cost_usd is None else _money_limit(max_cost_usd),
            None
            if max_input_tokens is None
            else _count_limit("max_input_tokens", max_input_tokens),
            None
            if max_output_tokens is None
            else _count_limit("max_output_tokens", max_output_tokens),
            None
            if max_total_tokens is None
            else _count_limit("max_total_tokens", max_total_tokens),
            None if max_calls is None else _count_limit("max_calls", max_calls),
        )
        self.on_exceed: OnExceed = on_exceed
        self.warn_at = warn_at
        # The spent amounts at which warn_at is crossed: computed at the first settle (see
        # _levels), not here, because many budgets (one per request) never settle a call.
        self._warn_levels: tuple[tuple[str, Decimal | int, Decimal], ...] | None = (
            () if warn_at is None else None
        )
        self._warn_fraction = warn_at  # as given here, whatever happens to .warn_at later
        self.on_warn = on_warn
        if window is not None and window not in WINDOWS:
            raise ValueError(
                f"budget(window=...) must be 'hour', 'day', 'month' or None, got {window!r}"
            )
        self.per = None if per is None else check_per(per)
        self.window: Window | None = window
        self.tz = tz
        self._tzinfo = _timezone(tz)
        if tz is not None and window is None:
            raise ValueError("budget(tz=...) sets the calendar of a window: give window= too")
        #: Keyed or windowed: its totals live per key and window, beyond any one request.
        self.keyed = per is not None or window is not None
        if self.keyed and not name:
            raise ValueError(
                "a budget with per= or window= needs a name=: its totals are kept under it "
                "(e.g. name='user-daily')"
            )
        self.name = name
        self.estimator: Estimator = estimator
        self._given_store = store
        if store is not None:
            self.store: BudgetStore = store
        elif self.keyed:
            self.store = _shared_store
        else:
            self.store = InMemoryBudgetStore()
        # The store key: the name when a shared store is given (budgets with the same name
        # share totals); a private store only needs a key unique in this process. Keyed and
        # windowed budgets add the call's key and window to it (see _entry).
        if self.keyed:
            self.key = str(name)
        elif store is None:
            self.key = f"budget-{next(_unnamed)}"
        elif name:
            self.key = name
        else:
            self.key = f"budget-{uuid.uuid4().hex}"
        self._warned_keys: set[str] = set()
        # The newest records only: a long-lived budget keeps totals (in its store), and its
        # memory must not grow with every call.
        self._records: deque[CostRecord] = deque(maxlen=KEEP_RECORDS)
        self._unpriced_calls = 0
        self.exceeded_calls = 0
        # Whether the one warning of warn_at was given (or there is none to give).
        self._warned = warn_at is None
        self._overshoot_logged = False

    def _entry(self, attribution: Any, when: datetime | None) -> Entry:
        """The store key a call attributed as ``attribution``, made at ``when``, charges.

        Only keyed and windowed budgets look at ``attribution`` and ``when``.
        """
        force = self.on_exceed != "raise"
        if not self.keyed or when is None:
            return Entry(self.key, self.limits, force)
        key = self.key
        if self.per is not None:
            key = f"{key}:{per_value(self.per, attribution)}"
        if self.window is None:
            return Entry(key, self.limits, force)
        label, ends = window_of(self.window, when, self._tzinfo)
        key = f"{key}@{label}" if self.tz is None else f"{key}@{label} {self.tz}"
        return Entry(key, self.limits, force, (ends + WINDOW_GRACE).timestamp())

    def current_key(self) -> str:
        """The store key a call made here and now would be charged to."""
        return self._entry(_current_attribution(), datetime.now(timezone.utc)).key

    def describe(self, key: str) -> str:
        """How errors and logs name this budget for ``key``."""
        if self.keyed:
            return repr(key)
        return self.display_name

    @property
    def display_name(self) -> str:
        """How errors and logs name this budget: its name, else its limits."""
        if self.name:
            return repr(self.name)
        return f"({self._describe_limits()})"

    def _describe_limits(self) -> str:
        names = {
            "cost_usd": "max_cost_usd",
            "input_tokens": "max_input_tokens",
            "output_tokens": "max_output_tokens",
            "total_tokens": "max_total_tokens",
            "calls": "max_calls",
        }
        parts = [f"{names[dim]}={limit}" for dim, limit in self.limits.items()]
        return ", ".join(parts) or "no limits"

    def __repr__(self) -> str:
        return (
            f"Budget(name={self.name!r}, {self._describe_limits()}, spent_usd={self.spent_usd}, "
            f"reserved_usd={self.reserved_usd}, calls={self.calls})"
        )

    def _fresh(self) -> Budget:
        """A new budget with the same settings (each decorated invocation gets its own)."""
        limits = self.limits
        return Budget(
            limits.cost_usd,
            max_input_tokens=limits.input_tokens,
            max_output_tokens=limits.output_tokens,
            max_total_tokens=limits.total_tokens,
            max_calls=limits.calls,
            on_exceed=self.on_exceed,
            warn_at=self.warn_at,
            on_warn=self.on_warn,
            name=self.name,
            store=self._given_store,
            estimator=self.estimator,
            per=self.per,
            window=self.window,
            tz=self.tz,
        )

    # -- figures -------------------------------------------------------------------------------

    def totals(self) -> Totals:
        """Spent and reserved amounts, read atomically from the store.

        A keyed or windowed budget reads the key a call made here and now would be charged
        to (the current attribution's value of ``per``, the current window).
        """
        return self.store.read(self.current_key() if self.keyed else self.key)

    @property
    def records(self) -> list[CostRecord]:
        """The records of the calls settled on this budget object, oldest first: the newest
        1,000 (:data:`KEEP_RECORDS`); the figures (``spent_usd``, ``calls``, ...) count all.

        Empty for keyed and windowed budgets, which live as long as the process.
        """
        return list(self._records)

    @property
    def unpriced_calls(self) -> int:
        """Calls whose model had no price (they add tokens but no cost)."""
        return self._unpriced_calls

    @property
    def spent_usd(self) -> Decimal:
        """The cost of the calls settled so far."""
        return _tidy(self.totals().spent.cost_usd)

    @property
    def reserved_usd(self) -> Decimal:
        """The worst cases held by calls still in flight."""
        return _tidy(self.totals().reserved.cost_usd)

    @property
    def remaining_usd(self) -> Decimal | None:
        """What a new call can still reserve: limit − spent − reserved (never below 0)."""
        limit = self.limits.cost_usd
        if limit is None:
            return None
        totals = self.totals()
        return _tidy(max(limit - totals.spent.cost_usd - totals.reserved.cost_usd, _ZERO))

    @property
    def calls(self) -> int:
        """How many calls were made and settled (failed calls included)."""
        return self.totals().spent.calls

    @property
    def input_tokens(self) -> int:
        """Input tokens of the settled calls."""
        return self.totals().spent.input_tokens

    @property
    def output_tokens(self) -> int:
        """Output tokens of the settled calls."""
        return self.totals().spent.output_tokens

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens of the settled calls."""
        return self.totals().spent.total_tokens

    # -- called by the reservation -------------------------------------------------------------

    def _levels(self) -> tuple[tuple[str, Decimal | int, Decimal], ...]:
        """(dimension, limit, level) for each limit that ``warn_at`` applies to."""
        levels = self._warn_levels
        if levels is None:
            given = self._warn_fraction
            assert given is not None  # levels are () without warn_at
            fraction = _fractions.get(given)
            if fraction is None:
                fraction = Decimal(str(given))
                if len(_fractions) < 64:  # a few distinct values in any real program
                    _fractions[given] = fraction
            # A limit of 0 has no level to cross on the way.
            levels = self._warn_levels = tuple(
                [(dim, limit, fraction * limit) for dim, limit in self.limits._items if limit]
            )
        return levels

    def _settled(self, key: str, totals: Totals | None, record: CostRecord) -> None:
        """Bookkeeping after the store settled ``record`` on ``key`` (``totals``: after it,
        None when the store failed)."""
        if not self.keyed:
            self._records.append(record)  # deque.append is atomic
        if record.total_cost_usd is None:
            with _bookkeeping_lock:
                self._unpriced_calls += 1
        if self._warned or totals is None:  # _warned: True from the start without warn_at
            return
        if self.keyed:
            if key not in self._warned_keys:
                self._check_warn_key(key, totals)
            return
        self._check_warn(totals)

    def _overshot(self, error: errors.BudgetExceeded) -> None:
        """A call was let through over a limit (warn mode): count, log once."""
        errors.count("budget.exceeded_warn")
        with _bookkeeping_lock:
            self.exceeded_calls += 1
            first = not self._overshoot_logged
            self._overshoot_logged = True
        if first:
            logger.warning(
                "%s (on_exceed='warn': the call was sent; further overshoots of this budget "
                "are counted in Budget.exceeded_calls, not logged)",
                str(error).replace("refused", "would have refused", 1),
            )

    def _check_warn_key(self, key: str, totals: Totals) -> None:
        # Keyed budgets warn once per key (per user and window), within a bounded memory.
        spent = totals[0]
        crossed = next(
            (
                (dimension, limit)
                for dimension, limit, level in self._warn_levels or self._levels()
                if getattr(spent, dimension) >= level
            ),
            None,
        )
        if crossed is None:
            return
        dimension, limit = crossed
        with _bookkeeping_lock:
            if key in self._warned_keys:
                return
            if len(self._warned_keys) >= 10_000:
                self._warned_keys.clear()
            self._warned_keys.add(key)
        logger.warning(
            "llmcost budget %r has used %s of its %s limit of %s (warn_at=%s)",
            key,
            spent.get(dimension),
            dimension,
            limit,
            self.warn_at,
        )
        if self.on_warn is not None:
            try:
                self.on_warn(self)
            except Exception:
                errors.count("budget.on_warn_errors")
                logger.exception("llmcost budget %r: the on_warn callback failed", key)

    def _check_warn(self, totals: Totals) -> None:
        spent = totals[0]
        for dimension, limit, level in self._warn_levels or self._levels():
            if getattr(spent, dimension) >= level:
                crossed = (dimension, limit)
                break
        else:
            return
        with _bookkeeping_lock:
            first = not self._warned
            self._warned = True
        if not first:
            return
        dimension, limit = crossed
        used = totals.spent.get(dimension)
        logger.warning(
            "llmcost budget %s has used %s of its %s limit of %s (warn_at=%s)",
            self.display_name,
            used,
            dimension,
            limit,
            self.warn_at,
        )
        if self.on_warn is not None:
            try:
                self.on_warn(self)
            except Exception:
                errors.count("budget.on_warn_errors")
                logger.exception("llmcost budget %s: the on_warn callback failed", self.name)

    # -- opening (with / async with come from StackedScope) ---------------------------------

    _stack = budget_stack

    def _on_open(self, enclosing: tuple[Any, ...]) -> None:
        warn_if_not_instrumented("llmcost.budget")

    # -- decorator -----------------------------------------------------------------------------

    def __call__(self, func: F) -> F:
        """Decorate a function or coroutine function: each invocation gets a fresh budget."""
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(
                "llmcost.budget cannot decorate a generator function: use `with llmcost.budget()` "
                "inside it"
            )
        return self._decorate(func)


def budget(
    max_cost_usd: Decimal | float | int | str | None = None,
    *,
    max_input_tokens: int | None = None,
    max_output_tokens: int | None = None,
    max_total_tokens: int | None = None,
    max_calls: int | None = None,
    on_exceed: OnExceed = "raise",
    warn_at: float | None = 0.8,
    on_warn: Callable[[Budget], object] | None = None,
    name: str | None = None,
    store: BudgetStore | None = None,
    estimator: Estimator = "local",
    per: str | None = None,
    window: Window | None = None,
    tz: str | tzinfo | None = None,
    **unknown: Any,
) -> Budget:
    """Refuse LLM calls before they are sent when their worst case would overshoot a limit.

    Use it as ``with`` / ``async with`` (it yields the :class:`Budget`) or as a decorator on a
    function or coroutine function (each invocation gets a fresh budget). Before every
    instrumented call made inside, the call's worst case (estimated input tokens × input rate
    + output ceiling × output rate) is reserved; if an open budget cannot cover it, the call
    raises :class:`llmcost.BudgetExceeded` without any request being sent. Nested budgets all
    apply. When the call's record is made, the reservation becomes its real cost.

    Threads do not inherit the budget on their own: submit work with
    :func:`llmcost.bind_context` (or ``contextvars.copy_context().run``).

    Args:
        max_cost_usd: Dollar limit (Decimal, str, int or float).
        max_input_tokens: Limit on input tokens (estimated before, exact after each call).
        max_output_tokens: Limit on output tokens.
        max_total_tokens: Limit on input + output tokens.
        max_calls: Limit on the number of calls.
        on_exceed: ``"raise"`` refuses the call; ``"warn"`` logs (once per budget), counts in
            ``Budget.exceeded_calls`` and lets it through.
        warn_at: Fraction of any limit whose crossing logs one warning and calls ``on_warn``.
        on_warn: Called with the budget when ``warn_at`` is crossed.
        name: Shown in errors and logs; with ``store``, budgets of the same name share totals.
            Required with ``per`` or ``window``.
        store: A :class:`BudgetStore` (default: a private in-memory store; for keyed and
            windowed budgets, one in-memory store shared in this process). Use
            :class:`~llmcost.budgets.RedisBudgetStore` to share totals across processes.
        estimator: ``"local"`` counts input tokens offline; ``"anthropic_api"`` asks
            Anthropic's free ``messages.count_tokens`` endpoint for exact counts of
            Anthropic calls (one extra HTTP request per call; sync clients only).
        per: Keep separate totals per value of an attribution field (``"user_id"``,
            ``"feature"``, ``"project"``, ``"environment"``) or of a template such as
            ``"customer:{tags[customer]}"``. A call without the value is charged to ``"-"``.
        window: ``"hour"``, ``"day"`` or ``"month"``: totals start again at zero in each
            calendar window (the window is part of the key; nothing needs cleaning up).
        tz: The timezone of the window's calendar (a name such as ``"Europe/Paris"``, or a
            ``tzinfo``); UTC by default.

    Returns:
        The :class:`Budget`, not yet open.

    Raises:
        ValueError: a limit or option is invalid.
        TypeError: an unknown keyword (a near miss is named: ``did you mean 'max_cost_usd'?``).

    Example:
        >>> import llmcost
        >>> with llmcost.budget(max_cost_usd=0.05, name="request") as b:
        ...     pass  # client.chat.completions.create(...) raises BudgetExceeded if needed
        >>> b.remaining_usd
        Decimal('0.05')
    """
    if unknown:
        _refuse_unknown("llmcost.budget", unknown)
    opened = Budget.__new__(Budget)
    opened._setup(
        max_cost_usd,
        max_input_tokens,
        max_output_tokens,
        max_total_tokens,
        max_calls,
        on_exceed,
        warn_at,
        on_warn,
        name,
        store,
        estimator,
        per,
        window,
        tz,
    )
    return opened


def _lock_after_fork_in_child() -> None:
    # A thread of the parent may have held the lock at fork(): the child gets a fresh one.
    global _bookkeeping_lock
    _bookkeeping_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_lock_after_fork_in_child)
