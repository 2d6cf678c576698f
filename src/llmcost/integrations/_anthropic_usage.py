"""Anthropic usage in llmcost terms: one function per shape the SDK hands back.

Anthropic reports ``input_tokens`` *without* the cache: the billed input is
``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``. llmcost's
:class:`~llmcost.types.Usage` counts all input in ``input_tokens`` with the cache reads and
writes as its parts, so the sum is made here, once.

Streams report usage twice: ``message_start`` carries the input side (and a first output
count), the final ``message_delta`` carries cumulative totals. Totals are *replaced*, never
added; newer streams repeat the input and cache fields in the delta, and the last reported
value wins. :class:`StreamUsage` keeps that state.

Every reader is defensive (``getattr`` with defaults, SDK objects or plain dicts) and strict
about values: a count that is not a non-negative integer raises :class:`MalformedUsage`
naming the field, so a broken response is counted as an internal error and never priced as
something it is not.
"""

from __future__ import annotations

from typing import Any

from llmcost.integrations._fields import view
from llmcost.types import Usage

__all__ = ["MalformedUsage", "StreamUsage", "usage_from_anthropic"]


class MalformedUsage(ValueError):
    """The provider's usage block has a field llmcost cannot read as a token count."""


def _count(obj: Any, name: str, *, required: bool = False, fields: Any = None) -> int | None:
    # `fields`: the view of `obj` when the caller already has it.
    value = (fields if fields is not None else view(obj)).get(name)
    if value is None:
        if required:
            raise MalformedUsage(f"anthropic usage has no {name!r} (got {obj!r})")
        return None
    # bool is an int subclass: True is not a token count.
    if type(value) is not int or value < 0:
        raise MalformedUsage(
            f"anthropic usage field {name!r} is {value!r}, not a non-negative integer"
        )
    return value


def usage_from_anthropic(usage: Any) -> Usage:
    """The llmcost :class:`Usage` of an Anthropic ``usage`` block (``Message.usage``).

    Raises:
        MalformedUsage: a count is missing, negative or not an integer.

    Example:
        >>> usage = usage_from_anthropic({"input_tokens": 4, "cache_read_input_tokens": 1163,
        ...                               "cache_creation_input_tokens": 0, "output_tokens": 202})
        >>> usage.input_tokens, usage.cache_read_tokens, usage.output_tokens
        (1167, 1163, 202)
    """
    if usage is None:
        raise MalformedUsage("anthropic response has no usage")
    state = StreamUsage()
    state.take(usage, output_required=True)
    return state.usage()


class StreamUsage:
    """The usage of one message as reported so far (a stream's, or a whole message's).

    ``take`` overwrites every field the block reports and keeps the ones it omits, which is
    exactly the rule for cumulative ``message_delta`` totals.
    """

    __slots__ = (
        "cache_read",
        "cache_write",
        "cache_write_1h",
        "inference_geo",
        "input",
        "output",
        "reasoning",
        "saw_delta",
        "saw_start",
        "saw_stop",
        "service_tier",
        "speed",
        "web_search",
    )

    def __init__(self) -> None:
        self.input = 0
        self.cache_read = 0
        self.cache_write = 0
        self.cache_write_1h = 0
        self.output = 0
        self.reasoning = 0
        self.web_search = 0
        self.service_tier: str | None = None
        self.speed: str | None = None
        self.inference_geo: str | None = None
        self.saw_start = False
        self.saw_delta = False
        self.saw_stop = False

    def take(self, usage: Any, *, output_required: bool = False) -> None:
        """Overwrite the counts ``usage`` reports (``message_start``/``message_delta``/final)."""
        if usage is None:
            raise MalformedUsage("anthropic event has no usage")
        fields = view(usage)
        # Read everything before assigning anything: a malformed block changes nothing.
        input_tokens = _count(usage, "input_tokens", required=output_required, fields=fields)
        cache_read = _count(usage, "cache_read_input_tokens", fields=fields)
        cache_write = _count(usage, "cache_creation_input_tokens", fields=fields)
        output = _count(usage, "output_tokens", required=True, fields=fields)
        breakdown = fields.get("cache_creation")
        write_1h = _count(breakdown, "ephemeral_1h_input_tokens") if breakdown else None
        details = fields.get("output_tokens_details")
        reasoning = _count(details, "thinking_tokens") if details else None
        tools = fields.get("server_tool_use")
        web_search = _count(tools, "web_search_requests") if tools else None
        service_tier = fields.get("service_tier")
        speed = fields.get("speed")
        inference_geo = fields.get("inference_geo")

        if input_tokens is not None:
            self.input = input_tokens
        if cache_read is not None:
            self.cache_read = cache_read
        if cache_write is not None:
            self.cache_write = cache_write
        if write_1h is not None:
            self.cache_write_1h = write_1h
        assert output is not None
        self.output = output
        if reasoning is not None:
            self.reasoning = reasoning
        if web_search is not None:
            self.web_search = web_search
        # Text fields of another type are ignored, as absent ones are.
        if isinstance(service_tier, str):
            self.service_tier = service_tier
        if isinstance(speed, str):
            self.speed = speed
        if isinstance(inference_geo, str):
            self.inference_geo = inference_geo

    def usage(self) -> Usage:
        """The counts as a validated llmcost :class:`Usage` (raises ``MalformedUsage``)."""
        values = {
            "input_tokens": self.input + self.cache_read + self.cache_write,
            "cache_read_tokens": self.cache_read,
            "cache_write_tokens": self.cache_write,
            "cache_write_1h_tokens": self.cache_write_1h,
            "output_tokens": self.output,
            "reasoning_tokens": self.reasoning,
            "input_audio_tokens": 0,
            "output_audio_tokens": 0,
            "web_search_requests": self.web_search,
            "cache_read_audio_tokens": 0,
            "input_image_tokens": 0,
            "cache_read_image_tokens": 0,
            "output_image_tokens": 0,
            "web_search_preview_requests": 0,
        }
        # take() admits only non-negative ints, and input is the sum of its cache parts, so
        # Usage can only refuse a 1-hour breakdown larger than the writes it splits, or
        # thinking larger than the output: a provider inconsistency, named rather than priced.
        if self.cache_write_1h > self.cache_write or self.reasoning > self.output:
            try:
                Usage(**values)
            except ValueError as exc:
                raise MalformedUsage(f"anthropic usage is inconsistent: {exc}") from exc
        # Checked above: skip pydantic's second validation on the hot path.
        return Usage.model_validate(values)

    def meta(self) -> dict[str, Any]:
        """The pricing-relevant fields reported next to the counts."""
        tier = self.service_tier
        return {
            "service_tier": tier,
            "batch": tier == "batch",
            "speed": self.speed,
            "inference_geo": self.inference_geo,
        }
