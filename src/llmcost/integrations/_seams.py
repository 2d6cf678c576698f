"""Every private attribute of an SDK that llmcost reads, in one place, each with a fallback.

The integrations use public surfaces (resource methods, response ``.usage``, headers of raw
responses, the SDKs' public stream classes). What no public surface gives is read here, and
only here. When an SDK release renames one, the reader returns its fallback, counts
``seams_missing.<name>`` in :func:`llmcost.stats` and logs one warning that says what degrades:
the call is still recorded, never silently lost. ``tests/integrations/test_seams.py`` removes
each attribute in turn and checks that.

The list is :data:`SEAMS` below: each name, the attribute, and what degrades without it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from llmcost import errors

__all__ = ["SEAMS", "read"]

logger = logging.getLogger("llmcost")

#: name -> (attribute, what degrades without it)
SEAMS: dict[str, tuple[str, str]] = {
    "client": (
        "_client",
        "the SDK client behind a resource is unknown: no host, data residency or replay "
        "facts; OpenAI streams are estimated",
    ),
    "data_residency": (
        "_data_residency",
        "the client's data_residency is not recorded (the host name still implies it)",
    ),
    "http_client": (
        "_client",
        "parsed responses of replaying transports are not marked replayed",
    ),
    "transport": (
        "_transport",
        "parsed responses of replaying transports are not marked replayed",
    ),
    "request_id": ("_request_id", "non-streamed records have no request_id"),
    "raw_stream": (
        "_raw_stream",
        "streams of the .stream() helpers are recorded from the helper's final message "
        "(estimated) or when collected",
    ),
    "genai_api_client": (
        "_api_client",
        "google-genai calls on Vertex AI are recorded as provider gcp.gemini",
    ),
}

_MISSING: Any = object()
_warned: set[str] = set()
_lock = threading.Lock()


def read(name: str, obj: Any, fallback: Any = None) -> Any:
    """``obj``'s private attribute for seam ``name``; ``fallback`` (counted, warned once) if gone.

    ``obj`` None (nothing to read from) gives the fallback without a warning.
    """
    if obj is None:
        return fallback
    attribute = SEAMS[name][0]
    value = getattr(obj, attribute, _MISSING)
    if value is not _MISSING:
        return value
    errors.count(f"seams_missing.{name}")
    with _lock:
        first = name not in _warned
        _warned.add(name)
    if first:
        logger.warning(
            "llmcost: %s has no attribute %s (changed in this SDK release?): %s",
            type(obj).__name__,
            attribute,
            SEAMS[name][1],
        )
    return fallback


def forget_warnings() -> None:
    """Let each missing-seam warning fire again (for tests)."""
    with _lock:
        _warned.clear()
