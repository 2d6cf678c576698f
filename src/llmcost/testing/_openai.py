"""A fake OpenAI API for tests, examples and demos: the real ``openai`` client, no network.

:class:`FakeOpenAITransport` is an ``httpx2`` transport (sync and async) that answers
``/chat/completions``, ``/responses``, ``/embeddings`` and the legacy ``/completions`` with
bodies shaped like the real API's, streamed as server-sent events when the request says
``"stream": true`` (including the usage-only final chunk when
``stream_options.include_usage`` is set, and ``response.completed`` for Responses). Usage is
given in llmcost terms. Every response carries ``x-request-id`` and ``x-llmcost-replayed: 1``;
every request is kept in ``transport.requests``.

Example:
    >>> from llmcost.testing import FakeOpenAITransport, fake_openai_client
    >>> transport = FakeOpenAITransport(usage={"input_tokens": 1200, "output_tokens": 300})
    >>> client = fake_openai_client(transport=transport)
    >>> reply = client.chat.completions.create(
    ...     model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
    >>> reply.usage.prompt_tokens, len(transport.requests)
    (1200, 1)
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx2

from llmcost.types import Usage

if TYPE_CHECKING:
    import openai

__all__ = [
    "FakeOpenAITransport",
    "fake_async_azure_openai_client",
    "fake_async_openai_client",
    "fake_azure_openai_client",
    "fake_openai_client",
]

DEFAULT_TEXT = "Hello from the fake OpenAI provider."
DEFAULT_USAGE: Mapping[str, int] = {"input_tokens": 20, "output_tokens": 10}
FAKE_API_KEY = "sk-llmcost-fake-key"
OFFICIAL_BASE_URL = "https://api.openai.com/v1"
_CREATED = 1767225600  # 2026-01-01T00:00:00Z: fixed so bodies are reproducible
_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}
_WORDS = re.compile(r"\s*\S+")


class FakeOpenAITransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Answer OpenAI API requests locally, like the real API would, and remember each one.

    Every option is also a public attribute: change it between calls to script a scenario.

    Args:
        model: The model the responses report; None echoes the request's ``model``.
        text: The generated text (streams send it word by word).
        usage: Token counts in llmcost terms (:class:`llmcost.Usage` field names such as
            ``input_tokens``, ``output_tokens``, ``cache_read_tokens``, ``cache_write_tokens``,
            ``cache_write_1h_tokens`` (Responses' 12-hour writes), ``reasoning_tokens``,
            ``input_audio_tokens``, ``output_audio_tokens``), rendered in each endpoint's shape.
        latency: Seconds to wait before answering.
        status_code: Answer every request with this HTTP status; 4xx/5xx get a real-shaped
            error body (``{"error": {"message", "type", "param", "code"}}``).
        error: ``"timeout"`` or ``"connection"`` raises that transport error instead of
            answering (the SDK turns them into ``APITimeoutError`` / ``APIConnectionError``).
        service_tier: The tier the responses say was served.
        request_id: The ``x-request-id`` of every response; None numbers them
            ``req_fake_0001``, ``req_fake_0002``, ...
        body: Send this JSON body (dict) or raw text instead of the generated one (non-streamed
            requests), e.g. to test a response with malformed or missing usage.
        sse: Send this raw server-sent-events text instead of the generated stream.
        fail_after_events: Break a stream with a read error after this many events.
        headers: Extra response headers (``{"x-litellm-response-cost": "0.00042"}`` makes a
            LiteLLM proxy).
        usage_cost: A cost (USD) the usage block reports, as OpenRouter's ``usage.cost`` does:
            the JSON number text, sent digit for digit (``"0.000123"``); a Chat Completions
            stream then always ends with its usage chunk, as OpenRouter's do.

    Example:
        >>> client = fake_openai_client(transport=FakeOpenAITransport(status_code=429))
        >>> client.embeddings.create(model="m", input="hi")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        openai.RateLimitError: Error code: 429 - ...
    """

    #: Read by the llmcost integration: records of calls answered here are ``replayed``.
    llmcost_replayed = True

    def __init__(
        self,
        *,
        model: str | None = None,
        text: str = DEFAULT_TEXT,
        usage: Mapping[str, int] | None = None,
        latency: float = 0.0,
        status_code: int = 200,
        error: str | None = None,
        service_tier: str | None = "default",
        request_id: str | None = None,
        body: Mapping[str, Any] | str | bytes | None = None,
        sse: str | None = None,
        fail_after_events: int | None = None,
        headers: Mapping[str, str] | None = None,
        usage_cost: str | None = None,
    ) -> None:
        if error not in (None, "timeout", "connection"):
            raise ValueError(f"error must be None, 'timeout' or 'connection', got {error!r}")
        if latency < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {latency!r}")
        self.model = model
        self.text = text
        self.usage: Mapping[str, int] = usage if usage is not None else DEFAULT_USAGE
        _check_usage(self.usage)
        self.latency = latency
        self.status_code = status_code
        self.error = error
        self.service_tier = service_tier
        self.request_id = request_id
        self.body = body
        self.sse = sse
        self.fail_after_events = fail_after_events
        self.headers: dict[str, str] = dict(headers or {})
        self.usage_cost = usage_cost
        #: Every request received, oldest first (bodies already read).
        self.requests: list[httpx2.Request] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FakeOpenAITransport(model={self.model!r}, requests={len(self.requests)})"

    def request_json(self, index: int = -1) -> Any:
        """The JSON body of a received request (the last one by default).

        Example:
            >>> transport.request_json()["model"]  # doctest: +SKIP
            'gpt-4o-mini'
        """
        return json.loads(self.requests[index].content)

    # -- transport protocol -------------------------------------------------------------------

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        number = self._remember(request)
        if self.latency:
            time.sleep(self.latency)
        return self._respond(request, number, is_async=False)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        number = self._remember(request)
        if self.latency:
            await asyncio.sleep(self.latency)
        return self._respond(request, number, is_async=True)

    def close(self) -> None:
        """Nothing to release."""

    async def aclose(self) -> None:
        """Nothing to release."""

    # -- answers ------------------------------------------------------------------------------

    def _remember(self, request: httpx2.Request) -> int:
        with self._lock:
            self.requests.append(request)
            return len(self.requests)

    def _headers(self, number: int, content_type: str) -> dict[str, str]:
        return {
            "content-type": content_type,
            "x-request-id": self.request_id or f"req_fake_{number:04d}",
            "x-llmcost-replayed": "1",
            "openai-processing-ms": "1",
            **self.headers,
        }

    def _respond(self, request: httpx2.Request, number: int, *, is_async: bool) -> httpx2.Response:
        if self.error == "timeout":
            raise httpx2.ReadTimeout("fake OpenAI transport: timed out", request=request)
        if self.error == "connection":
            raise httpx2.ConnectError("fake OpenAI transport: connection refused", request=request)
        if self.status_code >= 400:
            return self._error_response(request, number, self.status_code)
        path = request.url.path
        operation = _operation_of(path)
        if operation is None:
            return self._error_response(request, number, 404, f"Unknown path {path}")
        try:
            payload = json.loads(request.content or b"{}")
        except ValueError:
            return self._error_response(request, number, 400, "The request body is not JSON")
        if payload.get("stream") is True and operation != "embeddings":
            events = self.sse if self.sse is not None else _sse(self, operation, payload, number)
            return httpx2.Response(
                self.status_code,
                headers=self._headers(number, "text/event-stream; charset=utf-8"),
                content=self._stream_body(events, request, is_async),
                request=request,
            )
        body = self.body if self.body is not None else _body(self, operation, payload, number)
        content = body if isinstance(body, (str, bytes)) else _dumps(body, self.usage_cost)
        data = content.encode() if isinstance(content, str) else content
        # Sent as a byte stream, like a real network body: read only when the SDK reads it.
        return httpx2.Response(
            self.status_code,
            headers=self._headers(number, "application/json"),
            content=self._byte_stream([data], request, None, is_async),
            request=request,
        )

    def _stream_body(
        self, events: str, request: httpx2.Request, is_async: bool
    ) -> Iterator[bytes] | AsyncIterator[bytes]:
        pieces = [(event + "\n\n").encode() for event in events.split("\n\n") if event.strip()]
        return self._byte_stream(pieces, request, self.fail_after_events, is_async)

    @staticmethod
    def _byte_stream(
        pieces: list[bytes], request: httpx2.Request, fail_after: int | None, is_async: bool
    ) -> Iterator[bytes] | AsyncIterator[bytes]:
        def chunks() -> Iterator[bytes]:
            for index, piece in enumerate(pieces):
                if fail_after is not None and index >= fail_after:
                    raise httpx2.ReadError("fake OpenAI transport: stream broken", request=request)
                yield piece

        if not is_async:
            return chunks()

        async def async_chunks() -> AsyncIterator[bytes]:
            for piece in chunks():
                yield piece

        return async_chunks()

    def _error_response(
        self, request: httpx2.Request, number: int, status: int, message: str | None = None
    ) -> httpx2.Response:
        kind, code = _ERROR_TYPES.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        error = {
            "message": message or f"The fake OpenAI provider answered {status}.",
            "type": kind,
            "param": None,
            "code": code,
        }
        return httpx2.Response(
            status,
            headers=self._headers(number, "application/json"),
            content=json.dumps({"error": error}).encode(),
            request=request,
        )


# --- bodies ------------------------------------------------------------------------------------


def _check_usage(usage: Mapping[str, int]) -> None:
    try:
        Usage(**usage)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"FakeOpenAITransport(usage=...) is not a valid llmcost usage: {exc}"
        ) from exc


def _operation_of(path: str) -> str | None:
    for suffix, operation in (
        ("/chat/completions", "chat"),
        ("/responses", "responses"),
        ("/embeddings", "embeddings"),
        ("/completions", "completions"),
    ):
        if path.endswith(suffix):
            return operation
    return None


def _u(usage: Mapping[str, int], name: str) -> int:
    return int(usage.get(name, 0))


#: Stands for ``usage_cost`` in a body until it is written as the exact JSON number text.
_COST_MARK = "__llmcost_fake_cost__"


def _dumps(obj: Any, cost: str | None, **options: Any) -> str:
    text = json.dumps(obj, **options)
    return text.replace(f'"{_COST_MARK}"', cost) if cost is not None else text


def _chat_usage(usage: Mapping[str, int], cost: str | None = None) -> dict[str, Any]:
    prompt, completion = _u(usage, "input_tokens"), _u(usage, "output_tokens")
    prompt_details: dict[str, int] = {
        "cached_tokens": _u(usage, "cache_read_tokens"),
        "audio_tokens": _u(usage, "input_audio_tokens"),
    }
    if _u(usage, "cache_write_tokens"):
        prompt_details["cache_write_tokens"] = _u(usage, "cache_write_tokens")
    block: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": prompt_details,
        "completion_tokens_details": {
            "reasoning_tokens": _u(usage, "reasoning_tokens"),
            "audio_tokens": _u(usage, "output_audio_tokens"),
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    if cost is not None:
        block["cost"] = _COST_MARK
    return block


def _responses_usage(usage: Mapping[str, int]) -> dict[str, Any]:
    prompt, completion = _u(usage, "input_tokens"), _u(usage, "output_tokens")
    writes, long_writes = _u(usage, "cache_write_tokens"), _u(usage, "cache_write_1h_tokens")
    input_details: dict[str, Any] = {
        "cached_tokens": _u(usage, "cache_read_tokens"),
        "cache_write_tokens": writes,
    }
    if writes:
        input_details["cache_write_tokens_details"] = {
            "ttl_12h_tokens": long_writes,
            "ttl_30m_tokens": writes - long_writes,
        }
    return {
        "input_tokens": prompt,
        "input_tokens_details": input_details,
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": _u(usage, "reasoning_tokens")},
        "total_tokens": prompt + completion,
    }


def _model(fake: FakeOpenAITransport, payload: Mapping[str, Any]) -> str:
    return fake.model or str(payload.get("model") or "gpt-4o-mini")


def _response_object(
    fake: FakeOpenAITransport, payload: Mapping[str, Any], number: int, *, completed: bool
) -> dict[str, Any]:
    output = (
        [
            {
                "id": f"msg_fake{number:04d}",
                "type": "message",
                "status": "completed",
                "content": [
                    {"type": "output_text", "annotations": [], "logprobs": [], "text": fake.text}
                ],
                "role": "assistant",
            }
        ]
        if completed
        else []
    )
    return {
        "id": f"resp_fake{number:04d}",
        "object": "response",
        "created_at": _CREATED,
        "status": "completed" if completed else "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": payload.get("instructions"),
        "max_output_tokens": payload.get("max_output_tokens"),
        "model": _model(fake, payload),
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": fake.service_tier if completed else "auto",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": _responses_usage(fake.usage) if completed else None,
        "user": None,
        "metadata": {},
    }


def _embedding(index: int, dimensions: int, encoding_format: Any) -> dict[str, Any]:
    values = [round(0.001 * (index + 1) * (i + 1), 6) for i in range(dimensions)]
    embedding: Any = values
    if encoding_format == "base64":
        embedding = base64.b64encode(struct.pack(f"<{dimensions}f", *values)).decode()
    return {"object": "embedding", "index": index, "embedding": embedding}


def _body(
    fake: FakeOpenAITransport, operation: str, payload: Mapping[str, Any], number: int
) -> dict[str, Any]:
    model = _model(fake, payload)
    if operation == "responses":
        return _response_object(fake, payload, number, completed=True)
    if operation == "embeddings":
        inputs = payload.get("input")
        count = (
            len(inputs)
            if isinstance(inputs, list) and inputs and not isinstance(inputs[0], int)
            else 1
        )
        dimensions = int(payload.get("dimensions") or 8)
        return {
            "object": "list",
            "data": [
                _embedding(i, dimensions, payload.get("encoding_format")) for i in range(count)
            ],
            "model": model,
            "usage": {
                "prompt_tokens": _u(fake.usage, "input_tokens"),
                "total_tokens": _u(fake.usage, "input_tokens"),
            },
        }
    if operation == "completions":
        return {
            "id": f"cmpl-fake{number:04d}",
            "object": "text_completion",
            "created": _CREATED,
            "model": model,
            "choices": [{"text": fake.text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
            "usage": _chat_usage(fake.usage, fake.usage_cost),
        }
    return {
        "id": f"chatcmpl-fake{number:04d}",
        "object": "chat.completion",
        "created": _CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": fake.text,
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _chat_usage(fake.usage, fake.usage_cost),
        "service_tier": fake.service_tier,
        "system_fingerprint": "fp_llmcost_fake",
    }


def _data(obj: Mapping[str, Any], event: str | None = None, cost: str | None = None) -> str:
    line = "data: " + _dumps(obj, cost, separators=(",", ":"))
    return f"event: {event}\n{line}" if event else line


def _sse(fake: FakeOpenAITransport, operation: str, payload: Mapping[str, Any], number: int) -> str:
    options = payload.get("stream_options") or {}
    # A gateway that reports its cost (OpenRouter) always sends the usage chunk.
    include_usage = bool(options.get("include_usage")) or fake.usage_cost is not None
    obfuscate = options.get("include_obfuscation", True) is not False
    pieces = _WORDS.findall(fake.text)
    if operation == "responses":
        return _responses_sse(fake, payload, number, pieces)
    model = _model(fake, payload)
    events: list[str] = []

    def chunk(choices: list[dict[str, Any]], usage: Any = None, last: bool = False) -> None:
        obj: dict[str, Any]
        if operation == "completions":
            obj = {
                "id": f"cmpl-fake{number:04d}",
                "object": "text_completion",
                "created": _CREATED,
                "choices": choices,
                "model": model,
            }
        else:
            obj = {
                "id": f"chatcmpl-fake{number:04d}",
                "object": "chat.completion.chunk",
                "created": _CREATED,
                "model": model,
                "service_tier": fake.service_tier,
                "system_fingerprint": "fp_llmcost_fake",
                "choices": choices,
            }
        # The real API adds "usage" to every chunk only when usage was asked for.
        if include_usage:
            obj["usage"] = usage if last else None
        if obfuscate and operation == "chat":
            obj["obfuscation"] = "fake" + "x" * (len(events) % 7)
        events.append(_data(obj, cost=fake.usage_cost))

    if operation == "completions":
        for piece in pieces:
            chunk([{"text": piece, "index": 0, "logprobs": None, "finish_reason": None}])
        chunk([{"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}])
    else:
        first = {"role": "assistant", "content": "", "refusal": None}
        chunk([{"index": 0, "delta": first, "logprobs": None, "finish_reason": None}])
        for piece in pieces:
            delta = {"content": piece}
            chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}])
        chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}])
    if include_usage:
        chunk([], _chat_usage(fake.usage, fake.usage_cost), last=True)
    events.append("data: [DONE]")
    return "\n\n".join(events) + "\n\n"


def _responses_sse(
    fake: FakeOpenAITransport, payload: Mapping[str, Any], number: int, pieces: list[str]
) -> str:
    item_id = f"msg_fake{number:04d}"
    events: list[str] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append(_data({"type": kind, "sequence_number": len(events), **fields}, kind))

    in_progress = _response_object(fake, payload, number, completed=False)
    emit("response.created", response=in_progress)
    emit("response.in_progress", response=in_progress)
    item: dict[str, Any] = {
        "id": item_id,
        "type": "message",
        "status": "in_progress",
        "content": [],
        "role": "assistant",
    }
    emit("response.output_item.added", output_index=0, item=item)
    part: dict[str, Any] = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    location = {"item_id": item_id, "output_index": 0, "content_index": 0}
    emit("response.content_part.added", **location, part=part)
    for piece in pieces:
        emit("response.output_text.delta", **location, delta=piece, logprobs=[])
    emit("response.output_text.done", **location, text=fake.text, logprobs=[])
    done_part = {**part, "text": fake.text}
    emit("response.content_part.done", **location, part=done_part)
    done_item = {**item, "status": "completed", "content": [done_part]}
    emit("response.output_item.done", output_index=0, item=done_item)
    emit("response.completed", response=_response_object(fake, payload, number, completed=True))
    return "\n\n".join(events) + "\n\n"


# --- clients -----------------------------------------------------------------------------------


def _client_args(
    transport: FakeOpenAITransport | None,
    options: dict[str, Any],
    base_url: str | None,
    data_residency: str | None,
) -> tuple[FakeOpenAITransport, dict[str, Any]]:
    if transport is None:
        transport = FakeOpenAITransport(**options)
    elif options:
        raise TypeError(
            f"give either transport= or transport options, not both (got {sorted(options)})"
        )
    where: dict[str, Any] = {}
    if data_residency is not None:
        where["data_residency"] = data_residency
    else:
        # Explicit, so an OPENAI_BASE_URL in the environment cannot redirect a fake client.
        where["base_url"] = base_url or OFFICIAL_BASE_URL
    return transport, where


def fake_openai_client(
    transport: FakeOpenAITransport | None = None,
    *,
    base_url: str | None = None,
    data_residency: str | None = None,
    max_retries: int = 0,
    **options: Any,
) -> openai.OpenAI:
    """A real ``openai.OpenAI`` client whose HTTP goes to a :class:`FakeOpenAITransport`.

    Args:
        transport: The fake to answer requests; None makes one from ``options``.
        base_url: The client's base URL (default the official ``https://api.openai.com/v1``,
            so llmcost treats it as the official API).
        data_residency: Passed to the client (``"eu"``, ``"us"``, ...) instead of ``base_url``.
        max_retries: The client's retries; 0 so that error tests see exactly one request.
        **options: :class:`FakeOpenAITransport` options when ``transport`` is not given.

    Example:
        >>> import llmcost
        >>> from llmcost.testing import fake_openai_client
        >>> llmcost.instrument()  # doctest: +SKIP
        >>> client = fake_openai_client(text="Hi there!", usage={"input_tokens": 10,
        ...                                                     "output_tokens": 3})
        >>> with llmcost.track_cost(feature="demo") as scope:
        ...     for chunk in client.chat.completions.create(
        ...             model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}],
        ...             stream=True):
        ...         pass
        >>> scope.records[0].output_tokens  # doctest: +SKIP
        3
    """
    import openai

    transport, where = _client_args(transport, options, base_url, data_residency)
    return openai.OpenAI(
        api_key=FAKE_API_KEY,
        max_retries=max_retries,
        http_client=httpx2.Client(transport=transport),
        **where,
    )


def fake_async_openai_client(
    transport: FakeOpenAITransport | None = None,
    *,
    base_url: str | None = None,
    data_residency: str | None = None,
    max_retries: int = 0,
    **options: Any,
) -> openai.AsyncOpenAI:
    """A real ``openai.AsyncOpenAI`` client whose HTTP goes to a :class:`FakeOpenAITransport`.

    Same arguments as :func:`fake_openai_client`.

    Example:
        >>> from llmcost.testing import fake_async_openai_client
        >>> client = fake_async_openai_client(usage={"input_tokens": 8, "output_tokens": 0})
        >>> async def embed():
        ...     return await client.embeddings.create(model="text-embedding-3-small", input="hi")
        >>> import asyncio
        >>> asyncio.run(embed()).usage.prompt_tokens
        8
    """
    import openai

    transport, where = _client_args(transport, options, base_url, data_residency)
    return openai.AsyncOpenAI(
        api_key=FAKE_API_KEY,
        max_retries=max_retries,
        http_client=httpx2.AsyncClient(transport=transport),
        **where,
    )


FAKE_AZURE_ENDPOINT = "https://llmcost-fake.openai.azure.com"
FAKE_AZURE_API_VERSION = "2024-10-21"


def fake_azure_openai_client(
    transport: FakeOpenAITransport | None = None,
    *,
    azure_endpoint: str = FAKE_AZURE_ENDPOINT,
    azure_deployment: str | None = None,
    api_version: str = FAKE_AZURE_API_VERSION,
    max_retries: int = 0,
    **options: Any,
) -> openai.AzureOpenAI:
    """A real ``openai.AzureOpenAI`` client whose HTTP goes to a :class:`FakeOpenAITransport`.

    Args:
        transport: The fake to answer requests; None makes one from ``options``. Give it
            ``model=`` to say which model the deployment serves (the responses report it).
        azure_endpoint: The resource's endpoint (``https://<resource>.openai.azure.com``).
        azure_deployment: The deployment the client is bound to (it goes into the base URL);
            None: each call's ``model=`` names the deployment.
        api_version: The Azure OpenAI API version.
        max_retries: The client's retries; 0 so that error tests see exactly one request.
        **options: :class:`FakeOpenAITransport` options when ``transport`` is not given.

    Example:
        >>> from llmcost.testing import fake_azure_openai_client
        >>> client = fake_azure_openai_client(model="gpt-4o-2024-11-20")
        >>> reply = client.chat.completions.create(
        ...     model="prod-4o", messages=[{"role": "user", "content": "Hi"}])
        >>> reply.model
        'gpt-4o-2024-11-20'
    """
    import openai

    transport, _ = _client_args(transport, options, None, None)
    return openai.AzureOpenAI(
        api_key=FAKE_API_KEY,
        azure_endpoint=azure_endpoint,
        azure_deployment=azure_deployment,
        api_version=api_version,
        max_retries=max_retries,
        http_client=httpx2.Client(transport=transport),
    )


def fake_async_azure_openai_client(
    transport: FakeOpenAITransport | None = None,
    *,
    azure_endpoint: str = FAKE_AZURE_ENDPOINT,
    azure_deployment: str | None = None,
    api_version: str = FAKE_AZURE_API_VERSION,
    max_retries: int = 0,
    **options: Any,
) -> openai.AsyncAzureOpenAI:
    """A real ``openai.AsyncAzureOpenAI`` client whose HTTP goes to a
    :class:`FakeOpenAITransport`. Same arguments as :func:`fake_azure_openai_client`."""
    import openai

    transport, _ = _client_args(transport, options, None, None)
    return openai.AsyncAzureOpenAI(
        api_key=FAKE_API_KEY,
        azure_endpoint=azure_endpoint,
        azure_deployment=azure_deployment,
        api_version=api_version,
        max_retries=max_retries,
        http_client=httpx2.AsyncClient(transport=transport),
    )
