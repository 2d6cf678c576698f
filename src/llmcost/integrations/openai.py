"""The ``openai`` SDK integration: every billed call, sync and async, streamed or not.

Patched methods (sync and async resource classes each):

- ``chat.completions.create`` (``.stream()``, ``with_raw_response`` and
  ``with_streaming_response`` all reach it) and ``chat.completions.parse`` (which posts
  directly, not through ``create``);
- ``responses.create`` (``.stream()`` reaches it) and ``responses.parse`` (posts directly);
- ``embeddings.create``; the legacy ``completions.create``.

Each user call goes through exactly one patched method, so it is recorded exactly once. Two
helper patches carry no records of their own: ``close()`` of the ``.stream()`` helpers ends
the recording stream they hold (they close the HTTP response directly, not the stream object).

A non-streamed call that nothing needs to see before it is sent (no budget, no model policy;
see :func:`llmcost._recorder.send_unopened`) costs its caller only three clock readings
and the hand-over: the call is opened, read and recorded on the delivery thread.

Streams are returned as :class:`~llmcost.integrations._streams.RecordingStream` proxies. On
the official API host llmcost asks for the final usage chunk (``stream_options``) when the
user did not, and hides that chunk, so the user's loop sees exactly the chunks it would have
seen; elsewhere it never changes the request and estimates with :mod:`llmcost.tokens`.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

import wrapt

from llmcost import errors
from llmcost._context import state
from llmcost._pending import defer
from llmcost._recorder import Call, SendTimes, send_unopened, start_call
from llmcost.integrations import _openai_usage
from llmcost.integrations._fields import field, transport_replays, view
from llmcost.integrations._streams import AsyncRecordingStream, RecordingStream
from llmcost.integrations._streams import defer as defer_ending
from llmcost.integrations._wrapping import Integration, Target
from llmcost.types import Usage

__all__ = ["INTEGRATION", "SUPPORTED_VERSIONS"]

logger = logging.getLogger("llmcost")

PROVIDER = "openai"
#: The openai versions this integration is written and tested against (``>=3.0, <4``).
SUPPORTED_VERSIONS = ((3, 0), (4,))

_RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
_REPLAYED_HEADER = "x-llmcost-replayed"
_DATA_RESIDENCY_HOSTS = frozenset({"us", "eu", "ae", "au", "in", "jp"})
_OFFICIAL_HOST = "api.openai.com"
_OFFICIAL_SUFFIX = ".api.openai.com"


class _SDK:
    """SDK classes, looked up once when the SDK is patched (never imported by llmcost itself)."""

    stream_types: tuple[type, ...] = ()
    async_stream_types: tuple[type, ...] = ()
    legacy_raw_types: tuple[type, ...] = ()
    api_response_types: tuple[type, ...] = ()
    async_api_response_types: tuple[type, ...] = ()
    error_types: tuple[type, ...] = ()
    #: All the result types above: a parsed response is none of them (one check per call).
    special_types: tuple[type, ...] = ()


def _load_sdk_types() -> None:
    import httpx2
    import openai
    from openai import _legacy_response, _response

    _SDK.stream_types = (openai.Stream,)
    _SDK.async_stream_types = (openai.AsyncStream,)
    _SDK.legacy_raw_types = (_legacy_response.LegacyAPIResponse,)
    _SDK.api_response_types = (_response.APIResponse,)
    _SDK.async_api_response_types = (_response.AsyncAPIResponse,)
    # The SDK's own errors, and the transport's should one reach a stream unwrapped: only
    # these fail a call; an exception of the user's code inside `with stream:` does not.
    _SDK.error_types = (openai.OpenAIError, httpx2.HTTPError, httpx2.StreamError)
    _SDK.special_types = (
        _SDK.stream_types
        + _SDK.async_stream_types
        + _SDK.legacy_raw_types
        + _SDK.api_response_types
        + _SDK.async_api_response_types
    )


# --- per-call state ----------------------------------------------------------------------------


def _header_facts(headers: Any) -> tuple[str | None, bool]:
    """(``x-request-id``, whether ``x-llmcost-replayed`` is ``1``) of a response's headers.

    Never raises: headers of another shape than httpx2's are read with ``get``, and an object
    that cannot be read at all gives ``(None, False)``.
    """
    try:
        facts = _header_facts_fast(headers)
    except Exception:  # httpx2's private layout changed: read them the public way below
        facts = None
    if facts is not None:
        return facts
    try:
        request_id = headers.get("x-request-id")
        replayed = headers.get(_REPLAYED_HEADER) == "1"
    except Exception:  # not a header object llmcost can read
        return None, False
    return (request_id if isinstance(request_id, str) else None), replayed


def _header_facts_fast(headers: Any) -> tuple[str | None, bool] | None:
    """:func:`_header_facts` from httpx2's private header list in one pass; None if absent.

    httpx keeps headers as a list of (raw name, lower-cased name, value) byte triples, and
    each ``Headers.get`` scans all of it, lower-casing and encoding the name first: on a real
    OpenAI response (about 25 headers) one pass here costs a third of the two lookups. Values
    are decoded and joined as ``get`` does. A layout other than that may raise anything.
    """
    items = getattr(headers, "_list", None)
    if type(items) is not list or (items and len(items[0]) != 3):
        return None
    request_ids: list[bytes] = []
    replayed: list[bytes] = []
    for item in items:
        name = item[1]
        if name == b"x-request-id":
            request_ids.append(item[2])
        elif name == b"x-llmcost-replayed":
            replayed.append(item[2])
    request_id = b", ".join(request_ids).decode(headers.encoding) if request_ids else None
    return request_id, replayed == [b"1"]


_endpoints: dict[int, tuple[Any, bool, str | None]] = {}


def _client_endpoint(instance: Any) -> tuple[bool, str | None]:
    """(is the official API host, data residency) of the client behind a resource."""
    client = getattr(instance, "_client", None)
    residency = getattr(client, "_data_residency", None)
    # `_base_url` is what the `base_url` property returns, without its per-call import.
    url = getattr(client, "_base_url", None)
    if url is None:
        try:
            url = client.base_url if client is not None else None
        except Exception:  # an exotic client: treat it as not official
            url = None
    cached = _endpoints.get(id(url))
    if cached is None or cached[0] is not url:
        host = str(getattr(url, "host", "") or "")
        official = host == _OFFICIAL_HOST or host.endswith(_OFFICIAL_SUFFIX)
        implied = None
        if (
            host.endswith(_OFFICIAL_SUFFIX)
            and host[: -len(_OFFICIAL_SUFFIX)] in _DATA_RESIDENCY_HOSTS
        ):
            implied = host[: -len(_OFFICIAL_SUFFIX)]
        if len(_endpoints) > 256:
            _endpoints.clear()
        cached = _endpoints[id(url)] = (url, official, implied)
    if not isinstance(residency, str):
        residency = cached[2]
    return cached[1], residency


class _CallContext:
    """One wrapped SDK call: the recorder's :class:`Call` plus what the integration learns."""

    __slots__ = ("call", "http", "inject", "instance", "kwargs", "model", "operation", "raw")

    def __init__(self, operation: str, instance: Any, kwargs: dict[str, Any]) -> None:
        self.operation = operation
        #: The resource the call was made on: its client's transport may say it replays.
        self.instance = instance
        self.kwargs = kwargs
        self.model: str | None = None
        self.call: Call | None = None
        self.http: Any = None
        self.inject = False
        self.raw: str | None = None

    # -- metadata -----------------------------------------------------------------------------

    def meta(
        self, body: Any = None, stream_meta: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Record fields from the raw HTTP response (when the call has one: a parsed response
        carries only its request id), the client's transport and the response body."""
        meta: dict[str, Any] = {}
        headers = getattr(self.http, "headers", None)
        replayed = False
        if headers is not None:
            meta["request_id"], replayed = _header_facts(headers)
        meta["replayed"] = replayed or transport_replays(self.instance)
        if body is not None:
            if meta.get("request_id") is None:
                request_id = getattr(body, "_request_id", None)
                if isinstance(request_id, str):
                    meta["request_id"] = request_id
            fields = view(body)
            response_id = fields.get("id")
            if isinstance(response_id, str):
                meta["response_id"] = response_id
            response_model = fields.get("model")
            if isinstance(response_model, str):
                meta["response_model"] = response_model
            tier = fields.get("service_tier")
            if isinstance(tier, str):
                meta["service_tier"] = tier
        if stream_meta:
            meta.update(stream_meta)
        return meta

    # -- estimation ---------------------------------------------------------------------------

    def estimate(self, output_text: str = "", model: str | None = None) -> Usage:
        """Count input from the request and output from ``output_text`` with llmcost.tokens."""
        # Imported here: the tokenizer is only needed when usage has to be estimated.
        from llmcost import tokens

        # Input from the request as sent (tools and schemas included); output from the text.
        input_tokens = tokens.estimate_request_input_tokens(PROVIDER, self.operation, self.kwargs)
        name = model or self.model or "gpt-4o"
        output_tokens = tokens.count_tokens(output_text, name) if output_text else 0
        return Usage(input_tokens=input_tokens, output_tokens=output_tokens)

    # -- endings ------------------------------------------------------------------------------

    def finish_body(self, body: Any) -> None:
        """Record a complete, non-streamed response (SDK object or JSON dict).

        Whatever fails in here, the call is still ended (see :meth:`end_estimated`) before
        the error propagates to the caller's internal-error guard.
        """
        call = self.call
        if call is None or call.done:
            return
        try:
            self._finish_body(call, body)
        except Exception:
            self.end_estimated(body=body)
            raise

    def _finish_body(self, call: Call, body: Any) -> None:
        malformed: ValueError | None = None
        try:
            usage = _openai_usage.usage_for(self.operation, body)
        except ValueError as exc:
            errors.count("openai.usage_malformed")
            usage, malformed = None, exc
        if usage is None and malformed is None:
            if self.operation == "responses" and field(body, "status") in _NOT_DONE:
                # `background=True`: the response is queued and its usage comes with a later
                # retrieve, which llmcost does not follow. Unknown, never a guessed $0.
                call.finish_unknown(**self.meta(body))
                return
            # A compatible server that sends no usage: not an llmcost error, but counted.
            errors.count("openai.usage_missing")
        if usage is None:
            model = field(body, "model")
            estimate = self.estimate(
                _output_text(self.operation, body), model if isinstance(model, str) else None
            )
            call.finish(estimate, estimated=True, **self.meta(body))
        else:
            call.finish(usage, **self.meta(body))
        if malformed is not None:
            # Counted and logged once, after the call was recorded with estimated counts.
            errors.report_internal_error("openai.usage", malformed)

    def end_estimated(self, text: str | None = None, body: Any = None) -> None:
        """End the call with what is known, whatever failed before: never leave it open.

        Input tokens are estimated from the request and output tokens from ``text`` (or the
        text of ``body``); when there is neither, or estimating fails too, the call is
        recorded with unknown usage (unpriced, never $0). Open calls would keep their budget
        reservation for ever.
        """
        call = self.call
        if call is None or call.done:
            return
        try:
            meta = self.meta(body)
        except Exception:  # the failure being salvaged is reported by the caller
            meta = {}
        if text is None and body is None:
            call.finish_unknown(**meta)
            return
        try:
            if text is None:
                text = _output_text(self.operation, body)
            usage = self.estimate(text, meta.get("response_model"))
        except Exception as exc:
            call.finish_unknown(**meta)
            errors.report_internal_error("openai.estimate", exc)
            return
        call.finish(usage, estimated=True, **meta)

    def fail(self, exc: BaseException) -> None:
        """Record a call whose SDK call raised (nothing billed: cost 0)."""
        call = self.call
        if call is None or call.done:
            return
        try:
            meta = self._failure_meta(exc)
        except Exception:
            call.fail(exc)  # recorded without the ids; the error is reported by the caller
            raise
        call.fail(exc, **meta)

    def _failure_meta(self, exc: BaseException) -> dict[str, Any]:
        meta = self.meta()
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        if headers is not None:
            request_id, replayed = _header_facts(headers)
            if meta.get("request_id") is None:
                meta["request_id"] = request_id
            if replayed:
                meta["replayed"] = True
        if meta.get("request_id") is None:
            request_id = getattr(exc, "request_id", None)
            if isinstance(request_id, str):
                meta["request_id"] = request_id
        return meta


#: Responses API statuses of a response that is not finished: no usage yet (``background``).
_NOT_DONE = frozenset({"queued", "in_progress"})


def _output_text(operation: str, body: Any) -> str:
    """The generated text of a complete response, for estimating its output tokens."""
    parts: list[str] = []
    if operation == "responses":
        for item in field(body, "output") or ():
            for content in field(item, "content") or ():
                text = field(content, "text")
                if isinstance(text, str):
                    parts.append(text)
            arguments = field(item, "arguments")
            if isinstance(arguments, str):
                parts.append(arguments)
    elif operation in ("chat", "completions"):
        for choice in field(body, "choices") or ():
            message = field(choice, "message")
            text = field(message, "content") if message is not None else field(choice, "text")
            if isinstance(text, str):
                parts.append(text)
            for tool_call in (field(message, "tool_calls") or ()) if message is not None else ():
                arguments = field(field(tool_call, "function"), "arguments")
                if isinstance(arguments, str):
                    parts.append(arguments)
    return "".join(parts)


# --- before the call ---------------------------------------------------------------------------


def _begin(operation: str, instance: Any, kwargs: dict[str, Any]) -> _CallContext | None:
    """Open the call (budgets and policy may refuse it here, on purpose) and adjust kwargs.

    Returns None when llmcost cannot follow this call (an internal error, already counted):
    the SDK call then goes ahead untouched.
    """
    ctx: _CallContext | None = None
    official = False
    residency: str | None = None
    stream = False
    with errors.internal_guard("openai.prepare"):
        ctx, official, residency = _new_context(operation, instance, kwargs)
        stream = kwargs.get("stream") is True
    if ctx is None:
        return None
    # Outside any guard: BudgetExceeded / PolicyViolation / UnknownModelError are raised on
    # purpose, before anything is sent.
    ctx.call = start_call(
        PROVIDER,
        operation,
        ctx.model,
        request=kwargs,
        stream=stream,
        data_residency=residency,
    )
    with errors.internal_guard("openai.prepare"):
        overrides = ctx.call.request_overrides
        if overrides:
            kwargs.update(overrides)
        if stream and operation in ("chat", "completions") and ctx.raw is None:
            ctx.inject = _should_inject(kwargs.get("stream_options"), official)
            if ctx.inject:
                user_options = kwargs.get("stream_options")
                base = dict(user_options) if isinstance(user_options, Mapping) else {}
                kwargs["stream_options"] = {**base, "include_usage": True}
    return ctx


def _new_context(
    operation: str, instance: Any, kwargs: dict[str, Any]
) -> tuple[_CallContext, bool, str | None]:
    """The call's context (no recorder call yet), whether the client talks to the official API
    host, and its data residency."""
    ctx = _CallContext(operation, instance, kwargs)
    model = kwargs.get("model")
    ctx.model = model if isinstance(model, str) else None
    extra_headers = kwargs.get("extra_headers")
    if extra_headers:
        raw = extra_headers.get(_RAW_RESPONSE_HEADER)
        ctx.raw = raw if isinstance(raw, str) else None
    official, residency = _client_endpoint(instance)
    return ctx, official, residency


def _open_after_return(
    operation: str,
    instance: Any,
    kwargs: dict[str, Any],
    sent: SendTimes,
    ended: float | None,
) -> _CallContext:
    """The context of a call that was sent unopened (see :func:`send_unopened`)."""
    ctx, _official, residency = _new_context(operation, instance, kwargs)
    ctx.call = Call(
        sent.config,
        PROVIDER,
        operation,
        ctx.model,
        kwargs,
        False,
        residency,
        sent=sent,
        ended=ended,
    )
    return ctx


def _should_inject(stream_options: Any, official: bool) -> bool:
    config = state.config
    policy = config.stream_usage if config is not None else "auto"
    if policy == "estimate" or (policy == "auto" and not official):
        return False
    # Only when the user said nothing about usage: their explicit choice is passed through.
    if isinstance(stream_options, Mapping):
        return "include_usage" not in stream_options
    # The SDK's `omit` / `not_given` sentinels are falsy, like None.
    return not stream_options


# --- after the call ----------------------------------------------------------------------------


def _handle_result(ctx: _CallContext, result: Any) -> Any:
    """Record a returned result, or wrap it so that it is recorded when read."""
    if not isinstance(result, _SDK.special_types):  # a parsed response: nearly every call
        # Read later, off the caller's path (llmcost._pending): the response is complete.
        call = ctx.call
        if call is not None:
            call.end_now()
        defer(_finish_parsed, ctx, result)
        return result
    if isinstance(result, _SDK.stream_types):
        return RecordingStream(result, _observer_for(ctx, result))
    if isinstance(result, _SDK.async_stream_types):
        return AsyncRecordingStream(result, _observer_for(ctx, result))
    if isinstance(result, _SDK.legacy_raw_types):
        return _legacy_raw(ctx, result)
    if isinstance(result, _SDK.api_response_types):
        return _StreamedAPIResponse(result, ctx)
    return _AsyncStreamedAPIResponse(result, ctx)  # the last of special_types


def _finish_parsed(ctx: _CallContext, body: Any) -> None:
    try:
        ctx.finish_body(body)
    except Exception as exc:
        _lost(ctx, exc)


def _observer_for(ctx: _CallContext, stream: Any) -> _StreamObserverBase:
    if ctx.http is None:
        ctx.http = getattr(stream, "response", None)
    if ctx.operation == "responses":
        return _ResponsesStreamObserver(ctx)
    if ctx.operation == "completions":
        return _LegacyStreamObserver(ctx)
    return _ChatStreamObserver(ctx)


def _json_body(http: Any) -> Any:
    """The JSON body of a read HTTP response, or None when it was not read or is not JSON."""
    content = getattr(http, "_content", None)
    if content is None:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None


def _legacy_raw(ctx: _CallContext, result: Any) -> Any:
    """``with_raw_response``: the body is already read unless the call streams."""
    ctx.http = getattr(result, "http_response", ctx.http)
    if not getattr(result, "_stream", False):
        body = _json_body(ctx.http)
        ctx.finish_body(body if body is not None else {})
        return result
    return _LegacyRawStreamResponse(result, ctx)


class _LegacyRawStreamResponse(wrapt.BaseObjectProxy[Any]):
    """A streamed ``with_raw_response`` result: ``parse()`` returns a recording stream."""

    def __init__(self, wrapped: Any, ctx: _CallContext) -> None:
        super().__init__(wrapped)
        self._self_ctx = ctx
        self._self_stream: Any = None

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = self.__wrapped__.parse(*args, **kwargs)
        if self._self_stream is None and isinstance(
            parsed, _SDK.stream_types + _SDK.async_stream_types
        ):
            self._self_stream = _wrap_stream(self._self_ctx, parsed)
        return self._self_stream if self._self_stream is not None else parsed

    def __del__(self) -> None:
        # Never parsed: the request was sent and billed; record what can be estimated, later
        # and outside the garbage collector (see _streams.defer).
        ctx = getattr(self, "_self_ctx", None)
        if ctx is not None and self._self_stream is None and not sys.is_finalizing():
            defer_ending(functools.partial(_end_unread, ctx))


def _wrap_stream(ctx: _CallContext, stream: Any) -> Any:
    if isinstance(stream, _SDK.async_stream_types):
        return AsyncRecordingStream(stream, _observer_for(ctx, stream))
    return RecordingStream(stream, _observer_for(ctx, stream))


def _end_unread(ctx: _CallContext) -> None:
    """A response never read: billed all the same; its input is estimated from the request."""
    with errors.internal_guard("openai.record"):
        ctx.end_estimated(text="")


class _APIResponseBase(wrapt.BaseObjectProxy[Any]):
    """A ``with_streaming_response`` result (body not read yet): record when it is read.

    ``parse()`` of a stream returns a recording stream; ``parse()``/``read()``/``json()``/
    ``text()`` of a JSON body record its usage; ``close()`` (the ``with`` exit) records what is
    known, estimating when the body was never parsed.
    """

    def __init__(self, wrapped: Any, ctx: _CallContext) -> None:
        super().__init__(wrapped)
        self._self_ctx = ctx
        self._self_stream: Any = None
        if ctx.http is None:
            ctx.http = getattr(wrapped, "http_response", None)

    def _self_after_parse(self, parsed: Any) -> Any:
        ctx = self._self_ctx
        if isinstance(parsed, _SDK.stream_types + _SDK.async_stream_types):
            if self._self_stream is None:
                self._self_stream = _wrap_stream(ctx, parsed)
            return self._self_stream
        with errors.internal_guard("openai.record"):
            ctx.finish_body(parsed)
        return parsed

    def _self_after_read(self) -> None:
        ctx = self._self_ctx
        if ctx.call is None or ctx.call.done or getattr(self.__wrapped__, "_is_sse_stream", False):
            return
        with errors.internal_guard("openai.record"):
            body = _json_body(ctx.http)
            if body is not None:
                ctx.finish_body(body)

    def _self_finalize(self) -> None:
        stream = self._self_stream
        if stream is not None:
            stream._self_end(None, False)
            return
        self._self_after_read()
        _end_unread(self._self_ctx)

    def __del__(self) -> None:
        # Dropped without `with` or close(): a stream it parsed ends itself; an unread body is
        # recorded as unread, later and outside the garbage collector (see _streams.defer).
        ctx = getattr(self, "_self_ctx", None)
        if ctx is None or self._self_stream is not None or sys.is_finalizing():
            return
        call = ctx.call
        if call is not None and not call.done:
            defer_ending(functools.partial(_end_unread, ctx))


class _StreamedAPIResponse(_APIResponseBase):
    """The sync ``with_streaming_response`` result."""

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_after_parse(self.__wrapped__.parse(*args, **kwargs))

    def read(self) -> Any:
        content = self.__wrapped__.read()
        self._self_after_read()
        return content

    def text(self) -> Any:
        text = self.__wrapped__.text()
        self._self_after_read()
        return text

    def json(self) -> Any:
        data = self.__wrapped__.json()
        self._self_after_read()
        return data

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_finalize()


class _AsyncStreamedAPIResponse(_APIResponseBase):
    """The async ``with_streaming_response`` result."""

    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_after_parse(await self.__wrapped__.parse(*args, **kwargs))

    async def read(self) -> Any:
        content = await self.__wrapped__.read()
        self._self_after_read()
        return content

    async def text(self) -> Any:
        text = await self.__wrapped__.text()
        self._self_after_read()
        return text

    async def json(self) -> Any:
        data = await self.__wrapped__.json()
        self._self_after_read()
        return data

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_finalize()


# --- stream observers --------------------------------------------------------------------------


class _StreamObserverBase:
    """Collects what a stream shows (usage, ids, text) and records the call once at the end."""

    __slots__ = ("ctx", "parts", "response_id", "response_model", "service_tier", "usage")

    def __init__(self, ctx: _CallContext) -> None:
        self.ctx = ctx
        self.parts: list[str] = []
        self.usage: Any = None
        self.response_id: str | None = None
        self.response_model: str | None = None
        self.service_tier: str | None = None

    @property
    def call(self) -> Call | None:
        """The recorder's call (for the stream proxy's safety net)."""
        return self.ctx.call

    def on_item(self, item: Any) -> bool:
        raise NotImplementedError

    def _map_usage(self) -> Usage:
        return _openai_usage.usage_for(self.ctx.operation, {"usage": self.usage}) or Usage()

    def on_end(self, error: BaseException | None, completed: bool) -> None:
        ctx = self.ctx
        call = ctx.call
        # A stream collected while the interpreter exits: nothing can be recorded any more.
        if call is None or call.done or sys.is_finalizing():
            return
        text = "".join(self.parts)
        try:
            self._end(call, error, text)
        except Exception:
            # Ended with an estimate of what was streamed; the error is reported by the proxy.
            ctx.end_estimated(text)
            raise

    def _end(self, call: Call, error: BaseException | None, text: str) -> None:
        ctx = self.ctx
        meta = ctx.meta()
        for key, value in (
            ("response_id", self.response_id),
            ("response_model", self.response_model),
            ("service_tier", self.service_tier),
        ):
            if value is not None:
                meta[key] = value
        if self.usage is not None:
            try:
                usage = self._map_usage()
            except ValueError as exc:
                errors.count("openai.usage_malformed")
                call.finish(ctx.estimate(text, self.response_model), estimated=True, **meta)
                errors.report_internal_error("openai.usage", exc)
                return
            call.finish(usage, **meta)
            return
        # A failure of the stream itself (the SDK's or the transport's errors); an exception
        # raised by the user's own code inside `with stream:` is not a failed call.
        if error is not None and isinstance(error, _SDK.error_types):
            streamed = ctx.estimate(text, self.response_model) if text else None
            call.fail(error, streamed, **meta)
            return
        # Abandoned before the usage arrived, or a server that never sends usage: estimate.
        call.finish(ctx.estimate(text, self.response_model), estimated=True, **meta)


class _ChatStreamObserver(_StreamObserverBase):
    """Chat Completions chunks; hides the usage-only chunk that llmcost asked for."""

    __slots__ = ("hide",)

    def __init__(self, ctx: _CallContext) -> None:
        super().__init__(ctx)
        self.hide = ctx.inject

    def on_item(self, item: Any) -> bool:
        if self.response_id is None:
            self.response_id = getattr(item, "id", None)
            self.response_model = getattr(item, "model", None)
            self.service_tier = getattr(item, "service_tier", None)
        usage = getattr(item, "usage", None)
        choices = getattr(item, "choices", None)
        if usage is not None:
            self.usage = usage
            if self.hide and not choices:
                return False
        elif self.hide:
            # The server adds "usage": null to every chunk once usage is asked for; drop it
            # from the fields set so the chunk serialises exactly as without llmcost.
            fields_set = getattr(item, "__pydantic_fields_set__", None)
            if fields_set is not None:
                fields_set.discard("usage")
        if choices:
            self._collect(choices)
        return True

    def _collect(self, choices: Any) -> None:
        """Keep the text of a chunk's choices (content and tool-call arguments)."""
        parts = self.parts
        for choice in choices:
            delta = choice.delta
            content = delta.content
            if content:
                parts.append(content)
            tool_calls = delta.tool_calls
            if tool_calls:
                for tool_call in tool_calls:
                    function = tool_call.function
                    if function is not None and function.arguments:
                        parts.append(function.arguments)


class _LegacyStreamObserver(_ChatStreamObserver):
    """Legacy Completions chunks (``choices[].text``)."""

    __slots__ = ()

    def _collect(self, choices: Any) -> None:
        for choice in choices:
            text = choice.text
            if text:
                self.parts.append(text)


_RESPONSE_ENDINGS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_RESPONSE_TEXT_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.function_call_arguments.delta",
        "response.refusal.delta",
    }
)


class _ResponsesStreamObserver(_StreamObserverBase):
    """Responses API events: usage comes in ``response.completed`` (or incomplete/failed)."""

    __slots__ = ("web_searches",)

    def __init__(self, ctx: _CallContext) -> None:
        super().__init__(ctx)
        self.web_searches = 0

    def on_item(self, item: Any) -> bool:
        kind = getattr(item, "type", None)
        if kind in _RESPONSE_TEXT_DELTAS:
            delta = getattr(item, "delta", None)
            if isinstance(delta, str):
                self.parts.append(delta)
        elif kind == "response.created" or kind in _RESPONSE_ENDINGS:
            response = getattr(item, "response", None)
            if response is not None:
                self.response_id = getattr(response, "id", None) or self.response_id
                self.response_model = getattr(response, "model", None) or self.response_model
                self.service_tier = getattr(response, "service_tier", None) or self.service_tier
                usage = getattr(response, "usage", None)
                if usage is not None:
                    self.usage = usage
                    self.web_searches = _openai_usage.count_web_searches(
                        getattr(response, "output", None)
                    )
        return True

    def _map_usage(self) -> Usage:
        return _openai_usage.responses_usage(self.usage, self.web_searches)


# --- wrappers ----------------------------------------------------------------------------------


def _make_sync_wrapper(operation: str) -> Any:
    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not state.active:
            return wrapped(*args, **kwargs)
        sent = send_unopened() if kwargs.get("stream") is not True else None
        if sent is not None:  # nearly every call: as little as possible in here
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                ended = time.perf_counter()
                defer(_fail_after_return, operation, instance, kwargs, sent, ended, exc)
                raise
            if not isinstance(result, _SDK.special_types):  # a parsed response
                ended = time.perf_counter()
                defer(_finish_after_return, operation, instance, kwargs, sent, ended, result)
                return result
            return _returned_special(operation, instance, kwargs, sent, result)
        ctx = _begin(operation, instance, kwargs)
        if ctx is None:
            return wrapped(*args, **kwargs)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            with errors.internal_guard("openai.record"):
                ctx.fail(exc)
            raise
        # internal_guard's work, without building a guard on every call.
        try:
            return _handle_result(ctx, result)
        except Exception as exc:
            _lost(ctx, exc)
            return result

    return wrapper


def _make_async_wrapper(operation: str) -> Any:
    async def call_async(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        # Decided when awaited, i.e. when the request is really sent, in the awaiting task.
        sent = send_unopened() if kwargs.get("stream") is not True else None
        if sent is not None:
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                ended = time.perf_counter()
                defer(_fail_after_return, operation, instance, kwargs, sent, ended, exc)
                raise
            if not isinstance(result, _SDK.special_types):
                ended = time.perf_counter()
                defer(_finish_after_return, operation, instance, kwargs, sent, ended, result)
                return result
            return _returned_special(operation, instance, kwargs, sent, result)
        ctx = _begin(operation, instance, kwargs)
        if ctx is None:
            return await wrapped(*args, **kwargs)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            with errors.internal_guard("openai.record"):
                ctx.fail(exc)
            raise
        try:
            return _handle_result(ctx, result)
        except Exception as exc:
            _lost(ctx, exc)
            return result

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if not state.active:
            return wrapped(*args, **kwargs)
        return call_async(wrapped, instance, args, kwargs)

    return wrapper


def _returned_special(
    operation: str, instance: Any, kwargs: dict[str, Any], sent: SendTimes, result: Any
) -> Any:
    """A call sent unopened returned a result that is read later (``with_raw_response``,
    ``with_streaming_response``): open the call now (its latency ends when it is read)."""
    ctx = _open_guarded(operation, instance, kwargs, sent, None)
    if ctx is None:
        return result
    try:
        return _handle_result(ctx, result)
    except Exception as exc:
        _lost(ctx, exc)
        return result


def _finish_after_return(
    operation: str,
    instance: Any,
    kwargs: dict[str, Any],
    sent: SendTimes,
    ended: float,
    body: Any,
) -> None:
    ctx = _open_guarded(operation, instance, kwargs, sent, ended)
    if ctx is not None:
        _finish_parsed(ctx, body)


def _open_guarded(
    operation: str,
    instance: Any,
    kwargs: dict[str, Any],
    sent: SendTimes,
    ended: float | None,
) -> _CallContext | None:
    """:func:`_open_after_return`, or None (the error reported) if that fails."""
    try:
        return _open_after_return(operation, instance, kwargs, sent, ended)
    except Exception as exc:
        errors.report_internal_error("openai.record", exc)
        return None


def _fail_after_return(
    operation: str,
    instance: Any,
    kwargs: dict[str, Any],
    sent: SendTimes,
    ended: float,
    exc: BaseException,
) -> None:
    with errors.internal_guard("openai.record"):
        _open_after_return(operation, instance, kwargs, sent, ended).fail(exc)


def _lost(ctx: _CallContext, exc: Exception) -> None:
    """Recording a returned call failed: end the call anyway (its stream, if any, goes to the
    user unobserved, so its usage is unknown), then report the error."""
    try:
        ctx.end_estimated()
    finally:
        errors.report_internal_error("openai.record", exc)


def _end_helper_stream(instance: Any) -> None:
    raw = getattr(instance, "_raw_stream", None)
    if isinstance(raw, (RecordingStream, AsyncRecordingStream)):
        raw._self_end(None, False)


def _helper_close(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``close()`` of a ``.stream()`` helper closes the HTTP response, not our proxy: end it."""
    try:
        return wrapped(*args, **kwargs)
    finally:
        _end_helper_stream(instance)


def _async_helper_close(
    wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    async def close() -> Any:
        try:
            return await wrapped(*args, **kwargs)
        finally:
            _end_helper_stream(instance)

    return close()


def _targets() -> list[Target]:
    _load_sdk_types()
    chat = "openai.resources.chat.completions.completions"
    responses = "openai.resources.responses.responses"
    embeddings = "openai.resources.embeddings"
    legacy = "openai.resources.completions"
    targets: list[Target] = []
    for module, class_name, method, operation in (
        (chat, "Completions", "create", "chat"),
        (chat, "Completions", "parse", "chat"),
        (responses, "Responses", "create", "responses"),
        (responses, "Responses", "parse", "responses"),
        (embeddings, "Embeddings", "create", "embeddings"),
        (legacy, "Completions", "create", "completions"),
    ):
        targets.append(Target(module, f"{class_name}.{method}", _make_sync_wrapper(operation)))
        targets.append(
            Target(module, f"Async{class_name}.{method}", _make_async_wrapper(operation))
        )
    targets += [
        Target(
            "openai.lib.streaming.chat._completions", "ChatCompletionStream.close", _helper_close
        ),
        Target(
            "openai.lib.streaming.chat._completions",
            "AsyncChatCompletionStream.close",
            _async_helper_close,
        ),
        Target("openai.lib.streaming.responses._responses", "ResponseStream.close", _helper_close),
        Target(
            "openai.lib.streaming.responses._responses",
            "AsyncResponseStream.close",
            _async_helper_close,
        ),
    ]
    return targets


INTEGRATION = Integration(
    name="openai",
    distribution="openai",
    min_version=SUPPORTED_VERSIONS[0],
    max_version=SUPPORTED_VERSIONS[1],
    targets=_targets,
)
