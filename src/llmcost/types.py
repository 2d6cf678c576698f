"""The value types every layer speaks: :class:`Usage`, :class:`Cost` and :class:`CostRecord`.

Money is :class:`~decimal.Decimal` everywhere. On the wire (JSON) a Decimal is written as a JSON
*number* with the exact digits of the Decimal, never a float rounding artefact and never a
string, so ``CostRecord.from_json(record.to_json()) == record`` holds exactly.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["Cost", "CostRecord", "Usage", "construct_trusted", "new_record_id"]

ModelT = TypeVar("ModelT", bound=BaseModel)


def construct_trusted(cls: type[ModelT], values: dict[str, Any]) -> ModelT:
    """Build a model instance from a COMPLETE dict of already-valid field values.

    The hot path builds a Cost and a CostRecord from values that come from validated objects
    and llmcost's own code; ``model_construct`` would still spend about 20 µs per record walking
    every field's defaults, so this sets the instance state directly (what pydantic's own
    ``model_construct`` ends up doing). ``values`` must hold every field; it is not copied.
    Every instance made here shares one ``model_fields_set`` (all fields): never change it.
    """
    instance = cls.__new__(cls)
    _set_dict(instance, values)
    fields_set = _ALL_FIELDS_SET.get(cls)
    if fields_set is None:
        fields_set = _ALL_FIELDS_SET[cls] = set(cls.model_fields)
    # One set shared by every instance of the class: every field is set, the models are
    # frozen, and pydantic copies the set before changing it (model_copy): a set per record
    # costs a microsecond and one more object for the garbage collector to track.
    _set_fields_set(instance, fields_set)
    _set_extra(instance, None)
    _set_private(instance, None)
    return instance


_ALL_FIELDS_SET: dict[type[BaseModel], set[str]] = {}
# BaseModel's own slots, set through their descriptors: object.__setattr__ looks each name up
# along the class's MRO first, which costs more than the assignment.
_set_dict = vars(BaseModel)["__dict__"].__set__
_set_fields_set = vars(BaseModel)["__pydantic_fields_set__"].__set__
_set_extra = vars(BaseModel)["__pydantic_extra__"].__set__
_set_private = vars(BaseModel)["__pydantic_private__"].__set__


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
        values = dict(_ZERO_USAGE)
        for name, value in counts.items():
            if type(value) is not int or value < 0 or name not in values:
                return cls(**counts)
            values[name] = value
        if not parts_fit_their_whole(values):
            return cls(**counts)  # raises the message naming the parts
        usage = construct_trusted(cls, values)
        _set_fields_set(usage, set(counts))  # as validation would: the names given
        return usage

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


#: Every Usage count at zero, in declared order.
_ZERO_USAGE: dict[str, int] = dict.fromkeys(Usage.model_fields, 0)


def parts_fit_their_whole(counts: Mapping[str, int]) -> bool:
    """Whether the parts of complete Usage ``counts`` fit their wholes (cache reads and writes
    within the input, 1-hour writes within the writes, audio within its side, reasoning and
    output audio within the output). :class:`Usage` raises on what this refuses.
    """
    return not (
        counts["cache_read_tokens"] + counts["cache_write_tokens"] > counts["input_tokens"]
        or counts["cache_write_1h_tokens"] > counts["cache_write_tokens"]
        or counts["input_audio_tokens"] > counts["input_tokens"]
        or counts["reasoning_tokens"] + counts["output_audio_tokens"] > counts["output_tokens"]
    )


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
    # bytes.hex is about twice as fast as formatting the integer with "032x".
    text = ((_getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET).to_bytes(16, "big").hex()
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
        if self.__class__ is CostRecord and _fast_to_json is not None:
            text = _fast_to_json(self.__dict__)
            if text is not None:
                return text
        return _to_json_reference(self)

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


def _to_json_reference(record: CostRecord) -> str:
    # The general encoding, for any record: the C JSON encoder with the money set to null, then
    # the exact digits spliced in. It defines the wire text; the generated encoder below only
    # takes the common case faster and gives up (returns None) on anything outside it.
    data = record.__dict__.copy()
    data["timestamp"] = record.timestamp.isoformat()
    money = [data[name] for name in _MONEY_FIELDS]
    for name in _MONEY_FIELDS:
        data[name] = None
    try:
        text = _compact(data)
    except TypeError:  # a hand-built record with a Decimal outside the money fields
        return _encode_each(record.to_json_dict())
    # The money fields are adjacent in the schema: find their all-null run and put the exact
    # digits in, in one splice. rfind: tags (the only mapping) come before the money, and a
    # quote inside any JSON string is escaped, so the last occurrence is the real keys.
    start = text.rfind(_MONEY_NULLS)
    if start < 0:
        return _encode_each(record.to_json_dict())
    digits = ",".join(
        f'"{name}":{"null" if value is None else _encode_decimal(value)}'
        for name, value in zip(_MONEY_FIELDS, money, strict=True)
    )
    return text[:start] + digits + text[start + len(_MONEY_NULLS) :]


# --- the generated encoder ------------------------------------------------------------------
#
# One pass of the C JSON encoder over a record's 44 fields costs about 9 µs, much of it
# re-encoding the same keys and dispatching on types; with the Decimal splice the reference
# takes about 16 µs, most of a JSONL sink's emit. The function generated below from the
# model's fields writes the same text in one f-string: the keys are constants, strings go
# through the encoder json itself uses (``encode_basestring``: ``_compact`` has
# ``ensure_ascii=False``), ints are ``int.__repr__``, floats ``float.__repr__``, bools and
# None their JSON words, timestamps ``isoformat()`` (digits and ``-:.+T`` only, nothing to
# escape) and money the Decimal's own digits. It checks the exact class of every value and
# the order of the keys, and returns None for anything else: a subclass, a value of an
# unexpected type, NaN or infinite floats (json writes ``NaN``/``Infinity``), non-finite
# Decimals (an error), tags that are not all str. Then ``_to_json_reference`` decides, so
# both always give the same text or the same error (a hypothesis test holds them equal).

_encode_str = json.encoder.encode_basestring  # the C version when available, as json uses


def _encode_tags(tags: dict[Any, Any]) -> str | None:
    parts = []
    for key, value in tags.items():
        if key.__class__ is not str or value.__class__ is not str:
            return None
        parts.append(f"{_encode_str(key)}:{_encode_str(value)}")
    return "{" + ",".join(parts) + "}"


_STR_OR_NONE = """\
    if {v}.__class__ is str:
        {v} = _encode_str({v})
    elif {v} is None:
        {v} = "null"
    else:
        return None
"""
_STR = """\
    if {v}.__class__ is not str:
        return None
    {v} = _encode_str({v})
"""
_FIELD_CODE: dict[Any, str] = {
    str: _STR,
    str | None: _STR_OR_NONE,
    int: """\
    if {v}.__class__ is not int:
        return None
""",
    bool: """\
    if {v} is True:
        {v} = "true"
    elif {v} is False:
        {v} = "false"
    else:
        return None
""",
    float | None: """\
    if {v}.__class__ is float:
        if not -_INF < {v} < _INF:
            return None
        {v} = _float_repr({v})
    elif {v} is None:
        {v} = "null"
    elif {v}.__class__ is int:
        {v} = _int_repr({v})
    else:
        return None
""",
    Decimal | None: """\
    if {v}.__class__ is _Decimal:
        if not {v}.is_finite():
            return None
        {v} = _decimal_str({v})
    elif {v} is None:
        {v} = "null"
    else:
        return None
""",
    datetime: """\
    if {v}.__class__ is not _datetime:
        return None
    {v} = {v}.isoformat()
""",
    dict[str, str]: """\
    if {v}.__class__ is not dict:
        return None
    if {v}:
        {v} = _encode_tags({v})
        if {v} is None:
            return None
    else:
        {v} = "{{}}"
""",
}


def _generate_encoder(model: type[BaseModel]) -> Callable[[dict[str, Any]], str | None] | None:
    """Write and compile the encoder for ``model``'s fields; None if a field's type is not one
    the generator knows (every record then takes the reference path)."""
    names = tuple(model.model_fields)
    lines = ["def encode(values):", "    if tuple(values) != _FIELDS:", "        return None"]
    variables = [f"v{index}" for index in range(len(names))]
    lines.append(f"    {', '.join(variables)}, = values.values()")
    pieces = []
    for name, variable in zip(names, variables, strict=True):
        annotation = model.model_fields[name].annotation
        if get_origin(annotation) is Literal and all(
            isinstance(a, str) for a in get_args(annotation)
        ):
            code: str | None = _STR
        else:
            code = _FIELD_CODE.get(annotation)
        if code is None or not name.isidentifier():
            return None
        lines.append(code.format(v=variable).rstrip("\n"))
        # A timestamp is a JSON string: quotes around the isoformat text.
        value = f'"{{{variable}}}"' if annotation is datetime else f"{{{variable}}}"
        pieces.append(f'"{name}":{value}')
    lines.append("    return f'{{" + ",".join(pieces) + "}}'")
    namespace: dict[str, Any] = {
        "_FIELDS": names,
        "_encode_str": _encode_str,
        "_encode_tags": _encode_tags,
        "_INF": float("inf"),
        "_float_repr": float.__repr__,
        "_int_repr": int.__repr__,
        "_Decimal": Decimal,
        "_decimal_str": Decimal.__str__,
        "_datetime": datetime,
    }
    exec(compile("\n".join(lines), f"<llmcost {model.__name__} encoder>", "exec"), namespace)
    encoder: Callable[[dict[str, Any]], str | None] = namespace["encode"]
    return encoder


_fast_to_json = _generate_encoder(CostRecord)


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
