"""The pydantic schema of llmcost's price data: bundled provider files and user override layers.

Every rate is USD per one million tokens, written as a JSON string (or integer) so that it is
read as an exact :class:`~decimal.Decimal`. Per-request fees are USD per request;
``web_search_tokens_per_request`` is a fixed block of input tokens billed per ``web_search``
call; ``bedrock_regions`` maps a Bedrock cross-region prefix (``us``, ``eu`` …) to the
multiplier AWS charges for it. Validation
errors are turned into :class:`llmcost.errors.CatalogError` naming the file, model and field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llmcost.errors import CatalogError

__all__ = [
    "RATE_KEYS",
    "HistoryEntry",
    "ModelEntry",
    "ModelOverride",
    "OverrideFile",
    "ProviderFile",
    "Rates",
    "Tier",
    "Variant",
    "validate",
]

# At most a million dollars per million tokens (or per request, or as a multiplier): anything
# larger is a typo, and would overflow the exact decimal arithmetic with an obscure error.
Money = Annotated[Decimal, Field(ge=0, le=1_000_000, allow_inf_nan=False)]
Tokenizer = Literal["o200k_base", "cl100k_base", "claude"]

#: The token rate names a price block may carry (USD per 1M tokens).
RATE_KEYS: tuple[str, ...] = (
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "cache_write_12h",
    "input_audio",
    "output_audio",
    "reasoning",
    "cache_read_audio",
    "input_image",
    "cache_read_image",
    "output_image",
)


class _Strict(BaseModel):
    # Python floats are converted through their shortest repr (0.8 -> Decimal("0.8")); JSON
    # files are read with parse_float=Decimal, so numbers there are exact as written.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rates(_Strict):
    """Token rates in USD per 1M tokens. A missing rate falls back (see docs/pricing.md)."""

    input: Money | None = None
    output: Money | None = None
    cache_read: Money | None = None
    cache_write: Money | None = None
    cache_write_1h: Money | None = None
    cache_write_12h: Money | None = None
    input_audio: Money | None = None
    output_audio: Money | None = None
    reasoning: Money | None = None
    cache_read_audio: Money | None = None
    input_image: Money | None = None
    cache_read_image: Money | None = None
    output_image: Money | None = None

    @model_validator(mode="after")
    def _one_long_retention(self) -> Rates:
        if self.cache_write_1h is not None and self.cache_write_12h is not None:
            raise ValueError("set cache_write_1h (Anthropic) or cache_write_12h (OpenAI), not both")
        return self


class Tier(_Strict):
    """A long-context cliff: above this many input tokens every token of the call uses ``rates``."""

    above_input_tokens: int = Field(ge=0)
    rates: Rates


def _check_tiers(tiers: list[Tier] | None) -> None:
    if tiers:
        thresholds = [t.above_input_tokens for t in tiers]
        if len(set(thresholds)) != len(thresholds):
            raise ValueError(f"tiers repeat a threshold: {thresholds}")


class Variant(_Strict):
    """A pricing variant (batch, a service tier): explicit rates, else base rate x multiplier."""

    multiplier: Money = Decimal(1)
    rates: Rates = Rates()
    tiers: list[Tier] | None = None

    @model_validator(mode="after")
    def _tiers_ok(self) -> Variant:
        _check_tiers(self.tiers)
        return self


class _PeriodFields(_Strict):
    tiers: list[Tier] | None = None
    batch: Variant | None = None
    service_tiers: dict[str, Variant] | None = None
    speed: dict[str, Money] | None = None
    inference_geo: dict[str, Money] | None = None
    data_residency: dict[str, Money] | None = None
    web_search_per_request: Money | None = None
    web_search_preview_per_request: Money | None = None
    web_search_tokens_per_request: int | None = Field(default=None, ge=0, le=10_000_000)

    @model_validator(mode="after")
    def _tiers_ok(self) -> _PeriodFields:
        _check_tiers(self.tiers)
        return self


class HistoryEntry(_PeriodFields):
    """Prices in force before ``until`` (exclusive, UTC). Missing fields: the model's own."""

    until: date
    rates: Rates | None = None


class ModelEntry(_PeriodFields):
    """One model of a provider file: its latest prices, its history and its provenance."""

    id: str = Field(min_length=1)
    aliases: list[str] = []
    context_window: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    tokenizer: Tokenizer | None = None
    rates: Rates
    history: list[HistoryEntry] = []
    bedrock_regions: dict[str, Money] | None = None
    source: str = Field(min_length=1)
    checked: date
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ModelEntry:
        if self.rates.input is None:
            raise ValueError("rates.input is required")
        untils = [h.until for h in self.history]
        if untils != sorted(set(untils)):
            raise ValueError("history entries must have distinct 'until' dates in ascending order")
        return self


class ProviderFile(_Strict):
    """A bundled provider file; ``models`` are validated one by one (after ``defaults``)."""

    provider: str = Field(min_length=1)
    source: str
    checked: date
    notes: list[str] = []
    defaults: dict[str, Any] = {}
    models: list[dict[str, Any]]


class ModelOverride(_PeriodFields):
    """An override of one model: a scale factor, replacement rates, or a whole new model."""

    provider: str | None = None
    scale: Money | None = None
    aliases: list[str] = []
    context_window: int | None = Field(default=None, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)
    tokenizer: Tokenizer | None = None
    rates: Rates | None = None
    bedrock_regions: dict[str, Money] | None = None
    source: str | None = None
    checked: date | None = None
    note: str | None = None


class OverrideFile(_Strict):
    """A user override layer: see docs/pricing.md#overrides."""

    version: str | None = None
    scale: dict[str, Money] = {}
    models: dict[str, ModelOverride] = {}
    aliases: dict[str, str] = {}


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(root)"


_M = TypeVar("_M", bound=BaseModel)


def validate(
    schema: type[_M],
    data: Any,
    *,
    source: str,
    model: str | None = None,
    prefix: tuple[int | str, ...] = (),
) -> _M:
    """Validate ``data`` against ``schema``; raise :class:`CatalogError` naming file/model/field."""
    if not isinstance(data, Mapping):
        raise CatalogError(
            f"expected a JSON object, got {type(data).__name__}",
            source=source,
            model=model,
            field=_field_path(prefix) if prefix else None,
        )
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = prefix + tuple(first["loc"])
        # When the model itself is not yet known, a "models.<name>" path names it.
        if model is None and len(loc) >= 2 and loc[0] == "models" and isinstance(loc[1], str):
            model, loc = loc[1], loc[2:]
        more = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
        raise CatalogError(
            f"{first['msg']}{more}", source=source, model=model, field=_field_path(loc)
        ) from None
