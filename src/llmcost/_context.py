"""Configuration and the per-context state: attribution scopes and budget scopes.

Everything the wrappers read on the hot path is here, kept cheap: ``state.active`` is the one
flag a wrapper checks first, and the scope stacks are tuples in contextvars, so asyncio tasks
inherit them and threads see them when the context is carried across (see
:func:`llmcost.bind_context`).
"""

from __future__ import annotations

import atexit
import functools
import inspect
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, cast

from llmcost import _dispatch, errors, tokens

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

    from llmcost.sinks.base import Sink

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "Attribution",
    "Config",
    "StackedScope",
    "UnknownModelPolicy",
    "check_label",
    "configure",
    "is_configured",
    "reset",
    "state",
]

logger = logging.getLogger("llmcost")

UnknownModelPolicy = Literal["warn", "raise", "ignore"]
StreamUsagePolicy = Literal["auto", "inject", "estimate"]

_UNKNOWN_MODEL_POLICIES = ("warn", "raise", "ignore")
_STREAM_USAGE_POLICIES = ("auto", "inject", "estimate")


@dataclass(frozen=True)
class Attribution:
    """Who a call is charged to: the merged tags of the configuration and every open scope."""

    feature: str | None = None
    project: str | None = None
    environment: str | None = None
    user_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def merged_with(
        self,
        *,
        feature: str | None = None,
        project: str | None = None,
        environment: str | None = None,
        user_id: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Attribution:
        """A copy where every given value wins over this one (inner scopes win)."""
        return Attribution(
            feature=feature if feature is not None else self.feature,
            project=project if project is not None else self.project,
            environment=environment if environment is not None else self.environment,
            user_id=user_id if user_id is not None else self.user_id,
            tags={**self.tags, **tags} if tags else self.tags,
        )


@dataclass(frozen=True)
class Config:
    """One immutable snapshot of what :func:`configure` was given."""

    attribution: Attribution = field(default_factory=Attribution)
    sinks: tuple[Sink, ...] = ()
    unknown_model: UnknownModelPolicy = "warn"
    stream_usage: StreamUsagePolicy = "auto"
    policy: Any = None
    anomaly: Any = None
    anomaly_watcher: Any = None
    #: Sinks that implement the optional ``enrich(fields)`` hook, found once at configure time.
    enrichers: tuple[Any, ...] = ()
    #: The sinks called on the caller's thread (``synchronous = True``: MemorySink) and those
    #: that get records through the delivery thread (:mod:`llmcost._dispatch`): all others.
    synchronous_sinks: tuple[Sink, ...] = ()
    queued_sinks: tuple[Sink, ...] = ()
    #: Whether records carry the current OpenTelemetry span's ids (see :func:`configure`).
    trace_context: bool = False
    disabled: bool = False
    #: Budgets that apply to every call (``llmcost.budgets.Budget`` objects), outermost.
    budgets: tuple[Any, ...] = ()
    #: Azure OpenAI deployment name -> the catalog model it serves (see :func:`configure`).
    azure_deployments: Mapping[str, str] = field(default_factory=dict)
    #: Gateway host or provider name (lower case) -> the catalog provider whose prices apply.
    price_gateways_as: Mapping[str, str] = field(default_factory=dict)


class _State:
    """Module-level mutable state, in one place so :func:`reset` can restore all of it."""

    def __init__(self) -> None:
        self.config: Config | None = None
        #: The flag every wrapper checks first: configured (or instrumented) and not disabled.
        self.active: bool = False
        #: Set by shutdown(), cleared by configure() and reset(): nothing switches llmcost back
        #: on implicitly after the application shut it down.
        self.shut_down: bool = False
        #: Whether llmcost.instrument() is in force (checked when a budget or scope opens).
        self.instrumented: bool = False
        self.warned_uninstrumented: bool = False
        self.lock = threading.RLock()


state = _State()


def _lock_after_fork_in_child() -> None:
    state.lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_lock_after_fork_in_child)

#: The open attribution scopes, outermost first (``llmcost.tracking.CostScope`` objects).
scope_stack: ContextVar[tuple[Any, ...]] = ContextVar("llmcost_scopes", default=())
#: The open budgets, outermost first (``llmcost.budgets.Budget`` objects).
budget_stack: ContextVar[tuple[Any, ...]] = ContextVar("llmcost_budgets", default=())


def active_budgets(config: Config) -> tuple[Any, ...]:
    """The budgets a call made now must pass: the configured ones, then the open ones."""
    configured = config.budgets
    if configured:
        return configured + budget_stack.get()
    return budget_stack.get()


class StackedScope:
    """An object that opens on a contextvar stack: ``with``, ``async with`` and decorator.

    Attribution scopes (:class:`llmcost.CostScope`) and budgets (:class:`llmcost.Budget`)
    both work this way; a subclass names its stack, may look at the enclosing stack when it
    opens (``_on_open``), and says how to make a fresh copy for each decorated call.
    """

    _stack: ClassVar[ContextVar[tuple[Any, ...]]]

    def _on_open(self, enclosing: tuple[Any, ...]) -> None:
        """Called just before this object is pushed on top of ``enclosing``."""

    def _fresh(self) -> Self:
        """A new, unopened object with the same settings (one per decorated call)."""
        raise NotImplementedError

    def _push(self) -> None:
        enclosing = self._stack.get()
        self._on_open(enclosing)
        self._stack.set((*enclosing, self))

    def _pop(self) -> None:
        # No contextvar Token kept on the object: one scope or budget may be open in several
        # tasks or threads at once (a module-level budget), and a Token only resets the context
        # that made it. Remove this object's innermost entry from *this* context's stack.
        stack = self._stack.get()
        for index in range(len(stack) - 1, -1, -1):
            if stack[index] is self:
                self._stack.set(stack[:index] + stack[index + 1 :])
                return

    def __enter__(self) -> Self:
        self._push()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pop()

    async def __aenter__(self) -> Self:
        self._push()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pop()

    def _decorate(self, func: F) -> F:
        """Run each call of a function or coroutine function inside a fresh copy of this."""
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with self._fresh():
                    return await func(*args, **kwargs)

            return cast("F", run_async)

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return cast("F", run)


def warn_if_not_instrumented(what: str) -> None:
    """Say once if ``what`` opens while an SDK is imported but llmcost never patched it.

    A budget or scope around SDK calls that llmcost cannot see would silently do nothing: the
    most dangerous mistake a newcomer can make with a spending control.
    """
    if state.instrumented or state.warned_uninstrumented:
        return
    sdks = [name for name in ("openai", "anthropic") if name in sys.modules]
    if not sdks:
        return
    state.warned_uninstrumented = True
    logger.warning(
        "%s is open, but llmcost.instrument() was not called: calls made with the %s SDK are "
        "not seen, priced, attributed or limited. Call llmcost.instrument() at start-up.",
        what,
        " and ".join(sdks),
    )


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def check_label(where: str, name: str, value: object) -> str | None:
    """The attribution value as a string: an int (``user_id=42``) becomes ``"42"``; anything
    else that is not a string is refused with a message naming the argument.

    Records are written and read back as strings: a float or an object here would make a JSON
    line that llmcost's own reader rejects, far from the mistake.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError(f"{where}({name}=...) must be a string or None, got {value!r}")


#: Tags beyond these sizes are cut (counted in ``tags.truncated``, logged once): a tag that
#: carries a whole prompt must not make every record, log line and report megabytes long.
MAX_TAGS = 64
MAX_TAG_NAME = 128
MAX_TAG_VALUE = 1024
_warned_truncation = False


def clean_tags(where: str, tags: Mapping[Any, Any] | None) -> dict[str, str]:
    """Tags as ``str -> str``, within :data:`MAX_TAGS`, :data:`MAX_TAG_NAME` and
    :data:`MAX_TAG_VALUE` characters (cut beyond, counted and logged once).

    Raises:
        TypeError: a tag name is not a string.
    """
    global _warned_truncation
    if not tags:
        return {}
    clean: dict[str, str] = {}
    cut = 0
    for key, value in tags.items():
        if not isinstance(key, str):
            raise TypeError(f"{where}(): tag names must be strings, got {key!r}")
        text = value if isinstance(value, str) else str(value)
        if len(clean) >= MAX_TAGS:
            cut += 1
            continue
        if len(key) > MAX_TAG_NAME or len(text) > MAX_TAG_VALUE:
            cut += 1
            key, text = key[:MAX_TAG_NAME], text[:MAX_TAG_VALUE]
        clean[key] = text
    if cut:
        errors.count("tags.truncated", cut)
        if not _warned_truncation:
            _warned_truncation = True
            logger.warning(
                "llmcost: %s() tags beyond %d tags, %d-character names or %d-character values "
                "were cut (counted in llmcost.stats()['tags.truncated'])",
                where,
                MAX_TAGS,
                MAX_TAG_NAME,
                MAX_TAG_VALUE,
            )
    return clean


def configure(
    *,
    project: str | None = None,
    environment: str | None = None,
    sinks: Sequence[Sink] | None = None,
    catalog: Any = None,
    unknown_model: UnknownModelPolicy = "warn",
    tags: Mapping[str, str] | None = None,
    stream_usage: StreamUsagePolicy = "auto",
    policy: Any = None,
    anomaly: Any = None,
    trace_context: bool = False,
    budgets: Sequence[Any] | None = None,
    azure_deployments: Mapping[str, str] | None = None,
    price_gateways_as: Mapping[str, str] | None = None,
) -> Config:
    """Set up llmcost for this process; calling it again replaces the whole configuration.

    Args:
        project: Default project tag; falls back to ``$LLMCOST_PROJECT``.
        environment: Default environment tag; falls back to ``$LLMCOST_ENVIRONMENT``.
        sinks: Where records go (``llmcost.sinks``). None means no sinks: scopes and budgets
            still see every record.
        catalog: A pricing override layer (path, mapping or ``llmcost.pricing.Catalog``) on top
            of the bundled prices; None uses the bundled prices.
        unknown_model: What to do when a model has no price: ``"warn"`` once per model,
            ``"raise"`` :class:`llmcost.UnknownModelError` before the call is sent, ``"ignore"``.
        tags: Free-form default tags put on every record.
        stream_usage: ``"inject"`` asks OpenAI streams for exact usage, ``"estimate"`` counts
            locally, ``"auto"`` injects on the official API host and estimates elsewhere.
        policy: A :class:`llmcost.Policy` (model allowlists, required output caps).
        anomaly: A :class:`llmcost.AnomalyConfig` that watches every record.
        trace_context: Put the current OpenTelemetry span's ids on every record
            (``trace_id``, ``span_id``). Off by default: llmcost touches OpenTelemetry only
            when asked, here or by configuring an :class:`~llmcost.sinks.OTelSink` (which
            puts its own span's ids on the records it sees).
        budgets: Budgets (``llmcost.budget(...)``) that every call must pass, as if each call
            were made inside ``with`` all of them; typically keyed and windowed ones such as
            ``llmcost.budget(max_cost_usd=5, per="user_id", window="day", name="user-day")``.
        azure_deployments: Azure OpenAI deployment name -> the catalog model it serves
            (``{"prod-4o": "gpt-4o"}``). Used before a call is sent (budgets' worst case,
            the policy, ``unknown_model="raise"``); after it, the model the response names
            wins.
        price_gateways_as: An OpenAI-compatible endpoint's host or provider name -> the
            catalog provider whose prices apply to it (``{"litellm.internal": "openai"}``).
            Without it, calls to gateways are never priced with another provider's prices.

    Returns:
        The configuration now in force.

    Example:
        >>> import llmcost
        >>> llmcost.configure(project="checkout", environment="production",
        ...                   sinks=[llmcost.sinks.JSONLFileSink("costs.jsonl")])  # doctest: +SKIP
    """
    if unknown_model not in _UNKNOWN_MODEL_POLICIES:
        raise ValueError(
            f"unknown_model must be one of {_UNKNOWN_MODEL_POLICIES}, got {unknown_model!r}"
        )
    if stream_usage not in _STREAM_USAGE_POLICIES:
        raise ValueError(
            f"stream_usage must be one of {_STREAM_USAGE_POLICIES}, got {stream_usage!r}"
        )
    if sinks is not None and callable(getattr(sinks, "emit", None)):
        raise TypeError(f"configure(sinks=...) takes a list of sinks: sinks=[{sinks!r}]")
    try:
        sink_tuple = tuple(sinks or ())
    except TypeError:
        raise TypeError(f"configure(sinks=...) takes a list of sinks, got {sinks!r}") from None
    project = check_label("configure", "project", project)
    environment = check_label("configure", "environment", environment)
    for sink in sink_tuple:
        if not callable(getattr(sink, "emit", None)):
            raise TypeError(f"sink {sink!r} has no emit(record) method")
    if policy is not None:
        from llmcost.policy import Policy

        if not isinstance(policy, Policy):
            raise TypeError(f"configure(policy=...) takes an llmcost.Policy, got {policy!r}")
    # Checked by shape: anomaly detection sits above this layer (see docs/architecture.md).
    if anomaly is not None and not callable(getattr(anomaly, "watcher", None)):
        raise TypeError(f"configure(anomaly=...) takes an llmcost.AnomalyConfig, got {anomaly!r}")
    budget_tuple: tuple[Any, ...] = ()
    if budgets is not None:
        # Checked by shape: budgets sit above this layer (see docs/architecture.md).
        if callable(getattr(budgets, "_entry", None)):
            raise TypeError(
                f"configure(budgets=...) takes a list of budgets: budgets=[{budgets!r}]"
            )
        budget_tuple = tuple(budgets)
        for item in budget_tuple:
            if not callable(getattr(item, "_entry", None)):
                raise TypeError(
                    f"configure(budgets=...) takes llmcost.budget(...) objects, got {item!r}"
                )
    # Everything that can fail on bad input runs before anything is applied, so a rejected
    # configure() leaves the previous configuration whole.
    attribution = Attribution(
        project=project if project is not None else os.environ.get("LLMCOST_PROJECT") or None,
        environment=(
            environment
            if environment is not None
            else os.environ.get("LLMCOST_ENVIRONMENT") or None
        ),
        tags=clean_tags("configure", tags),
    )
    watcher = anomaly.watcher() if anomaly is not None else None
    # Imported here: the pricing package is only needed once llmcost is switched on.
    from llmcost import pricing
    from llmcost.pricing._catalog import bundled_catalog

    active = catalog if catalog is None or isinstance(catalog, pricing.Catalog) else None
    if active is None and catalog is not None:
        active = pricing.load_catalog(catalog)
    deployments = _checked_map("azure_deployments", azure_deployments)
    gateways = {
        key.lower(): value
        for key, value in _checked_map("price_gateways_as", price_gateways_as).items()
    }
    checking = active if active is not None else bundled_catalog()
    for name, model in deployments.items():
        if not checking.is_known(model, "openai"):
            raise ValueError(
                f"configure(azure_deployments=...): deployment {name!r} names model {model!r}, "
                "which the llmcost catalog does not price; name a catalog model (gpt-4o, ...) "
                "or add it with configure(catalog=...)"
            )
    for name, provider in gateways.items():
        if not checking.models(provider):
            raise ValueError(
                f"configure(price_gateways_as=...): {name!r} names provider {provider!r}, "
                "which has no prices in the llmcost catalog; name a catalog provider "
                "(openai, anthropic, google) or add its models with configure(catalog=...)"
            )
    pricing.use_catalog(active)  # the last step that can refuse bad input
    config = Config(
        attribution=attribution,
        sinks=sink_tuple,
        unknown_model=unknown_model,
        stream_usage=stream_usage,
        policy=policy,
        anomaly=anomaly,
        anomaly_watcher=watcher,
        enrichers=tuple(s for s in sink_tuple if callable(getattr(s, "enrich", None))),
        synchronous_sinks=tuple(s for s in sink_tuple if _dispatch.is_synchronous(s)),
        queued_sinks=tuple(s for s in sink_tuple if not _dispatch.is_synchronous(s)),
        trace_context=bool(trace_context),
        disabled=_env_flag("LLMCOST_DISABLED"),
        budgets=budget_tuple,
        azure_deployments=deployments,
        price_gateways_as=gateways,
    )
    with state.lock:
        previous = state.config
        state.config = config
        state.active = not config.disabled
        state.shut_down = False
    if previous is not None:
        # Records already queued for the old sinks reach them before they are closed.
        _dispatch.flush(5.0)
        _flush_retired_sinks(previous.sinks, keep=sink_tuple)
    _register_atexit()
    return config


def _checked_map(name: str, value: Mapping[str, str] | None) -> dict[str, str]:
    """A ``str -> str`` mapping argument of configure(), refused by name when it is not one."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"configure({name}=...) takes a mapping of names, got {value!r}")
    for key, item in value.items():
        if not isinstance(key, str) or not key or not isinstance(item, str) or not item:
            raise TypeError(
                f"configure({name}=...) maps names to names (non-empty strings), "
                f"got {key!r}: {item!r}"
            )
    return dict(value)


def ensure_configured() -> Config:
    """The configuration in force, making the default one (env vars, no sinks) if needed.

    After :func:`shutdown` llmcost stays off: a record made then (``record_usage``) is priced
    with a default configuration that is neither kept nor switched on, and reaches no sink.
    """
    config = state.config
    if config is None:
        with state.lock:
            if state.config is not None:
                return state.config
            if state.shut_down:
                return Config(disabled=True)
            return configure()
    return config


def is_configured() -> bool:
    """Whether :func:`configure` (or :func:`llmcost.instrument`) has switched llmcost on.

    Example:
        >>> import llmcost
        >>> llmcost.is_configured()  # doctest: +SKIP
        False
    """
    return state.config is not None


#: Seconds configure() gives a sink it replaces to deliver what it holds and close.
RETIRE_TIMEOUT = 5.0


def _flush_retired_sinks(old: Sequence[Sink], keep: Sequence[Sink]) -> None:
    kept = {id(sink) for sink in keep}
    deadline = time.monotonic() + RETIRE_TIMEOUT
    for sink in old:
        if id(sink) not in kept:
            with errors.internal_guard("sink.close"):
                _close_within(sink, _remaining(deadline))


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def flush(timeout: float | None = None) -> bool:
    """Deliver every record made so far to every configured sink; True when all arrived.

    Records reach the sinks through llmcost's delivery thread: this waits for the ones
    queued, then asks each sink to deliver what it holds. It returns by ``timeout`` (seconds
    in all; None waits), with False when something was not delivered in time.

    Example:
        >>> import llmcost
        >>> llmcost.flush(timeout=5.0)
        True
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    delivered = _dispatch.flush(timeout)
    config = state.config
    if config is None:
        return delivered
    for sink in config.sinks:
        flush_sink = getattr(sink, "flush", None)
        if flush_sink is None:
            continue
        try:
            if flush_sink(_remaining(deadline)) is False:
                delivered = False
        except Exception as exc:  # a failing sink must not break the caller
            delivered = False
            errors.count("sink_errors")
            errors.report_internal_error("sink.flush", exc)
    return delivered


def shutdown(timeout: float | None = 5.0) -> None:
    """Flush and close every sink, then switch llmcost off (wrappers pass straight through).

    Args:
        timeout: Seconds each sink may take to deliver what it holds before it is closed
            (a sink whose endpoint is down must not hold the process hostage); None waits.

    Example:
        >>> import llmcost
        >>> llmcost.shutdown()
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    with state.lock:
        config = state.config
        state.config = None
        state.active = False
        state.shut_down = True
    # Before the sinks close: the records queued for them must reach them first.
    _dispatch.stop(timeout)
    if config is None:
        return
    for sink in config.sinks:
        try:
            if getattr(sink, "flush", None) is not None:
                sink.flush(_remaining(deadline))
            _close_within(sink, _remaining(deadline))
        except Exception as exc:  # shutting down must never raise
            errors.count("sink_errors")
            errors.report_internal_error("sink.close", exc)


def _close_within(sink: Sink, timeout: float | None) -> None:
    # Every built-in sink's close() takes a timeout: give it what is left of shutdown's, or an
    # HTTPSink with its endpoint down would wait its own shutdown_timeout on top. A sink of
    # the plain protocol (close() with no arguments) is closed as it asks.
    try:
        takes_timeout = "timeout" in inspect.signature(sink.close).parameters
    except (TypeError, ValueError):  # no signature to read (a builtin): the plain call
        takes_timeout = False
    if takes_timeout:
        sink.close(timeout=timeout)  # type: ignore[call-arg]
    else:
        sink.close()


def reset() -> None:
    """Forget the configuration, counters and catalog overrides (for tests). Sinks are closed."""
    _dispatch.reset()  # records of calls already made go to the sinks they were made for
    with state.lock:
        config = state.config
        state.config = None
        state.active = False
        state.shut_down = False
        state.warned_uninstrumented = False
    if config is not None:
        for sink in config.sinks:
            with errors.internal_guard("sink.close"):
                sink.close()
    errors.reset_stats()
    from llmcost import pricing

    pricing.use_catalog(None)


def _catalog_tokenizer(model: str, provider: str | None) -> str | None:
    """The tokenizer the price catalog names for ``model`` (pricing imported when first used)."""
    from llmcost import pricing

    price = pricing.get_catalog().resolve(model, provider)
    tokenizer = getattr(price, "tokenizer", None) if price is not None else None
    return tokenizer if isinstance(tokenizer, str) else None


tokens.set_tokenizer_lookup(_catalog_tokenizer)

_atexit_registered = False


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(_flush_at_exit)


def _flush_at_exit() -> None:
    # Best effort: deliver what sinks hold when the interpreter exits; never raise here.
    try:
        flush(timeout=5.0)
    except Exception:
        logger.debug("llmcost flush at exit failed", exc_info=True)
