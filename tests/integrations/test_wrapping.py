"""The patching machinery: inherited methods, staticmethods and restore on uninstrument."""

from __future__ import annotations

import sys
import types
from typing import Any

from llmcost.integrations._wrapping import (
    Integration,
    Target,
    instrument_integration,
    unpatch_integration,
)


def _passthrough(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return ("wrapped", wrapped(*args, **kwargs))


def test_inherited_and_static_methods_are_restored_exactly() -> None:
    """Unpatching removes what was added: no base method copied down, descriptors kept."""
    module = types.ModuleType("llmcost_fake_sdk")

    class Base:
        def create(self) -> str:
            return "base"

    class Child(Base):
        @staticmethod
        def helper() -> str:
            return "static"

    def top_level() -> str:
        return "function"

    module.Base, module.Child, module.top_level = Base, Child, top_level  # type: ignore[attr-defined]
    sys.modules["llmcost_fake_sdk"] = module
    try:
        integration = Integration(
            name="llmcost_fake_sdk",
            distribution="llmcost-fake-sdk",
            min_version=(0,),
            max_version=(99,),
            targets=lambda: [
                Target("llmcost_fake_sdk", "Child.create", _passthrough),
                Target("llmcost_fake_sdk", "Child.helper", _passthrough),
                Target("llmcost_fake_sdk", "top_level", _passthrough),
                Target("llmcost_fake_sdk", "Child.missing", _passthrough),
            ],
        )
        assert instrument_integration(integration) is True
        assert Child().create() == ("wrapped", "base")
        assert Base().create() == "base"
        assert Child.helper() == ("wrapped", "static")
        assert module.top_level() == ("wrapped", "function")  # type: ignore[attr-defined]
        assert len(integration.applied) == 3  # the missing target was skipped

        unpatch_integration(integration)
        assert "create" not in vars(Child)  # inherited again, not a copy
        assert Child().create() == "base"
        assert isinstance(vars(Child)["helper"], staticmethod)
        assert Child.helper() == "static"
        assert module.top_level is top_level  # type: ignore[attr-defined]
    finally:
        del sys.modules["llmcost_fake_sdk"]
