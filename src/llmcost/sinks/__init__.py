"""Destinations for cost records.

The light sinks are imported at once; the ones that need a file lock, an HTTP client or
OpenTelemetry are imported on first use, so ``import llmcost`` stays fast and dependency-free.

Example:
    >>> import llmcost
    >>> sinks = [llmcost.sinks.MemorySink(), llmcost.sinks.LoggingSink()]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

_LAZY = {
    "HTTPSink": "llmcost.sinks.http",
    "JSONLFileSink": "llmcost.sinks.jsonl",
    "OTelSink": "llmcost.sinks.otel",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'llmcost.sinks' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
