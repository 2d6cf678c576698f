"""Destinations for cost records.

The light sinks are imported at once; the ones that need a file lock, an HTTP client or
OpenTelemetry are imported on first use, so ``import llmcost`` stays fast and dependency-free.

Example:
    >>> import llmcost
    >>> sinks = [llmcost.sinks.MemorySink(), llmcost.sinks.LoggingSink()]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmcost._lazy import lazy_attributes
from llmcost.sinks.base import Sink
from llmcost.sinks.callback import CallbackSink
from llmcost.sinks.logging import LoggingSink
from llmcost.sinks.memory import MemorySink

if TYPE_CHECKING:
    from llmcost.sinks.http import HTTPSink
    from llmcost.sinks.jsonl import JSONLFileSink
    from llmcost.sinks.otel import OTelSink

__all__ = [
    "CallbackSink",
    "HTTPSink",
    "JSONLFileSink",
    "LoggingSink",
    "MemorySink",
    "OTelSink",
    "Sink",
]

# Imported on first use: they need a file lock, an HTTP client or OpenTelemetry.
_lazy = lazy_attributes(
    __name__,
    {
        "HTTPSink": "llmcost.sinks.http:HTTPSink",
        "JSONLFileSink": "llmcost.sinks.jsonl:JSONLFileSink",
        "OTelSink": "llmcost.sinks.otel:OTelSink",
    },
)


def __getattr__(name: str) -> Any:
    return _lazy(name)
