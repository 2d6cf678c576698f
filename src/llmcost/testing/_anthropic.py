"""A fake Anthropic API behind the real ``anthropic`` client, for tests, docs and demos.

:class:`FakeAnthropicTransport` is an ``httpx2`` transport (sync and async) that answers the
Messages API the way the real one does: a JSON ``Message`` or an SSE stream
(``message_start`` with the input usage, ``content_block_*`` events, a ``message_delta`` with
cumulative usage, ``message_stop``), ``count_tokens``, the beta paths, and the Bedrock and
Vertex URL shapes of the same calls. Every line of the SDK runs; only the network is fake.

Usage is given in llmcost terms (``input_tokens`` *includes* cache reads and writes) and is
translated to Anthropic's shape, whose ``input_tokens`` excludes them.

Example:
    >>> from llmcost.testing import fake_anthropic_client
    >>> client = fake_anthropic_client(usage={"input_tokens": 1200, "cache_read_tokens": 1000,
    ...                                       "output_tokens": 50})
    >>> message = client.messages.create(model="claude-sonnet-4-6", max_tokens=100,
    ...                                  messages=[{"role": "user", "content": "Hi"}])
    >>> message.usage.input_tokens, message.usage.cache_read_input_tokens
    (200, 1000)
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx2

from llmcost.testing._transport import FakeTransport
from llmcost.types import Usage

if TYPE_CHECKING:
    import anthropic

__all__ = [
    "FAKE_API_KEY",
    "FakeAnthropicTransport",
    "fake_anthropic_client",
    "fake_async_anthropic_client",
]

#: The API key the fake clients are built with (never a real key).
FAKE_API_KEY = "sk-ant-llmcost-fake-key"
#: The header every fake response carries; instrumented records become ``replayed=True``.
REPLAYED_HEADER = "x-llmcost-replayed"

_ERRORS: dict[str, tuple[int, str, str]] = {
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "server_error": (500, "api_error", "Internal server error"),
    "rate_limit": (
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your rate limit",
    ),
    "invalid_request": (400, "invalid_request_error", "messages: field required"),
}
_ERROR_CHOICES = (*_ERRORS, "timeout")
_USAGE_KEYS = frozenset(
    {
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cache_write_1h_tokens",
        "reasoning_tokens",
        "web_search_requests",
    }
)
_BEDROCK_PATH = re.compile(r"/model/(?P<model>[^/]+)/(?P<kind>invoke|invoke-with-response-stream)$")
_VERTEX_PATH = re.compile(r"/models/(?P<model>[^/:]+):(?P<kind>rawPredict|streamRawPredict)$")
_DEFAULT_TEXT = "Hello from the fake Anthropic API."


def _checked_usage(usage: Mapping[str, int] | None) -> Usage:
    if usage is None:
        return Usage(input_tokens=25, output_tokens=12)
    if not isinstance(usage, Mapping):
        raise TypeError(f"usage must be a mapping of llmcost usage fields, got {usage!r}")
    unknown = sorted(set(usage) - _USAGE_KEYS)
    if unknown:
        raise TypeError(
            f"usage has unknown field(s) {unknown}; known: {sorted(_USAGE_KEYS)} "
            "(llmcost terms: input_tokens includes cache reads and writes)"
        )
    try:
        return Usage(**usage)
    except ValueError as exc:
        raise ValueError(f"invalid fake usage {dict(usage)!r}: {exc}") from None


class FakeAnthropicTransport(FakeTransport):
    """An ``httpx2`` transport that answers like the Anthropic Messages API.

    Args:
        model: The model every response reports; default: the model the request named.
        usage: Token counts in llmcost terms: ``input_tokens`` (all input, cache included),
            ``output_tokens``, ``cache_read_tokens``, ``cache_write_tokens``,
            ``cache_write_1h_tokens`` (part of the writes), ``reasoning_tokens`` (part of the
            output, reported as thinking tokens), ``web_search_requests``.
        text: The assistant's reply (streamed word by word).
        latency: Seconds to wait before answering (``asyncio.sleep`` on async clients).
        error: ``"overloaded"`` (529), ``"server_error"`` (500), ``"rate_limit"`` (429),
            ``"invalid_request"`` (400) with the API's error body, or ``"timeout"``
            (raises ``httpx2.ReadTimeout``, which the SDK turns into ``APITimeoutError``).
        error_after_events: For streams, send an ``overloaded_error`` SSE ``error`` event after
            this many events instead of the rest of the stream.
        service_tier: ``usage.service_tier`` (``"standard"``, ``"priority"``, ``"batch"``).
        speed: ``usage.speed`` (``"fast"`` for fast mode); omitted when None.
        inference_geo: ``usage.inference_geo``; omitted when None.
        request_id: The ``request-id`` header; default: a fresh ``req_fake_…`` per request.
        repeat_usage_in_delta: Repeat the input and cache counts in ``message_delta``, as
            newer API versions do.

    Attributes:
        requests: Every ``httpx2.Request`` received, in order (bodies already read).

    Example:
        >>> import anthropic, httpx2
        >>> transport = FakeAnthropicTransport(usage={"input_tokens": 10, "output_tokens": 2})
        >>> client = anthropic.Anthropic(api_key=FAKE_API_KEY, max_retries=0,
        ...                              http_client=httpx2.Client(transport=transport))
        >>> client.messages.create(model="claude-haiku-4-5", max_tokens=5,
        ...                        messages=[{"role": "user", "content": "Hi"}]).usage.output_tokens
        2
        >>> transport.requests[0].url.path
        '/v1/messages'
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        usage: Mapping[str, int] | None = None,
        text: str = _DEFAULT_TEXT,
        latency: float = 0.0,
        error: str | None = None,
        error_after_events: int | None = None,
        service_tier: str | None = "standard",
        speed: str | None = None,
        inference_geo: str | None = None,
        request_id: str | None = None,
        repeat_usage_in_delta: bool = False,
    ) -> None:
        if error is not None and error not in _ERROR_CHOICES:
            raise ValueError(f"error must be one of {_ERROR_CHOICES} or None, got {error!r}")
        if error_after_events is not None and error_after_events < 0:
            raise ValueError(f"error_after_events must be >= 0, got {error_after_events!r}")
        super().__init__(latency)
        self.model = model
        self.usage = _checked_usage(usage)
        self.text = text
        self.error = error
        self.error_after_events = error_after_events
        self.service_tier = service_tier
        self.speed = speed
        self.inference_geo = inference_geo
        self.request_id = request_id
        self.repeat_usage_in_delta = repeat_usage_in_delta

    # --- routing --------------------------------------------------------------------------

    def _respond(self, request: httpx2.Request, number: int) -> httpx2.Response:
        request_id = self.request_id or f"req_fake_{number:020d}"
        if self.error == "timeout":
            raise httpx2.ReadTimeout("fake Anthropic API timed out", request=request)
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        path = request.url.path
        if path.endswith(("/v1/messages/count_tokens", "/count-tokens:rawPredict")):
            return self._json(200, {"input_tokens": self.usage.input_tokens}, request_id)
        requested = body.get("model")
        stream = bool(body.get("stream"))
        matched = _BEDROCK_PATH.search(path) or _VERTEX_PATH.search(path)
        if matched:
            requested = urllib.parse.unquote(matched.group("model"))
            stream = matched.group("kind") in ("invoke-with-response-stream", "streamRawPredict")
            if matched.group("kind") == "invoke-with-response-stream":
                # Bedrock streams use the binary AWS event-stream encoding, not SSE.
                return self._error(
                    501, "api_error", "the fake does not encode Bedrock streams", request_id
                )
        elif not path.endswith("/v1/messages"):
            return self._error(404, "not_found_error", f"no fake route for {path}", request_id)
        if self.error is not None:
            status, kind, message = _ERRORS[self.error]
            return self._error(status, kind, message, request_id)
        model = self.model or (requested if isinstance(requested, str) else "claude-fake")
        message_id = f"msg_fake_{number:020d}"
        if stream:
            return self._stream(model, message_id, request_id)
        return self._json(200, self._message(model, message_id), request_id)

    # --- bodies -----------------------------------------------------------------------------

    def _headers(self, request_id: str, content_type: str) -> dict[str, str]:
        return {"content-type": content_type, "request-id": request_id, REPLAYED_HEADER: "1"}

    def _json(self, status: int, body: Any, request_id: str) -> httpx2.Response:
        return httpx2.Response(
            status,
            headers=self._headers(request_id, "application/json"),
            content=json.dumps(body).encode(),
        )

    def _error(self, status: int, kind: str, message: str, request_id: str) -> httpx2.Response:
        body = {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": request_id,
        }
        return self._json(status, body, request_id)

    def _anthropic_usage(self, *, output_tokens: int, final: bool) -> dict[str, Any]:
        usage = self.usage
        write_1h = usage.cache_write_1h_tokens
        data: dict[str, Any] = {
            # Anthropic's input_tokens leaves out what was read from or written to the cache.
            "input_tokens": usage.uncached_input_tokens,
            "cache_creation_input_tokens": usage.cache_write_tokens,
            "cache_read_input_tokens": usage.cache_read_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": usage.cache_write_tokens - write_1h,
                "ephemeral_1h_input_tokens": write_1h,
            },
            "output_tokens": output_tokens,
        }
        if final:
            data.update(self._final_extras())
        data["service_tier"] = self.service_tier
        if self.speed is not None:
            data["speed"] = self.speed
        if self.inference_geo is not None:
            data["inference_geo"] = self.inference_geo
        return data

    def _final_extras(self) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        if self.usage.reasoning_tokens:
            extras["output_tokens_details"] = {"thinking_tokens": self.usage.reasoning_tokens}
        if self.usage.web_search_requests:
            extras["server_tool_use"] = {
                "web_search_requests": self.usage.web_search_requests,
                "web_fetch_requests": 0,
            }
        return extras

    def _message(self, model: str, message_id: str) -> dict[str, Any]:
        return {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": self.text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": self._anthropic_usage(output_tokens=self.usage.output_tokens, final=True),
        }

    def _events(self, model: str, message_id: str) -> list[tuple[str, dict[str, Any]]]:
        usage = self.usage
        start_message: dict[str, Any] = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": self._anthropic_usage(output_tokens=min(1, usage.output_tokens), final=False),
        }
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": start_message}),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            ("ping", {"type": "ping"}),
        ]
        for piece in re.findall(r"\S+\s*|\s+", self.text):
            delta = {"type": "text_delta", "text": piece}
            events.append(
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
            )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
        # message_delta counts are cumulative totals for the whole message.
        delta_usage: dict[str, Any] = {"output_tokens": usage.output_tokens}
        if self.repeat_usage_in_delta:
            delta_usage = {
                "input_tokens": usage.uncached_input_tokens,
                "cache_creation_input_tokens": usage.cache_write_tokens,
                "cache_read_input_tokens": usage.cache_read_tokens,
                **delta_usage,
            }
        delta_usage.update(self._final_extras())
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": delta_usage,
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    def _stream(self, model: str, message_id: str, request_id: str) -> httpx2.Response:
        events = self._events(model, message_id)
        if self.error_after_events is not None and self.error_after_events < len(events):
            events = events[: self.error_after_events]
            _, kind, message = _ERRORS["overloaded"]
            events.append(("error", {"type": "error", "error": {"type": kind, "message": message}}))
        text = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events)
        return httpx2.Response(
            200,
            headers=self._headers(request_id, "text/event-stream; charset=utf-8"),
            content=text.encode(),
        )


def _split_options(options: dict[str, Any]) -> tuple[FakeAnthropicTransport, int]:
    transport = options.pop("transport", None)
    max_retries = options.pop("max_retries", 0)
    if transport is None:
        transport = FakeAnthropicTransport(**options)
    elif options:
        raise TypeError(f"pass either transport= or transport options, not both: {sorted(options)}")
    return transport, max_retries


def fake_anthropic_client(**options: Any) -> anthropic.Anthropic:
    """A real ``anthropic.Anthropic`` client answered by a :class:`FakeAnthropicTransport`.

    Args:
        **options: :class:`FakeAnthropicTransport` options, or ``transport=`` (a transport
            you keep, e.g. to read ``transport.requests``); ``max_retries`` (default 0).

    Example:
        >>> client = fake_anthropic_client(usage={"input_tokens": 30, "output_tokens": 8})
        >>> with client.messages.stream(model="claude-sonnet-4-6", max_tokens=50,
        ...                             messages=[{"role": "user", "content": "Hi"}]) as stream:
        ...     stream.get_final_message().usage.output_tokens
        8
    """
    import anthropic

    transport, max_retries = _split_options(options)
    return anthropic.Anthropic(
        api_key=FAKE_API_KEY,
        base_url="https://api.anthropic.com",
        max_retries=max_retries,
        http_client=httpx2.Client(transport=transport),
    )


def fake_async_anthropic_client(**options: Any) -> anthropic.AsyncAnthropic:
    """A real ``anthropic.AsyncAnthropic`` client answered by a :class:`FakeAnthropicTransport`.

    Takes the same options as :func:`fake_anthropic_client`.

    Example:
        >>> import asyncio
        >>> client = fake_async_anthropic_client(text="Hi there")
        >>> message = asyncio.run(client.messages.create(
        ...     model="claude-haiku-4-5", max_tokens=20,
        ...     messages=[{"role": "user", "content": "Hi"}]))
        >>> message.content[0].text
        'Hi there'
    """
    import anthropic

    transport, max_retries = _split_options(options)
    return anthropic.AsyncAnthropic(
        api_key=FAKE_API_KEY,
        base_url="https://api.anthropic.com",
        max_retries=max_retries,
        http_client=httpx2.AsyncClient(transport=transport),
    )
