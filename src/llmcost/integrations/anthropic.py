"""The ``anthropic`` SDK adapter (2.x): one CostRecord per billed call.

Patched, sync and async: ``messages.create`` (plain and ``stream=True``), ``messages.stream()``
and ``messages.parse``, the same under ``beta.messages``, and the copies of the beta methods
that the Bedrock and Vertex clients keep on their own resource classes (their top-level
``messages`` are the first-party classes, so they are covered by the first patch).
``messages.count_tokens`` is free and is deliberately not patched: it is never recorded.

Each SDK method reaches the HTTP layer on its own (``stream()`` and ``parse()`` call the
client's ``_post`` directly, not ``create``), so each patched call makes exactly one record.

The call path is the core's (:mod:`._core`). What is Anthropic's: usage comes in
``message_start`` and in cumulative ``message_delta`` totals (replaced, never added up); and
the ``stream()`` helper's ``MessageStream`` reads its raw ``Stream`` internally
(``text_stream``, ``get_final_message``, ``until_done`` all go through it), so the recording
proxy is put *under* the helper, in place of its raw stream: every event passes through it
whatever helper the user calls, and the user keeps the SDK's own ``MessageStream``.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from typing import Any

import wrapt

from llmcost import errors
from llmcost._context import state
from llmcost.integrations import _seams
from llmcost.integrations._anthropic_usage import MalformedUsage, StreamUsage
from llmcost.integrations._core import (
    Adapter,
    Billed,
    CallContext,
    Reading,
    StreamObserver,
    StreamReader,
    integration_for,
    open_call,
)
from llmcost.integrations._fields import field
from llmcost.integrations._streams import AsyncRecordingStream, RecordingStream, defer

__all__ = ["ADAPTER", "INTEGRATION", "REPLAYED_HEADER", "SUPPORTED_VERSIONS"]

#: Response header the llmcost fake transports set: the record is marked ``replayed``.
REPLAYED_HEADER = "x-llmcost-replayed"
#: The ``anthropic`` versions this integration is written for: ``>=2.0, <3``.
SUPPORTED_VERSIONS = ((2, 0), (3,))

#: (module, sync class, async class) of every resource class that holds the messages methods.
#: Bedrock's and Vertex's beta classes copy the first-party beta functions at import time,
#: so patching the first-party class does not reach them: they are patched on their own.
_RESOURCES = (
    ("anthropic.resources.messages.messages", "Messages", "AsyncMessages"),
    ("anthropic.resources.beta.messages.messages", "Messages", "AsyncMessages"),
    ("anthropic.lib.bedrock._beta_messages", "Messages", "AsyncMessages"),
    ("anthropic.lib.vertex._beta_messages", "Messages", "AsyncMessages"),
)


def _text(obj: Any, name: str) -> str | None:
    value = field(obj, name)
    return value if isinstance(value, str) else None


class AnthropicAdapter(Adapter):
    """Where the ``anthropic`` SDK keeps usage, ids and model."""

    name = "anthropic"
    distribution = "anthropic"
    min_version, max_version = SUPPORTED_VERSIONS
    provider = "anthropic"
    request_id_header = "request-id"

    def load(self) -> None:
        import anthropic
        import httpx2

        self.stream_types = (anthropic.Stream,)
        self.async_stream_types = (anthropic.AsyncStream,)
        self.error_types = (anthropic.AnthropicError, httpx2.HTTPError, httpx2.StreamError)

    def billed(self) -> list[Billed]:
        # Import every resource module before anything is patched: a copy made from an already
        # patched first-party class would be patched a second time (two records per call).
        for module_name, _, _ in _RESOURCES:
            with contextlib.suppress(ImportError):
                importlib.import_module(module_name)
        found: list[Billed] = []
        for module, sync_class, async_class in _RESOURCES:
            for method in ("create", "parse"):
                found.append(Billed(module, f"{sync_class}.{method}", "messages", False))
                found.append(Billed(module, f"{async_class}.{method}", "messages", True))
            found.append(Billed(module, f"{sync_class}.stream", "messages", False, wrapper=_stream))
            found.append(
                Billed(module, f"{async_class}.stream", "messages", True, wrapper=_astream)
            )
        return found

    def read(self, operation: str, body: Any) -> Reading:
        meta = {"response_id": _text(body, "id"), "response_model": _text(body, "model")}
        usage = field(body, "usage")
        if usage is None:
            return Reading(meta=meta)
        state_ = StreamUsage()
        state_.take(usage, output_required=True)  # MalformedUsage is a ValueError
        meta.update(state_.meta())
        return Reading(state_.usage(), meta)

    def response_meta(self, body: Any) -> dict[str, Any]:
        return {"response_id": _text(body, "id"), "response_model": _text(body, "model")}

    def stream_reader(self, ctx: CallContext) -> StreamReader:
        return _EventReader()

    def output_text(self, operation: str, body: Any) -> str:
        parts: list[str] = []
        for block in field(body, "content") or ():
            for name in ("text", "thinking"):
                text = field(block, name)
                if isinstance(text, str):
                    parts.append(text)
            tool_input = field(block, "input")
            if tool_input is not None:
                parts.append(json.dumps(tool_input, default=str))
        return "".join(parts)


class _EventReader(StreamReader):
    """The events of one message stream: usage in ``message_start`` and ``message_delta``."""

    def __init__(self) -> None:
        super().__init__()
        self.usage = StreamUsage()
        self.meta: dict[str, Any] = {}
        self.malformed: MalformedUsage | None = None

    def on_item(self, item: Any) -> bool:
        kind = getattr(item, "type", None)
        if kind == "content_block_delta":  # nearly every event
            delta = getattr(item, "delta", None)
            text = getattr(delta, "text", None) or getattr(delta, "thinking", None)
            if isinstance(text, str):
                self.text.add(text)
            return True
        if kind == "message_start":
            message = getattr(item, "message", None)
            self.meta = {
                "response_id": _text(message, "id"),
                "response_model": _text(message, "model"),
            }
            self._take(getattr(message, "usage", None), start=True)
        elif kind == "message_delta":
            # Cumulative totals: take() replaces, never adds.
            self._take(getattr(item, "usage", None), start=False)
        return True

    def _take(self, usage: Any, *, start: bool) -> None:
        if usage is None:  # an event without usage is an expected case, not an error
            return
        try:
            self.usage.take(usage, output_required=start)
        except MalformedUsage as exc:
            self.malformed = exc
            return
        if start:
            self.usage.saw_start = True
        else:
            self.usage.saw_delta = True

    def result(self) -> Reading:
        if self.malformed is not None:
            # Billed, but the usage cannot be trusted: unpriced rather than wrong (counted).
            return Reading(meta=self.meta, unknown=True, error=self.malformed)
        state_ = self.usage
        if not (state_.saw_start or state_.saw_delta):
            return Reading(meta=self.meta)
        meta = {**self.meta, **state_.meta()}
        try:
            usage = state_.usage()
        except MalformedUsage as exc:
            return Reading(meta=meta, unknown=True, error=exc)
        # Without the final message_delta the output count is message_start's: estimated.
        return Reading(usage, meta, partial=not state_.saw_delta)


# --- the stream() helper ---------------------------------------------------------------------


def _attach(ctx: CallContext, message_stream: Any, proxy: Any) -> bool:
    """Put the recording proxy under a ``MessageStream``, in place of its raw stream."""
    raw = _seams.read("raw_stream", message_stream)
    if raw is None:
        return False
    message_stream._raw_stream = proxy(raw, StreamObserver(ctx, raw))
    return True


def _end_from_snapshot(ctx: CallContext, message_stream: Any) -> None:
    """Without the raw stream: record from the helper's public message snapshot, estimated."""
    call = ctx.call
    if call is None or call.done:
        return
    with errors.internal_guard("anthropic.stream"):
        snapshot = getattr(message_stream, "current_message_snapshot", None)
        reading = ADAPTER.read("messages", snapshot) if snapshot is not None else Reading()
        if reading.usage is not None:
            call.finish(reading.usage, estimated=True, **ctx.meta(), **reading.meta)
    ctx.end_estimated(text="")


class _ManagerProxy(wrapt.BaseObjectProxy[Any]):
    """A stream manager as the SDK made it; entering it sends the request and attaches the
    recorder. A manager never entered sent nothing: its reservation is released."""

    def __init__(self, manager: Any, ctx: CallContext) -> None:
        super().__init__(manager)
        self._self_ctx = ctx
        self._self_entered = False
        self._self_stream: Any = None
        self._self_attached = False

    def _self_opened(self, message_stream: Any, proxy: Any) -> Any:
        ctx = self._self_ctx
        self._self_stream = message_stream
        try:
            self._self_attached = _attach(ctx, message_stream, proxy)
        except Exception as exc:
            ctx.lost(exc)  # read unobserved from here on: usage unknown
        return message_stream

    def _self_closed(self) -> None:
        if not self._self_attached and self._self_stream is not None:
            _end_from_snapshot(self._self_ctx, self._self_stream)

    def __del__(self) -> None:
        ctx = getattr(self, "_self_ctx", None)
        if ctx is None or getattr(self, "_self_entered", True) or sys.is_finalizing():
            return
        call = ctx.call
        if call is not None and not call.done:
            defer(call.abandon)


class _StreamManagerProxy(_ManagerProxy):
    def __enter__(self) -> Any:
        self._self_entered = True
        try:
            message_stream = self.__wrapped__.__enter__()
        except BaseException as exc:
            with errors.internal_guard("anthropic.record"):
                self._self_ctx.fail(exc)
            raise
        return self._self_opened(message_stream, RecordingStream)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        # Closes the MessageStream, which closes the recording proxy: the record is made.
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_closed()


class _AsyncStreamManagerProxy(_ManagerProxy):
    async def __aenter__(self) -> Any:
        self._self_entered = True
        try:
            message_stream = await self.__wrapped__.__aenter__()
        except BaseException as exc:
            with errors.internal_guard("anthropic.record"):
                self._self_ctx.fail(exc)
            raise
        return self._self_opened(message_stream, AsyncRecordingStream)

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_closed()


def _stream_wrapper(manager_proxy: type[_ManagerProxy]) -> Any:
    """The wrapper of ``Messages.stream()`` (sync or async: a plain method in both)."""

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not state.active or not ADAPTER.enabled:
            return wrapped(*args, **kwargs)
        ctx = open_call(ADAPTER, "messages", instance, kwargs, stream=True)
        if ctx is None:
            return wrapped(*args, **kwargs)
        try:
            manager = wrapped(*args, **ctx.kwargs)
        except BaseException:
            # stream() only builds the request (it is sent on entering): nothing was sent.
            if ctx.call is not None:
                ctx.call.abandon()
            raise
        return manager_proxy(manager, ctx)

    return wrapper


_stream = _stream_wrapper(_StreamManagerProxy)
_astream = _stream_wrapper(_AsyncStreamManagerProxy)

ADAPTER = AnthropicAdapter()
INTEGRATION = integration_for(ADAPTER)
