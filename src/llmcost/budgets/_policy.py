"""The model policy, applied before a call is sent: allowed models, output caps."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from llmcost import errors
from llmcost.budgets import _estimate
from llmcost.budgets._estimate import _given
from llmcost.policy import OUTPUT_CAP_PARAMETERS

if TYPE_CHECKING:
    from llmcost._context import Config
    from llmcost._recorder import Call
    from llmcost.policy import Policy

__all__ = ["apply_policy", "forget_warnings"]

logger = logging.getLogger("llmcost")

_cap_warned: set[tuple[str, str, str | None]] = set()
_cap_warned_lock = threading.Lock()


def forget_warnings() -> None:
    """Let once-only policy and estimator warnings fire again (for tests)."""
    with _cap_warned_lock:
        _cap_warned.clear()
    _estimate._fallback_logged.clear()


def _environment(call: Call, config: Config) -> str | None:
    scopes = call.scopes
    if scopes:
        environment: str | None = scopes[-1].attribution.environment
        return environment
    return config.attribution.environment


def apply_policy(call: Call, policy: Policy, config: Config) -> None:
    """Raise PolicyViolation, warn, or fill in a default output cap, as the policy says."""
    environment = _environment(call, config)
    # An Azure deployment is checked as the model configure(azure_deployments=...) maps it to.
    if not policy.allows(call.price_model, environment):
        allowed = ", ".join(policy.allowed_for(environment) or ())
        where = f"environment {environment!r}" if environment else "this environment"
        model = repr(call.model)
        if call.deployment is not None and call.price_model != call.deployment:
            model = f"{call.price_model!r} (Azure deployment {call.deployment!r})"
        raise errors.PolicyViolation(
            f"llmcost policy: model {model} is not allowed in {where} (allowed: "
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
