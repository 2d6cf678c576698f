"""llmcost: exact, attributed, budget-enforced cost of every LLM call.

Example:
    >>> import llmcost
    >>> llmcost.configure(project="checkout", environment="production")  # doctest: +SKIP
    >>> llmcost.instrument()  # doctest: +SKIP
    ['openai', 'anthropic']
    >>> @llmcost.track_cost(feature="support_chat")
    ... def answer(question): ...

``import llmcost`` is cheap: it imports no SDK, no tokenizer, no HTTP client and no
OpenTelemetry; and until :func:`configure` or :func:`instrument` is called, it does nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmcost import sinks
from llmcost._context import configure, flush, is_configured, shutdown
from llmcost._lazy import lazy_attributes
from llmcost.errors import (
    BudgetExceeded,
    CatalogError,
    CorruptRecordError,
    LLMCostError,
    PolicyViolation,
    UnknownModelError,
    stats,
)
from llmcost.tracking import CostScope, bind_context, track_cost

if TYPE_CHECKING:
    from llmcost import anomaly, pricing, report, testing, tokens
    from llmcost._recorder import record_usage
    from llmcost.anomaly import AnomalyConfig
    from llmcost.budgets import Budget, budget
    from llmcost.policy import Policy
    from llmcost.reading import read_records
    from llmcost.types import Cost, CostRecord, Usage

__all__ = [
    "AnomalyConfig",
    "Budget",
    "BudgetExceeded",
    "CatalogError",
    "CorruptRecordError",
    "Cost",
    "CostRecord",
    "CostScope",
    "LLMCostError",
    "Policy",
    "PolicyViolation",
    "UnknownModelError",
    "Usage",
    "__version__",
    "anomaly",
    "bind_context",
    "budget",
    "configure",
    "flush",
    "instrument",
    "is_configured",
    "pricing",
    "read_records",
    "record_usage",
    "report",
    "reset",
    "shutdown",
    "sinks",
    "stats",
    "testing",
    "tokens",
    "track_cost",
    "uninstrument",
]

__version__ = "0.1.0.dev0"

# Public names whose modules are imported on first use, to keep `import llmcost` fast: the
# pydantic models alone take longer to import than the whole 100 ms budget of `import llmcost`.
_lazy = lazy_attributes(
    __name__,
    {
        "AnomalyConfig": "llmcost.anomaly:AnomalyConfig",
        "Budget": "llmcost.budgets:Budget",
        "Cost": "llmcost.types:Cost",
        "CostRecord": "llmcost.types:CostRecord",
        "Policy": "llmcost.policy:Policy",
        "Usage": "llmcost.types:Usage",
        "anomaly": "llmcost.anomaly",
        "budget": "llmcost.budgets:budget",
        "pricing": "llmcost.pricing",
        "read_records": "llmcost.reading:read_records",
        "record_usage": "llmcost._recorder:record_usage",
        "report": "llmcost.report",
        "testing": "llmcost.testing",
        "tokens": "llmcost.tokens",
    },
)


def __getattr__(name: str) -> Any:
    return _lazy(name)


def instrument(*sdks: str) -> list[str]:
    """Patch the installed ``openai`` and ``anthropic`` SDKs so every billed call is recorded.

    Idempotent. Never imports an SDK: one imported later is patched when it is imported.
    Switches llmcost on with the default configuration if :func:`configure` was not called.

    Args:
        *sdks: Limit instrumentation to these SDK names (``"openai"``, ``"anthropic"``).

    Returns:
        The names of the SDKs that are installed and patched (now or on import).

    Example:
        >>> import llmcost
        >>> llmcost.instrument()  # doctest: +SKIP
        ['openai', 'anthropic']
    """
    from llmcost import _context, integrations

    _context.ensure_configured()
    patched = integrations.instrument(*sdks)
    _context.state.instrumented = True
    return patched


def uninstrument(*sdks: str) -> None:
    """Restore the original SDK methods.

    Example:
        >>> import llmcost
        >>> llmcost.uninstrument()
    """
    import sys

    # Nothing can be patched if the integrations package was never loaded.
    if "llmcost.integrations" not in sys.modules:
        return
    from llmcost import _context, integrations

    integrations.uninstrument(*sdks)
    _context.state.instrumented = any(i.wanted for i in integrations.integrations().values())


def reset() -> None:
    """Undo everything: uninstrument, forget configuration, counters and overrides (for tests).

    Example:
        >>> import llmcost
        >>> llmcost.reset()
    """
    import sys

    from llmcost import _context, _recorder

    uninstrument()
    # Records already queued for the sinks (and endings of dropped streams) are delivered
    # first, to the sinks of the configuration they were made under, never the next one.
    _context.reset()
    _recorder.forget_warnings()
    if "llmcost.budgets._admission" in sys.modules:
        sys.modules["llmcost.budgets._admission"].forget_warnings()
        sys.modules["llmcost.budgets._budget"].shared_memory_store().clear()
    for name in ("llmcost.integrations._seams", "llmcost.integrations._core"):
        if name in sys.modules:
            sys.modules[name].forget_warnings()
