"""Instrumentation of the official ``anthropic`` SDK (2.x): one CostRecord per billed call.

Patched, sync and async: ``messages.create`` (plain and ``stream=True``), ``messages.stream()``
and ``messages.parse``, the same under ``beta.messages``, and the copies of the beta methods
that the Bedrock and Vertex clients keep on their own resource classes (their top-level
``messages`` are the first-party classes, so they are covered by the first patch).
``messages.count_tokens`` is free and is deliberately not patched: it is never recorded.

Each SDK method reaches the HTTP layer on its own (``stream()`` and ``parse()`` call the
client's ``_post`` directly, not ``create``), so each patched call makes exactly one record.

Streams: ``create(stream=True)`` returns the SDK ``Stream`` inside a recording proxy. The
``stream()`` helper's ``MessageStream`` reads its raw ``Stream`` internally (``text_stream``,
``get_final_message``, ``until_done`` all go through it), so the proxy is put *under* the
helper, in place of its raw stream: every event passes through it whatever helper the user
calls, and the user keeps the SDK's own ``MessageStream`` object untouched.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import pydantic
import wrapt

from llmcost import errors
from llmcost._context import state
from llmcost._pending import defer
from llmcost._recorder import Call, SendTimes, send_unopened, start_call
from llmcost.integrations._anthropic_usage import (
    MalformedUsage,
    StreamUsage,
    message_meta,
)
from llmcost.integrations._fields import field, transport_replays
from llmcost.integrations._streams import AsyncRecordingStream, RecordingStream
from llmcost.integrations._streams import defer as defer_ending
from llmcost.integrations._wrapping import Integration, Target
from llmcost.types import Usage

__all__ = ["INTEGRATION", "REPLAYED_HEADER", "SUPPORTED_VERSIONS"]

logger = logging.getLogger("llmcost")

PROVIDER = "anthropic"
OPERATION = "messages"
#: Response header the llmcost fake transports set: the record is marked ``replayed``.
REPLAYED_HEADER = "x-llmcost-replayed"
#: The ``anthropic`` versions this integration is written for: ``>=2.0, <3``.
SUPPORTED_VERSIONS = ((2, 0), (3,))

_USAGE_KIND = "anthropic.usage"


# --- small readers -------------------------------------------------------------------------


class _SDK:
    """SDK classes, looked up when the SDK is patched (never imported by llmcost itself)."""

    #: The errors that fail a call: the SDK's own, and the transport's, which reach a stream
    #: unwrapped. Any other exception (the user's code inside ``with stream:``) does not.
    error_types: tuple[type[BaseException], ...] = ()


def _load_sdk_types() -> None:
    import anthropic
    import httpx2

    _SDK.error_types = (anthropic.AnthropicError, httpx2.HTTPError, httpx2.StreamError)


def _model(kwargs: dict[str, Any]) -> str | None:
    model = kwargs.get("model")
    return model if isinstance(model, str) else None


def _header_meta(response: Any, instance: Any) -> dict[str, Any]:
    headers = getattr(response, "headers", None)
    request_id = None
    replayed = False
    if headers is not None:
        request_id = headers.get("request-id")
        replayed = headers.get(REPLAYED_HEADER) == "1"
    return {"request_id": request_id, "replayed": replayed or transport_replays(instance)}


#: Result types known to be parsed messages: a set lookup on the hot path, where a call to
#: :func:`_is_api_response` would cost a Python frame and pydantic's ``__instancecheck__``.
_PARSED_TYPES: set[type] = set()


def _is_parsed_message(result: Any) -> bool:
    """Whether a non-streamed call's result is a parsed message, learnt once per type."""
    if _is_api_response(result):
        return False
    _PARSED_TYPES.add(type(result))
    return True


def _is_api_response(result: Any) -> bool:
    """``with_raw_response`` / ``with_streaming_response`` hand back an ``APIResponse``."""
    # A parsed Message (a pydantic model) is nearly every call; hasattr() of a name it lacks
    # costs the AttributeError pydantic's __getattr__ builds, about 3 µs.
    if isinstance(result, pydantic.BaseModel):
        return False
    return hasattr(result, "http_response") and hasattr(result, "parse")


def _message_text(message: Any) -> str:
    """The generated text of a ``Message`` (text, thinking, tool input), for estimates."""
    parts: list[str] = []
    for block in field(message, "content") or ():
        for name in ("text", "thinking"):
            text = field(block, name)
            if isinstance(text, str):
                parts.append(text)
        tool_input = field(block, "input")
        if tool_input is not None:
            parts.append(json.dumps(tool_input, default=str))
    return "".join(parts)


# --- the three steps around the SDK call -----------------------------------------------------


def _start(kwargs: dict[str, Any], stream: bool, instance: Any) -> tuple[Call, dict[str, Any]]:
    # May raise BudgetExceeded / PolicyViolation / UnknownModelError on purpose: nothing sent.
    # The resource goes along for budgets with estimator="anthropic_api" (its count_tokens).
    call = start_call(
        PROVIDER, OPERATION, _model(kwargs), request=kwargs, stream=stream, client=instance
    )
    overrides = call.request_overrides
    if overrides:
        kwargs = {**kwargs, **overrides}
    return call, kwargs


def _open_after_return(
    kwargs: dict[str, Any], instance: Any, sent: SendTimes, ended: float | None
) -> Call:
    """The recorder's call for a call sent unopened (see :func:`send_unopened`)."""
    model = _model(kwargs)
    return Call(
        sent.config,
        PROVIDER,
        OPERATION,
        model,
        kwargs,
        False,
        None,
        instance,
        sent=sent,
        ended=ended,
    )


def _open_guarded(
    kwargs: dict[str, Any], instance: Any, sent: SendTimes, ended: float | None
) -> Call | None:
    """:func:`_open_after_return`, or None (the error reported) if that fails. A result read
    later (``with_raw_response``) is opened with ``ended=None``: its latency ends when it is
    read, as for a call opened first."""
    try:
        return _open_after_return(kwargs, instance, sent, ended)
    except Exception as exc:
        errors.report_internal_error("anthropic", exc)
        return None


def _finish_after_return(
    kwargs: dict[str, Any], instance: Any, sent: SendTimes, ended: float, message: Any
) -> None:
    call = _open_guarded(kwargs, instance, sent, ended)
    if call is not None:
        _finish_later(call, message, None, instance)


def _fail_after_return(
    kwargs: dict[str, Any], instance: Any, sent: SendTimes, ended: float, exc: BaseException
) -> None:
    with errors.internal_guard("anthropic.error"):
        _fail(_open_after_return(kwargs, instance, sent, ended), exc, instance)


def _fail(call: Call, exc: BaseException, instance: Any) -> None:
    meta: dict[str, Any] = {"replayed": False}
    with errors.internal_guard("anthropic.error"):
        response = getattr(exc, "response", None)
        meta = _header_meta(response, instance)
        request_id = getattr(exc, "request_id", None)
        if isinstance(request_id, str):
            meta["request_id"] = request_id
    call.fail(exc, **meta)


def _end_estimated(call: Call, message: Any = None, **meta: Any) -> None:
    """Record a sent call whose usage could not be read: never as $0, never left open.

    Input tokens are estimated from the request and output tokens from ``message``'s text
    (none without a message: a stream closed before it began). If estimating fails too, the
    call is recorded with unknown usage (unpriced): an open call would keep its budget
    reservation for ever.
    """
    if call.done:
        return
    # Imported here: the tokenizer is only needed when usage has to be estimated.
    from llmcost import tokens

    try:
        input_tokens = tokens.estimate_request_input_tokens(PROVIDER, OPERATION, call.request)
        text = _message_text(message) if message is not None else ""
        output_tokens = tokens.count_tokens(text, call.model or "claude") if text else 0
        usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
    except Exception as exc:
        call.finish_unknown(**meta)
        errors.report_internal_error("anthropic.estimate", exc)
        return
    call.finish(usage, estimated=True, **meta)


def _finish_message(call: Call, message: Any, meta: dict[str, Any]) -> None:
    found = message_meta(message)
    if found["request_id"] is None:
        found["request_id"] = meta.get("request_id")
    found["replayed"] = meta.get("replayed", False)
    accumulated = StreamUsage()
    try:
        accumulated.take(getattr(message, "usage", None), output_required=True)
        usage = accumulated.usage()
    except MalformedUsage as exc:
        # The user still gets the response; the call is recorded as estimated (never priced
        # from the broken block), and the broken usage is counted and logged once.
        _end_estimated(call, message, **found)
        errors.report_internal_error(_USAGE_KIND, exc)
        return
    call.finish(usage, **found, **accumulated.meta())


def _hand_over(call: Call, message: Any, http_response: Any, instance: Any) -> None:
    """The message is complete: note the time, read it later, off the caller's path."""
    call.end_now()
    defer(_finish_later, call, message, http_response, instance)


def _finish_later(call: Call, message: Any, http_response: Any, instance: Any) -> None:
    try:
        if http_response is None:
            meta = {"replayed": transport_replays(instance)}
        else:
            meta = _header_meta(http_response, instance)
        _finish_message(call, message, meta)
    except Exception as exc:
        _lost(call, exc, message)


def _lost(call: Call, exc: Exception, message: Any = None) -> None:
    """Recording a returned call failed partway: end it anyway, then report the error."""
    try:
        if message is not None:
            _end_estimated(call, message)
        else:
            call.finish_unknown()  # a stream the user now reads unobserved: usage unknown
    finally:
        errors.report_internal_error("anthropic", exc)


def _settle(call: Call, result: Any, instance: Any) -> Any:
    """Record a returned sync call, or wrap its stream; return what the user gets."""
    message = None
    try:
        if call.stream:
            if _is_api_response(result):
                return _RawStreamResponse(result, call, instance)
            return RecordingStream(result, _StreamRecorder(call, result, instance))
        raw = _is_api_response(result)
        message = result.parse() if raw else result
        _hand_over(call, message, result.http_response if raw else None, instance)
    except Exception as exc:
        _lost(call, exc, message)
    return result


async def _asettle(call: Call, result: Any, instance: Any) -> Any:
    """The async twin of :func:`_settle` (``APIResponse.parse`` is a coroutine there)."""
    message = None
    try:
        if call.stream:
            if _is_api_response(result):
                return _AsyncRawStreamResponse(result, call, instance)
            return AsyncRecordingStream(result, _StreamRecorder(call, result, instance))
        raw = _is_api_response(result)
        message = await result.parse() if raw else result
        _hand_over(call, message, result.http_response if raw else None, instance)
    except Exception as exc:
        _lost(call, exc, message)
    return result


# --- wrappers (wrapt signature) --------------------------------------------------------------


def _create(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``Messages.create`` and ``Messages.parse``, sync (plain or ``stream=True``)."""
    if not state.active:
        return wrapped(*args, **kwargs)
    stream = bool(kwargs.get("stream"))
    sent = None if stream else send_unopened()
    if sent is not None:  # nearly every call: as little as possible in here
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            defer(_fail_after_return, kwargs, instance, sent, time.perf_counter(), exc)
            raise
        if type(result) in _PARSED_TYPES or _is_parsed_message(result):
            defer(_finish_after_return, kwargs, instance, sent, time.perf_counter(), result)
            return result
        call = _open_guarded(kwargs, instance, sent, None)
        return result if call is None else _settle(call, result, instance)
    call, kwargs = _start(kwargs, stream, instance)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        _fail(call, exc, instance)
        raise
    return _settle(call, result, instance)


def _acreate(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``AsyncMessages.create`` and ``AsyncMessages.parse``: a coroutine, as the SDK's."""
    if not state.active:
        return wrapped(*args, **kwargs)
    return _acreate_call(wrapped, instance, args, kwargs)


async def _acreate_call(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    # Runs when awaited, i.e. when the request is really sent, in the awaiting task's context.
    stream = bool(kwargs.get("stream"))
    sent = None if stream else send_unopened()
    if sent is not None:
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            defer(_fail_after_return, kwargs, instance, sent, time.perf_counter(), exc)
            raise
        if type(result) in _PARSED_TYPES or _is_parsed_message(result):
            defer(_finish_after_return, kwargs, instance, sent, time.perf_counter(), result)
            return result
        call = _open_guarded(kwargs, instance, sent, None)
        return result if call is None else await _asettle(call, result, instance)
    call, kwargs = _start(kwargs, stream, instance)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        _fail(call, exc, instance)
        raise
    return await _asettle(call, result, instance)


def _stream_wrapper(manager_proxy: type[_ManagerProxy]) -> Callable[..., Any]:
    """The wrapper of ``Messages.stream()`` (sync or async: it is a plain method in both)."""

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not state.active:
            return wrapped(*args, **kwargs)
        call, kwargs = _start(kwargs, True, instance)
        try:
            manager = wrapped(*args, **kwargs)
        except BaseException:
            # stream() only builds the request (it is sent on entering): nothing was sent.
            call.abandon()
            raise
        return manager_proxy(manager, call, instance)

    return wrapper


# --- streams ---------------------------------------------------------------------------------


class _StreamRecorder:
    """The observer of one Anthropic event stream (see ``_streams.StreamObserver``)."""

    __slots__ = (
        "call",
        "malformed",
        "replayed",
        "request_id",
        "response_id",
        "response_model",
        "usage",
    )

    def __init__(self, call: Call, stream: Any, instance: Any) -> None:
        self.call = call
        self.usage = StreamUsage()
        self.malformed = False
        self.response_id: str | None = None
        self.response_model: str | None = None
        meta = _header_meta(getattr(stream, "response", None), instance)
        self.request_id: str | None = meta["request_id"]
        self.replayed: bool = meta["replayed"]

    def on_item(self, item: Any) -> bool:
        kind = getattr(item, "type", None)
        if kind == "content_block_delta":  # nearly every event: leave at once
            return True
        try:
            if kind == "message_start":
                message = getattr(item, "message", None)
                self.usage.take(getattr(message, "usage", None), output_required=True)
                self.usage.saw_start = True
                response_id = getattr(message, "id", None)
                response_model = getattr(message, "model", None)
                self.response_id = response_id if isinstance(response_id, str) else None
                self.response_model = response_model if isinstance(response_model, str) else None
            elif kind == "message_delta":
                # Cumulative totals: take() replaces, never adds.
                self.usage.take(getattr(item, "usage", None))
                self.usage.saw_delta = True
            elif kind == "message_stop":
                self.usage.saw_stop = True
        except Exception:
            self.malformed = True
            raise
        return True

    def on_end(self, error: BaseException | None, completed: bool) -> None:
        call = self.call
        if call.done or sys.is_finalizing():
            return
        meta: dict[str, Any] = {
            "request_id": self.request_id,
            "response_id": self.response_id,
            "response_model": self.response_model,
            "replayed": self.replayed,
        }
        try:
            self._end(call, error, meta)
        except Exception:
            # Usage unknown rather than a call left open; the error is reported by the proxy.
            call.finish_unknown(**meta)
            raise

    def _end(self, call: Call, error: BaseException | None, meta: dict[str, Any]) -> None:
        if self.malformed:
            # The broken event was already counted when it was seen: the call was billed, but
            # its usage cannot be trusted, so it is recorded unpriced rather than wrong.
            call.finish_unknown(**meta)
            return
        state_ = self.usage
        seen = state_.saw_start or state_.saw_delta
        # Only the SDK's and the transport's errors fail the call (see _SDK.error_types).
        failure = error if isinstance(error, _SDK.error_types) else None
        if not seen:
            if failure is not None:
                call.fail(failure, **meta)
            else:
                # Closed before message_start: billed for the prompt all the same.
                _end_estimated(call, **meta)
            return
        try:
            usage = state_.usage()
        except MalformedUsage as exc:
            call.finish_unknown(**meta)
            errors.report_internal_error(_USAGE_KIND, exc)
            return
        meta.update(state_.meta())
        # Without the final message_delta the output count is the one message_start gave:
        # the record says so.
        estimated = not state_.saw_delta
        if failure is not None:
            call.fail(failure, usage, estimated=estimated, **meta)
        else:
            call.finish(usage, estimated=estimated, **meta)


def _attach(call: Call, message_stream: Any, instance: Any, proxy: Callable[..., Any]) -> None:
    """Put the recording proxy under a ``MessageStream`` helper, in place of its raw stream."""
    try:
        raw = message_stream._raw_stream
        message_stream._raw_stream = proxy(raw, _StreamRecorder(call, raw, instance))
    except Exception as exc:
        # The request is sent and the stream is read unobserved: its usage is unknown.
        call.finish_unknown()
        errors.report_internal_error("anthropic.stream", exc)


class _ManagerProxy(wrapt.BaseObjectProxy[Any]):
    """A stream manager as the SDK made it; entering it attaches the recorder."""

    def __init__(self, manager: Any, call: Call, instance: Any) -> None:
        super().__init__(manager)
        self._self_call = call
        self._self_instance = instance
        self._self_entered = False

    def __del__(self) -> None:
        # A manager never entered sent nothing: release what start_call reserved, later and
        # outside the garbage collector (see _streams.defer).
        call = getattr(self, "_self_call", None)
        if call is None or getattr(self, "_self_entered", True) or sys.is_finalizing():
            return
        if not call.done:
            defer_ending(call.abandon)


class _StreamManagerProxy(_ManagerProxy):
    """``MessageStreamManager``: entering it sends the request."""

    def __enter__(self) -> Any:
        call = self._self_call
        self._self_entered = True
        try:
            message_stream = self.__wrapped__.__enter__()
        except BaseException as exc:
            _fail(call, exc, self._self_instance)
            raise
        _attach(call, message_stream, self._self_instance, RecordingStream)
        return message_stream

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        # Closes the MessageStream, which closes the recording proxy: the record is made.
        return self.__wrapped__.__exit__(exc_type, exc, tb)


class _AsyncStreamManagerProxy(_ManagerProxy):
    """``AsyncMessageStreamManager``: entering it sends the request."""

    async def __aenter__(self) -> Any:
        call = self._self_call
        self._self_entered = True
        try:
            message_stream = await self.__wrapped__.__aenter__()
        except BaseException as exc:
            _fail(call, exc, self._self_instance)
            raise
        _attach(call, message_stream, self._self_instance, AsyncRecordingStream)
        return message_stream

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        return await self.__wrapped__.__aexit__(exc_type, exc, tb)


_stream = _stream_wrapper(_StreamManagerProxy)
_astream = _stream_wrapper(_AsyncStreamManagerProxy)


def _end_unread(call: Call, http_response: Any, instance: Any) -> None:
    """A raw stream response never parsed: billed for its prompt all the same."""
    if call.done:
        return
    meta: dict[str, Any] = {}
    with errors.internal_guard("anthropic.stream"):
        meta = _header_meta(http_response, instance)
    _end_estimated(call, **meta)


class _RawStreamResponse(wrapt.BaseObjectProxy[Any]):
    """``with_raw_response``/``with_streaming_response`` of ``create(stream=True)``.

    The events are only read once the user parses the response into a ``Stream``: that
    stream is handed out inside the recording proxy. A response closed unparsed is recorded
    with the input estimated from the request (``estimated=True``).
    """

    def __init__(self, response: Any, call: Call, instance: Any) -> None:
        super().__init__(response)
        self._self_call = call
        self._self_instance = instance
        self._self_stream: Any = None

    def _self_wrap(self, stream: Any, proxy: Callable[..., Any]) -> Any:
        if self._self_stream is None:
            recorder = _StreamRecorder(self._self_call, stream, self._self_instance)
            self._self_stream = proxy(stream, recorder)
        return self._self_stream

    def _self_unread(self) -> None:
        if self._self_stream is None:
            http_response = getattr(self.__wrapped__, "http_response", None)
            _end_unread(self._self_call, http_response, self._self_instance)

    def parse(self, *, to: Any = None) -> Any:
        parsed = self.__wrapped__.parse(to=to) if to is not None else self.__wrapped__.parse()
        if to is not None or not hasattr(parsed, "__next__"):
            return parsed
        return self._self_wrap(parsed, RecordingStream)

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_unread()

    def __del__(self) -> None:
        # Dropped unparsed: recorded later and outside the garbage collector (_streams.defer).
        call = getattr(self, "_self_call", None)
        if call is None or call.done or self._self_stream is not None or sys.is_finalizing():
            return
        http_response = getattr(self.__wrapped__, "http_response", None)
        defer_ending(functools.partial(_end_unread, call, http_response, self._self_instance))


class _AsyncRawStreamResponse(_RawStreamResponse):
    async def parse(self, *, to: Any = None) -> Any:
        wrapped = self.__wrapped__
        parsed = await (wrapped.parse(to=to) if to is not None else wrapped.parse())
        if to is not None or not hasattr(parsed, "__anext__"):
            return parsed
        return self._self_wrap(parsed, AsyncRecordingStream)

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_unread()


# --- what to patch ---------------------------------------------------------------------------

#: (module, sync class, async class) of every resource class that holds the messages methods.
#: Bedrock's and Vertex's beta classes copy the first-party beta functions at import time,
#: so patching the first-party class does not reach them: they are patched on their own.
_RESOURCES = (
    ("anthropic.resources.messages.messages", "Messages", "AsyncMessages"),
    ("anthropic.resources.beta.messages.messages", "Messages", "AsyncMessages"),
    ("anthropic.lib.bedrock._beta_messages", "Messages", "AsyncMessages"),
    ("anthropic.lib.vertex._beta_messages", "Messages", "AsyncMessages"),
)


def _targets() -> list[Target]:
    _load_sdk_types()
    # Import every resource module before anything is patched: a copy made from an already
    # patched first-party class would be patched a second time (two records per call).
    # `import anthropic` imports them all today; this keeps it true if one becomes lazy.
    for module_name, _, _ in _RESOURCES:
        with contextlib.suppress(ImportError):
            importlib.import_module(module_name)
    targets: list[Target] = []
    for module_name, sync_class, async_class in _RESOURCES:
        for path, wrapper in (
            (f"{sync_class}.create", _create),
            (f"{sync_class}.parse", _create),
            (f"{sync_class}.stream", _stream),
            (f"{async_class}.create", _acreate),
            (f"{async_class}.parse", _acreate),
            (f"{async_class}.stream", _astream),
        ):
            targets.append(Target(module_name, path, wrapper))
    return targets


INTEGRATION = Integration(
    name="anthropic",
    distribution="anthropic",
    min_version=SUPPORTED_VERSIONS[0],
    max_version=SUPPORTED_VERSIONS[1],
    targets=_targets,
)
