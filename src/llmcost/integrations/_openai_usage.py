"""OpenAI usage blocks -> :class:`llmcost.Usage`: one function per response shape.

Each function accepts the SDK's pydantic object *or* the plain JSON dict (raw responses are
read as JSON), reads it defensively, and raises :class:`ValueError` naming the field when a
count is not a non-negative integer: a malformed usage block is an error to count, never a
silent $0.

Mapping (OpenAI -> llmcost):

- Chat Completions / legacy Completions (``CompletionUsage``): ``prompt_tokens`` (cached
  included) -> ``input_tokens``; ``prompt_tokens_details.cached_tokens`` ->
  ``cache_read_tokens``; ``prompt_tokens_details.cache_write_tokens`` ->
  ``cache_write_tokens``; ``prompt_tokens_details.audio_tokens`` and ``.image_tokens`` ->
  ``input_audio_tokens`` and ``input_image_tokens`` (cached ones included);
  ``prompt_tokens_details.cached_tokens_details.audio_tokens`` and ``.image_tokens`` ->
  ``cache_read_audio_tokens`` and ``cache_read_image_tokens``; ``completion_tokens`` ->
  ``output_tokens``; ``completion_tokens_details.reasoning_tokens``, ``.audio_tokens`` and
  ``.image_tokens`` -> ``reasoning_tokens``, ``output_audio_tokens`` and
  ``output_image_tokens``. A chat completion from a search model (``gpt-4o-search-preview``,
  ``gpt-5-search-api`` …) made one web search: those models search before every answer and
  bill it per call.
- Responses (``ResponseUsage``): ``input_tokens``; ``input_tokens_details.cached_tokens`` and
  ``.cache_write_tokens``; ``input_tokens_details.cache_write_tokens_details.ttl_12h_tokens``
  -> ``cache_write_1h_tokens`` (the long-retention part of the writes, which the catalog
  prices at its ``cache_write_12h`` rate); audio and image details as in Chat Completions,
  where present; ``output_tokens``; ``output_tokens_details.reasoning_tokens``. Web
  searches: ``tool_usage.web_search.num_requests`` (billable searches) when the response
  has it, else one per ``web_search_call`` output item; they are ``web_search_preview``
  searches when the response's ``tools`` offer only the preview tool.
- Embeddings: ``prompt_tokens`` -> ``input_tokens``.
"""

from __future__ import annotations

from typing import Any

from llmcost.integrations._fields import field, view
from llmcost.types import Usage, parts_fit_their_whole

__all__ = [
    "chat_usage",
    "count_web_searches",
    "embeddings_usage",
    "responses_usage",
    "usage_for",
    "web_search_counts",
]


def _checked(counts: dict[str, Any], names: dict[str, str], required: tuple[str, ...]) -> Usage:
    """The Usage of ``counts`` (Usage field -> value read from the provider, None if absent).

    Raises:
        ValueError: a count is missing (when ``required``), not an integer, or negative
            (``names`` gives the provider's name for the message); or the parts do not fit
            their whole.
    """
    values = dict(_ZERO_COUNTS)
    # In the order of `counts`, so the first bad count is the one reported.
    for target, value in counts.items():
        if value is None:
            if target in required:
                raise ValueError(f"OpenAI usage has no {names[target]}")
            continue
        # bool is an int subclass: a True token count is malformed, not 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"OpenAI usage {names[target]} is not an integer: {value!r}")
        if value < 0:
            raise ValueError(f"OpenAI usage {names[target]} is negative: {value}")
        values[target] = value
    if not parts_fit_their_whole(values):
        return Usage(**values)  # raises its precise ValueError: parts larger than their whole
    # Every count was checked above: skip pydantic's second validation on the hot path.
    return Usage.model_validate(values)


#: Every Usage field at zero, in Usage's declared order (copied per call, then filled in).
_ZERO_COUNTS: dict[str, int] = {
    "input_tokens": 0,
    "cache_read_tokens": 0,
    "cache_write_tokens": 0,
    "cache_write_1h_tokens": 0,
    "output_tokens": 0,
    "reasoning_tokens": 0,
    "input_audio_tokens": 0,
    "output_audio_tokens": 0,
    "web_search_requests": 0,
    "cache_read_audio_tokens": 0,
    "input_image_tokens": 0,
    "cache_read_image_tokens": 0,
    "output_image_tokens": 0,
    "web_search_preview_requests": 0,
}
_REQUIRED = ("input_tokens", "output_tokens")

#: Usage field -> where the provider reports it, for error messages.
_CHAT_NAMES = {
    "input_tokens": "prompt_tokens",
    "cache_read_tokens": "prompt_tokens_details.cached_tokens",
    "cache_write_tokens": "prompt_tokens_details.cache_write_tokens",
    "input_audio_tokens": "prompt_tokens_details.audio_tokens",
    "input_image_tokens": "prompt_tokens_details.image_tokens",
    "cache_read_audio_tokens": "prompt_tokens_details.cached_tokens_details.audio_tokens",
    "cache_read_image_tokens": "prompt_tokens_details.cached_tokens_details.image_tokens",
    "output_tokens": "completion_tokens",
    "reasoning_tokens": "completion_tokens_details.reasoning_tokens",
    "output_audio_tokens": "completion_tokens_details.audio_tokens",
    "output_image_tokens": "completion_tokens_details.image_tokens",
    "web_search_requests": "web_search_requests",
}
_RESPONSES_NAMES = {
    "input_tokens": "input_tokens",
    "cache_read_tokens": "input_tokens_details.cached_tokens",
    "cache_write_tokens": "input_tokens_details.cache_write_tokens",
    "cache_write_1h_tokens": "input_tokens_details.cache_write_tokens_details.ttl_12h_tokens",
    "input_audio_tokens": "input_tokens_details.audio_tokens",
    "input_image_tokens": "input_tokens_details.image_tokens",
    "cache_read_audio_tokens": "input_tokens_details.cached_tokens_details.audio_tokens",
    "cache_read_image_tokens": "input_tokens_details.cached_tokens_details.image_tokens",
    "output_tokens": "output_tokens",
    "reasoning_tokens": "output_tokens_details.reasoning_tokens",
    "output_audio_tokens": "output_tokens_details.audio_tokens",
    "output_image_tokens": "output_tokens_details.image_tokens",
    "web_search_requests": "tool_usage.web_search.num_requests",
    "web_search_preview_requests": "tool_usage.web_search.num_requests",
}


def chat_usage(usage: Any, web_search_requests: int = 0) -> Usage:
    """Map a Chat Completions (or legacy Completions) ``usage`` block
    (``web_search_requests`` is counted by the caller: see :func:`usage_for`).

    Example:
        >>> chat_usage({"prompt_tokens": 1149, "completion_tokens": 353,
        ...             "prompt_tokens_details": {"cached_tokens": 1024}}).cache_read_tokens
        1024
    """
    top = view(usage)
    prompt = view(top.get("prompt_tokens_details"))
    cached = view(prompt.get("cached_tokens_details"))
    completion = view(top.get("completion_tokens_details"))
    counts = {
        "input_tokens": top.get("prompt_tokens"),
        "cache_read_tokens": prompt.get("cached_tokens"),
        "cache_write_tokens": prompt.get("cache_write_tokens"),
        "input_audio_tokens": prompt.get("audio_tokens"),
        "input_image_tokens": prompt.get("image_tokens"),
        "cache_read_audio_tokens": cached.get("audio_tokens"),
        "cache_read_image_tokens": cached.get("image_tokens"),
        "output_tokens": top.get("completion_tokens"),
        "reasoning_tokens": completion.get("reasoning_tokens"),
        "output_audio_tokens": completion.get("audio_tokens"),
        "output_image_tokens": completion.get("image_tokens"),
        "web_search_requests": web_search_requests,
    }
    return _checked(counts, _CHAT_NAMES, _REQUIRED)


def responses_usage(
    usage: Any, web_search_requests: int = 0, web_search_preview_requests: int = 0
) -> Usage:
    """Map a Responses API ``usage`` block (web searches are counted by the caller, from the
    whole response: see :func:`web_search_counts`; the preview ones are a part of them).

    Example:
        >>> responses_usage({"input_tokens": 11, "output_tokens": 327,
        ...                  "output_tokens_details": {"reasoning_tokens": 320}}).reasoning_tokens
        320
    """
    top = view(usage)
    details = view(top.get("input_tokens_details"))
    writes = view(details.get("cache_write_tokens_details"))
    cached = view(details.get("cached_tokens_details"))
    out = view(top.get("output_tokens_details"))
    counts = {
        "input_tokens": top.get("input_tokens"),
        "cache_read_tokens": details.get("cached_tokens"),
        "cache_write_tokens": details.get("cache_write_tokens"),
        "cache_write_1h_tokens": writes.get("ttl_12h_tokens"),
        "input_audio_tokens": details.get("audio_tokens"),
        "input_image_tokens": details.get("image_tokens"),
        "cache_read_audio_tokens": cached.get("audio_tokens"),
        "cache_read_image_tokens": cached.get("image_tokens"),
        "output_tokens": top.get("output_tokens"),
        "reasoning_tokens": out.get("reasoning_tokens"),
        "output_audio_tokens": out.get("audio_tokens"),
        "output_image_tokens": out.get("image_tokens"),
        "web_search_requests": web_search_requests,
        "web_search_preview_requests": web_search_preview_requests,
    }
    return _checked(counts, _RESPONSES_NAMES, _REQUIRED)


def embeddings_usage(usage: Any) -> Usage:
    """Map an Embeddings ``usage`` block (input only).

    Example:
        >>> embeddings_usage({"prompt_tokens": 8, "total_tokens": 8}).input_tokens
        8
    """
    counts = {"input_tokens": view(usage).get("prompt_tokens")}
    return _checked(counts, _CHAT_NAMES, _REQUIRED)


def count_web_searches(output: Any) -> int:
    """How many ``web_search_call`` items a Responses ``output`` list holds (billed per call)."""
    if not output:
        return 0
    searches = 0
    for item in output:
        if field(item, "type") == "web_search_call":
            searches += 1
    return searches


def web_search_counts(response: Any) -> tuple[int, int]:
    """``(searches, preview searches)`` of a whole Responses object or JSON dict.

    The count is ``tool_usage.web_search.num_requests`` (what OpenAI bills) when present,
    else one per ``web_search_call`` output item. The output items do not say which tool ran
    them: they are ``web_search_preview`` searches when the response's ``tools`` offer the
    preview tool and not ``web_search`` (with both offered, ``web_search``, the current tool).
    """
    tool_usage = field(response, "tool_usage")
    searches = field(field(tool_usage, "web_search"), "num_requests") if tool_usage else None
    if searches is None:
        searches = count_web_searches(field(response, "output"))
    if not searches:
        return searches, 0
    kinds = {field(tool, "type") for tool in field(response, "tools") or ()}
    preview_only = "web_search" not in kinds and any(
        isinstance(kind, str) and kind.startswith("web_search_preview") for kind in kinds
    )
    return searches, searches if preview_only else 0


def _is_search_model(model: Any) -> bool:
    # gpt-4o-search-preview, gpt-4o-mini-search-preview, gpt-5-search-api and their snapshots
    return isinstance(model, str) and ("-search-preview" in model or "-search-api" in model)


def usage_for(operation: str, body: Any) -> Usage | None:
    """The usage of a whole response object or JSON dict for ``operation``; None when absent.

    Raises:
        ValueError: the usage block is present but malformed.
    """
    usage = field(body, "usage")
    if usage is None:
        return None
    if operation == "responses":
        return responses_usage(usage, *web_search_counts(body))
    if operation == "embeddings":
        return embeddings_usage(usage)
    return chat_usage(usage, 1 if _is_search_model(field(body, "model")) else 0)
