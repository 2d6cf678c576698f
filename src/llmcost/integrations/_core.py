"""The provider-neutral integration core: one path for every billed SDK call.

A provider is an :class:`Adapter`: which methods bill, how to read usage, ids and model from
a response and from stream events, how to estimate. This module does everything else, once,
for every provider:

1. the wrapper (sync and async): open the call before sending (budgets and the model policy
   may refuse it there, on purpose), call the SDK method exactly once, outside any guard;
2. what comes back: a parsed response is read at once; a stream is handed to the user inside
   a recording proxy (:mod:`._streams`); a raw or streaming response
   (``with_raw_response`` / ``with_streaming_response``) is recorded from what the user reads,
   when the user reads it, or at ``close()``;
3. the fallbacks: a response without usage, a stream cut short, an unreadable usage block: the
   call is still recorded, with counts estimated from the request and a bounded sample of the
   output (``estimated=True``) or, when nothing can be estimated, unpriced; never as $0 and
   never left open holding its budget reservation;
4. errors: the user's exception passes through unchanged and the call is recorded as
   ``status="error"``; llmcost's own errors are counted and logged once, never raised.
"""

from __future__ import annotations

import inspect
import json
import logging
import sys
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pydantic
import wrapt

from llmcost import _dispatch, errors
from llmcost._context import state
from llmcost._recorder import Call, start_call
from llmcost.integrations import _seams
from llmcost.integrations._streams import AsyncRecordingStream, RecordingStream
from llmcost.integrations._wrapping import Integration, Target
from llmcost.types import Usage

logger = logging.getLogger("llmcost")

__all__ = [
    "Adapter",
    "Billed",
    "CallContext",
    "Destination",
    "Reading",
    "TextSample",
    "make_wrapper",
]

#: Output text beyond this many characters is not tokenized: its count is extrapolated from
#: the tokens of this many (estimates stay bounded in time and memory on the caller's path).
SAMPLE_CHARS = 64 * 1024


@dataclass
class Reading:
    """What an adapter read from a response or a stream: usage (None: not reported) and
    CostRecord fields (``response_id``, ``response_model``, ``service_tier``, ...)."""

    usage: Usage | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    #: The counts are partial (a stream cut before its final usage): recorded as estimated.
    partial: bool = False
    #: Billed, but the usage cannot be known (a background response, a broken usage block):
    #: recorded unpriced, never $0.
    unknown: bool = False
    #: What made the usage unreadable (a malformed block from the provider): reported as an
    #: internal error (counted, logged once) after the call is recorded.
    error: Exception | None = None


@dataclass(frozen=True)
class Destination:
    """Where a call goes (:meth:`Adapter.destination`)."""

    #: The provider name on the record (OpenTelemetry's ``gen_ai.provider.name`` values).
    provider: str
    data_residency: str | None = None
    #: Azure OpenAI: the deployment ``model=`` (or the client's ``base_url``) names.
    deployment: str | None = None
    #: An OpenAI-compatible gateway's host (and Azure's).
    endpoint_host: str | None = None


@dataclass(frozen=True)
class Billed:
    """One SDK method that bills: ``module`` holds ``path`` (``"Class.method"``)."""

    module: str
    path: str
    operation: str
    is_async: bool
    #: The adapter's own wrapper, for a method that needs more than the core's (a stream
    #: manager); None: the core's wrapper.
    wrapper: Callable[..., Any] | None = None
    #: The method always returns a stream (a streaming-only method, not ``stream=True``).
    stream: bool = False


class TextSample:
    """The generated text of a response, kept up to :data:`SAMPLE_CHARS` plus its length."""

    __slots__ = ("kept", "length", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.kept = 0
        self.length = 0

    def add(self, text: str) -> None:
        self.length += len(text)
        if self.kept < SAMPLE_CHARS:
            piece = text[: SAMPLE_CHARS - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)

    def text(self) -> str:
        return "".join(self.parts)


class Adapter:
    """What a provider integration supplies to the core (subclass it, one per SDK).

    Class attributes name the SDK; methods read its objects. Every method may assume the SDK
    is imported (they run after :meth:`load`).
    """

    #: The import name of the SDK and its distribution on PyPI.
    name = ""
    distribution = ""
    #: Supported versions: ``min_version <= version < max_version``.
    min_version: tuple[int, ...] = ()
    max_version: tuple[int, ...] = ()
    #: The provider name on records (OpenTelemetry's ``gen_ai.provider.name`` values).
    provider = ""
    #: The response header with the provider's request id.
    request_id_header = ""
    #: A response header with the cost (USD) a gateway reports for the call, if any.
    cost_header = ""

    def __init__(self) -> None:
        #: Errors that fail a call (the SDK's own, the transport's): any other exception
        #: inside the user's ``with stream:`` block is the user's and does not fail it.
        self.error_types: tuple[type[BaseException], ...] = ()
        self.stream_types: tuple[type, ...] = ()
        self.async_stream_types: tuple[type, ...] = ()
        #: False after uninstrument(): a wrapper that someone else wrapped over, which
        #: uninstrument() therefore left in place, passes calls straight through.
        self.enabled = True

    # -- set up ------------------------------------------------------------------------------

    def load(self) -> None:
        """Look up the SDK's public classes (called once the SDK is imported)."""

    def billed(self) -> list[Billed]:
        """The methods to patch."""
        raise NotImplementedError

    # -- before sending ----------------------------------------------------------------------

    def destination(self, instance: Any, kwargs: Mapping[str, Any]) -> Destination:
        """Where a call made on ``instance`` (a resource) with ``kwargs`` goes: its provider
        and, where they decide the price, the data residency, the Azure deployment or the
        gateway's host. Read once per call, before sending."""
        return Destination(self.provider)

    def prepare(self, ctx: CallContext) -> None:
        """Adjust ``ctx.kwargs`` before sending (e.g. ask a stream for its usage)."""

    # -- reading -----------------------------------------------------------------------------

    def read(self, operation: str, body: Any) -> Reading:
        """Usage and record fields of a complete response (SDK object or JSON dict).

        Raises:
            ValueError: the usage block is malformed (counted; the call is estimated).
        """
        raise NotImplementedError

    def stream_reader(self, ctx: CallContext) -> StreamReader:
        """A fresh reader for one stream of ``ctx``."""
        raise NotImplementedError

    def output_text(self, operation: str, body: Any) -> str:
        """The generated text of a complete response, for estimating its output tokens."""
        return ""

    def response_meta(self, body: Any) -> dict[str, Any]:
        """``response_id`` and ``response_model`` of a complete response (kept on records
        whose usage could not be read)."""
        return {}

    def request_id_of(self, body: Any) -> Any:
        """The request id a parsed response object carries (not a header), if any."""
        return _seams.read("request_id", body)

    def replays(self, instance: Any) -> bool:
        """Whether the transport under ``instance`` replays recorded answers."""
        return transport_replays(instance)


class StreamReader:
    """Sees every item of one stream; says at the end what the stream reported."""

    def __init__(self) -> None:
        self.text = TextSample()

    def on_item(self, item: Any) -> bool:
        """See one item; return False to hide it from the user."""
        raise NotImplementedError

    def result(self) -> Reading:
        """What the stream reported, so far (called once, at its end)."""
        raise NotImplementedError


def header_facts(headers: Any, request_id_header: str, cost_header: str = "") -> dict[str, Any]:
    """``request_id``, ``replayed`` and the cost a gateway reports in ``cost_header``
    (``reported_cost``, parsed and refused if malformed when recorded) from HTTP response
    headers (None: no headers)."""
    if headers is None:
        return {}
    try:
        request_id = headers.get(request_id_header)
        replayed = headers.get("x-llmcost-replayed") == "1"
        cost = headers.get(cost_header) if cost_header else None
    except Exception:  # not a header object llmcost can read
        return {}
    facts: dict[str, Any] = {"request_id": request_id if isinstance(request_id, str) else None}
    if replayed:
        facts["replayed"] = True
    if cost is not None:
        facts["reported_cost"] = cost
    return facts


def transport_replays(instance: Any) -> bool:
    """Whether the transport under an SDK resource says it replays recorded answers.

    A parsed response carries no headers, so the llmcost fake transports (any transport may)
    also carry the class attribute ``llmcost_replayed = True``, read here.
    """
    client = _seams.read("client", instance)
    http_client = _seams.read("http_client", client)
    transport = _seams.read("transport", http_client)
    return getattr(transport, "llmcost_replayed", False) is True


class CallContext:
    """One wrapped SDK call: the recorder's :class:`Call` and what the core learns of it."""

    __slots__ = (
        "adapter",
        "call",
        "http",
        "instance",
        "kwargs",
        "operation",
        "options",
        "requested",
    )

    def __init__(
        self, adapter: Adapter, operation: str, instance: Any, kwargs: dict[str, Any]
    ) -> None:
        self.adapter = adapter
        self.operation = operation
        self.instance = instance
        self.kwargs = kwargs
        self.call: Call | None = None
        #: The HTTP response, once known (streams and raw responses carry one).
        self.http: Any = None
        #: Adapter-specific facts decided before sending (e.g. a usage chunk to hide).
        self.options: dict[str, Any] = {}
        #: Record fields the request decides unless the response says otherwise (the service
        #: tier a Gemini request asks for, when the response does not say which it got).
        self.requested: dict[str, Any] = {}

    # -- record fields -----------------------------------------------------------------------

    def meta(self, body: Any = None) -> dict[str, Any]:
        """Request id, replay facts and a reported cost from the HTTP response, the body and
        the transport; then what the request decided (``requested``) where they say nothing."""
        adapter = self.adapter
        meta = header_facts(
            getattr(self.http, "headers", None), adapter.request_id_header, adapter.cost_header
        )
        if meta.get("request_id") is None and body is not None and not isinstance(body, dict):
            request_id = adapter.request_id_of(body)
            if isinstance(request_id, str):
                meta["request_id"] = request_id
        if not meta.get("replayed") and adapter.replays(self.instance):
            meta["replayed"] = True
        for key, value in self.requested.items():
            meta.setdefault(key, value)
        return meta

    # -- estimates ---------------------------------------------------------------------------

    def estimate(self, text: TextSample | str = "", model: str | None = None) -> Usage:
        """Input counted from the request, output from (a bounded sample of) the text."""
        from llmcost import tokens  # the tokenizer is only needed when estimating

        call = self.call
        request = call.request if call is not None else self.kwargs
        input_tokens = tokens.estimate_request_input_tokens(
            self.adapter.name, self.operation, request
        )
        sample = text if isinstance(text, TextSample) else _sample_of(text)
        output_tokens = 0
        if sample.length:
            name = model or (call.model if call is not None else None) or self.adapter.name
            counted = tokens.count_tokens(sample.text(), name)
            # Beyond the sample, extrapolate by length: bounded work on the caller's path.
            output_tokens = (
                counted
                if sample.length == sample.kept
                else (-(-counted * sample.length // max(sample.kept, 1)))
            )
        return Usage(input_tokens=input_tokens, output_tokens=output_tokens)

    # -- endings -----------------------------------------------------------------------------

    def finish_body(self, body: Any) -> None:
        """Record a complete, non-streamed response (SDK object or JSON dict)."""
        call = self.call
        if call is None or call.done:
            return
        try:
            meta = self.meta(body)
            try:
                reading = self.adapter.read(self.operation, body)
            except ValueError as exc:  # a malformed usage block: estimated, counted, logged
                self.end_estimated(body=body)
                bad_usage(self.adapter, exc)
                return
            meta.update(reading.meta)
            if reading.unknown:
                call.finish_unknown(**meta)
                if reading.error is not None:
                    bad_usage(self.adapter, reading.error)
            elif reading.usage is None:
                # A compatible server that sends no usage: not an error, but counted.
                errors.count(f"{self.adapter.name}.usage_missing")
                self.end_estimated(body=body, meta=meta)
            else:
                call.finish(reading.usage, estimated=reading.partial, **meta)
        except Exception:
            self.end_estimated(body=body)
            raise

    def end_estimated(
        self,
        text: TextSample | str | None = None,
        body: Any = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """End the call with what is known, whatever failed before: never leave it open.

        Input is estimated from the request and output from ``text`` (or ``body``'s text);
        if estimating fails too, the call is recorded with unknown usage (unpriced).
        """
        call = self.call
        if call is None or call.done:
            return
        if meta is None:
            try:
                meta = self.meta(body)
                if body is not None:
                    meta.update(self.adapter.response_meta(body))
            except Exception:  # the failure being salvaged is reported by the caller
                meta = {}
        try:
            if text is None:
                text = self.adapter.output_text(self.operation, body) if body is not None else ""
            usage = self.estimate(text, meta.get("response_model"))
        except Exception as exc:
            call.finish_unknown(**meta)
            errors.report_internal_error(f"{self.adapter.name}.estimate", exc)
            return
        call.finish(usage, estimated=True, **meta)

    def fail(self, exc: BaseException, usage: Usage | None = None, **extra: Any) -> None:
        """Record a call whose SDK call (or reading its body) raised ``exc``."""
        call = self.call
        if call is None or call.done:
            return
        meta: dict[str, Any] = {}
        try:
            meta = self.meta()
            response = getattr(exc, "response", None)
            facts = header_facts(getattr(response, "headers", None), self.adapter.request_id_header)
            for key, value in facts.items():
                if value is not None and not meta.get(key):
                    meta[key] = value
            if meta.get("request_id") is None:
                request_id = getattr(exc, "request_id", None)  # public on the SDKs' errors
                if isinstance(request_id, str):
                    meta["request_id"] = request_id
        finally:
            meta.update(extra)
            call.fail(exc, usage, **meta)

    def returned(self, result: Any) -> Any:
        """Record a returned result, or wrap it so that it is recorded when read."""
        try:
            if isinstance(result, self.adapter.stream_types):
                return RecordingStream(result, StreamObserver(self, result))
            if isinstance(result, self.adapter.async_stream_types):
                return AsyncRecordingStream(result, StreamObserver(self, result))
            if _is_raw_response(result):
                return self._raw(result)
            self.finish_body(result)
        except Exception as exc:
            self.lost(exc)
        return result

    def _raw(self, result: Any) -> Any:
        self.http = getattr(result, "http_response", None)
        is_async = inspect.iscoroutinefunction(getattr(result, "parse", None))
        streaming = self.call is not None and self.call.stream
        if not streaming and getattr(self.http, "is_closed", False):
            # with_raw_response: the SDK already read the whole body; the user sees it as is.
            self.finish_body(_json_body(self.http))
            return result
        return (AsyncRawResponse if is_async else RawResponse)(result, self)

    def detach_http(self) -> None:
        """Keep only the headers of the HTTP response: for work handed to the delivery thread
        from a garbage-collected proxy, so that the response itself (and whatever its owner,
        the SDK, ends when it is collected, such as a tracing span) goes now, not later."""
        http = self.http
        if http is not None and not isinstance(http, _Headers):
            self.http = _Headers(getattr(http, "headers", None))

    def lost(self, exc: Exception) -> None:
        """Recording a returned call failed: end it anyway (usage unknown), then report."""
        try:
            call = self.call
            if call is not None and not call.done:
                call.finish_unknown(**self.meta())
        finally:
            errors.report_internal_error(f"{self.adapter.name}.record", exc)

    def end_unread(self) -> None:
        """A response never read: billed all the same; its input is estimated from the request."""
        with errors.internal_guard(f"{self.adapter.name}.record"):
            self.end_estimated(text="")


_warned_bad_usage: set[str] = set()


def bad_usage(adapter: Adapter, exc: Exception) -> None:
    """The provider sent a usage block llmcost cannot read (a count that is not a number, parts
    larger than their whole). That is the provider's input, not a bug of llmcost: the call is
    already recorded (estimated, or unpriced; never $0); this counts it and names the field in
    one warning per provider."""
    errors.count(f"{adapter.name}.usage_malformed")
    if adapter.name in _warned_bad_usage:
        return
    _warned_bad_usage.add(adapter.name)
    logger.warning(
        "llmcost: %s sent a usage block it cannot read (%s); the call is recorded estimated "
        "or unpriced, never as $0, and counted in llmcost.stats()['%s.usage_malformed']",
        adapter.name,
        exc,
        adapter.name,
    )


def forget_warnings() -> None:
    """Let the once-per-provider warnings fire again (for tests)."""
    _warned_bad_usage.clear()


class _Headers:
    """What :meth:`CallContext.detach_http` keeps of an HTTP response."""

    __slots__ = ("headers",)

    def __init__(self, headers: Any) -> None:
        self.headers = headers


def _sample_of(text: str) -> TextSample:
    sample = TextSample()
    sample.add(text)
    return sample


def _is_raw_response(result: Any) -> bool:
    """``with_raw_response`` / ``with_streaming_response`` results: an ``http_response`` and a
    ``parse()`` (a parsed response is a pydantic model without them)."""
    if isinstance(result, pydantic.BaseModel):
        return False
    return hasattr(result, "http_response") and hasattr(result, "parse")


def _json_body(http: Any) -> Any:
    """The JSON body of a read HTTP response; an empty dict when it is not JSON."""
    try:
        # Fractions as Decimals: a cost the provider put in the body keeps its exact digits.
        data = json.loads(http.content, parse_float=Decimal)
    except (ValueError, TypeError, AttributeError):
        return {}
    return data


# --- streams -----------------------------------------------------------------------------------


class StreamObserver:
    """The core side of one stream: the adapter's reader sees items, the core ends the call."""

    __slots__ = ("ctx", "reader")

    def __init__(self, ctx: CallContext, stream: Any) -> None:
        self.ctx = ctx
        if ctx.http is None:
            ctx.http = getattr(stream, "response", None)
        self.reader = ctx.adapter.stream_reader(ctx)

    @property
    def call(self) -> Call | None:
        return self.ctx.call

    def on_item(self, item: Any) -> bool:
        return self.reader.on_item(item)

    def detach(self) -> None:
        """Let go of the HTTP response before the ending is handed off (see the proxy)."""
        self.ctx.detach_http()

    def on_end(self, error: BaseException | None, completed: bool) -> None:
        ctx = self.ctx
        call = ctx.call
        # Collected while the interpreter exits: nothing can be recorded any more.
        if call is None or call.done or sys.is_finalizing():
            return
        try:
            self._end(call, error)
        except Exception:
            # End the call with what is known (estimated); the proxy reports the error.
            try:
                meta = ctx.meta()
            except Exception:
                meta = {}
            ctx.end_estimated(self.reader.text, meta=meta)
            raise

    def _end(self, call: Call, error: BaseException | None) -> None:
        ctx = self.ctx
        text = self.reader.text
        meta = ctx.meta()
        try:
            reading = self.reader.result()
        except ValueError as exc:  # a malformed usage block: estimated, counted, logged
            ctx.end_estimated(text, meta=meta)
            bad_usage(ctx.adapter, exc)
            return
        meta.update(reading.meta)
        # Only the SDK's and the transport's errors fail the call: an exception of the user's
        # own code inside `with stream:` does not.
        failure = error if isinstance(error, ctx.adapter.error_types) else None
        if reading.unknown:
            call.finish_unknown(**meta)
            if reading.error is not None:
                bad_usage(ctx.adapter, reading.error)
        elif reading.usage is not None:
            if failure is not None:
                call.fail(failure, reading.usage, estimated=reading.partial, **meta)
            else:
                call.finish(reading.usage, estimated=reading.partial, **meta)
        elif failure is not None:
            ctx.fail(failure, ctx.estimate(text) if text.length else None, **meta)
        else:
            # Abandoned before the usage arrived, or a server that never sends usage.
            ctx.end_estimated(text, meta=meta)


# --- raw and streaming responses ---------------------------------------------------------------


class RawResponse(wrapt.BaseObjectProxy[Any]):
    """A raw response whose body the user has not read yet (``with_streaming_response``, or
    ``with_raw_response`` of a stream): recorded from what the user reads, when it is read.

    ``parse()`` of a stream returns a recording stream; ``parse()``/``read()``/``json()``/
    ``text()`` of a JSON body record its usage; an error while reading is the user's, passed
    through unchanged and recorded as ``status="error"``; ``close()`` (the ``with`` exit)
    records a body never read with its input estimated from the request.
    """

    def __init__(self, wrapped: Any, ctx: CallContext) -> None:
        super().__init__(wrapped)
        self._self_ctx = ctx
        self._self_stream: Any = None

    def _self_parsed(self, parsed: Any) -> Any:
        ctx = self._self_ctx
        adapter = ctx.adapter
        if isinstance(parsed, adapter.stream_types + adapter.async_stream_types):
            if self._self_stream is None:
                proxy = (
                    AsyncRecordingStream
                    if isinstance(parsed, adapter.async_stream_types)
                    else RecordingStream
                )
                self._self_stream = proxy(parsed, StreamObserver(ctx, parsed))
            return self._self_stream
        with errors.internal_guard(f"{adapter.name}.record"):
            ctx.finish_body(parsed)
        return parsed

    def _self_read(self) -> None:
        ctx = self._self_ctx
        call = ctx.call
        if call is None or call.done or (call.stream and self._self_stream is None):
            return
        with errors.internal_guard(f"{ctx.adapter.name}.record"):
            ctx.finish_body(_json_body(ctx.http))

    def _self_failed(self, exc: BaseException) -> None:
        ctx = self._self_ctx
        if isinstance(exc, ctx.adapter.error_types):
            with errors.internal_guard(f"{ctx.adapter.name}.record"):
                ctx.fail(exc)

    def _self_finalize(self) -> None:
        stream = self._self_stream
        if stream is not None:
            stream._self_end(None, False)
            return
        self._self_ctx.end_unread()

    def _self_sync(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            value = getattr(self.__wrapped__, name)(*args, **kwargs)
        except BaseException as exc:
            self._self_failed(exc)
            raise
        if name == "parse":
            return self._self_parsed(value)
        self._self_read()
        return value

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_sync("parse", *args, **kwargs)

    def read(self) -> Any:
        return self._self_sync("read")

    def text(self) -> Any:
        return self._self_sync("text")

    def json(self) -> Any:
        return self._self_sync("json")

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_finalize()

    def __del__(self) -> None:
        # Dropped without close(): a stream it parsed ends itself; an unread body is recorded
        # later, on llmcost's delivery thread (the garbage collector may run inside any lock).
        ctx = getattr(self, "_self_ctx", None)
        if ctx is None or self._self_stream is not None or sys.is_finalizing():
            return
        call = ctx.call
        if call is not None and not call.done:
            ctx.detach_http()
            _dispatch.run_later(ctx.end_unread)


class AsyncRawResponse(RawResponse):
    """The async twin of :class:`RawResponse`."""

    async def _self_async(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            value = await getattr(self.__wrapped__, name)(*args, **kwargs)
        except BaseException as exc:
            self._self_failed(exc)
            raise
        if name == "parse":
            return self._self_parsed(value)
        self._self_read()
        return value

    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        return await self._self_async("parse", *args, **kwargs)

    async def read(self) -> Any:
        return await self._self_async("read")

    async def text(self) -> Any:
        return await self._self_async("text")

    async def json(self) -> Any:
        return await self._self_async("json")

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_finalize()


# --- the wrapper -------------------------------------------------------------------------------


def open_call(
    adapter: Adapter, operation: str, instance: Any, kwargs: dict[str, Any], *, stream: bool
) -> CallContext | None:
    """Open the call before sending: budgets and the policy may refuse it here, on purpose.

    Returns None when llmcost cannot follow this call (an internal error, already counted):
    the SDK call then goes ahead untouched.
    """
    ctx: CallContext | None = None
    where = Destination(adapter.provider)
    with errors.internal_guard(f"{adapter.name}.prepare"):
        ctx = CallContext(adapter, operation, instance, dict(kwargs))
        where = adapter.destination(instance, kwargs)
    if ctx is None:
        return None
    model = kwargs.get("model")
    # Outside any guard: BudgetExceeded / PolicyViolation / UnknownModelError are raised on
    # purpose, before anything is sent.
    ctx.call = start_call(
        where.provider,
        operation,
        model if isinstance(model, str) else None,
        request=kwargs,
        stream=stream,
        data_residency=where.data_residency,
        client=instance,
        deployment=where.deployment,
        endpoint_host=where.endpoint_host,
    )
    with errors.internal_guard(f"{adapter.name}.prepare"):
        overrides = ctx.call.request_overrides
        if overrides:
            ctx.kwargs.update(overrides)
        adapter.prepare(ctx)
    return ctx


#: Set while a billed call is being sent: a second llmcost wrapper reached inside it (one left
#: under another library's wrapper by uninstrument(), then instrumented again) passes through,
#: so a call is recorded once whatever the stack of wrappers.
_sending: ContextVar[bool] = ContextVar("llmcost_sending", default=False)


def make_wrapper(
    adapter: Adapter, operation: str, is_async: bool, streams: bool = False
) -> Callable[..., Any]:
    """The wrapt wrapper of one billed method (the same path for every provider)."""

    def send(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        stream = streams or kwargs.get("stream") is True
        ctx = open_call(adapter, operation, instance, kwargs, stream=stream)
        if ctx is None:
            return wrapped(*args, **kwargs)
        token = _sending.set(True)
        try:
            result = wrapped(*args, **ctx.kwargs)
        except BaseException as exc:
            with errors.internal_guard(f"{adapter.name}.record"):
                ctx.fail(exc)
            raise
        finally:
            _sending.reset(token)
        return ctx.returned(result)

    async def send_async(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        # Opened when awaited, i.e. when the request is really sent, in the awaiting task.
        stream = streams or kwargs.get("stream") is True
        ctx = open_call(adapter, operation, instance, kwargs, stream=stream)
        if ctx is None:
            return await wrapped(*args, **kwargs)
        token = _sending.set(True)
        try:
            result = await wrapped(*args, **ctx.kwargs)
        except BaseException as exc:
            with errors.internal_guard(f"{adapter.name}.record"):
                ctx.fail(exc)
            raise
        finally:
            _sending.reset(token)
        return ctx.returned(result)

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not state.active or not adapter.enabled or _sending.get():
            return wrapped(*args, **kwargs)
        if is_async:
            return send_async(wrapped, instance, args, kwargs)
        return send(wrapped, instance, args, kwargs)

    return wrapper


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one (the SDKs' sentinels are not)."""
    return value if isinstance(value, Mapping) else {}


def integration_for(adapter: Adapter) -> Integration:
    """The patching record of ``adapter``: what :func:`llmcost.instrument` applies."""

    def targets() -> list[Target]:
        adapter.load()
        return [
            Target(
                billed.module,
                billed.path,
                billed.wrapper
                or make_wrapper(adapter, billed.operation, billed.is_async, billed.stream),
            )
            for billed in adapter.billed()
        ]

    def set_enabled(enabled: bool) -> None:
        adapter.enabled = enabled

    return Integration(
        name=adapter.name,
        distribution=adapter.distribution,
        min_version=adapter.min_version,
        max_version=adapter.max_version,
        targets=targets,
        set_enabled=set_enabled,
    )
