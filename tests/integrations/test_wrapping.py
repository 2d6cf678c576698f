"""The patching machinery: inherited methods, staticmethods and restore on uninstrument."""

from __future__ import annotations

import logging
import sys
import types
from typing import Any

import pytest

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


def _fake_sdk(name: str) -> tuple[types.ModuleType, type]:
    module = types.ModuleType(name)

    class Client:
        def create(self) -> str:
            return "created"

    module.Client = Client  # type: ignore[attr-defined]
    sys.modules[name] = module
    return module, Client


def test_a_missing_target_is_named_in_a_warning_and_the_others_still_patched(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One renamed method costs only itself: the rest is patched, the miss is named once."""
    _, client = _fake_sdk("llmcost_fake_sdk_a")
    try:
        integration = Integration(
            name="llmcost_fake_sdk_a",
            distribution="llmcost-fake-sdk-a",
            min_version=(0,),
            max_version=(99,),
            targets=lambda: [
                Target("llmcost_fake_sdk_a", "Client.create", _passthrough),
                Target("llmcost_fake_sdk_a", "Client.renamed", _passthrough),
                Target("llmcost_fake_sdk_a_gone", "Client.create", _passthrough),
            ],
        )
        with caplog.at_level(logging.WARNING, logger="llmcost"):
            assert instrument_integration(integration) is True
        assert client().create() == ("wrapped", "created")
        assert integration.missed == [
            "llmcost_fake_sdk_a:Client.renamed",
            "llmcost_fake_sdk_a_gone:Client.create",
        ]
        [warning] = [r.getMessage() for r in caplog.records if r.name == "llmcost"]
        assert "Client.renamed" in warning
        assert "llmcost_fake_sdk_a_gone:Client.create" in warning
        unpatch_integration(integration)
    finally:
        del sys.modules["llmcost_fake_sdk_a"]


def test_an_sdk_with_nothing_patched_is_not_reported_as_instrumented() -> None:
    """instrument() returns only the SDKs it really patched (never a silent 'instrumented')."""
    _fake_sdk("llmcost_fake_sdk_b")
    try:
        integration = Integration(
            name="llmcost_fake_sdk_b",
            distribution="llmcost-fake-sdk-b",
            min_version=(0,),
            max_version=(99,),
            targets=lambda: [Target("llmcost_fake_sdk_b", "Client.renamed", _passthrough)],
        )
        assert instrument_integration(integration) is False
        assert integration.missed == ["llmcost_fake_sdk_b:Client.renamed"]
    finally:
        del sys.modules["llmcost_fake_sdk_b"]


def test_uninstrument_leaves_another_librarys_wrapper_in_place() -> None:
    """A wrapper installed after llmcost's is not removed with it; llmcost's, inside it,
    passes calls straight through from then on."""
    _, client = _fake_sdk("llmcost_fake_sdk_c")
    enabled: list[bool] = []
    try:
        integration = Integration(
            name="llmcost_fake_sdk_c",
            distribution="llmcost-fake-sdk-c",
            min_version=(0,),
            max_version=(99,),
            targets=lambda: [Target("llmcost_fake_sdk_c", "Client.create", _passthrough)],
            set_enabled=enabled.append,
        )
        assert instrument_integration(integration) is True
        ours = vars(client)["create"]

        def theirs(self: Any) -> Any:
            return ("theirs", ours(self))

        client.create = theirs  # type: ignore[method-assign]
        unpatch_integration(integration)
        assert vars(client)["create"] is theirs  # still there
        assert enabled == [True, False]  # llmcost's wrapper inside it is switched off
    finally:
        del sys.modules["llmcost_fake_sdk_c"]


def test_uninstrument_of_the_real_sdk_stops_recording_under_another_wrapper() -> None:
    """With the real openai SDK: another library wraps create() after llmcost; after
    uninstrument() its wrapper still works and llmcost records nothing."""
    import openai.resources.chat.completions.completions as chat
    import wrapt

    import llmcost
    from llmcost.testing import fake_openai_client

    sink = llmcost.sinks.MemorySink()
    llmcost.configure(sinks=[sink])
    llmcost.instrument("openai")
    calls: list[str] = []

    def other(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        calls.append("other")
        return wrapped(*args, **kwargs)

    original = vars(chat.Completions)["create"]
    wrapt.wrap_function_wrapper(chat.Completions, "create", other)
    try:
        llmcost.uninstrument("openai")
        fake_openai_client().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert calls == ["other"]
        assert sink.records == []
        # Instrumented again: a new wrapper goes on top, the old one is still inside the
        # other library's: the call is recorded once all the same.
        llmcost.instrument("openai")
        fake_openai_client().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
        assert calls == ["other", "other"]
        assert len(sink.records) == 1
    finally:
        # Back to the SDK's own method (the other wrapper held llmcost's, which held it).
        chat.Completions.create = original.__wrapped__  # type: ignore[method-assign]
        llmcost.reset()
