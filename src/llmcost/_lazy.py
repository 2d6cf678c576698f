"""Public names imported on first use, so that importing a package stays cheap."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports each name on first use.

    ``table`` maps a public name to ``"module:attribute"``, or to ``"module"`` for a submodule
    itself. The value is then set on the package, so the import happens once.

    Example:
        >>> getattr_ = lazy_attributes("llmcost", {"types": "llmcost.types"})
        >>> getattr_("types").__name__
        'llmcost.types'
    """

    def lazy_getattr(name: str) -> Any:
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, _, attribute = target.partition(":")
        module = importlib.import_module(module_name)
        value = getattr(module, attribute) if attribute else module
        setattr(sys.modules[package], name, value)
        return value

    return lazy_getattr
