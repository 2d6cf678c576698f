"""Admission control before a call is sent: unknown-model refusal, model policy, budgets.

``admit`` is called by the recorder's ``start_call`` only when something could refuse the call
(open budgets, a policy, or ``unknown_model="raise"``), so calls outside any budget pay nothing.

Budgets work in three steps around each call:

1. **reserve**: the call's worst case (estimated input tokens × input rate + output ceiling ×
   output rate) is reserved on every open budget, outermost first, each atomically against
   its limits in its :class:`BudgetStore`. If one cannot cover it, the reservations already
   made are undone and :class:`~llmcost.BudgetExceeded` names that (outermost) budget.
2. **settle**: when the record is made, the reservation is replaced by the record's real
   cost and tokens.
3. **release**: a call that never produced a record frees its reservation.

Settling and releasing are idempotent: whichever comes first wins.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

from llmcost import errors, pricing, tokens
from llmcost.policy import OUTPUT_CAP_PARAMETERS
from llmcost.types import Usage, construct_trusted

if TYPE_CHECKING:
    from llmcost._context import Config
    from llmcost._recorder import Call
    from llmcost.budgets import Budget
    from llmcost.policy import Policy
    from llmcost.types import CostRecord

__all__ = [
    "DIMENSIONS",
    "Amounts",
    "BudgetStore",
    "InMemoryBudgetStore",
    "Limits",
    "Refusal",
    "Reservation",
    "Totals",
    "admit",
]

logger = logging.getLogger("llmcost")

ZERO = Decimal(0)
#: What a budget can limit, in the order they are checked (the first that overshoots is named).
DIMENSIONS = ("cost_usd", "input_tokens", "output_tokens", "total_tokens", "calls")
#: The legacy completions API generates at most 16 tokens when ``max_tokens`` is not given.
COMPLETIONS_DEFAULT_MAX_TOKENS = 16


# --- amounts, limits and the store interface --------------------------------------------------


class Amounts(NamedTuple):
    """Cost, tokens and calls: what is spent, reserved, or asked for by one call.

    An immutable tuple. The hot paths build it with ``tuple.__new__`` (see ``_amounts``),
    which skips the Python-level ``__new__`` of a NamedTuple.
    """

    cost_usd: Decimal = ZERO
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def get(self, dimension: str) -> Decimal | int:
        """The amount in one of :data:`DIMENSIONS`."""
        value: Decimal | int = getattr(self, dimension)
        return value

    def __add__(self, other: Amounts) -> Amounts:  # type: ignore[override]
        """Field by field (not tuple concatenation)."""
        return _new(
            Amounts,
            (self[0] + other[0], self[1] + other[1], self[2] + other[2], self[3] + other[3]),
        )

    def __sub__(self, other: Amounts) -> Amounts:
        """Field by field."""
        return _new(
            Amounts,
            (self[0] - other[0], self[1] - other[1], self[2] - other[2], self[3] - other[3]),
        )


#: ``_new(Amounts, (cost, input, output, calls))`` builds a NamedTuple without its Python-level
#: ``__new__`` (a third of the time): for the paths every call takes.
_new = tuple.__new__


EMPTY = Amounts()


class Limits:
    """A budget's limits; None means that dimension is not limited."""

    __slots__ = (
        "_items",
        "_needs_cost",
        "_needs_input",
        "calls",
        "cost_usd",
        "input_tokens",
        "output_tokens",
        "total_tokens",
    )

    def __init__(
        self,
        cost_usd: Decimal | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        total_tokens: int | None = None,
        calls: int | None = None,
    ) -> None:
        self.cost_usd = cost_usd
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.total_tokens = total_tokens
        self.calls = calls
        # Built once, without getattr or a generator: a budget is opened per request.
        items: list[tuple[str, Decimal | int]] = []
        if cost_usd is not None:
            items.append(("cost_usd", cost_usd))
        if input_tokens is not None:
            items.append(("input_tokens", input_tokens))
        if output_tokens is not None:
            items.append(("output_tokens", output_tokens))
        if total_tokens is not None:
            items.append(("total_tokens", total_tokens))
        if calls is not None:
            items.append(("calls", calls))
        self._items: tuple[tuple[str, Decimal | int], ...] = tuple(items)
        # What the admission must compute for this budget: pricing the worst case only for a
        # dollar limit, counting input tokens only for a limit they feed.
        self._needs_cost = cost_usd is not None
        self._needs_input = not (cost_usd is None and input_tokens is None and total_tokens is None)

    def items(self) -> tuple[tuple[str, Decimal | int], ...]:
        """The limited dimensions and their limits, in :data:`DIMENSIONS` order."""
        return self._items

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Limits) and self._items == other._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        inner = ", ".join(f"{dimension}={limit!r}" for dimension, limit in self._items)
        return f"Limits({inner})"


class Totals(NamedTuple):
    """What a budget has spent (settled calls) and holds in reservations (calls in flight)."""

    spent: Amounts = EMPTY
    reserved: Amounts = EMPTY


EMPTY_TOTALS = Totals()


class Refusal(NamedTuple):
    """The first limit a reservation would overshoot, and the totals before it."""

    dimension: str
    limit: Decimal | int
    totals: Totals


@runtime_checkable
class BudgetStore(Protocol):
    """Where budgets keep their totals. The default keeps them in process memory.

    A store shared by several processes (a database, Redis) implements the same four methods;
    ``reserve`` must check and add atomically, so that concurrent callers can never push
    ``spent + reserved`` past a limit. Keys are budget names (or a unique id for unnamed
    budgets).
    """

    def reserve(
        self, key: str, amount: Amounts, limits: Limits, *, force: bool = False
    ) -> Refusal | None:
        """Atomically add ``amount`` to the reservations of ``key`` if it fits every limit.

        Returns None when reserved. Otherwise returns the first limit it would overshoot and
        changes nothing, unless ``force`` is True (warn mode): then it reserves anyway and
        still returns the overshoot.
        """
        ...

    def settle(self, key: str, reserved: Amounts, actual: Amounts) -> Totals:
        """Replace a reservation by what the call really cost; return the new totals."""
        ...

    def release(self, key: str, reserved: Amounts) -> Totals:
        """Drop a reservation (the call produced no record); return the new totals."""
        ...

    def read(self, key: str) -> Totals:
        """The current totals of ``key`` (zero for a key never used)."""
        ...


class InMemoryBudgetStore:
    """The default :class:`BudgetStore`: totals in a dict, one lock around every change.

    Each ``llmcost.budget()`` without a ``store`` gets its own; pass one store and a ``name``
    to several budgets (per request, per task) to make them share one running total.

    Example:
        >>> store = InMemoryBudgetStore()
        >>> store.reserve("team", Amounts(calls=1), Limits(calls=1)) is None
        True
        >>> store.reserve("team", Amounts(calls=1), Limits(calls=1)).dimension
        'calls'
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # key -> [spent, reserved]: immutable Amounts, replaced under the lock, so a snapshot
        # (Totals) is the pair itself and costs no copy.
        self._state: dict[str, list[Amounts]] = {}

    def reserve(
        self, key: str, amount: Amounts, limits: Limits, *, force: bool = False
    ) -> Refusal | None:
        cost, tokens_in, tokens_out, calls = amount
        with self._lock:
            state = self._state.get(key)
            if state is None:
                state = self._state[key] = [EMPTY, EMPTY]
            spent, reserved = state
            refusal = None
            used: Decimal | int
            for dimension, limit in limits._items:
                if dimension == "cost_usd":
                    used = spent[0] + reserved[0] + cost
                elif dimension == "input_tokens":
                    used = spent[1] + reserved[1] + tokens_in
                elif dimension == "output_tokens":
                    used = spent[2] + reserved[2] + tokens_out
                elif dimension == "total_tokens":
                    used = spent[1] + spent[2] + reserved[1] + reserved[2] + tokens_in + tokens_out
                else:
                    used = spent[3] + reserved[3] + calls
                if used > limit:
                    refusal = Refusal(dimension, limit, _new(Totals, (spent, reserved)))
                    if not force:
                        return refusal
                    break
            state[1] = _new(
                Amounts,
                (
                    reserved[0] + cost,
                    reserved[1] + tokens_in,
                    reserved[2] + tokens_out,
                    reserved[3] + calls,
                ),
            )
            return refusal

    def settle(self, key: str, reserved: Amounts, actual: Amounts) -> Totals:
        with self._lock:
            state = self._state.get(key)
            if state is None:
                state = self._state[key] = [EMPTY, EMPTY]
            state[0] = spent = state[0] + actual
            state[1] = held = state[1] - reserved
            return _new(Totals, (spent, held))

    def release(self, key: str, reserved: Amounts) -> Totals:
        with self._lock:
            state = self._state.get(key)
            if state is None:
                state = self._state[key] = [EMPTY, EMPTY]
            state[1] = held = state[1] - reserved
            return _new(Totals, (state[0], held))

    def read(self, key: str) -> Totals:
        with self._lock:
            state = self._state.get(key)
            return EMPTY_TOTALS if state is None else _new(Totals, (state[0], state[1]))


# --- reservations -------------------------------------------------------------------------------


class Reservation(Protocol):
    """What a call holds on its budgets while it runs; settle or release it exactly once."""

    def settle(self, record: CostRecord, *, usage_unknown: bool = False) -> None: ...

    def release(self) -> None: ...


class BudgetReservation:
    """The worst case of one call, reserved on each open budget (outermost first).

    ``settle(record)`` replaces it by the record's real cost and tokens; ``release()`` drops
    it. Whichever comes first wins; the other is a no-op.
    """

    __slots__ = ("_amount", "_budgets", "_charged", "_token")

    def __init__(
        self,
        budgets: tuple[Budget, ...],
        amount: Amounts,
        charged: tuple[bool, ...] | None = None,
    ) -> None:
        # Every budget holds the same amount. charged[i] is False for a second Budget object
        # sharing a store key with an outer one, which must not count the call twice; None
        # (the usual case) means every budget is charged.
        self._budgets = budgets
        self._amount = amount
        self._charged = charged
        # One token, taken by whichever of settle/release comes first: list.pop is atomic,
        # so a stream finalised on another thread cannot settle and release both.
        self._token = [True]

    @property
    def open(self) -> bool:
        """Whether the reservation is still held (neither settled nor released)."""
        return bool(self._token)

    def _pairs(self) -> Iterable[tuple[Budget, bool]]:
        charged = self._charged
        if charged is None:
            return [(budget, True) for budget in self._budgets]
        return zip(self._budgets, charged, strict=True)

    def settle(self, record: CostRecord, *, usage_unknown: bool = False) -> None:
        """Replace the reservation by what ``record`` says the call cost.

        With ``usage_unknown`` (the call was sent and billed, but its usage could not be read)
        each budget is charged what it reserved, the call's worst case: charging nothing would
        let a budget be overspent by calls whose cost llmcost failed to read.
        """
        try:
            self._token.pop()
        except IndexError:
            return  # already settled or released
        amount = self._amount
        if usage_unknown:
            actual = amount
        else:
            cost = record.total_cost_usd
            actual = _new(
                Amounts,
                (cost if cost is not None else ZERO, record.input_tokens, record.output_tokens, 1),
            )
        if self._charged is None:
            for budget in self._budgets:
                # try/except rather than internal_guard: free when nothing fails (hot path).
                try:
                    budget._settled(amount, actual, record, True)
                except Exception as exc:
                    errors.report_internal_error("budget.settle", exc)
            return
        for budget, charged in self._pairs():
            try:
                budget._settled(amount, actual, record, charged)
            except Exception as exc:
                errors.report_internal_error("budget.settle", exc)

    def release(self) -> None:
        """Free the reservation: the call produced no record (never sent, or lost)."""
        try:
            self._token.pop()
        except IndexError:
            return
        amount = self._amount
        for budget, charged in self._pairs():
            try:
                budget._released(amount, charged)
            except Exception as exc:
                errors.report_internal_error("budget.release", exc)


# --- the worst-case estimate ------------------------------------------------------------------


class Estimate(NamedTuple):
    """The worst case of one call, as far as it can be known before sending."""

    input_tokens: int = 0
    #: The most output tokens the call can be billed for; None when nothing bounds it.
    output_tokens: int | None = 0
    #: The worst-case cost; None when it cannot be priced (see ``unpriced_reason``).
    cost_usd: Decimal | None = ZERO
    unpriced_reason: str | None = None
    #: False when the catalog has no price for the model.
    model_known: bool = True
    #: True when estimation failed internally: only call counts are enforced for this call.
    failed: bool = False


def _given(value: Any) -> bool:
    # The SDKs mark omitted arguments with sentinels (openai.NOT_GIVEN, Omit).
    return value is not None and type(value).__name__ not in ("NotGiven", "Omit")


def _positive_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


_DEFAULT_CAP_PARAMETERS = ("max_tokens",)


def output_cap(operation: str, request: Mapping[str, Any]) -> int | None:
    """The output cap the request sets itself, if any."""
    if operation == "generate_content":
        # Gemini: config.max_output_tokens (a dict or a GenerateContentConfig), which bounds
        # the thinking too (Gemini counts thoughts against it).
        config = request.get("config")
        if isinstance(config, Mapping):
            return _positive_int(config.get("max_output_tokens"))
        return _positive_int(getattr(config, "max_output_tokens", None))
    for name in OUTPUT_CAP_PARAMETERS.get(operation, _DEFAULT_CAP_PARAMETERS):
        value = request.get(name)
        if value is None:
            continue
        if type(value) is int:  # the common case, checked without a function call
            return value if value >= 0 else None
        if _given(value):
            return _positive_int(value)
    return None


def output_ceiling(operation: str, request: Mapping[str, Any], price: Any) -> int | None:
    """The most output tokens a call can be billed for, or None when nothing bounds it.

    The request's cap (``max_completion_tokens`` / ``max_tokens`` / ``max_output_tokens``),
    else the catalog's maximum output for the model, times the number of choices (``n``,
    ``best_of``, one per prompt for legacy completions). Embeddings have no output.
    """
    if operation == "embeddings":
        return 0
    cap = output_cap(operation, request)
    if operation == "completions":
        per_choice = cap if cap is not None else COMPLETIONS_DEFAULT_MAX_TOKENS
        n = _positive_int(request.get("n")) or 1
        best_of = _positive_int(request.get("best_of")) or 1
        return per_choice * max(n, best_of) * tokens.prompt_count(request.get("prompt"))
    if cap is None:
        cap = getattr(price, "max_output_tokens", None) if price is not None else None
        if cap is None:
            return None
    if operation == "chat":
        choices = request.get("n")
        if choices is not None:
            cap *= _positive_int(choices) or 1
    return int(cap)


def _anthropic_cache_ttl(request: Mapping[str, Any]) -> str | None:
    """ "1h" or "5m" when the request asks Anthropic to write a cache, else None."""
    found: set[str] = set()

    def visit(value: Any, depth: int) -> None:
        if depth > 6:
            return
        if isinstance(value, Mapping):
            control = value.get("cache_control")
            if isinstance(control, Mapping):
                found.add(str(control.get("ttl") or "5m"))
            for item in value.values():
                if isinstance(item, (list, tuple, Mapping)):
                    visit(item, depth + 1)
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item, depth + 1)

    visit({key: request.get(key) for key in ("cache_control", "system", "tools", "messages")}, 0)
    if "1h" in found:
        return "1h"
    return "5m" if found else None


def _input_tokens(call: Call, request: Mapping[str, Any], budgets: tuple[Any, ...]) -> int:
    if call.operation == "messages" and any(
        getattr(budget, "estimator", "local") == "anthropic_api" for budget in budgets
    ):
        exact = _anthropic_api_count(call, request)
        if exact is not None:
            return exact
    return tokens.estimate_request_input_tokens(call.provider, call.operation, request)


_COUNT_TOKENS_FIELDS = (
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "cache_control",
    "output_config",
    "speed",
)
_fallback_logged: set[str] = set()
_COUNT_TOKENS_TIMEOUT_S = 5.0


def _log_fallback_once(kind: str, message: str) -> None:
    if kind not in _fallback_logged:
        _fallback_logged.add(kind)
        logger.warning(message)


def _anthropic_api_count(call: Call, request: Mapping[str, Any]) -> int | None:
    """The exact input tokens from Anthropic's free ``messages.count_tokens``, or None."""
    client = call.client
    resource = client if callable(getattr(client, "count_tokens", None)) else None
    if resource is None:
        resource = getattr(client, "messages", None)
    count = getattr(resource, "count_tokens", None)
    if not callable(count):
        errors.count("budget.anthropic_api_unavailable")
        _log_fallback_once(
            "no-client",
            "llmcost budget estimator='anthropic_api': the integration did not pass the "
            "Anthropic client, so input tokens are estimated locally",
        )
        return None
    if inspect.iscoroutinefunction(count):
        # The budget check runs synchronously before the request; it cannot await.
        errors.count("budget.anthropic_api_unavailable")
        _log_fallback_once(
            "async-client",
            "llmcost budget estimator='anthropic_api' is not available for async Anthropic "
            "clients (the check runs before the call and cannot await); input tokens are "
            "estimated locally",
        )
        return None
    sdk_client = getattr(resource, "_client", None)
    if "Bedrock" in type(sdk_client).__name__ or "Vertex" in type(sdk_client).__name__:
        errors.count("budget.anthropic_api_unavailable")
        _log_fallback_once(
            "platform-client",
            "llmcost budget estimator='anthropic_api' counts with Anthropic's own API only; "
            "Bedrock and Vertex calls are estimated locally",
        )
        return None
    # A budget check must not hang the call it guards: no retries and a short timeout,
    # whatever the application's client defaults are (600 s and 2 retries out of the box).
    with_options = getattr(sdk_client, "with_options", None)
    if callable(with_options):
        with errors.internal_guard("budget.anthropic_api_options"):
            count = with_options(
                max_retries=0, timeout=_COUNT_TOKENS_TIMEOUT_S
            ).messages.count_tokens
    kwargs = {key: request[key] for key in _COUNT_TOKENS_FIELDS if _given(request.get(key))}
    try:
        result = count(**kwargs)
    except Exception as exc:
        errors.count("budget.anthropic_api_errors")
        _log_fallback_once(
            "api-error",
            f"llmcost budget estimator='anthropic_api': messages.count_tokens failed "
            f"({type(exc).__name__}); input tokens are estimated locally",
        )
        return None
    value = getattr(result, "input_tokens", None)
    return _positive_int(value)


def estimate(
    call: Call,
    request: Mapping[str, Any],
    budgets: tuple[Any, ...] = (),
    *,
    need_input: bool = True,
    need_cost: bool = True,
) -> Estimate:
    """The worst case of ``call`` with ``request`` (the kwargs as they will be sent).

    ``need_input=False`` skips counting input tokens and ``need_cost=False`` skips pricing,
    when no open budget limits what they feed (a budget of calls only pays for neither).
    """
    input_tokens = _input_tokens(call, request, budgets) if need_input else 0
    model = call.model
    price = pricing.get_catalog().resolve(model, call.provider) if model else None
    ceiling = output_ceiling(call.operation, request, price)
    if not need_cost:
        return Estimate(input_tokens, ceiling, ZERO)
    if price is None or model is None:
        reason = f"model {model!r} has no price in the llmcost catalog" if model else "no model"
        return Estimate(input_tokens, ceiling, None, reason, model_known=False)
    if ceiling is None:
        return Estimate(
            input_tokens,
            None,
            None,
            f"the request sets no output cap and the catalog has no maximum output for {model!r}",
        )
    cache_write = cache_write_1h = 0
    if call.operation == "messages":
        ttl = _anthropic_cache_ttl(request)
        if ttl is not None:
            # Cache writes cost more than plain input: the worst case prices all input as such.
            cache_write = input_tokens
            cache_write_1h = input_tokens if ttl == "1h" else 0
    # The hot path: the rate card pricing.cost would pick for this call (memoized by the
    # catalog; ``at=None`` selects today's period, as pricing.cost does for an estimate) and
    # pricing's own arithmetic for plain input, cache writes and output, without a Usage and a
    # Cost per call. It answers None where only the full path is exact (long-context cliffs).
    tier = request.get("service_tier")
    speed = request.get("speed")
    geo = request.get("inference_geo")
    residency = call.data_residency
    card = None
    if tier is None and speed is None and geo is None and residency is None:
        # A plain call to a model without dated prices takes the card pricing.cost itself
        # takes then (ModelPrice._plain, set once card() built it), without a memo key.
        card = price._plain
    if card is None:
        tier = tier if isinstance(tier, str) else None
        speed = speed if isinstance(speed, str) else None
        geo = geo if isinstance(geo, str) else None
        card = price.card(
            service_tier=tier, speed=speed, inference_geo=geo, data_residency=residency
        )
    total = pricing.plain_total(
        card, input_tokens - cache_write, cache_write, cache_write_1h, ceiling
    )
    if total is not None:
        # tuple.__new__: the NamedTuple's Python-level __new__ costs twice as much.
        return _new(Estimate, (input_tokens, ceiling, total, None, True, False))
    usage = construct_trusted(
        Usage,
        {
            "input_tokens": input_tokens,
            "cache_read_tokens": 0,
            "cache_write_tokens": cache_write,
            "cache_write_1h_tokens": cache_write_1h,
            "output_tokens": ceiling,
            "reasoning_tokens": 0,
            "input_audio_tokens": 0,
            "output_audio_tokens": 0,
            "web_search_requests": 0,
        },
    )
    cost = pricing.cost(
        model,
        usage,
        provider=call.provider,
        service_tier=tier,
        speed=speed,
        inference_geo=geo,
        data_residency=call.data_residency,
    )
    if cost.total_cost_usd is None:
        return Estimate(input_tokens, ceiling, None, f"model {model!r} could not be priced")
    return Estimate(input_tokens, ceiling, cost.total_cost_usd)


# --- admission ------------------------------------------------------------------------------------


def admit(call: Call, budgets: tuple[Any, ...], config: Config) -> Reservation | None:
    """Refuse the call before it is sent, or reserve its worst case on every open budget.

    Raises:
        UnknownModelError: the model has no price and ``unknown_model="raise"``.
        PolicyViolation: the configured :class:`~llmcost.Policy` forbids the call.
        BudgetExceeded: an open budget with ``on_exceed="raise"`` cannot cover the call.
    """
    if (
        config.unknown_model == "raise"
        and call.model
        and not pricing.is_known(call.model, provider=call.provider)
    ):
        raise errors.UnknownModelError(call.model, call.provider)
    if config.policy is not None:
        apply_policy(call, config.policy, config)
    if not budgets:
        return None
    request = call.request
    if call.request_overrides:
        request = {**request, **call.request_overrides}
    if len(budgets) == 1:
        limits = budgets[0].limits
        need_cost, need_input = limits._needs_cost, limits._needs_input
    else:
        need_cost = any(budget.limits._needs_cost for budget in budgets)
        need_input = any(budget.limits._needs_input for budget in budgets)
    try:
        worst = estimate(call, request, budgets, need_input=need_input, need_cost=need_cost)
    except Exception as exc:
        # A bug in estimation must never block a call: enforce call counts only.
        errors.report_internal_error("budget.estimate", exc)
        worst = Estimate(0, 0, ZERO, failed=True)
    return reserve(call, budgets, worst)


def _unenforceable(limits: Limits, worst: Estimate) -> str | None:
    """The limit of ``limits`` that ``worst`` cannot be checked against, if any."""
    if worst.cost_usd is None and limits.cost_usd is not None:
        return "cost_usd"
    if worst.output_tokens is None:
        if limits.output_tokens is not None:
            return "output_tokens"
        if limits.total_tokens is not None:
            return "total_tokens"
    return None


def reserve(call: Call, budgets: tuple[Any, ...], worst: Estimate) -> BudgetReservation:
    """Reserve ``worst`` on every budget, outermost first, or undo and raise."""
    if worst.failed:
        amount = Amounts(ZERO, 0, 0, 1)
    else:
        cost, output_tokens = worst.cost_usd, worst.output_tokens
        amount = _new(
            Amounts,
            (
                cost if cost is not None else ZERO,
                worst.input_tokens,
                output_tokens if output_tokens is not None else 0,
                1,
            ),
        )
        # Only an estimate without a cost or an output ceiling can leave a limit unenforceable:
        # the usual call skips that check on every budget.
        if cost is None or output_tokens is None:
            return _reserve_each(call, budgets, worst, amount)
    if len(budgets) != 1:
        return _reserve_each(call, budgets, worst, amount)
    # The usual case, one budget and an enforceable estimate: the same steps as
    # _reserve_each, without its bookkeeping for nesting.
    budget = budgets[0]
    on_exceed = budget.on_exceed
    try:
        refusal = budget.store.reserve(
            budget.key, amount, budget.limits, force=on_exceed != "raise"
        )
    except Exception as exc:
        errors.report_internal_error("budget.store", exc)
        return BudgetReservation((), amount)  # a failing store never blocks a call
    if refusal is not None:
        error = _exceeded(budget, refusal, amount, call, worst)
        if on_exceed == "raise":
            raise error
        budget._overshot(error)
    return BudgetReservation(budgets, amount)


def _reserve_each(
    call: Call, budgets: tuple[Any, ...], worst: Estimate, amount: Amounts
) -> BudgetReservation:
    check_enforceable = not worst.failed and (worst.cost_usd is None or worst.output_tokens is None)
    held: list[Budget] = []
    charged_flags: list[bool] = []
    overshoots: list[tuple[Budget, BudgetExceeded]] = []
    try:
        for budget in budgets:
            store, key = budget.store, budget.key
            charged = True
            if held:
                if any(budget is other for other in held):
                    continue  # the same budget entered twice counts once
                # A second budget object on the same store key must not count the call twice.
                charged = not any(
                    was_charged and other.store is store and other.key == key
                    for other, was_charged in zip(held, charged_flags, strict=True)
                )
            if check_enforceable:
                problem = _unenforceable(budget.limits, worst)
                if problem is not None:
                    error = _unpriceable(budget, problem, call, worst)
                    if budget.on_exceed == "raise":
                        raise error
                    overshoots.append((budget, error))
            if not charged:
                held.append(budget)
                charged_flags.append(False)
                continue
            try:
                refusal = store.reserve(
                    key, amount, budget.limits, force=budget.on_exceed != "raise"
                )
            except Exception as exc:
                errors.report_internal_error("budget.store", exc)
                continue  # a failing store never blocks a call
            if refusal is not None:
                error = _exceeded(budget, refusal, amount, call, worst)
                if budget.on_exceed == "raise":
                    raise error
                overshoots.append((budget, error))
            held.append(budget)
            charged_flags.append(True)
    except BaseException:
        for budget, was_charged in zip(held, charged_flags, strict=True):
            with errors.internal_guard("budget.release"):
                budget._released(amount, was_charged)
        raise
    for budget, error in overshoots:
        budget._overshot(error)
    return BudgetReservation(
        tuple(held), amount, None if all(charged_flags) else tuple(charged_flags)
    )


def charge_record(budgets: tuple[Any, ...], record: CostRecord) -> None:
    """Add a record made without admission (``record_usage``) to the open budgets' totals.

    Nothing was reserved and nothing can be refused: the cost is already incurred. Each budget
    (and each shared store key) is charged once.
    """
    held: list[Budget] = []
    charged_flags: list[bool] = []
    charged_keys: set[tuple[int, str]] = set()
    for budget in budgets:
        if any(budget is other for other in held):
            continue
        store_key = (id(budget.store), budget.key)
        held.append(budget)
        charged_flags.append(store_key not in charged_keys)
        charged_keys.add(store_key)
    BudgetReservation(tuple(held), EMPTY, tuple(charged_flags)).settle(record)


# --- messages a person can act on -----------------------------------------------------------

BudgetExceeded = errors.BudgetExceeded

_LIMIT_NAMES = {
    "cost_usd": "max_cost_usd",
    "input_tokens": "max_input_tokens",
    "output_tokens": "max_output_tokens",
    "total_tokens": "max_total_tokens",
    "calls": "max_calls",
}


# The advice ends differently when the budget is already in warn mode (the call was sent).
_WARN_MODE_ADVICE = {"raise": ", or use on_exceed='warn' to let such calls through.", "warn": "."}


def _money(value: Decimal | int) -> str:
    return f"${Decimal(value).normalize():f}" if value else "$0"


def _show(dimension: str, value: Decimal | int) -> str:
    return _money(value) if dimension == "cost_usd" else f"{int(value):,}"


def _what(call: Call) -> str:
    return f"{call.provider} {call.operation} call to {call.model!r}"


def _worst_case_text(worst: Estimate) -> str:
    output = "no output cap" if worst.output_tokens is None else f"{worst.output_tokens:,}"
    return f"≈{worst.input_tokens:,} input tokens + up to {output} output tokens"


def _exceeded(
    budget: Budget, refusal: Refusal, amount: Amounts, call: Call, worst: Estimate
) -> BudgetExceeded:
    dimension = refusal.dimension
    spent = refusal.totals.spent.get(dimension)
    reserved = refusal.totals.reserved.get(dimension)
    asked = amount.get(dimension)
    limit = refusal.limit
    remaining = max(limit - spent - reserved, 0)
    if dimension == "calls":
        detail = (
            f"max_calls={limit} is used up ({spent} made, {reserved} in flight)"
            if remaining == 0
            else f"max_calls={limit} leaves room for {remaining} more"
        )
        advice = "Raise max_calls, or open a new budget for the next unit of work."
    else:
        label = "worst case" if dimension == "cost_usd" else "estimate"
        detail = (
            f"its {label} of {_show(dimension, asked)} ({_worst_case_text(worst)}) does not fit "
            f"in {_LIMIT_NAMES[dimension]}={_show(dimension, limit)} (spent "
            f"{_show(dimension, spent)}, reserved for calls in flight "
            f"{_show(dimension, reserved)}, "
            f"remaining {_show(dimension, remaining)})"
        )
        advice = (
            "Lower the request's max_tokens (max_completion_tokens / max_output_tokens) or "
            "shorten its input, or raise the budget's limit" + _WARN_MODE_ADVICE[budget.on_exceed]
        )
    return BudgetExceeded(
        f"llmcost budget {budget.display_name} refused the {_what(call)} before sending it: "
        f"{detail}. {advice}",
        budget_name=budget.name,
        limit=limit,
        spent=spent,
        reserved=reserved,
        estimate=asked,
        dimension=dimension,
    )


def _unpriceable(budget: Budget, dimension: str, call: Call, worst: Estimate) -> BudgetExceeded:
    totals = budget.totals()
    limit: Decimal | int = getattr(budget.limits, dimension)
    if dimension == "cost_usd":
        detail = (
            f"its worst case cannot be priced ({worst.unpriced_reason}), so "
            f"max_cost_usd={_money(limit)} cannot be enforced"
        )
        if worst.model_known:
            advice = (
                "Set max_tokens (max_completion_tokens / max_output_tokens) on the request or "
                "Policy(default_max_tokens=...)"
            )
        else:
            advice = (
                "Add the model's price or an alias with configure(catalog=...), limit it with "
                "max_total_tokens instead"
            )
    else:
        detail = (
            f"the request sets no output cap and the catalog has no maximum output for "
            f"{call.model!r}, so {_LIMIT_NAMES[dimension]}={_show(dimension, limit)} cannot be "
            "enforced"
        )
        advice = (
            "Set max_tokens (max_completion_tokens / max_output_tokens) on the request or "
            "Policy(default_max_tokens=...)"
        )
    return BudgetExceeded(
        f"llmcost budget {budget.display_name} refused the {_what(call)} before sending it: "
        f"{detail}. {advice}{_WARN_MODE_ADVICE[budget.on_exceed]}",
        budget_name=budget.name,
        limit=limit,
        spent=totals.spent.get(dimension),
        reserved=totals.reserved.get(dimension),
        estimate=None,
        dimension=dimension,
    )


# --- the model policy -------------------------------------------------------------------------

_cap_warned: set[tuple[str, str, str | None]] = set()
_cap_warned_lock = threading.Lock()


def forget_warnings() -> None:
    """Let once-only policy and estimator warnings fire again (for tests)."""
    with _cap_warned_lock:
        _cap_warned.clear()
    _fallback_logged.clear()


def _environment(call: Call, config: Config) -> str | None:
    scopes = call.scopes
    if scopes:
        environment: str | None = scopes[-1].attribution.environment
        return environment
    return config.attribution.environment


def apply_policy(call: Call, policy: Policy, config: Config) -> None:
    """Raise PolicyViolation, warn, or fill in a default output cap, as the policy says."""
    environment = _environment(call, config)
    if not policy.allows(call.model, environment):
        allowed = ", ".join(policy.allowed_for(environment) or ())
        where = f"environment {environment!r}" if environment else "this environment"
        raise errors.PolicyViolation(
            f"llmcost policy: model {call.model!r} is not allowed in {where} (allowed: "
            f"{allowed}); the {call.provider} {call.operation} call was not sent. Use an "
            "allowed model, or change configure(policy=Policy(allowed_models=...))."
        )
    parameters = OUTPUT_CAP_PARAMETERS.get(call.operation)
    if parameters is None:
        return  # embeddings and other operations have no output to cap
    request = call.request
    if call.request_overrides:
        request = {**request, **call.request_overrides}
    if any(_given(request.get(name)) for name in parameters):
        return
    if policy.default_max_tokens is not None:
        overrides = dict(call.request_overrides or {})
        overrides[parameters[0]] = policy.default_max_tokens
        call.request_overrides = overrides
        return
    names = " / ".join(parameters)
    if policy.require_max_tokens == "raise":
        raise errors.PolicyViolation(
            f"llmcost policy: the {call.provider} {call.operation} call to {call.model!r} sets "
            f"no output cap ({names}); it was not sent. Pass {parameters[0]}=..., or set "
            "Policy(default_max_tokens=...)."
        )
    if policy.require_max_tokens == "warn":
        errors.count("policy.uncapped_calls")
        key = (call.provider, call.operation, call.model)
        with _cap_warned_lock:
            if key in _cap_warned:
                return
            _cap_warned.add(key)
        logger.warning(
            "llmcost policy: %s %s calls to %r set no output cap (%s); their cost is bounded "
            "only by the model's maximum output (logged once per model)",
            call.provider,
            call.operation,
            call.model,
            names,
        )
