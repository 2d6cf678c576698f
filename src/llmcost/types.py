"""The value types every layer speaks: :class:`Usage`, :class:`Cost` and :class:`CostRecord`.

Money is :class:`~decimal.Decimal` everywhere. On the wire (JSON) a Decimal is written as a JSON
*number* with the exact digits of the Decimal, never a float rounding artefact and never a
string, so ``CostRecord.from_json(record.to_json()) == record`` holds exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import uuid
from collections.abc import Collection, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Cost", "CostRecord", "Usage", "new_record_id"]

ModelT = TypeVar("ModelT", bound=BaseModel)


class Usage(BaseModel):
    """Token counts of one call, as the provider billed them.

    ``input_tokens`` is *all* input: cache reads and cache writes are parts of it (the
    OpenTelemetry GenAI convention). ``reasoning_tokens`` and ``output_audio_tokens`` are parts
    of ``output_tokens``; ``input_audio_tokens`` is a part of ``input_tokens``;
    ``cache_write_1h_tokens`` is the part of ``cache_write_tokens`` kept for one hour.
    ``input_image_tokens`` is a part of ``input_tokens`` and ``output_image_tokens`` of
    ``output_tokens``; ``cache_read_audio_tokens`` and ``cache_read_image_tokens`` are the
    audio and image parts of ``cache_read_tokens`` (and of ``input_audio_tokens`` /
    ``input_image_tokens``); ``web_search_preview_requests`` is the part of
    ``web_search_requests`` made with OpenAI's ``web_search_preview`` tool.

    Example:
        >>> usage = Usage(input_tokens=1200, cache_read_tokens=1000, output_tokens=300)
        >>> usage.uncached_input_tokens
        200
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    input_tokens: int = Field(default=0, ge=0)
    cache_read_tokens: int = Field(default=0, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)
    cache_write_1h_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    reasoning_tokens: int = Field(default=0, ge=0)
    input_audio_tokens: int = Field(default=0, ge=0)
    output_audio_tokens: int = Field(default=0, ge=0)
    web_search_requests: int = Field(default=0, ge=0)
    cache_read_audio_tokens: int = Field(default=0, ge=0)
    input_image_tokens: int = Field(default=0, ge=0)
    cache_read_image_tokens: int = Field(default=0, ge=0)
    output_image_tokens: int = Field(default=0, ge=0)
    web_search_preview_requests: int = Field(default=0, ge=0)

    @classmethod
    def from_counts(cls, counts: Mapping[str, Any]) -> Usage:
        """``Usage(**counts)``, skipping pydantic when every count is a plain ``int`` at least 0
        and the parts fit their whole: what nearly every caller passes. Anything else (a
        string, a float, a negative count, a part larger than its whole, an unknown name)
        goes through full validation and raises the same ``ValidationError``.

        Example:
            >>> Usage.from_counts({"input_tokens": 12, "output_tokens": 3}).total_tokens
            15
        """
        return cls.model_validate(counts)

    @model_validator(mode="after")
    def _parts_fit_their_whole(self) -> Usage:
        problems = []
        if self.cache_read_tokens + self.cache_write_tokens > self.input_tokens:
            problems.append(
                f"cache_read_tokens ({self.cache_read_tokens}) + cache_write_tokens "
                f"({self.cache_write_tokens}) exceed input_tokens ({self.input_tokens})"
            )
        if self.cache_write_1h_tokens > self.cache_write_tokens:
            problems.append(
                f"cache_write_1h_tokens ({self.cache_write_1h_tokens}) exceed "
                f"cache_write_tokens ({self.cache_write_tokens})"
            )
        if self.input_audio_tokens + self.input_image_tokens > self.input_tokens:
            problems.append(
                f"input_audio_tokens ({self.input_audio_tokens}) + input_image_tokens "
                f"({self.input_image_tokens}) exceed input_tokens ({self.input_tokens})"
            )
        if self.cache_read_audio_tokens + self.cache_read_image_tokens > self.cache_read_tokens:
            problems.append(
                f"cache_read_audio_tokens ({self.cache_read_audio_tokens}) + "
                f"cache_read_image_tokens ({self.cache_read_image_tokens}) exceed "
                f"cache_read_tokens ({self.cache_read_tokens})"
            )
        if self.cache_read_audio_tokens > self.input_audio_tokens:
            problems.append(
                f"cache_read_audio_tokens ({self.cache_read_audio_tokens}) exceed "
                f"input_audio_tokens ({self.input_audio_tokens})"
            )
        if self.cache_read_image_tokens > self.input_image_tokens:
            problems.append(
                f"cache_read_image_tokens ({self.cache_read_image_tokens}) exceed "
                f"input_image_tokens ({self.input_image_tokens})"
            )
        if (
            self.reasoning_tokens + self.output_audio_tokens + self.output_image_tokens
            > self.output_tokens
        ):
            problems.append(
                f"reasoning_tokens ({self.reasoning_tokens}) + output_audio_tokens "
                f"({self.output_audio_tokens}) + output_image_tokens "
                f"({self.output_image_tokens}) exceed output_tokens ({self.output_tokens})"
            )
        if self.web_search_preview_requests > self.web_search_requests:
            problems.append(
                f"web_search_preview_requests ({self.web_search_preview_requests}) exceed "
                f"web_search_requests ({self.web_search_requests})"
            )
        if problems:
            raise ValueError("usage parts larger than their whole: " + "; ".join(problems))
        return self

    @property
    def uncached_input_tokens(self) -> int:
        """Input tokens that were neither read from nor written to a cache."""
        return self.input_tokens - self.cache_read_tokens - self.cache_write_tokens

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens (each token counted once)."""
        return self.input_tokens + self.output_tokens


#: Every Usage count at zero, in declared order.
_ZERO_USAGE: dict[str, int] = dict.fromkeys(Usage.model_fields, 0)


def parts_fit_their_whole(counts: Mapping[str, int]) -> bool:
    """Whether the parts of complete Usage ``counts`` fit their wholes (cache reads and writes
    within the input, 1-hour writes within the writes, audio and image within their side and
    their cached parts within the cache reads, reasoning, output audio and output images
    within the output, preview searches within the searches). :class:`Usage` raises on what
    this refuses.
    """
    return not (
        counts["cache_read_tokens"] + counts["cache_write_tokens"] > counts["input_tokens"]
        or counts["cache_write_1h_tokens"] > counts["cache_write_tokens"]
        or counts["input_audio_tokens"] + counts["input_image_tokens"] > counts["input_tokens"]
        or counts["cache_read_audio_tokens"] + counts["cache_read_image_tokens"]
        > counts["cache_read_tokens"]
        or counts["cache_read_audio_tokens"] > counts["input_audio_tokens"]
        or counts["cache_read_image_tokens"] > counts["input_image_tokens"]
        or counts["reasoning_tokens"]
        + counts["output_audio_tokens"]
        + counts["output_image_tokens"]
        > counts["output_tokens"]
        or counts["web_search_preview_requests"] > counts["web_search_requests"]
    )


@dataclasses.dataclass(frozen=True, init=False)
class Cost:
    """The price of one :class:`Usage`, split by what was billed.

    ``total_cost_usd`` is the exact sum of the parts. When the model is unknown to the catalog
    every amount is ``None`` and ``priced`` is False: an unknown price is never reported as $0.

    An immutable value built by :mod:`llmcost.pricing` (a frozen dataclass, not a pydantic
    model: the fields are stored as given, not converted). ``model_dump()`` is kept from the
    pydantic version. Equal field by field, hashable.

    Example:
        >>> from llmcost.pricing import cost
        >>> cost("gpt-4o", Usage(input_tokens=1_000_000)).total_cost_usd
        Decimal('2.5')
    """

    input_cost_usd: Decimal | None
    cache_read_cost_usd: Decimal | None
    cache_write_cost_usd: Decimal | None
    output_cost_usd: Decimal | None
    tool_cost_usd: Decimal | None
    total_cost_usd: Decimal | None
    priced: bool
    priced_as: str | None
    catalog_version: str | None

    def __init__(
        self,
        input_cost_usd: Decimal | None = None,
        cache_read_cost_usd: Decimal | None = None,
        cache_write_cost_usd: Decimal | None = None,
        output_cost_usd: Decimal | None = None,
        tool_cost_usd: Decimal | None = None,
        total_cost_usd: Decimal | None = None,
        priced: bool = False,
        priced_as: str | None = None,
        catalog_version: str | None = None,
    ) -> None:
        # pricing.cost() builds one Cost per call. The __init__ a frozen dataclass generates
        # sets each field through object.__setattr__ (its documented cost); filling the new
        # instance's own __dict__ does the same in a third of the time. The instance dict
        # holds exactly the fields, in this order (the recorder lays it into the CostRecord).
        fields = self.__dict__
        fields["input_cost_usd"] = input_cost_usd
        fields["cache_read_cost_usd"] = cache_read_cost_usd
        fields["cache_write_cost_usd"] = cache_write_cost_usd
        fields["output_cost_usd"] = output_cost_usd
        fields["tool_cost_usd"] = tool_cost_usd
        fields["total_cost_usd"] = total_cost_usd
        fields["priced"] = priced
        fields["priced_as"] = priced_as
        fields["catalog_version"] = catalog_version

    @classmethod
    def unpriced(cls, catalog_version: str | None = None) -> Cost:
        """The cost of a call whose model the catalog does not know."""
        return cls(catalog_version=catalog_version)

    def model_dump(self, *, exclude: Collection[str] = ()) -> dict[str, Any]:
        """The fields as a dict (without the names in ``exclude``), as the pydantic ``Cost``
        of earlier releases gave them.

        Example:
            >>> Cost.unpriced("v1").model_dump(exclude={"priced_as"})["catalog_version"]
            'v1'
        """
        return {name: value for name, value in self.__dict__.items() if name not in exclude}


def new_record_id() -> str:
    """A random (version 4) UUID string: the record's idempotency key downstream."""
    return str(uuid.uuid4())


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


_MONEY_FIELDS = (
    "input_cost_usd",
    "cache_read_cost_usd",
    "cache_write_cost_usd",
    "output_cost_usd",
    "tool_cost_usd",
    "total_cost_usd",
)


class CostRecord(BaseModel):
    """One provider call, priced and attributed: the unit every sink receives.

    The record is flat so that it maps one-to-one onto a table row, a JSON object, a log line
    or span attributes. Token counts follow :class:`Usage`; money follows :class:`Cost`.

    Example:
        >>> import llmcost
        >>> record = llmcost.record_usage(provider="openai", model="gpt-4o",
        ...                               input_tokens=1000, output_tokens=100)
        >>> record.total_cost_usd
        Decimal('0.0035')
        >>> CostRecord.from_json(record.to_json()) == record
        True
    """

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    record_id: str = Field(default_factory=new_record_id)
    request_id: str | None = None
    response_id: str | None = None
    timestamp: datetime = Field(default_factory=_utc_now)

    provider: str
    operation: str
    model: str | None = None
    response_model: str | None = None
    priced_as: str | None = None
    #: The Azure OpenAI deployment the call went to (``model=`` there names a deployment).
    deployment: str | None = None
    #: The host of an OpenAI-compatible endpoint that is not OpenAI's own (a gateway).
    endpoint_host: str | None = None

    feature: str | None = None
    project: str | None = None
    environment: str | None = None
    user_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    input_tokens: int = Field(default=0, ge=0)
    cache_read_tokens: int = Field(default=0, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)
    cache_write_1h_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    reasoning_tokens: int = Field(default=0, ge=0)
    input_audio_tokens: int = Field(default=0, ge=0)
    output_audio_tokens: int = Field(default=0, ge=0)
    web_search_requests: int = Field(default=0, ge=0)
    cache_read_audio_tokens: int = Field(default=0, ge=0)
    input_image_tokens: int = Field(default=0, ge=0)
    cache_read_image_tokens: int = Field(default=0, ge=0)
    output_image_tokens: int = Field(default=0, ge=0)
    web_search_preview_requests: int = Field(default=0, ge=0)

    input_cost_usd: Decimal | None = None
    cache_read_cost_usd: Decimal | None = None
    cache_write_cost_usd: Decimal | None = None
    output_cost_usd: Decimal | None = None
    tool_cost_usd: Decimal | None = None
    total_cost_usd: Decimal | None = None

    priced: bool = False
    estimated: bool = False
    #: True when the response came from a fake transport or a recording, not a live provider.
    replayed: bool = False
    #: True when a token count is beyond any plausible single call (over 10^9): recorded and
    #: priced as reported, and flagged so that reports and alerts can tell it apart.
    implausible: bool = False
    #: Where ``total_cost_usd`` came from: ``"catalog"`` (llmcost's prices), ``"provider"``
    #: (the cost the provider or gateway reported for the call); None when unpriced.
    cost_source: Literal["catalog", "provider"] | None = None

    latency_ms: float | None = None
    stream: bool = False
    status: Literal["ok", "error"] = "ok"
    error_type: str | None = None

    service_tier: str | None = None
    batch: bool = False
    speed: str | None = None
    inference_geo: str | None = None
    data_residency: str | None = None

    catalog_version: str | None = None
    trace_id: str | None = None
    span_id: str | None = None

    @field_validator("timestamp")
    @classmethod
    def _timestamp_is_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamp must be timezone-aware (UTC)")
        return value.astimezone(timezone.utc)

    @property
    def usage(self) -> Usage:
        """The token counts of this record as a :class:`Usage`."""
        return Usage.model_validate({name: getattr(self, name) for name in Usage.model_fields})

    def to_json_dict(self) -> dict[str, Any]:
        """The record as JSON-ready Python values: Decimals stay Decimals, datetimes become ISO
        strings. Use :meth:`to_json` for the exact wire text."""
        data = self.__dict__.copy()
        data["timestamp"] = self.timestamp.isoformat()
        data["tags"] = dict(self.tags)
        return data

    def to_json(self) -> str:
        """The record as one line of compact JSON, money as exact JSON numbers.

        Example:
            >>> record = CostRecord(provider="openai", operation="chat",
            ...                     total_cost_usd=Decimal("0.0035"))
            >>> '"total_cost_usd":0.0035' in record.to_json()
            True
        """
        return dumps_exact(self.to_json_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> CostRecord:
        """Parse one line written by :meth:`to_json` (numbers with a fraction become Decimals)."""
        return cls.model_validate(json.loads(text, parse_float=Decimal))


def _encode_decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"cannot encode non-finite money amount {value!r} as JSON")
    # str() of a Decimal is a valid JSON number ("0.0035", "1E-7", "0E-8"), exact by design.
    return str(value)


_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _encode_flat(data: dict[str, Any], decimal_keys: tuple[str, ...]) -> str:
    # One pass of the C JSON encoder with the Decimals set to null, then one regular-expression
    # pass that puts each `"key":null` back as the Decimal's exact digits. Inside a JSON string
    # every quote is escaped, so the pattern can only be a key; should one occur other than
    # once (a nested null of the same name) or should a Decimal sit where it is not expected,
    # encode value by value instead.
    digits: dict[str, str] = {}
    plain = data.copy()
    for key in decimal_keys:
        value = data[key]
        if value is not None:
            plain[key] = None
            digits[key] = _encode_decimal(value)
    try:
        text = _compact(plain)
    except TypeError:
        return _encode_each(data)
    if not digits:
        return text
    seen: list[str] = []

    def exact(match: re.Match[str]) -> str:
        seen.append(match[1])
        return f'"{match[1]}":{digits[match[1]]}'

    text = _null_keys(tuple(digits)).sub(exact, text)
    if sorted(seen) != sorted(digits):
        return _encode_each(data)
    return text


@functools.lru_cache(maxsize=64)
def _null_keys(keys: tuple[str, ...]) -> re.Pattern[str]:
    """``"key":null`` for any of ``keys``, the key captured."""
    return re.compile('"(' + "|".join(re.escape(key) for key in keys) + ')":null')


def _encode_each(data: dict[str, Any]) -> str:
    parts = []
    for key, value in data.items():
        text = _encode_decimal(value) if isinstance(value, Decimal) else _compact(value)
        parts.append(f"{_compact(key)}:{text}")
    return "{" + ",".join(parts) + "}"


def dumps_exact(data: dict[str, Any]) -> str:
    """``json.dumps`` for flat dicts whose Decimal values must stay exact JSON numbers.

    Top-level values may be str, int, float, bool, None, Decimal, or a dict/list of those that
    holds no Decimal. Keys keep their order; no whitespace is emitted.

    Example:
        >>> dumps_exact({"model": "gpt-4o", "cost": Decimal("0.10")})
        '{"model":"gpt-4o","cost":0.10}'
    """
    decimal_keys = tuple(key for key, value in data.items() if isinstance(value, Decimal))
    return _encode_flat(data, decimal_keys)


MONEY_FIELDS: tuple[str, ...] = _MONEY_FIELDS
"""The names of the money fields of :class:`CostRecord`, in order."""
