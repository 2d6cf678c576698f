"""SDK integrations: one module per SDK, each exposing ``INTEGRATION``.

:func:`instrument` never imports an SDK: it patches an SDK that is already imported and
arranges for one imported later to be patched on import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmcost.integrations._wrapping import Integration

__all__ = ["instrument", "integrations", "uninstrument"]

_MODULES = {
    "openai": "llmcost.integrations.openai",
    "anthropic": "llmcost.integrations.anthropic",
    "google.genai": "llmcost.integrations.gemini",
}


def integrations() -> dict[str, Integration]:
    """Every integration llmcost ships, by SDK name (importing them imports no SDK)."""
    found: dict[str, Integration] = {}
    for name, module_name in _MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        found[name] = module.INTEGRATION
    return found


def instrument(*names: str) -> list[str]:
    """Patch the named SDKs (default: every supported SDK that is installed).

    Returns:
        The names of the SDKs that are installed and now patched, or will be on import.
    """
    available = integrations()
    unknown = [name for name in names if name not in available]
    if unknown:
        raise ValueError(f"no llmcost integration for {unknown}; known: {sorted(available)}")
    from llmcost.integrations._wrapping import instrument_integration

    chosen = names or tuple(available)
    return [name for name in chosen if instrument_integration(available[name])]


def uninstrument(*names: str) -> None:
    """Restore the original SDK methods (default: every SDK llmcost patched)."""
    from llmcost.integrations._wrapping import unpatch_integration

    available = integrations()
    for name in names or tuple(available):
        if name in available:
            unpatch_integration(available[name])
