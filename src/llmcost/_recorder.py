"""The one choke point: usage becomes a priced, attributed CostRecord and reaches its sinks.

Integrations use it in three steps around the SDK call they wrap::

    call = start_call("openai", "chat", model, request=kwargs, stream=False)  # may refuse
    result = wrapped(*args, **kwargs)            # the user's call, exactly once, unguarded
    call.finish(usage, response_id=..., ...)     # never raises into user code

``start_call`` is where budgets and the model policy act, *before* anything is sent: it may
raise :class:`~llmcost.BudgetExceeded`, :class:`~llmcost.PolicyViolation` or
:class:`~llmcost.UnknownModelError` on purpose. Everything after the user's call runs under
the internal-error guard and is recorded at most once per call.

``finish`` (and ``fail``, ``finish_unknown``) make the record on the caller's thread: price,
record, budget settlement, scope totals, listeners. Only the sinks' I/O leaves the thread:
the record is queued for them (:mod:`llmcost._dispatch`), so a slow sink never slows a call,
and a budget or scope read right after a call is already exact.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from llmcost import _dispatch, errors
from llmcost._context import (
    Attribution,
    Config,
    active_budgets,
    clean_tags,
    ensure_configured,
    scope_stack,
)
from llmcost.types import Cost, CostRecord, Usage, new_record_id

if TYPE_CHECKING:
    from llmcost.budgets._admission import Reservation

__all__ = ["Call", "record_usage", "start_call"]

logger = logging.getLogger("llmcost")

_EMPTY_USAGE = Usage()
#: Functions that see every record whatever the configured sinks are (the pytest plugin).
_listeners: tuple[Callable[[CostRecord], object], ...] = ()
_listeners_lock = threading.Lock()
_claim_lock = threading.Lock()
_warned_unknown: set[str] = set()
_warned_lock = threading.Lock()


class Call:
    """One provider call in flight: what was asked, when, and the budget reservation it holds.

    ``finish``, ``fail`` and ``finish_unknown`` (sent, but its usage could not be read) make the
    record; ``abandon`` (never sent) makes none. Whichever comes first wins and later calls are
    no-ops, so a stream closed twice or abandoned after exhaustion is still recorded once.
    """

    __slots__ = (
        "_done",
        "client",
        "config",
        "data_residency",
        "deployment",
        "endpoint_host",
        "model",
        "operation",
        "price_advice",
        "price_model",
        "price_provider",
        "provider",
        "request",
        "request_overrides",
        "reservation",
        "scopes",
        "started",
        "stream",
        "timestamp",
    )

    def __init__(
        self,
        config: Config,
        provider: str,
        operation: str,
        model: str | None,
        request: Mapping[str, Any] | None,
        stream: bool,
        data_residency: str | None,
        client: Any = None,
        deployment: str | None = None,
        endpoint_host: str | None = None,
    ) -> None:
        self.config = config
        #: The SDK object the call was made on (client or resource), when the integration
        #: passes it: only the opt-in ``estimator="anthropic_api"`` budget estimate uses it.
        self.client = client
        self.provider = provider
        self.operation = operation
        self.model = model
        self.request: Mapping[str, Any] = request if request is not None else {}
        self.stream = stream
        self.data_residency = data_residency
        self.deployment = deployment
        self.endpoint_host = endpoint_host
        #: The catalog name and provider hint this call is priced with before its response
        #: exists (budgets, the policy, unknown_model="raise"), and after it when the response
        #: names no priced model. ``price_provider`` None: the catalog never prices this call
        #: (a gateway the user did not say how to price); ``price_advice`` says how to.
        self.price_model = model
        self.price_provider: str | None = provider
        self.price_advice = ""
        if deployment is not None:
            self._price_deployment(deployment)
        elif endpoint_host is not None:
            self._price_gateway(endpoint_host)
        #: Set by the model policy when it fills in a default output cap the user did not set:
        #: the integration merges these keyword arguments into the request before sending.
        self.request_overrides: dict[str, Any] | None = None
        self.reservation: Reservation | None = None
        # Scopes are captured at the start: a stream consumed after its `with track_cost()`
        # block closed still belongs to the scope that made the request.
        self.scopes: tuple[Any, ...] = scope_stack.get()
        self.timestamp = datetime.now(timezone.utc)
        self.started = time.perf_counter()
        self._done = False

    def _price_deployment(self, deployment: str) -> None:
        # Azure: `model=` names a deployment; the map says which model it serves.
        mapped = self.config.azure_deployments.get(deployment)
        self.price_model = mapped or deployment
        if mapped is None:
            self.price_advice = (
                f"{deployment!r} is an Azure OpenAI deployment name: say which model it serves "
                f"with configure(azure_deployments={{{deployment!r}: 'gpt-4o'}}) (the model "
                "the response reports is used once it arrives)"
            )

    def _price_gateway(self, host: str) -> None:
        # An OpenAI-compatible endpoint: never another provider's prices unless the user says
        # so (price_gateways_as), or the catalog prices this provider (a layer, or gcp.gemini).
        gateways = self.config.price_gateways_as
        mapped = gateways.get(host) or gateways.get(self.provider)
        if mapped is not None:
            self.price_provider = mapped
            return
        if not _pricing().get_catalog().prices_provider(self.provider):
            self.price_provider = None
        self.price_advice = (
            f"calls to {host} (provider {self.provider!r}) are priced only when told how: "
            f"configure(price_gateways_as={{{host!r}: 'openai'}}) when it serves a catalog "
            f"provider's models at its prices, or a catalog layer with models of provider "
            f"{self.provider!r}"
        )

    def known_before_sending(self) -> bool:
        """Whether the catalog can price this call before its response exists."""
        return (
            self.price_provider is not None
            and bool(self.price_model)
            and _pricing().is_known(self.price_model, provider=self.price_provider)
        )

    def _latency_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0

    def _claim(self) -> bool:
        # One lock for all calls: claims are rare and brief, and a Lock per call costs more.
        with _claim_lock:
            if self._done:
                return False
            self._done = True
            return True

    @property
    def done(self) -> bool:
        """Whether the record of this call was already made (or the call was abandoned)."""
        return self._done

    def finish(
        self,
        usage: Usage | None,
        *,
        estimated: bool = False,
        **meta: Any,
    ) -> None:
        """Record a call that returned. ``meta`` holds CostRecord fields such as
        ``request_id``, ``response_id``, ``response_model``, ``service_tier``, ``batch``,
        ``speed``, ``inference_geo``."""
        if self._claim():
            _record_guarded(self, usage or _EMPTY_USAGE, estimated, self._latency_ms(), meta)

    def fail(
        self,
        exc: BaseException,
        usage: Usage | None = None,
        *,
        estimated: bool = True,
        **meta: Any,
    ) -> None:
        """Record a call that raised. It costs nothing unless tokens were already streamed
        (``usage``), which are then priced as ``estimated`` unless the provider reported them."""
        if not self._claim():
            return
        meta["status"] = "error"
        meta["error_type"] = type(exc).__name__
        _record_guarded(
            self, usage or _EMPTY_USAGE, estimated and usage is not None, self._latency_ms(), meta
        )

    def finish_unknown(self, **meta: Any) -> None:
        """Record a call that was sent (and billed) but whose usage could not be read.

        The record has no tokens, no price (``total_cost_usd`` and every money field None,
        ``priced=False``) and ``estimated=True``: it is never reported as $0, and budgets
        settle it as an unpriced call. ``meta`` holds CostRecord fields as for ``finish``.
        """
        if self._claim():
            _record_guarded(self, _EMPTY_USAGE, True, self._latency_ms(), meta, True)

    def abandon(self) -> None:
        """Forget the call without a record (it was never sent) and release its reservation."""
        if self._claim():
            self._release()

    def _release(self) -> None:
        if self.reservation is not None:
            with errors.internal_guard("budget.release"):
                self.reservation.release()


def _acts_before_sending(config: Config, budgets: tuple[Any, ...]) -> bool:
    return bool(budgets) or config.policy is not None or config.unknown_model == "raise"


def start_call(
    provider: str,
    operation: str,
    model: str | None,
    *,
    request: Mapping[str, Any] | None = None,
    stream: bool = False,
    data_residency: str | None = None,
    client: Any = None,
    deployment: str | None = None,
    endpoint_host: str | None = None,
) -> Call:
    """Open a call: capture scopes, apply the model policy and budgets before sending.

    ``deployment`` (Azure OpenAI: what ``model=`` names there) and ``endpoint_host`` (an
    OpenAI-compatible gateway's host) are recorded, and decide how the call is priced.

    Raises:
        BudgetExceeded: an enclosing budget (``on_exceed="raise"``) cannot cover the worst case.
        PolicyViolation: the model or request breaks the configured policy.
        UnknownModelError: the model has no price and ``unknown_model="raise"``.
    """
    config = ensure_configured()
    call = Call(
        config,
        provider,
        operation,
        model,
        request,
        stream,
        data_residency,
        client,
        deployment,
        endpoint_host,
    )
    budgets = active_budgets(config)
    if _acts_before_sending(config, budgets):
        from llmcost.budgets import _admission as _budgets

        try:
            call.reservation = _budgets.admit(call, budgets, config)
        except errors.LLMCostError:
            raise  # the intended refusals: BudgetExceeded, PolicyViolation, UnknownModelError
        except Exception as exc:  # anything else is llmcost's bug: the call goes ahead
            errors.report_internal_error("budget.admit", exc)
    return call


_OTEL_TRACE = "opentelemetry.trace"


def _current_trace_ids() -> tuple[str | None, str | None]:
    """The current span's ids, when the application has imported OpenTelemetry."""
    # Never imported here: only read when the application already uses it.
    trace_module = sys.modules.get(_OTEL_TRACE)
    if trace_module is None:
        return None, None
    try:
        span_context = trace_module.get_current_span().get_span_context()
        if not span_context.is_valid:
            return None, None
        return f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}"
    except Exception as exc:  # a half-imported or odd OpenTelemetry must not cost the record
        errors.report_internal_error("trace_ids", exc)
        return None, None


@functools.cache
def _pricing() -> ModuleType:
    # Imported on the first record, not with llmcost (the catalog schema takes ~20 ms); a
    # `from ... import` inside _price would run the import machinery on every record.
    from llmcost import pricing

    return pricing


def _price(
    config: Config, call: Call, usage: Usage, meta: Mapping[str, Any]
) -> tuple[Cost, str | None]:
    cost = _pricing().cost
    get = meta.get
    provider = call.price_provider
    batch = bool(get("batch", False))
    service_tier = get("service_tier")
    speed = get("speed")
    inference_geo = get("inference_geo")
    data_residency = get("data_residency", call.data_residency)
    response_model = get("response_model")
    # The model the provider reports is the most specific (a dated snapshot); fall back to the
    # requested name (for Azure, the model configure(azure_deployments=...) maps it to).
    priced = None
    for name in (response_model, call.price_model) if provider is not None else ():
        if name:
            priced = cost(
                name,
                usage,
                provider=provider,
                at=call.timestamp,
                batch=batch,
                service_tier=service_tier,
                speed=speed,
                inference_geo=inference_geo,
                data_residency=data_residency,
            )
            if priced.priced:
                if name == response_model and call.deployment is not None:
                    _check_deployment_map(call, priced)
                return priced, name
    unknown = response_model or call.model
    if unknown and config.unknown_model == "warn":
        _warn_unknown_once(unknown, call.provider, call.price_advice)
    errors.count("records.unpriced")
    return (priced if priced is not None else Cost.unpriced()), unknown


#: A call reporting more tokens than this is flagged ``implausible`` (still priced as reported).
IMPLAUSIBLE_TOKENS = 10**9
_warned_implausible = False


def _warn_implausible(call: Call, usage: Usage) -> None:
    global _warned_implausible
    errors.count("records.implausible")
    if not _warned_implausible:
        _warned_implausible = True
        logger.warning(
            "llmcost: %s %s reported %d input and %d output tokens, beyond any plausible call: "
            "recorded and priced as reported, flagged implausible=True (counted in "
            "llmcost.stats()['records.implausible'])",
            call.provider,
            call.model,
            usage.input_tokens,
            usage.output_tokens,
        )


def _warn_unknown_once(model: str, provider: str, advice: str = "") -> None:
    key = f"{provider}:{model}"
    with _warned_lock:
        if key in _warned_unknown:
            return
        _warned_unknown.add(key)
    logger.warning(
        "llmcost has no price for model %r (provider %r): its calls are recorded with "
        "total_cost_usd=None and priced=False; %s",
        model,
        provider,
        advice or "add it with configure(catalog=...)",
    )


def _check_deployment_map(call: Call, priced: Cost) -> None:
    """The response's model won: say once per deployment when the map named another one."""
    mapped = call.config.azure_deployments.get(call.deployment or "")
    if mapped is None:
        return
    found = _pricing().get_catalog().resolve(mapped, call.price_provider)
    if found is None or found.id == priced.priced_as:
        return
    errors.count("azure.deployment_map_mismatch")
    key = f"deployment:{call.deployment}:{mapped}:{priced.priced_as}"
    with _warned_lock:
        if key in _warned_unknown:
            return
        _warned_unknown.add(key)
    logger.warning(
        "llmcost: Azure deployment %r is mapped to %r in configure(azure_deployments=...), but "
        "its response reports %r: priced as the response says; budgets estimate with the map, "
        "so update it (counted in llmcost.stats()['azure.deployment_map_mismatch'])",
        call.deployment,
        mapped,
        priced.priced_as,
    )


_warned_provider_cost: set[str] = set()


def reported_cost(value: Any) -> Decimal:
    """A cost the provider reported (USD), as an exact Decimal.

    Text (a header, JSON read with ``parse_float=Decimal``) and Decimals are taken digit for
    digit; an ``int`` as is; a ``float`` (JSON the SDK already parsed) by its shortest decimal
    text, the provider's own text for any value of up to 15 significant digits.

    Raises:
        ValueError: not a finite amount of at least 0.
    """
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except ArithmeticError:
            raise ValueError(f"not a number: {value!r}") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value))
    else:
        raise ValueError(f"not a number: {value!r}")
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not a finite amount of at least 0: {value!r}")
    return amount


def _provider_cost(call: Call, value: Any) -> Cost | None:
    """The Cost of an amount the provider reported; None (counted, warned once) if malformed."""
    try:
        amount = reported_cost(value)
    except ValueError as exc:
        errors.count("records.provider_cost_malformed")
        with _warned_lock:
            first = call.provider not in _warned_provider_cost
            _warned_provider_cost.add(call.provider)
        if first:
            logger.warning(
                "llmcost: %s reported a cost llmcost cannot read (%s); the call is priced from "
                "the catalog or left unpriced (counted in "
                "llmcost.stats()['records.provider_cost_malformed'])",
                call.endpoint_host or call.provider,
                exc,
            )
        return None
    # Only the total is known: the parts stay None rather than a guessed split.
    return Cost(total_cost_usd=amount, priced=True)


def _record_guarded(
    call: Call,
    usage: Usage,
    estimated: bool,
    latency_ms: float | None,
    meta: dict[str, Any],
    usage_unknown: bool = False,
) -> None:
    with errors.internal_guard("recorder"):
        record = _build(call, usage, estimated, latency_ms, meta, usage_unknown)
        # A cost the provider reported is what the call cost, whatever llmcost could read.
        _deliver(call, record, usage_unknown and record.cost_source != "provider")


def _build(
    call: Call,
    usage: Usage,
    estimated: bool,
    latency_ms: float | None,
    meta: dict[str, Any],
    usage_unknown: bool = False,
) -> CostRecord:
    config = call.config
    try:
        reported = meta.pop("reported_cost", None)
        cost = _provider_cost(call, reported) if reported is not None else None
        if cost is not None:
            source: str | None = "provider"
        elif usage_unknown:
            # Nothing to price: None, never the $0 that pricing zero tokens would give.
            errors.count("records.usage_unknown")
            cost = Cost.unpriced()
            source = None
        else:
            cost, _ = _price(config, call, usage, meta)
            source = "catalog" if cost.priced else None
        scopes = call.scopes
        attribution: Attribution = scopes[-1].attribution if scopes else config.attribution
        overrides = meta.pop("attribution", None)
        if overrides is not None:
            attribution = attribution.merged_with(**overrides)
        if not meta.keys() <= _META_FIELDS:
            unexpected = sorted(meta.keys() - _META_FIELDS)
            raise TypeError(f"unknown CostRecord fields from an integration: {unexpected}")
        # Usage's and Cost's fields have CostRecord's names: their dicts are laid in whole.
        fields: dict[str, Any] = {}
        fields["record_id"] = new_record_id()
        fields["timestamp"] = call.timestamp
        fields["provider"] = call.provider
        fields["operation"] = call.operation
        fields["model"] = call.model
        fields["feature"] = attribution.feature
        fields["project"] = attribution.project
        fields["environment"] = attribution.environment
        fields["user_id"] = attribution.user_id
        fields["tags"] = dict(attribution.tags)
        fields.update(usage.__dict__)
        fields.update(cost.__dict__)
        fields["estimated"] = estimated
        fields["cost_source"] = source
        if call.deployment is not None:
            fields["deployment"] = call.deployment
        if call.endpoint_host is not None:
            fields["endpoint_host"] = call.endpoint_host
        if max(usage.input_tokens, usage.output_tokens) > IMPLAUSIBLE_TOKENS:
            fields["implausible"] = True
            _warn_implausible(call, usage)
        fields["latency_ms"] = latency_ms
        fields["stream"] = call.stream
        fields["data_residency"] = call.data_residency
        if meta:
            fields.update(meta)  # checked above: CostRecord field names only
            if "replayed" in meta:
                fields["replayed"] = bool(meta["replayed"])
            if "batch" in meta:
                fields["batch"] = bool(meta["batch"])
        # OpenTelemetry is touched only when the user set it up (configure(trace_context=...),
        # or an OTelSink, whose enrich() below puts its own span's ids on the record).
        if config.trace_context:
            fields["trace_id"], fields["span_id"] = _current_trace_ids()
        for enricher in config.enrichers:
            with errors.internal_guard("sink.enrich"):
                enricher.enrich(fields)
        # Validated like any record (pydantic-core's validation costs less than model_construct,
        # which loops over the fields in Python); the defaults fill what is not set.
        return CostRecord.model_validate(fields)
    except BaseException:
        # The record could not be made: free the budget reservation rather than leak it.
        call._release()
        raise


def _deliver(call: Call, record: CostRecord, usage_unknown: bool = False) -> None:
    config = call.config
    errors.count("records")
    if call.reservation is not None:
        with errors.internal_guard("budget.settle"):
            if usage_unknown:
                call.reservation.settle(record, usage_unknown=True)
            else:
                call.reservation.settle(record)
    for scope in call.scopes:
        scope._add(record)
    for listener in _listeners:
        with errors.internal_guard("listener"):
            listener(record)
    watcher = config.anomaly_watcher
    if watcher is not None:
        with errors.internal_guard("anomaly"):
            watcher.observe(record)
    if config.synchronous_sinks:
        _dispatch.emit_now(record, config.synchronous_sinks)
    if config.queued_sinks:
        _dispatch.deliver(record, config.queued_sinks)


_USAGE_FIELDS = frozenset(Usage.model_fields)
_ATTRIBUTION_FIELDS = frozenset({"feature", "project", "environment", "user_id"})
_META_FIELDS = frozenset(
    {
        "request_id",
        "response_id",
        "response_model",
        "service_tier",
        "batch",
        "speed",
        "inference_geo",
        "data_residency",
        "status",
        "error_type",
        "replayed",
    }
)


def record_usage(
    *,
    provider: str,
    model: str,
    input_tokens: int = 0,
    output_tokens: int = 0,
    operation: str = "chat",
    latency_ms: float | None = None,
    stream: bool = False,
    estimated: bool = False,
    tags: Mapping[str, str] | None = None,
    timestamp: datetime | None = None,
    **usage_and_tags: Any,
) -> CostRecord:
    """Record a call llmcost did not see: any provider, any client, same recorder.

    Keyword arguments that are :class:`~llmcost.Usage` fields (``cache_read_tokens``,
    ``reasoning_tokens``, ...) are usage; ``feature``, ``project``, ``environment``,
    ``user_id`` are attribution; ``request_id``, ``response_id``, ``response_model``,
    ``service_tier``, ``batch``, ``speed``, ``inference_geo``, ``data_residency``, ``status``,
    ``error_type`` are record fields; anything else becomes a free-form tag.

    Raises:
        ValueError: the usage is invalid (negative counts, parts larger than their whole).
        UnknownModelError: the model has no price and ``unknown_model="raise"``.

    Example:
        >>> import llmcost
        >>> record = llmcost.record_usage(provider="openai", model="gpt-4o-mini",
        ...                               input_tokens=1000, output_tokens=200, feature="search")
        >>> record.feature, record.total_cost_usd
        ('search', Decimal('0.00027'))
    """
    usage_kwargs = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    attribution: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    extra_tags: dict[str, str] = {}
    for key, value in usage_and_tags.items():
        if key in _USAGE_FIELDS:
            usage_kwargs[key] = value
        elif key in _ATTRIBUTION_FIELDS:
            attribution[key] = value
        elif key in _META_FIELDS:
            meta[key] = value
        else:
            _refuse_near_miss(key)
            extra_tags[key] = value if isinstance(value, str) else str(value)
    try:
        usage = Usage.from_counts(usage_kwargs)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])) or 'usage'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ValueError(f"record_usage(): {problems}") from None
    if meta or attribution or latency_ms is not None:
        _check_manual_fields(meta, attribution, latency_ms)
    if tags or extra_tags:
        merged = {**(tags or {}), **extra_tags}
        for key in merged:
            if not isinstance(key, str):
                raise TypeError(f"record_usage(tags=...) names must be strings, got {key!r}")
        attribution["tags"] = clean_tags("record_usage", merged)
    if attribution:
        meta["attribution"] = attribution

    config = ensure_configured()
    call = Call(config, provider, operation, model, None, stream, meta.get("data_residency"))
    if timestamp is not None:
        if timestamp.tzinfo is None:
            raise ValueError("record_usage(timestamp=...) must be timezone-aware")
        call.timestamp = timestamp.astimezone(timezone.utc)
    if config.unknown_model == "raise" and not _pricing().is_known(model, provider=provider):
        raise errors.UnknownModelError(model, provider)
    call._done = True
    # The manual path is not guarded: the caller asked for this record and should see errors.
    latency = float(latency_ms) if latency_ms is not None else None
    record = _build(call, usage, estimated, latency, meta)
    _deliver(call, record)
    budgets = active_budgets(call.config)
    if budgets:
        from llmcost.budgets import _admission as _budgets

        # Nothing was reserved (the call already happened elsewhere): charge what it cost.
        with errors.internal_guard("budget.charge"):
            _budgets.charge_record(budgets, record)
    return record


#: The names a keyword of record_usage() is checked against before it becomes a tag.
_KNOWN_KEYWORDS = (
    *sorted(_USAGE_FIELDS),
    *sorted(_ATTRIBUTION_FIELDS),
    *sorted(_META_FIELDS),
    "tags",
    "latency_ms",
    "timestamp",
    "estimated",
    "operation",
    "provider",
)


@functools.lru_cache(maxsize=1024)
def _near_miss(key: str) -> str | None:
    # Cached: the same tag names come back on every call.
    return errors.near_miss(
        key, _KNOWN_KEYWORDS, cutoff=0.85, fuzzy=(*_USAGE_FIELDS, *_ATTRIBUTION_FIELDS)
    )


def _refuse_near_miss(key: str) -> None:
    # Extra keywords become free-form tags, so a typo (cache_read=800, userid="u1") would
    # silently turn usage into a tag and misprice the call, or charge it to no user.
    close = _near_miss(key)
    if close is not None:
        raise TypeError(
            f"record_usage() got an unexpected keyword {key!r}: did you mean {close!r}? "
            f"(for a tag of that name use tags={{{key!r}: ...}})"
        )


def _check_manual_fields(
    meta: Mapping[str, Any], attribution: Mapping[str, Any], latency_ms: float | None
) -> None:
    # The manual path takes its values from the caller: check them here, because a record is
    # built without a second validation and a bad value would only surface when the JSONL
    # line is read back.
    for key, value in (*meta.items(), *attribution.items()):
        if key in ("batch", "replayed"):
            if not isinstance(value, bool):
                raise TypeError(f"record_usage({key}=...) must be True or False, got {value!r}")
        elif key == "status":
            if value not in ("ok", "error"):
                raise ValueError(f"record_usage(status=...) must be 'ok' or 'error', got {value!r}")
        elif value is not None and not isinstance(value, str):
            raise TypeError(f"record_usage({key}=...) must be a string or None, got {value!r}")
    if latency_ms is not None and (
        isinstance(latency_ms, bool) or not isinstance(latency_ms, (int, float)) or latency_ms < 0
    ):
        raise ValueError(f"record_usage(latency_ms=...) must be a number >= 0, got {latency_ms!r}")


def _locks_after_fork_in_child() -> None:
    # A thread of the parent may have held one of these at fork(): in the child that thread
    # does not exist and the lock would stay taken for ever. Give the child fresh ones.
    global _listeners_lock, _claim_lock, _warned_lock
    _listeners_lock = threading.Lock()
    _claim_lock = threading.Lock()
    _warned_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_locks_after_fork_in_child)


def forget_warnings() -> None:
    """Let the once-per-model unknown-model warning fire again (for tests)."""
    global _warned_implausible
    with _warned_lock:
        _warned_unknown.clear()
        _warned_provider_cost.clear()
        _warned_implausible = False


def add_listener(listener: Callable[[CostRecord], object]) -> Callable[[], None]:
    """Call ``listener(record)`` for every record from now on, whatever sinks are configured.

    Returns:
        A function that removes the listener.
    """
    global _listeners
    with _listeners_lock:
        _listeners = (*_listeners, listener)

    def remove() -> None:
        global _listeners
        with _listeners_lock:
            _listeners = tuple(item for item in _listeners if item is not listener)

    return remove
