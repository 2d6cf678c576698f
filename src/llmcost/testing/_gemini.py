"""A fake Gemini API behind the real ``google-genai`` client, for tests, docs and demos.

:class:`FakeGeminiTransport` is an ``httpx2`` transport (sync and async) that answers the
Gemini Developer API and Vertex AI the way they do: ``generateContent`` as JSON,
``streamGenerateContent?alt=sse`` as server-sent events whose every chunk repeats the
*cumulative* ``usageMetadata``, ``countTokens``, ``computeTokens``, ``embedContent`` /
``batchEmbedContents`` (Gemini API) and ``predict`` (Vertex AI embeddings). It plugs into the
client through ``HttpOptions(httpx_client=..., httpx_async_client=...)``, so every line of
the SDK runs; only the network is fake.

Usage is given in llmcost terms and translated to Gemini's: ``input_tokens`` is all input
(cache reads and ``tool_use_prompt_tokens`` included), ``output_tokens`` includes
``reasoning_tokens`` (sent as ``thoughtsTokenCount``, the rest as ``candidatesTokenCount``).

Example:
    >>> from llmcost.testing import fake_gemini_client
    >>> client = fake_gemini_client(usage={"input_tokens": 1200, "cache_read_tokens": 1000,
    ...                                    "output_tokens": 380, "reasoning_tokens": 300})
    >>> meta = client.models.generate_content(model="gemini-2.5-flash",
    ...                                       contents="Hi").usage_metadata
    >>> meta.prompt_token_count, meta.candidates_token_count, meta.thoughts_token_count
    (1200, 80, 300)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx2

from llmcost.testing._transport import FakeTransport

if TYPE_CHECKING:
    from google import genai

__all__ = ["FAKE_GEMINI_API_KEY", "FakeGeminiTransport", "fake_gemini_client"]

#: The API key the fake clients are built with (never a real key).
FAKE_GEMINI_API_KEY = "llmcost-fake-gemini-key"
#: The header every fake response carries; instrumented records become ``replayed=True``.
REPLAYED_HEADER = "x-llmcost-replayed"

_USAGE_KEYS = frozenset(
    {
        "input_tokens",
        "cache_read_tokens",
        "tool_use_prompt_tokens",
        "input_audio_tokens",
        "output_tokens",
        "reasoning_tokens",
        "output_audio_tokens",
    }
)
_ERRORS: dict[str, tuple[int, str, str]] = {
    "rate_limit": (429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
    "server_error": (500, "INTERNAL", "An internal error has occurred."),
    "unavailable": (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    "invalid_request": (400, "INVALID_ARGUMENT", "Request contains an invalid argument."),
}
_ERROR_CHOICES = (*_ERRORS, "timeout")
_PATH = re.compile(r"models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$")
_DEFAULT_TEXT = "Hello from the fake Gemini API."


def _checked_usage(usage: Mapping[str, int] | None) -> dict[str, int]:
    if usage is None:
        usage = {"input_tokens": 25, "output_tokens": 12}
    if not isinstance(usage, Mapping):
        raise TypeError(f"usage must be a mapping of token counts, got {usage!r}")
    unknown = sorted(set(usage) - _USAGE_KEYS)
    if unknown:
        raise TypeError(f"usage has unknown field(s) {unknown}; known: {sorted(_USAGE_KEYS)}")
    counts = {key: usage.get(key, 0) for key in _USAGE_KEYS}
    for key, value in counts.items():
        if type(value) is not int or value < 0:
            raise ValueError(f"usage[{key!r}] must be an int >= 0, got {value!r}")
    parts_in = counts["cache_read_tokens"] + counts["tool_use_prompt_tokens"]
    if parts_in > counts["input_tokens"] or counts["input_audio_tokens"] > counts["input_tokens"]:
        raise ValueError(f"usage parts exceed input_tokens: {dict(usage)!r}")
    if counts["reasoning_tokens"] + counts["output_audio_tokens"] > counts["output_tokens"]:
        raise ValueError(f"usage parts exceed output_tokens: {dict(usage)!r}")
    return counts


class FakeGeminiTransport(FakeTransport):
    """An ``httpx2`` transport that answers like the Gemini API (or Vertex AI).

    Args:
        model: The ``modelVersion`` every response reports; default: the model in the URL.
        usage: Token counts in llmcost terms (see the module docstring).
        text: The reply (streamed word by word).
        thought_text: A thought summary sent before the reply (a part with ``thought``).
        latency: Seconds to wait before answering (``asyncio.sleep`` on async clients).
        error: ``"rate_limit"`` (429), ``"server_error"`` (500), ``"unavailable"`` (503),
            ``"invalid_request"`` (400) with Google's error body, or ``"timeout"``.
        traffic_type: ``usageMetadata.trafficType`` (Vertex AI: ``ON_DEMAND``,
            ``ON_DEMAND_FLEX``, ``ON_DEMAND_PRIORITY``); omitted when None.
        request_id: The ``x-goog-request-id`` header; default: none (the Gemini API sends none).
        embedding_tokens: Tokens each embedded text reports (``usageMetadata`` of
            ``batchEmbedContents``, ``statistics.token_count`` of Vertex AI's ``predict``);
            None reports nothing.

    Attributes:
        requests: Every ``httpx2.Request`` received, in order (bodies already read).
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        usage: Mapping[str, int] | None = None,
        text: str = _DEFAULT_TEXT,
        thought_text: str | None = None,
        latency: float = 0.0,
        error: str | None = None,
        traffic_type: str | None = None,
        request_id: str | None = None,
        embedding_tokens: int | None = 6,
    ) -> None:
        if error is not None and error not in _ERROR_CHOICES:
            raise ValueError(f"error must be one of {_ERROR_CHOICES} or None, got {error!r}")
        super().__init__(latency)
        self.model = model
        self.usage = _checked_usage(usage)
        self.text = text
        self.thought_text = thought_text
        self.error = error
        self.traffic_type = traffic_type
        self.request_id = request_id
        self.embedding_tokens = embedding_tokens

    # --- routing --------------------------------------------------------------------------

    def _respond(self, request: httpx2.Request, number: int) -> httpx2.Response:
        if self.error == "timeout":
            raise httpx2.ReadTimeout("fake Gemini API timed out", request=request)
        matched = _PATH.search(request.url.path)
        if matched is None:
            return self._error(404, "NOT_FOUND", f"no fake route for {request.url.path}")
        if self.error is not None:
            return self._error(*_ERRORS[self.error])
        model, method = matched.group("model"), matched.group("method")
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            body = {}
        vertex = "aiplatform" in request.url.host
        if method == "countTokens":
            return self._json({"totalTokens": self.usage["input_tokens"]})
        if method == "computeTokens":
            return self._json({"tokensInfo": [{"role": "user", "tokens": [], "tokenIds": []}]})
        if method in ("embedContent", "batchEmbedContents", "predict"):
            return self._json(self._embeddings(method, body))
        response_id = f"fake-{number:016d}"
        version = self.model or model
        if method == "generateContent":
            return self._json(self._chunk(version, response_id, vertex, 1, 1, self._parts()))
        if method == "streamGenerateContent":
            return self._stream(version, response_id, vertex)
        return self._error(404, "NOT_FOUND", f"the fake does not answer {method}")

    # --- bodies -----------------------------------------------------------------------------

    def _headers(self, content_type: str) -> dict[str, str]:
        headers = {"content-type": content_type, REPLAYED_HEADER: "1"}
        if self.request_id is not None:
            headers["x-goog-request-id"] = self.request_id
        return headers

    def _json(self, body: Any, status: int = 200) -> httpx2.Response:
        return httpx2.Response(
            status, headers=self._headers("application/json"), content=json.dumps(body).encode()
        )

    def _error(self, status: int, reason: str, message: str) -> httpx2.Response:
        body = {"error": {"code": status, "message": message, "status": reason}}
        return self._json(body, status)

    def _parts(self) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        if self.thought_text:
            parts.append({"text": self.thought_text, "thought": True})
        parts.append({"text": self.text})
        return parts

    def _usage_metadata(self, done: int, of: int) -> dict[str, Any]:
        u = self.usage
        answer = u["output_tokens"] - u["reasoning_tokens"]
        prompt = u["input_tokens"] - u["tool_use_prompt_tokens"]
        # Cumulative: chunk `done` of `of` has produced this share of the answer so far.
        candidates = math.ceil(answer * done / of)
        meta: dict[str, Any] = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": candidates,
            "totalTokenCount": u["input_tokens"] + u["reasoning_tokens"] + candidates,
            "promptTokensDetails": _details(prompt, u["input_audio_tokens"]),
        }
        if u["cache_read_tokens"]:
            meta["cachedContentTokenCount"] = u["cache_read_tokens"]
            meta["cacheTokensDetails"] = _details(u["cache_read_tokens"], 0)
        if u["tool_use_prompt_tokens"]:
            meta["toolUsePromptTokenCount"] = u["tool_use_prompt_tokens"]
        if u["reasoning_tokens"]:
            meta["thoughtsTokenCount"] = u["reasoning_tokens"]
        if u["output_audio_tokens"]:
            audio = math.ceil(u["output_audio_tokens"] * done / of)
            meta["candidatesTokensDetails"] = _details(candidates, audio)
        if self.traffic_type is not None:
            meta["trafficType"] = self.traffic_type
        return meta

    def _chunk(
        self,
        model: str,
        response_id: str,
        vertex: bool,
        done: int,
        of: int,
        parts: list[dict[str, Any]],
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if done == of:
            candidate["finishReason"] = "STOP"
        body: dict[str, Any] = {
            "candidates": [candidate],
            "usageMetadata": self._usage_metadata(done, of),
            "modelVersion": model,
            "responseId": response_id,
        }
        if vertex:
            body["createTime"] = "2026-11-22T10:00:00.000000Z"
        return body

    def _stream(self, model: str, response_id: str, vertex: bool) -> httpx2.Response:
        pieces: list[list[dict[str, Any]]] = []
        if self.thought_text:
            pieces.append([{"text": self.thought_text, "thought": True}])
        pieces.extend([{"text": word}] for word in re.findall(r"\S+\s*|\s+", self.text) or [""])
        chunks = [
            self._chunk(model, response_id, vertex, index, len(pieces), parts)
            for index, parts in enumerate(pieces, start=1)
        ]
        text = "".join(f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in chunks)
        return httpx2.Response(
            200, headers=self._headers("text/event-stream"), content=text.encode()
        )

    def _embeddings(self, method: str, body: Any) -> dict[str, Any]:
        tokens = self.embedding_tokens
        if method == "predict":  # Vertex AI: one prediction per instance
            instances = body.get("instances") if isinstance(body, dict) else None
            count = len(instances) if isinstance(instances, list) else 1
            embedding: dict[str, Any] = {"values": [0.1, 0.2, 0.3]}
            if tokens is not None:
                embedding["statistics"] = {"token_count": float(tokens), "truncated": False}
            return {"predictions": [{"embeddings": embedding} for _ in range(count)]}
        requests = body.get("requests") if isinstance(body, dict) else None
        count = len(requests) if isinstance(requests, list) else 1
        out: dict[str, Any] = {"embeddings": [{"values": [0.1, 0.2, 0.3]} for _ in range(count)]}
        if method == "embedContent":
            out = {"embedding": out["embeddings"][0]}
        if tokens is not None:
            out["usageMetadata"] = {
                "promptTokenCount": tokens * count,
                "totalTokenCount": tokens * count,
            }
        return out


def _details(total: int, audio: int) -> list[dict[str, Any]]:
    details = [{"modality": "TEXT", "tokenCount": total - audio}]
    if audio:
        details.append({"modality": "AUDIO", "tokenCount": audio})
    return details


def _credentials() -> Any:
    """Google credentials that 'refresh' to a fake token, never calling Google."""
    import google.auth.credentials

    class FakeCredentials(google.auth.credentials.Credentials):
        def refresh(self, request: Any) -> None:
            self.token = "llmcost-fake-token"

    return FakeCredentials()  # type: ignore[no-untyped-call]


def fake_gemini_client(*, vertexai: bool = False, **options: Any) -> genai.Client:
    """A real ``google.genai.Client`` answered by a :class:`FakeGeminiTransport`.

    The same client serves sync calls and the async ones under ``client.aio``.

    Args:
        vertexai: Build a Vertex AI client (project ``llmcost-fake``, ``us-central1``, fake
            credentials) instead of a Gemini Developer API one.
        **options: :class:`FakeGeminiTransport` options, or ``transport=`` (a transport you
            keep, e.g. to read ``transport.requests``).

    Example:
        >>> client = fake_gemini_client(vertexai=True, traffic_type="ON_DEMAND_FLEX")
        >>> client.models.generate_content(model="gemini-2.5-flash", contents="Hi"
        ...                                ).usage_metadata.traffic_type.value
        'ON_DEMAND_FLEX'
    """
    from google import genai
    from google.genai import types

    transport = options.pop("transport", None)
    if transport is None:
        transport = FakeGeminiTransport(**options)
    elif options:
        raise TypeError(f"pass either transport= or transport options, not both: {sorted(options)}")
    http_options = types.HttpOptions(
        httpx_client=httpx2.Client(transport=transport),
        httpx_async_client=httpx2.AsyncClient(transport=transport),
    )
    if vertexai:
        return genai.Client(
            vertexai=True,
            project="llmcost-fake",
            location="us-central1",
            credentials=_credentials(),
            http_options=http_options,
        )
    return genai.Client(api_key=FAKE_GEMINI_API_KEY, http_options=http_options)
