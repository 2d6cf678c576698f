"""The value types every layer speaks: :class:`Usage`, :class:`Cost` and :class:`CostRecord`.

Money is :class:`~decimal.Decimal` everywhere. On the wire (JSON) a Decimal is written as a JSON
*number* with the exact digits of the Decimal, never a float rounding artefact and never a
string, so ``CostRecord.from_json(record.to_json()) == record`` holds exactly.
"""

from __future__ import annotations

import json
import os
import random
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Cost", "CostRecord", "Usage", "construct_trusted", "new_record_id"]

ModelT = TypeVar("ModelT", bound=BaseModel)


def construct_trusted(cls: type[ModelT], values: dict[str, Any]) -> ModelT:
    """Build a model instance from a COMPLETE dict of already-valid field values.

    The hot path builds a Cost and a CostRecord from values that come from validated objects
    and llmcost's own code; ``model_construct`` would still spend about 20 µs per record walking
    every field's defaults, so this sets the instance state directly (what pydantic's own
    ``model_construct`` ends up doing). ``values`` must hold every field; it is not copied.
    """
    instance = cls.__new__(cls)
    object.__setattr__(instance, "__dict__", values)
    object.__setattr__(instance, "__pydantic_fields_set__", set(values))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


class Usage(BaseModel):
    """Token counts of one call, as the provider billed them.

    ``input_tokens`` is *all* input: cache reads and cache writes are parts of it (the
    OpenTelemetry GenAI convention). ``reasoning_tokens`` and ``output_audio_tokens`` are parts
    of ``output_tokens``; ``input_audio_tokens`` is a part of ``input_tokens``;
    ``cache_write_1h_tokens`` is the part of ``cache_write_tokens`` kept for one hour.

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
        if self.input_audio_tokens > self.input_tokens:
            problems.append(
                f"input_audio_tokens ({self.input_audio_tokens}) exceed "
                f"input_tokens ({self.input_tokens})"
            )
        if self.reasoning_tokens + self.output_audio_tokens > self.output_tokens:
            problems.append(
                f"reasoning_tokens ({self.reasoning_tokens}) + output_audio_tokens "
                f"({self.output_audio_tokens}) exceed output_tokens ({self.output_tokens})"
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


class Cost(BaseModel):
    """The price of one :class:`Usage`, split by what was billed.

    ``total_cost_usd`` is the exact sum of the parts. When the model is unknown to the catalog
    every amount is ``None`` and ``priced`` is False: an unknown price is never reported as $0.

    Example:
        >>> from llmcost.pricing import cost
        >>> cost("gpt-4o", Usage(input_tokens=1_000_000)).total_cost_usd
        Decimal('2.5')
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    input_cost_usd: Decimal | None = None
    cache_read_cost_usd: Decimal | None = None
    cache_write_cost_usd: Decimal | None = None
    output_cost_usd: Decimal | None = None
    tool_cost_usd: Decimal | None = None
    total_cost_usd: Decimal | None = None
    priced: bool = False
    priced_as: str | None = None
    catalog_version: str | None = None

    @classmethod
    def unpriced(cls, catalog_version: str | None = None) -> Cost:
        """The cost of a call whose model the catalog does not know."""
        return construct_trusted(
            cls,
            {
                "input_cost_usd": None,
                "cache_read_cost_usd": None,
                "cache_write_cost_usd": None,
                "output_cost_usd": None,
                "tool_cost_usd": None,
                "total_cost_usd": None,
                "priced": False,
                "priced_as": None,
                "catalog_version": catalog_version,
            },
        )


# A generator of our own, reseeded in a forked child so parent and child never share ids.
_random = random.Random()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_random.seed)
_getrandbits = _random.getrandbits
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_record_id() -> str:
    """A random (version 4) UUID string.

    ``str(uuid.uuid4())`` reads ``os.urandom`` on every call, a system call that alone costs a
    third of the recorder's per-record budget. Record ids need uniqueness, not secrecy, so
    they come from a ``random.Random`` of llmcost's own, reseeded from the OS in a forked child.
    """
    bits = (_getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


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
        return construct_trusted(Usage, {name: getattr(self, name) for name in Usage.model_fields})

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
        data = self.__dict__.copy()
        data["timestamp"] = self.timestamp.isoformat()
        money = [data[name] for name in _MONEY_FIELDS]
        for name in _MONEY_FIELDS:
            data[name] = None
        try:
            text = _compact(data)
        except TypeError:  # a hand-built record with a Decimal outside the money fields
            return _encode_each(self.to_json_dict())
        # The money fields are adjacent in the schema: find their all-null run and put the exact
        # digits in, in one splice. rfind: tags (the only mapping) come before the money, and a
        # quote inside any JSON string is escaped, so the last occurrence is the real keys.
        start = text.rfind(_MONEY_NULLS)
        if start < 0:
            return _encode_each(self.to_json_dict())
        digits = ",".join(
            f'"{name}":{"null" if value is None else _encode_decimal(value)}'
            for name, value in zip(_MONEY_FIELDS, money, strict=True)
        )
        return text[:start] + digits + text[start + len(_MONEY_NULLS) :]

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
_MONEY_NULLS = ",".join(f'"{name}":null' for name in _MONEY_FIELDS)


def _encode_flat(data: dict[str, Any], decimal_keys: tuple[str, ...]) -> str:
    # One pass of the C JSON encoder with the Decimals set to null, then each `"key":null` put
    # back as the Decimal's exact digits. Inside a JSON string every quote is escaped, so the
    # pattern can only be a key; should it occur other than once (a nested null of the same
    # name) or should a Decimal sit where it is not expected, encode value by value instead.
    original = data.copy()
    decimals = []
    for key in decimal_keys:
        value = data[key]
        if value is not None:
            data[key] = None
            decimals.append((key, value))
    try:
        text = _compact(data)
    except TypeError:
        return _encode_each(original)
    for key, value in decimals:
        pattern = f'"{key}":null'
        if text.count(pattern) != 1:
            return _encode_each(original)
        text = text.replace(pattern, f'"{key}":{_encode_decimal(value)}')
    return text


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
    return _encode_flat(dict(data), decimal_keys)


MONEY_FIELDS: tuple[str, ...] = _MONEY_FIELDS
"""The names of the money fields of :class:`CostRecord`, in order."""
