"""Gemini usage in llmcost terms: pure readers of what ``google-genai`` hands back.

``usage_metadata`` (``GenerateContentResponseUsageMetadata``) counts, per Google's API
reference:

* ``prompt_token_count``: all prompt tokens, **including** the cached content;
* ``cached_content_token_count``: the part of the prompt read from a context cache;
* ``tool_use_prompt_token_count``: tool results fed back to the model, billed as input
  and **not** part of ``prompt_token_count``;
* ``candidates_token_count``: the answer, **without** the thinking;
* ``thoughts_token_count``: the thinking, billed at the output rate;
* ``*_tokens_details``: the same counts split by modality (``AUDIO`` input is priced apart).

So llmcost's ``input_tokens`` is prompt + tool-use prompt, ``cache_read_tokens`` the cached
part, ``output_tokens`` candidates + thoughts and ``reasoning_tokens`` the thoughts. Audio
input is the prompt's (and tool results') audio minus the cached audio: cached audio is a
cache read, priced at the cache-read rate.

Streams repeat a *cumulative* ``usage_metadata`` on the chunks; the last one seen is the
call's usage, and chunks are never added up (:class:`GeminiStream`).

Every reader takes SDK objects or the API's JSON alike (snake_case field names) and is strict
about values: a count that is not a non-negative integer raises :class:`MalformedUsage`
naming the field.
"""

from __future__ import annotations

from typing import Any

from llmcost.integrations._fields import field, view
from llmcost.types import Usage

__all__ = [
    "PROVIDER_GEMINI",
    "PROVIDER_VERTEX",
    "GeminiStream",
    "MalformedUsage",
    "embedding_usage",
    "model_name",
    "output_text",
    "response_fields",
    "usage_from_gemini",
]

#: OpenTelemetry ``gen_ai.provider.name`` of the Gemini Developer API and of Vertex AI.
PROVIDER_GEMINI = "gcp.gemini"
PROVIDER_VERTEX = "gcp.vertex_ai"

# Vertex AI's traffic_type, as the tier llmcost records and prices.
_TRAFFIC_TIERS = {
    "ON_DEMAND": "standard",
    "ON_DEMAND_PRIORITY": "priority",
    "ON_DEMAND_FLEX": "flex",
    "ON_DEMAND_OFFPEAK": "offpeak",
    "PROVISIONED_THROUGHPUT": "provisioned_throughput",
}
_REQUEST_ID_HEADERS = ("x-goog-request-id", "x-request-id")
#: The Gemini API's header naming the tier a request was served at (a priority request over
#: its limit is served at standard).
_TIER_HEADER = "x-gemini-service-tier"
_TIERS = frozenset({"standard", "flex", "priority"})


class MalformedUsage(ValueError):
    """Gemini's usage metadata has a field llmcost cannot read as a token count."""


def _count(fields: Any, name: str) -> int:
    value = fields.get(name)
    if value is None:
        return 0
    # bool is an int subclass: True is not a token count.
    if type(value) is not int or value < 0:
        raise MalformedUsage(f"gemini usage field {name!r} is {value!r}, not a count >= 0")
    return value


def _modality_count(details: Any, modality: str, name: str) -> int:
    """The tokens of one modality in a ``*_tokens_details`` list (0 when absent)."""
    if details is None:
        return 0
    if not isinstance(details, (list, tuple)):
        raise MalformedUsage(f"gemini usage field {name!r} is {details!r}, not a list")
    total = 0
    for entry in details:
        kind = field(entry, "modality")
        kind = getattr(kind, "value", kind)  # the SDK's MediaModality enum, or JSON text
        if kind == modality:
            total += _count(view(entry), "token_count")
    return total


def usage_from_gemini(metadata: Any) -> Usage | None:
    """The llmcost :class:`Usage` of a ``usage_metadata`` block, or None when it has none.

    None means the provider reported nothing to bill from (no block, or no prompt count):
    the caller estimates instead of pricing zero.

    Raises:
        MalformedUsage: a count is negative or not an integer, or the parts exceed the whole.

    Example:
        >>> usage = usage_from_gemini({"prompt_token_count": 1200,
        ...     "cached_content_token_count": 1000, "candidates_token_count": 80,
        ...     "thoughts_token_count": 300})
        >>> usage.input_tokens, usage.cache_read_tokens, usage.output_tokens, usage.reasoning_tokens
        (1200, 1000, 380, 300)
    """
    if metadata is None:
        return None
    fields = view(metadata)
    if fields.get("prompt_token_count") is None:
        return None
    prompt = _count(fields, "prompt_token_count")
    tool_prompt = _count(fields, "tool_use_prompt_token_count")
    cached = _count(fields, "cached_content_token_count")
    thoughts = _count(fields, "thoughts_token_count")
    output = _count(fields, "candidates_token_count") + thoughts
    audio_in = (
        _modality_count(fields.get("prompt_tokens_details"), "AUDIO", "prompt_tokens_details")
        + _modality_count(
            fields.get("tool_use_prompt_tokens_details"), "AUDIO", "tool_use_prompt_tokens_details"
        )
        - _modality_count(fields.get("cache_tokens_details"), "AUDIO", "cache_tokens_details")
    )
    audio_out = _modality_count(
        fields.get("candidates_tokens_details"), "AUDIO", "candidates_tokens_details"
    )
    try:
        # Plain counts that fit their wholes skip pydantic's validation (the common case).
        return Usage.from_counts(
            {
                "input_tokens": prompt + tool_prompt,
                "cache_read_tokens": cached,
                "output_tokens": output,
                "reasoning_tokens": thoughts,
                "input_audio_tokens": max(audio_in, 0),
                "output_audio_tokens": audio_out,
            }
        )
    except ValueError as exc:
        raise MalformedUsage(f"gemini usage is inconsistent: {exc}") from None


def model_name(name: Any) -> str | None:
    """A model name without its resource path: what the price catalog knows it by.

    Example:
        >>> model_name("projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro")
        'gemini-2.5-pro'
        >>> model_name("models/gemini-2.5-flash"), model_name(None)
        ('gemini-2.5-flash', None)
    """
    if not isinstance(name, str) or not name:
        return None
    return name.rpartition("models/")[2] or None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def response_fields(response: Any) -> dict[str, Any]:
    """``response_id``, ``response_model``, ``service_tier`` and ``request_id`` of a response.

    ``service_tier`` is the tier the response says it was served at: the Gemini API's
    ``x-gemini-service-tier`` header, or Vertex AI's ``traffic_type`` (``ON_DEMAND_FLEX`` →
    ``flex``, ``ON_DEMAND_PRIORITY`` → ``priority``, ``ON_DEMAND`` → ``standard``); None when
    the response does not say.

    Example:
        >>> response_fields({"response_id": "r1", "model_version": "gemini-2.5-flash",
        ...                  "usage_metadata": {"traffic_type": "ON_DEMAND_FLEX"}})["service_tier"]
        'flex'
    """
    usage = field(response, "usage_metadata")
    headers = field(field(response, "sdk_http_response"), "headers")
    if not isinstance(headers, dict):  # the SDK's copy of the HTTP headers, names in lower case
        headers = {}
    request_id = None
    for name in _REQUEST_ID_HEADERS:
        request_id = _text(headers.get(name))
        if request_id is not None:
            break
    return {
        "response_id": _text(field(response, "response_id")),
        "response_model": model_name(field(response, "model_version")),
        "service_tier": _served_tier(usage, headers),
        "request_id": request_id,
    }


def _served_tier(usage: Any, headers: dict[str, Any]) -> str | None:
    said = headers.get(_TIER_HEADER)
    if isinstance(said, str) and said.lower() in _TIERS:
        return said.lower()
    traffic = field(usage, "traffic_type")
    traffic = getattr(traffic, "value", traffic)
    return _TRAFFIC_TIERS.get(traffic) if isinstance(traffic, str) else None


def output_text(response: Any) -> str:
    """All text a response (or stream chunk) generated, thoughts included: for estimates.

    Example:
        >>> output_text({"candidates": [{"content": {"parts": [{"text": "Hi"}, {"text": "!"}]}}]})
        'Hi!'
    """
    pieces: list[str] = []
    for candidate in field(response, "candidates") or ():
        for part in field(field(candidate, "content"), "parts") or ():
            text = field(part, "text")
            if isinstance(text, str):
                pieces.append(text)
    return "".join(pieces)


def embedding_usage(response: Any) -> Usage | None:
    """The input tokens of an ``embed_content`` response, or None when it reports none.

    The Gemini API reports ``usage_metadata.prompt_token_count``; Vertex AI reports a
    ``statistics.token_count`` per embedding (a float in the JSON), summed here.

    Example:
        >>> embedding_usage({"embeddings": [{"statistics": {"token_count": 7.0}},
        ...                                 {"statistics": {"token_count": 5.0}}]}).input_tokens
        12
    """
    reported = usage_from_gemini(field(response, "usage_metadata"))
    if reported is not None:
        return Usage(input_tokens=reported.input_tokens)
    total = None
    for embedding in field(response, "embeddings") or ():
        count = field(field(embedding, "statistics"), "token_count")
        if count is None:
            continue
        if isinstance(count, float) and count.is_integer():
            count = int(count)
        if type(count) is not int or count < 0:
            raise MalformedUsage(f"gemini embedding token_count is {count!r}, not a count >= 0")
        total = (total or 0) + count
    return None if total is None else Usage(input_tokens=total)


class GeminiStream:
    """The state of one ``generate_content_stream`` call, fed every chunk in order.

    Each chunk's ``usage_metadata`` is cumulative: the last one replaces the ones before.
    Feeding keeps references only; ids and counts are read once, at the end.

    Example:
        >>> stream = GeminiStream()
        >>> for done in (3, 9):
        ...     stream.feed({"usage_metadata": {"prompt_token_count": 10,
        ...                                     "candidates_token_count": done}})
        >>> stream.usage().output_tokens
        9
    """

    __slots__ = ("first", "last", "metadata")

    def __init__(self) -> None:
        self.first: Any = None
        self.last: Any = None
        self.metadata: Any = None

    def feed(self, chunk: Any) -> None:
        """Take one chunk: its usage (if any) replaces the last one seen."""
        if self.first is None:
            self.first = chunk
        self.last = chunk
        metadata = field(chunk, "usage_metadata")
        if metadata is not None:
            self.metadata = metadata

    def usage(self) -> Usage | None:
        """The call's usage: the last reported block's (None when none came)."""
        return usage_from_gemini(self.metadata)

    def finished(self) -> bool:
        """Whether the last chunk seen ends the answer (it carries a finish reason)."""
        return any(
            field(candidate, "finish_reason") is not None
            for candidate in field(self.last, "candidates") or ()
        )

    def fields(self) -> dict[str, Any]:
        """The record fields: the last chunk's, else the first's where the last omits one."""
        last = response_fields(self.last)
        if self.first is None or self.first is self.last:
            return last
        first = response_fields(self.first)
        return {name: value if value is not None else first[name] for name, value in last.items()}
