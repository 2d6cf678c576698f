"""OpenAI usage blocks -> :class:`llmcost.Usage`: one function per response shape.

Each function accepts the SDK's pydantic object *or* the plain JSON dict (raw responses are
read as JSON), reads it defensively, and raises :class:`ValueError` naming the field when a
count is not a non-negative integer: a malformed usage block is an error to count, never a
silent $0.

Mapping (OpenAI -> llmcost):

- Chat Completions / legacy Completions (``CompletionUsage``): ``prompt_tokens`` (cached
  included) -> ``input_tokens``; ``prompt_tokens_details.cached_tokens`` ->
  ``cache_read_tokens``; ``prompt_tokens_details.cache_write_tokens`` ->
  ``cache_write_tokens``; ``prompt_tokens_details.audio_tokens`` -> ``input_audio_tokens``;
  ``completion_tokens`` -> ``output_tokens``; ``completion_tokens_details.reasoning_tokens``
  and ``.audio_tokens`` -> ``reasoning_tokens`` and ``output_audio_tokens``.
- Responses (``ResponseUsage``): ``input_tokens``; ``input_tokens_details.cached_tokens`` and
  ``.cache_write_tokens``; ``input_tokens_details.cache_write_tokens_details.ttl_12h_tokens``
  -> ``cache_write_1h_tokens`` (the long-retention part of the writes, which the catalog
  prices at its ``cache_write_12h`` rate); ``output_tokens``;
  ``output_tokens_details.reasoning_tokens``.
- Embeddings: ``prompt_tokens`` -> ``input_tokens``.
"""

from __future__ import annotations

from typing import Any

from llmcost.types import Usage, construct_trusted

__all__ = ["chat_usage", "embeddings_usage", "responses_usage", "usage_for"]


def _field(obj: Any, name: str) -> Any:
    # dict first and cheaply (raw responses are parsed JSON); SDK objects by attribute.
    if isinstance(obj, dict):
        return obj.get(name)
    if obj is None:
        return None
    # Not isinstance(obj, Mapping): an ABC check per field costs more than the whole mapping.
    return getattr(obj, name, None)


def _count(obj: Any, name: str, where: str, *, required: bool = False) -> int:
    value = _field(obj, name)
    if value is None:
        if required:
            raise ValueError(f"OpenAI usage has no {where}{name}")
        return 0
    # bool is an int subclass: a True token count is malformed, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"OpenAI usage {where}{name} is not an integer: {value!r}")
    if value < 0:
        raise ValueError(f"OpenAI usage {where}{name} is negative: {value}")
    return value


def _usage(**counts: int) -> Usage:
    """A Usage from counts already checked to be non-negative integers.

    The hot path skips pydantic validation; when the parts do not fit their whole, the
    validating constructor is called to raise its precise ValueError.
    """
    values = {
        "input_tokens": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cache_write_1h_tokens": 0,
        "output_tokens": 0,
        "reasoning_tokens": 0,
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        "web_search_requests": 0,
        **counts,
    }
    if (
        values["cache_read_tokens"] + values["cache_write_tokens"] > values["input_tokens"]
        or values["cache_write_1h_tokens"] > values["cache_write_tokens"]
        or values["input_audio_tokens"] > values["input_tokens"]
        or values["reasoning_tokens"] + values["output_audio_tokens"] > values["output_tokens"]
    ):
        return Usage(**values)  # raises: usage parts larger than their whole
    return construct_trusted(Usage, values)


def chat_usage(usage: Any) -> Usage:
    """Map a Chat Completions (or legacy Completions) ``usage`` block.

    Example:
        >>> chat_usage({"prompt_tokens": 1149, "completion_tokens": 353,
        ...             "prompt_tokens_details": {"cached_tokens": 1024}}).cache_read_tokens
        1024
    """
    prompt = _field(usage, "prompt_tokens_details")
    completion = _field(usage, "completion_tokens_details")
    return _usage(
        input_tokens=_count(usage, "prompt_tokens", "", required=True),
        cache_read_tokens=_count(prompt, "cached_tokens", "prompt_tokens_details."),
        cache_write_tokens=_count(prompt, "cache_write_tokens", "prompt_tokens_details."),
        input_audio_tokens=_count(prompt, "audio_tokens", "prompt_tokens_details."),
        output_tokens=_count(usage, "completion_tokens", "", required=True),
        reasoning_tokens=_count(completion, "reasoning_tokens", "completion_tokens_details."),
        output_audio_tokens=_count(completion, "audio_tokens", "completion_tokens_details."),
    )


def responses_usage(usage: Any, web_search_requests: int = 0) -> Usage:
    """Map a Responses API ``usage`` block (``web_search_requests`` is counted by the caller).

    Example:
        >>> responses_usage({"input_tokens": 11, "output_tokens": 327,
        ...                  "output_tokens_details": {"reasoning_tokens": 320}}).reasoning_tokens
        320
    """
    details = _field(usage, "input_tokens_details")
    write_details = _field(details, "cache_write_tokens_details")
    out = _field(usage, "output_tokens_details")
    return _usage(
        input_tokens=_count(usage, "input_tokens", "", required=True),
        cache_read_tokens=_count(details, "cached_tokens", "input_tokens_details."),
        cache_write_tokens=_count(details, "cache_write_tokens", "input_tokens_details."),
        cache_write_1h_tokens=_count(
            write_details, "ttl_12h_tokens", "input_tokens_details.cache_write_tokens_details."
        ),
        output_tokens=_count(usage, "output_tokens", "", required=True),
        reasoning_tokens=_count(out, "reasoning_tokens", "output_tokens_details."),
        web_search_requests=web_search_requests,
    )


def embeddings_usage(usage: Any) -> Usage:
    """Map an Embeddings ``usage`` block (input only).

    Example:
        >>> embeddings_usage({"prompt_tokens": 8, "total_tokens": 8}).input_tokens
        8
    """
    return _usage(input_tokens=_count(usage, "prompt_tokens", "", required=True))


def count_web_searches(output: Any) -> int:
    """How many ``web_search_call`` items a Responses ``output`` list holds (billed per call)."""
    if not output:
        return 0
    searches = 0
    for item in output:
        if _field(item, "type") == "web_search_call":
            searches += 1
    return searches


def usage_for(operation: str, body: Any) -> Usage | None:
    """The usage of a whole response object or JSON dict for ``operation``; None when absent.

    Raises:
        ValueError: the usage block is present but malformed.
    """
    usage = _field(body, "usage")
    if usage is None:
        return None
    if operation == "responses":
        return responses_usage(usage, count_web_searches(_field(body, "output")))
    if operation == "embeddings":
        return embeddings_usage(usage)
    return chat_usage(usage)
