"""Patching machinery shared by every SDK integration.

Each target is patched on its own: one that an SDK release renamed costs only itself, and a
warning names it (a silent "instrumented, but nothing patched" is the failure this prevents).

An integration describes *what* to patch as a list of :class:`Target` (module, ``Class.method``,
wrapper); this module does the *how*: it waits for the SDK to be imported (a post-import hook,
so ``instrument()`` never imports an SDK itself), checks the SDK version, applies each patch
with wrapt, skips targets a given SDK version lacks, remembers every patch so
:func:`unpatch_all` restores the originals, and makes all of it idempotent.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from llmcost import errors

__all__ = ["Integration", "Target", "instrument_integration", "unpatch_integration"]

logger = logging.getLogger("llmcost")

Wrapper = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True)
class Target:
    """One method to patch: ``module`` holds ``path`` (``"Class.method"``)."""

    module: str
    path: str
    wrapper: Wrapper


@dataclass
class Integration:
    """One SDK: its import name, the versions llmcost supports, and how to list its targets.

    ``targets`` is called only once the SDK is imported, so it may import SDK submodules.
    """

    name: str
    distribution: str
    min_version: tuple[int, ...]
    max_version: tuple[int, ...]
    targets: Callable[[], Sequence[Target]]
    #: (owner, attribute, original, wrapper) for every applied patch, in order; original is
    #: None when the owner only inherited the attribute; wrapper is what llmcost installed.
    applied: list[tuple[Any, str, Any, Any]] = field(default_factory=list)
    #: Targets that could not be patched, by ``module:path`` (each warned about once).
    missed: list[str] = field(default_factory=list)
    #: Called with False by uninstrument() and True by instrument(): the adapter's wrappers
    #: pass calls straight through while it is off (one left in place under another
    #: library's wrapper must not record).
    set_enabled: Callable[[bool], None] | None = None
    wanted: bool = False
    hook_registered: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def patched(self) -> bool:
        """Whether the SDK's methods are patched right now."""
        return bool(self.applied)

    @property
    def supported_range(self) -> str:
        """The supported versions as text, e.g. ``>=3.0, <4``."""
        low = ".".join(map(str, self.min_version))
        high = ".".join(map(str, self.max_version))
        return f">={low}, <{high}"


def _parse_version(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split("."):
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def installed_version(integration: Integration) -> str | None:
    """The installed SDK version, or None when the distribution is not installed."""
    try:
        return metadata.version(integration.distribution)
    except metadata.PackageNotFoundError:
        return None


def version_supported(integration: Integration, version: str | None) -> bool:
    """Whether ``version`` falls in the integration's supported range (unknown: assume yes)."""
    if version is None:
        return True
    parsed = _parse_version(version)
    return integration.min_version <= parsed < integration.max_version


def instrument_integration(integration: Integration) -> bool:
    """Patch the SDK now if it is imported, else as soon as the application imports it.

    Returns:
        True when the SDK is imported and at least one of its methods is now patched, or is
        installed and will be patched on import; False otherwise (not installed, or nothing
        could be patched: a warning named every method that could not).
    """
    with integration.lock:
        integration.wanted = True
        reapply = integration.hook_registered and integration.name in sys.modules
        registered = integration.hook_registered
    if registered:
        # The post-import hook fired once already: after uninstrument(), patch again here.
        if reapply:
            _apply(integration)
            return integration.patched
        return True
    with integration.lock:
        if integration.name not in sys.modules and installed_version(integration) is None:
            return False
        integration.hook_registered = True
    import wrapt

    # wrapt fires the hook at once when the SDK is already imported, otherwise right after
    # the application imports it. Hooks cannot be unregistered, so the hook checks `wanted`.
    wrapt.register_post_import_hook(lambda _module: _apply(integration), integration.name)
    if integration.name in sys.modules:
        return integration.patched
    return True


def _apply(integration: Integration) -> None:
    with integration.lock:
        if not integration.wanted or integration.applied:
            return
        if integration.set_enabled is not None:
            integration.set_enabled(True)
        with errors.internal_guard(f"instrument.{integration.name}"):
            version = installed_version(integration)
            if not version_supported(integration, version):
                logger.warning(
                    "llmcost supports %s %s, but %s is installed: instrumenting anyway; "
                    "report problems with this version",
                    integration.distribution,
                    integration.supported_range,
                    version,
                )
            integration.missed.clear()
            for target in integration.targets():
                # Each target on its own: one the SDK renamed must not cost the others.
                try:
                    patched = _patch_target(integration, target)
                except Exception as exc:
                    patched = False
                    errors.count(f"instrument.{integration.name}.errors")
                    logger.debug("llmcost: patching %s failed: %r", target.path, exc)
                if not patched:
                    integration.missed.append(f"{target.module}:{target.path}")
            if integration.missed:
                errors.count(f"instrument.{integration.name}.missed", len(integration.missed))
                logger.warning(
                    "llmcost could not instrument %d method(s) of %s %s, whose calls will "
                    "not be recorded: %s",
                    len(integration.missed),
                    integration.distribution,
                    version,
                    ", ".join(integration.missed),
                )
            logger.debug(
                "llmcost instrumented %s %s (%d methods)",
                integration.name,
                version,
                len(integration.applied),
            )


def _patch_target(integration: Integration, target: Target) -> bool:
    """Patch one target; False (nothing changed) when the SDK does not have it."""
    import wrapt

    try:
        module = importlib.import_module(target.module)
    except ImportError:
        return False
    class_name, _, method_name = target.path.rpartition(".")
    owner: Any = module
    for part in class_name.split(".") if class_name else ():
        owner = getattr(owner, part, None)
        if owner is None:
            return False
    # Read the owner's own __dict__: a method it only inherits is patched on the owner and, on
    # unpatch, deleted again (rather than the base class's function copied onto the owner, which
    # would also turn a staticmethod or classmethod into a plain function).
    if isinstance(owner, type):
        own = vars(owner).get(method_name)
    else:
        own = getattr(owner, method_name, None)  # a module's function is its own
    if own is None and getattr(owner, method_name, None) is None:
        return False
    wrapper = wrapt.wrap_function_wrapper(owner, method_name, target.wrapper)
    integration.applied.append((owner, method_name, own, wrapper))
    return True


def unpatch_integration(integration: Integration) -> None:
    """Restore every original method this integration patched (newest first).

    A method that another library wrapped after llmcost is left as it is (removing llmcost's
    wrapper would remove theirs too): llmcost's wrapper inside it passes calls straight
    through from now on, and a debug line names it.
    """
    with integration.lock:
        integration.wanted = False
        if integration.set_enabled is not None:
            integration.set_enabled(False)
        while integration.applied:
            owner, name, original, wrapper = integration.applied.pop()
            current = vars(owner).get(name) if isinstance(owner, type) else getattr(owner, name)
            if current is not wrapper:
                logger.debug(
                    "llmcost: %s.%s was wrapped again by someone else: left in place "
                    "(llmcost's wrapper inside it now passes calls through)",
                    getattr(owner, "__name__", owner),
                    name,
                )
                continue
            if original is None:
                delattr(owner, name)  # it was inherited: let the base class's show through
            else:
                setattr(owner, name, original)
