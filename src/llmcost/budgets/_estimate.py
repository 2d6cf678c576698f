"""The worst case of one call before it is sent: input tokens, output ceiling, price."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from llmcost import errors, pricing, tokens
from llmcost.budgets._amounts import ZERO
from llmcost.policy import OUTPUT_CAP_PARAMETERS
from llmcost.types import Usage

if TYPE_CHECKING:
    from llmcost._recorder import Call

__all__ = ["Estimate", "estimate", "output_cap", "output_ceiling"]

logger = logging.getLogger("llmcost")

#: The legacy completions API generates at most 16 tokens when ``max_tokens`` is not given.
COMPLETIONS_DEFAULT_MAX_TOKENS = 16


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


def _gemini_config(request: Mapping[str, Any], name: str) -> Any:
    # Gemini's options sit in ``config``: a dict or a GenerateContentConfig.
    config = request.get("config")
    if isinstance(config, Mapping):
        return config.get(name)
    return getattr(config, name, None)


def requested_service_tier(operation: str, request: Mapping[str, Any]) -> str | None:
    """The service tier the request asks for, as the catalog names tiers; None: standard.

    OpenAI and Anthropic take ``service_tier=`` as an argument; Gemini takes it in ``config``
    (``"flex"``, ``"priority"``, a ``types.ServiceTier``, or the REST spelling
    ``"SERVICE_TIER_PRIORITY"``).

    Example:
        >>> requested_service_tier("generate_content", {"config": {"service_tier": "FLEX"}})
        'flex'
    """
    if operation != "generate_content":
        tier = request.get("service_tier")
        return tier if isinstance(tier, str) else None
    tier = _gemini_config(request, "service_tier")
    tier = getattr(tier, "value", tier)  # a types.ServiceTier
    if not isinstance(tier, str):
        return None
    tier = tier.lower().removeprefix("service_tier_")
    return None if tier in ("", "standard", "unspecified") else tier


def output_cap(operation: str, request: Mapping[str, Any]) -> int | None:
    """The output cap the request sets itself, if any."""
    if operation == "generate_content":
        # Gemini: config.max_output_tokens (a dict or a GenerateContentConfig), which bounds
        # the thinking too (Gemini counts thoughts against it).
        return _positive_int(_gemini_config(request, "max_output_tokens"))
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
    # The catalog name the call is priced with before its response (an Azure deployment's
    # mapped model); a gateway the user did not say how to price has none.
    model = call.price_model
    provider = call.price_provider
    price = pricing.get_catalog().resolve(model, provider) if model and provider else None
    ceiling = output_ceiling(call.operation, request, price)
    if not need_cost:
        return Estimate(input_tokens, ceiling, ZERO)
    if price is None or model is None:
        reason = f"model {model!r} has no price in the llmcost catalog" if model else "no model"
        if call.price_advice:
            reason = f"{reason}; {call.price_advice}"
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
    tier = requested_service_tier(call.operation, request)
    speed = request.get("speed")
    geo = request.get("inference_geo")
    residency = call.data_residency
    card = None
    if tier is None and speed is None and geo is None and residency is None:
        # A plain call to a model without dated prices takes the card pricing.cost itself
        # takes then (ModelPrice._plain, set once card() built it), without a memo key.
        card = price._plain
    if card is None:
        speed = speed if isinstance(speed, str) else None
        geo = geo if isinstance(geo, str) else None
        card = price.card(
            service_tier=tier, speed=speed, inference_geo=geo, data_residency=residency
        )
    total = pricing.plain_total(
        card, input_tokens - cache_write, cache_write, cache_write_1h, ceiling
    )
    if total is not None:
        return Estimate(input_tokens, ceiling, total)
    usage = Usage.model_validate(
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
        provider=provider,
        service_tier=tier,
        speed=speed,
        inference_geo=geo,
        data_residency=call.data_residency,
    )
    if cost.total_cost_usd is None:
        return Estimate(input_tokens, ceiling, None, f"model {model!r} could not be priced")
    return Estimate(input_tokens, ceiling, cost.total_cost_usd)
