"""The price catalog: bundled provider files, user override layers, and model-name matching.

The bundled data lives in ``llmcost/pricing/data/<provider>.json`` and is read lazily, once,
on first use. An override layer (file or mapping) is applied on top of a base catalog and
produces a new :class:`Catalog`; catalogs are never mutated after construction, so a catalog
can be shared between threads. Name resolution and rate cards are memoized.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal, localcontext
from importlib import resources
from pathlib import Path
from typing import Any

from llmcost.errors import CatalogError
from llmcost.pricing import _schema
from llmcost.pricing._math import EXACT, ZERO, RateCard
from llmcost.pricing._schema import HistoryEntry, ModelEntry, ModelOverride, OverrideFile, Rates

__all__ = ["Catalog", "ModelPrice", "bundled_catalog", "load_catalog", "unpriced_on_purpose"]

BUNDLED_VERSION = "2026.12.06"
_BUNDLED_PROVIDERS = ("openai", "anthropic", "google")
_MEMO_LIMIT = 4096
_ONE = Decimal(1)

# Names some SDKs and gateways use for the providers whose models this catalog prices.
_PROVIDER_ALIASES = {
    "openai": "openai",
    "azure": "openai",
    "azure_openai": "openai",
    "azure-openai": "openai",
    "anthropic": "anthropic",
    "bedrock": "anthropic",
    "aws": "anthropic",
    "aws_bedrock": "anthropic",
    "vertex": "anthropic",
    "vertex_ai": "anthropic",
    "google-vertex": "anthropic",
    # Gemini: the Developer API's OpenTelemetry name. Vertex AI also serves Claude, so
    # "gcp.vertex_ai" names no single catalog provider and does not filter.
    "google": "google",
    "gemini": "google",
    "gcp.gemini": "google",
    # Azure OpenAI's OpenTelemetry name: the models it serves are OpenAI's, at OpenAI's
    # global-standard prices (see docs/integrations/openai.md for Data Zone and Regional).
    "azure.ai.openai": "openai",
}
_STANDARD_TIERS = frozenset({"", "auto", "default", "standard", "standard_only", "scale"})
_BEDROCK = re.compile(
    r"^(?:(?P<region>[a-z]{2,6})\.)?anthropic\.(?P<name>claude-.+?)(?:-v\d+(?::\d+)?)?(?::\d+)?$"
)
_ANTHROPIC_DATE = re.compile(r"-\d{8}$")
_OPENAI_DATE = re.compile(r"-\d{4}-\d{2}-\d{2}$")


class _Period:
    """The price fields in force during one period of a model's history (validated data)."""

    __slots__ = (
        "batch",
        "data_residency",
        "inference_geo",
        "rates",
        "service_tiers",
        "speed",
        "tiers",
        "web_search",
        "web_search_preview",
        "web_search_tokens",
    )

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.rates: Rates = fields["rates"]
        self.tiers: list[_schema.Tier] = fields.get("tiers") or []
        self.batch: _schema.Variant | None = fields.get("batch")
        self.service_tiers: dict[str, _schema.Variant] = fields.get("service_tiers") or {}
        self.speed: dict[str, Decimal] = fields.get("speed") or {}
        self.inference_geo: dict[str, Decimal] = fields.get("inference_geo") or {}
        self.data_residency: dict[str, Decimal] = fields.get("data_residency") or {}
        self.web_search: Decimal | None = fields.get("web_search_per_request")
        self.web_search_preview: Decimal | None = fields.get("web_search_preview_per_request")
        self.web_search_tokens: int = fields.get("web_search_tokens_per_request") or 0


_PERIOD_KEYS = (
    "rates",
    "tiers",
    "batch",
    "service_tiers",
    "speed",
    "inference_geo",
    "data_residency",
    "web_search_per_request",
    "web_search_preview_per_request",
    "web_search_tokens_per_request",
)


def _fields_of(entry: _schema._PeriodFields | ModelEntry | HistoryEntry) -> dict[str, Any]:
    return {key: getattr(entry, key) for key in _PERIOD_KEYS if getattr(entry, key) is not None}


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _card_rates(given: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The rates as given, in RateCard's names; RateCard applies the documented fallbacks so
    that every token kind has a rate (never a free $0)."""
    rates = {key: value for key, value in given.items() if key not in _LONG_WRITES}
    rates.setdefault("output", ZERO)  # embeddings: no output tokens exist
    long_write = given.get("cache_write_1h", given.get("cache_write_12h"))
    if long_write is not None:
        rates["cache_write_long"] = long_write
    return rates


_LONG_WRITES = ("cache_write_1h", "cache_write_12h")


def _tidy(value: Decimal) -> Decimal:
    """Drop trailing zeros (2.50 -> 2.5) but never produce an exponent form (10 stays 10)."""
    value = value.normalize()
    if value.as_tuple().exponent > 0:  # type: ignore[operator]
        value = value.quantize(_ONE)
    return value


class ModelPrice:
    """One priced model: identity, limits, provenance and its prices over time.

    Attributes:
        id: the catalog id (``priced_as`` on records).
        provider: ``openai`` or ``anthropic`` (or an override's provider).
        aliases: other exact names of this model.
        context_window: total tokens the model accepts, if known.
        max_output_tokens: the most output tokens one call may produce, if known.
        tokenizer: ``o200k_base``, ``cl100k_base`` or ``claude`` (no public tokenizer).
        source: where the price was read.
        checked: the date the price was last checked.
        note: why a price is what it is, where the sources disagreed.

    Example:
        >>> from llmcost.pricing import get_catalog
        >>> m = get_catalog().resolve("gpt-4o-2024-08-06")
        >>> (m.id, m.provider, m.tokenizer, m.rates["input"])
        ('gpt-4o', 'openai', 'o200k_base', Decimal('2.5'))
    """

    __slots__ = (
        "_cards",
        "_entry",
        "_lock",
        "_periods",
        "_plain",
        "_region_factor",
        "_scale",
        "aliases",
        "bedrock_regions",
        "checked",
        "context_window",
        "id",
        "max_output_tokens",
        "note",
        "provider",
        "source",
        "tokenizer",
    )

    def __init__(
        self,
        entry: ModelEntry,
        provider: str,
        *,
        scale: Decimal = _ONE,
        region_factor: Decimal = _ONE,
    ) -> None:
        self.id = entry.id
        self.provider = provider
        self.aliases: tuple[str, ...] = tuple(entry.aliases)
        self.context_window = entry.context_window
        self.max_output_tokens = entry.max_output_tokens
        self.tokenizer = entry.tokenizer
        self.source = entry.source
        self.checked = entry.checked
        self.note = entry.note
        #: Bedrock cross-region prefix (``us``, ``eu`` …) -> the multiplier AWS charges for it.
        self.bedrock_regions: dict[str, Decimal] = dict(entry.bedrock_regions or {})
        self._scale = scale
        # A Bedrock regional premium: token rates only (AWS does not mark up web search).
        self._region_factor = region_factor
        self._entry = entry
        latest = _fields_of(entry)
        # (until, period) oldest first; the latest period has no end.
        periods: list[tuple[datetime | None, _Period]] = []
        for old in entry.history:
            periods.append((_utc_midnight(old.until), _Period(latest | _fields_of(old))))
        periods.append((None, _Period(latest)))
        self._periods: tuple[tuple[datetime | None, _Period], ...] = tuple(periods)
        self._cards: dict[tuple[Any, ...], RateCard] = {}
        self._lock = threading.Lock()
        # The standard card of a single-period model: the hot path's shortcut (built lazily).
        self._plain: RateCard | None = None

    def __repr__(self) -> str:
        return f"ModelPrice(id={self.id!r}, provider={self.provider!r})"

    # --- public read-only views ---------------------------------------------------------

    @property
    def rates(self) -> dict[str, Decimal]:
        """Today's standard rates (USD per 1M tokens, fallbacks applied) and the search fee."""
        return self.card().as_dict()

    @property
    def long_context_threshold(self) -> int | None:
        """Input tokens above which today's standard call is priced at long-context rates."""
        tiers = self.card().tiers
        return tiers[-1][0] if tiers else None

    @property
    def batch_discounted(self) -> bool:
        """True when today's catalog has batch prices for this model."""
        return self._period(None).batch is not None

    @property
    def service_tiers(self) -> tuple[str, ...]:
        """The service tiers with their own prices today (e.g. ``flex``, ``priority``)."""
        return tuple(sorted(self._period(None).service_tiers))

    def card(
        self,
        *,
        at: datetime | None = None,
        batch: bool = False,
        service_tier: str | None = None,
        speed: str | None = None,
        inference_geo: str | None = None,
        data_residency: str | None = None,
    ) -> RateCard:
        """The rate card for a call with these options (memoized)."""
        return self._card(at, batch, service_tier, speed, inference_geo, data_residency)

    def _card(
        self,
        at: datetime | None,
        batch: bool,
        service_tier: str | None,
        speed: str | None,
        inference_geo: str | None,
        data_residency: str | None,
    ) -> RateCard:
        # card() with positional arguments: pricing.cost()'s path, once per priced call.
        index = 0 if len(self._periods) == 1 else self._period_index(at)
        key = (index, batch, service_tier, speed, inference_geo, data_residency)
        card = self._cards.get(key)
        if card is None:
            card = self._build_card(
                self._periods[index][1], batch, service_tier, speed, inference_geo, data_residency
            )
            with self._lock:
                if len(self._cards) >= _MEMO_LIMIT:
                    self._cards.clear()
                self._cards[key] = card
                if len(self._periods) == 1 and key == (0, False, None, None, None, None):
                    self._plain = card
        return card

    # --- internals -----------------------------------------------------------------------

    def _period_index(self, at: datetime | None) -> int:
        if at is None:
            at = datetime.now(timezone.utc)
        elif at.tzinfo is None:
            at = at.replace(tzinfo=timezone.utc)  # naive datetimes are taken as UTC
        for index, (until, _period) in enumerate(self._periods):
            if until is None or at < until:
                return index
        return len(self._periods) - 1  # pragma: no cover - the last period has no end

    def _period(self, at: datetime | None) -> _Period:
        index = 0 if len(self._periods) == 1 else self._period_index(at)
        return self._periods[index][1]

    def _build_card(
        self,
        period: _Period,
        batch: bool,
        service_tier: str | None,
        speed: str | None,
        inference_geo: str | None,
        data_residency: str | None,
    ) -> RateCard:
        # Products of exact decimals, in llmcost's own context: a caller's narrow context
        # must not round a rate that is then memoized for everyone.
        with localcontext(EXACT):
            return self._build_card_exact(
                period, batch, service_tier, speed, inference_geo, data_residency
            )

    def _build_card_exact(
        self,
        period: _Period,
        batch: bool,
        service_tier: str | None,
        speed: str | None,
        inference_geo: str | None,
        data_residency: str | None,
    ) -> RateCard:
        tier_name = (service_tier or "").strip().lower()
        if tier_name == "batch":  # Anthropic reports batch processing as a service tier
            batch, tier_name = True, ""
        variant: _schema.Variant | None = None
        if batch:
            variant = period.batch
        elif tier_name not in _STANDARD_TIERS:
            tiers = period.service_tiers
            variant = tiers.get(tier_name)
            # OpenAI serves service_tier="fast" as priority and reports it as priority.
            if variant is None and tier_name in ("fast", "priority"):
                variant = tiers.get("priority" if tier_name == "fast" else "fast")
            # A tier the model has no price for is served (and billed) as standard.

        factor = self._scale * self._region_factor
        if speed:
            factor *= period.speed.get(speed.strip().lower(), _ONE)
        if inference_geo:
            factor *= period.inference_geo.get(inference_geo.strip().lower(), _ONE)
        if data_residency:
            factor *= period.data_residency.get(data_residency.strip().lower(), _ONE)
        web_search = _tidy((period.web_search or ZERO) * self._scale)
        preview = period.web_search_preview
        web_search_preview = None if preview is None else _tidy(preview * self._scale)

        # Work on the rates as given (before fallbacks), so that a fallback such as "cache
        # reads cost the input rate" uses the variant's input rate, not the standard one.
        base = period.rates.model_dump(exclude_none=True)
        tiers_given = [
            (t.above_input_tokens, base | t.rates.model_dump(exclude_none=True))
            for t in period.tiers
        ]
        if variant is None:
            plain, tier_rates = base, tiers_given
        else:
            multiplier = variant.multiplier
            explicit = variant.rates.model_dump(exclude_none=True)
            plain = {key: value * multiplier for key, value in base.items()} | explicit
            if variant.tiers is None:
                tier_rates = [
                    (threshold, {key: value * multiplier for key, value in rates.items()})
                    for threshold, rates in tiers_given
                ]
            else:  # explicit variant tiers; a rate they omit is the variant's own rate
                tier_rates = [
                    (t.above_input_tokens, plain | t.rates.model_dump(exclude_none=True))
                    for t in variant.tiers
                ]

        def make(
            given: Mapping[str, Decimal], tier_cards: tuple[tuple[int, RateCard], ...]
        ) -> RateCard:
            return RateCard(
                web_search=web_search,
                web_search_preview=web_search_preview,
                web_search_tokens=period.web_search_tokens,
                tiers=tier_cards,
                **{key: _tidy(value * factor) for key, value in _card_rates(given).items()},
            )

        tier_cards = tuple(
            sorted(
                ((threshold, make(rates, ())) for threshold, rates in tier_rates),
                key=lambda p: -p[0],
            )
        )
        return make(plain, tier_cards)

    def _rescaled(self, factor: Decimal) -> ModelPrice:
        with localcontext(EXACT):
            scale = self._scale * factor
        return ModelPrice(
            self._entry, self.provider, scale=scale, region_factor=self._region_factor
        )


def _decode_error(source: str, exc: json.JSONDecodeError) -> CatalogError:
    return CatalogError(
        f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", source=source
    )


def _read_json(path: Path, source: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read catalog file: {exc}", source=source) from None
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise _decode_error(source, exc) from None


class Catalog:
    """A set of priced models with name matching. Build one with :func:`load_catalog`.

    Example:
        >>> from llmcost.pricing import get_catalog
        >>> catalog = get_catalog()
        >>> catalog.resolve("us.anthropic.claude-sonnet-4-5-20250929-v1:0").id
        'claude-sonnet-4-5'
        >>> catalog.resolve("no-such-model") is None
        True
    """

    def __init__(
        self,
        models: Iterable[ModelPrice],
        *,
        version: str,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.version = version
        self._models: dict[str, ModelPrice] = {}
        self._names: dict[str, ModelPrice] = {}
        for model in models:
            self._models[model.id] = model
        # Exact names: ids win over aliases; user aliases win over bundled aliases.
        for model in self._models.values():
            for alias in model.aliases:
                self._names.setdefault(alias.lower(), model)
        for model in self._models.values():
            self._names[model.id.lower()] = model
        self._user_aliases: dict[str, str] = dict(aliases or {})
        for alias, target in self._user_aliases.items():
            self._names[alias.lower()] = self._models[target]
        self._providers = frozenset(m.provider for m in self._models.values())
        self._memo: dict[tuple[str, str | None], ModelPrice | None] = {}
        self._regions: dict[tuple[str, str], ModelPrice] = {}

    def __repr__(self) -> str:
        return f"Catalog(version={self.version!r}, models={len(self._models)})"

    def __len__(self) -> int:
        return len(self._models)

    def models(self, provider: str | None = None) -> list[ModelPrice]:
        """Every model, or a provider's, sorted by provider then id."""
        wanted = _PROVIDER_ALIASES.get(provider.lower(), provider.lower()) if provider else None
        return sorted(
            (m for m in self._models.values() if wanted is None or m.provider == wanted),
            key=lambda m: (m.provider, m.id),
        )

    def prices_provider(self, provider: str) -> bool:
        """Whether some model of the catalog is priced under ``provider`` (or its alias).

        Example:
            >>> from llmcost.pricing import get_catalog
            >>> catalog = get_catalog()
            >>> catalog.prices_provider("azure.ai.openai"), catalog.prices_provider("groq")
            (True, False)
        """
        wanted = provider.strip().lower()
        return _PROVIDER_ALIASES.get(wanted, wanted) in self._providers

    def get(self, model_id: str) -> ModelPrice | None:
        """The model with exactly this catalog id."""
        return self._models.get(model_id)

    def resolve(self, name: str, provider: str | None = None) -> ModelPrice | None:
        """The model a name refers to, or None. Memoized per (name, provider).

        Tries, in order: the exact id or alias (user aliases included); the name without a
        provider prefix (``openai/``, ``anthropic/``); Bedrock ids (``anthropic.claude-…-v1:0``,
        ``us.anthropic.…``); Vertex ids (``claude-…@20250929``); and finally the name without
        a dated-snapshot suffix (``-20250929``, ``-2024-08-06``) or ``-latest``.
        """
        key = (name, provider)
        try:
            return self._memo[key]
        except KeyError:
            pass
        found = self._match(name, provider)
        if len(self._memo) >= _MEMO_LIMIT:  # bound memory if callers invent names
            self._memo.clear()
        self._memo[key] = found
        return found

    def is_known(self, name: str, provider: str | None = None) -> bool:
        """True when :meth:`resolve` finds a price for the name."""
        return self.resolve(name, provider) is not None

    def _candidates(self, name: str) -> list[str]:
        text = name.strip().lower()
        out = [text]
        if "/" in text:
            prefix, _, rest = text.partition("/")
            if prefix in _PROVIDER_ALIASES or prefix in self._providers:
                text = rest
                out.append(text)
        bedrock = _BEDROCK.match(text)
        if bedrock:
            text = bedrock.group("name")
            out.append(text)
        if "@" in text:  # Vertex: claude-sonnet-4-5@20250929
            stem, _, tag = text.partition("@")
            out.extend((f"{stem}-{tag}", stem))
            text = stem
        for candidate in list(out):
            for pattern in (_ANTHROPIC_DATE, _OPENAI_DATE):
                stripped = pattern.sub("", candidate)
                if stripped != candidate:
                    out.append(stripped)
            if candidate.endswith("-latest"):
                out.append(candidate[: -len("-latest")])
        return out

    def _match(self, name: str, provider: str | None) -> ModelPrice | None:
        wanted = None
        if provider:
            wanted = _PROVIDER_ALIASES.get(provider.strip().lower(), provider.strip().lower())
        for candidate in self._candidates(name):
            model = self._names.get(candidate)
            # A provider hint the catalog does not know (a gateway name) does not filter.
            if model is not None and (
                wanted is None or model.provider == wanted or wanted not in self._providers
            ):
                return self._regional(model, name) if model.bedrock_regions else model
        return None

    def _regional(self, model: ModelPrice, name: str) -> ModelPrice:
        """The model as billed through a Bedrock cross-region prefix (``us.anthropic.…``)."""
        bedrock = _BEDROCK.match(name.strip().lower().rpartition("/")[2])
        region: str | None = bedrock.group("region") if bedrock else None
        factor = model.bedrock_regions.get(region) if region else None
        if region is None or factor is None or factor == _ONE:
            return model
        key = (model.id, region)
        regional = self._regions.get(key)
        if regional is None:
            regional = self._regions[key] = ModelPrice(
                model._entry, model.provider, scale=model._scale, region_factor=factor
            )
        return regional


# --- loading -----------------------------------------------------------------------------


def _parse_provider_file(data: Any, source: str) -> list[ModelPrice]:
    pfile: _schema.ProviderFile = _schema.validate(_schema.ProviderFile, data, source=source)
    models = []
    seen: set[str] = set()
    for index, raw in enumerate(pfile.models):
        model_id = raw.get("id") if isinstance(raw, Mapping) else None
        merged = {**pfile.defaults, **raw} if isinstance(raw, Mapping) else raw
        entry: ModelEntry = _schema.validate(
            ModelEntry,
            merged,
            source=source,
            model=str(model_id) if model_id else f"models[{index}]",
        )
        if entry.id in seen:
            raise CatalogError("duplicate model id", source=source, model=entry.id, field="id")
        seen.add(entry.id)
        models.append(ModelPrice(entry, pfile.provider))
    return models


_bundled: Catalog | None = None
_bundled_lock = threading.Lock()


def bundled_catalog() -> Catalog:
    """The catalog shipped with llmcost (read once, on first use)."""
    global _bundled
    if _bundled is None:
        with _bundled_lock:
            if _bundled is None:
                models: list[ModelPrice] = []
                data_dir = resources.files("llmcost.pricing") / "data"
                for provider in _BUNDLED_PROVIDERS:
                    resource = data_dir / f"{provider}.json"
                    source = f"llmcost/pricing/data/{provider}.json"
                    try:
                        data = json.loads(resource.read_text(encoding="utf-8"), parse_float=Decimal)
                    except json.JSONDecodeError as exc:
                        raise _decode_error(source, exc) from None
                    models.extend(_parse_provider_file(data, source))
                _bundled = Catalog(models, version=BUNDLED_VERSION)
    return _bundled


_unpriced: dict[str, str] | None = None


def unpriced_on_purpose() -> dict[str, str]:
    """Model ids the SDKs name that llmcost deliberately does not price, with the reason.

    Image, speech, transcription, video and moderation models (endpoints llmcost does not
    instrument, or not token-billed), and models without a public price. A call to one is
    recorded unpriced, never at $0. The list is ``llmcost/pricing/data/unpriced.json``.

    Example:
        >>> "dall-e-3" in unpriced_on_purpose(), "gpt-4o" in unpriced_on_purpose()
        (True, False)
    """
    global _unpriced
    if _unpriced is None:
        resource = resources.files("llmcost.pricing") / "data" / "unpriced.json"
        data = json.loads(resource.read_text(encoding="utf-8"))
        _unpriced = {
            model_id: str(group["reason"]) for group in data["groups"] for model_id in group["ids"]
        }
    return dict(_unpriced)


def _override_entry(
    base: ModelPrice | None, name: str, change: ModelOverride, source: str
) -> ModelEntry:
    """Merge an override into the model it patches (or build a new model) as a ModelEntry."""
    patch = change.model_dump(exclude_none=True, exclude={"provider", "scale"})
    if not change.aliases:
        patch.pop("aliases", None)
    if base is None:
        if change.rates is None or change.rates.input is None:
            raise CatalogError(
                "a model new to the catalog needs rates with at least 'input' "
                "(or name an existing model to patch it)",
                source=source,
                model=name,
                field="rates.input",
            )
        patch.setdefault("source", source)
        patch.setdefault("checked", date.today())
        return _schema.validate(ModelEntry, {"id": name, **patch}, source=source, model=name)
    # Existing model: patch its validated entry. History periods keep their own values and
    # inherit patched fields they do not set themselves.
    current = base._entry.model_dump(exclude_none=True)
    if "rates" in patch:  # rates merge key by key; other fields replace
        patch["rates"] = current["rates"] | patch["rates"]
    if "aliases" in patch:
        patch["aliases"] = list(dict.fromkeys([*current["aliases"], *patch["aliases"]]))
    return _schema.validate(ModelEntry, current | patch, source=source, model=base.id)


def _override_version(data: Mapping[str, Any], layer: OverrideFile) -> str:
    if layer.version:
        return layer.version
    digest = hashlib.sha256(
        json.dumps(data, sort_keys=True, default=str).encode("utf-8")
    ).hexdigest()
    return f"override-{digest[:8]}"


def _load_directory(path: Path, base: Catalog) -> Catalog:
    """A catalog whose providers with a ``<provider>.json`` file in ``path`` come from it."""
    files = sorted(path.glob("*.json"))
    if not files:
        raise CatalogError("the directory holds no <provider>.json price files", source=str(path))
    models: list[ModelPrice] = []
    digest = hashlib.sha256()
    newest: date | None = None
    replaced: set[str] = set()
    for file in files:
        if file.name == "unpriced.json":  # the bundled list of unpriced ids, not prices
            continue
        data = _read_json(file, str(file))
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
        parsed = _parse_provider_file(data, str(file))
        provider = str(data["provider"]).lower()
        if provider in replaced:
            raise CatalogError(f"a second file for provider {provider!r}", source=str(file))
        replaced.add(provider)
        models.extend(parsed)
        checked = _schema.validate(_schema.ProviderFile, data, source=str(file)).checked
        newest = checked if newest is None or checked > newest else newest
    models.extend(m for m in base.models() if m.provider not in replaced)
    day = newest.strftime("%Y.%m.%d") if newest else base.version
    return Catalog(models, version=f"{day}+dir-{digest.hexdigest()[:8]}")


def load_catalog(
    source: str | os.PathLike[str] | Mapping[str, Any], *, base: Catalog | None = None
) -> Catalog:
    """Build a catalog from an override layer (a JSON file or a mapping) over ``base``, or
    from a directory of provider files (a newer catalog).

    ``base`` defaults to the bundled catalog. The layer can scale a provider or a model
    (contract discounts), replace rates, add models, and declare aliases such as an Azure
    deployment name. A directory holds ``<provider>.json`` files in the bundled format (a
    copy of ``llmcost/pricing/data`` with newer prices): each file replaces that provider's
    models in ``base``; providers without a file keep ``base``'s. See docs/pricing.md.

    Args:
        source: path of a JSON override file or of a directory of provider files, or an
            override layer as a mapping.
        base: the catalog to layer on; the bundled catalog when omitted.

    Returns:
        A new :class:`Catalog`; ``base`` is not changed.

    Raises:
        CatalogError: the layer is malformed; the message names the file, model and field.

    Example:
        >>> catalog = load_catalog({"scale": {"openai": "0.8"}, "aliases": {"prod-4o": "gpt-4o"}})
        >>> catalog.resolve("prod-4o").rates["input"]
        Decimal('2')
    """
    if base is None:
        base = bundled_catalog()
    if isinstance(source, Mapping):
        label = "<override mapping>"
        data: Any = source
    else:
        path = Path(os.fspath(source))
        if path.is_dir():
            return _load_directory(path, base)
        label = str(path)
        data = _read_json(path, label)
    layer: OverrideFile = _schema.validate(OverrideFile, data, source=label)

    by_id: dict[str, ModelPrice] = {m.id: m for m in base.models()}
    patched: dict[str, tuple[ModelEntry, str, Decimal]] = {}
    for name, change in layer.models.items():
        target = base.resolve(name, change.provider)
        if target is None and change.provider is None:
            raise CatalogError(
                "not in the catalog; a new model needs 'provider' and 'rates'",
                source=label,
                model=name,
                field="provider",
            )
        entry = _override_entry(target, name, change, label)
        provider = target.provider if target is not None else str(change.provider).lower()
        scale = change.scale if change.scale is not None else _ONE
        if entry.id in patched:
            raise CatalogError(
                f"two override entries patch the same model {entry.id!r}",
                source=label,
                model=name,
            )
        patched[entry.id] = (entry, provider, scale)

    provider_scale = {k.lower(): v for k, v in layer.scale.items()}
    models: list[ModelPrice] = []
    for model_id in dict.fromkeys([*by_id, *patched]):
        if model_id in patched:
            entry, provider, model_scale = patched[model_id]
            inherited = by_id[model_id]._scale if model_id in by_id else _ONE
            with localcontext(EXACT):
                scale = inherited * model_scale * provider_scale.get(provider, _ONE)
            model = ModelPrice(entry, provider, scale=scale)
        else:
            old = by_id[model_id]
            factor = provider_scale.get(old.provider, _ONE)
            model = old if factor == _ONE else old._rescaled(factor)
        models.append(model)

    known = {m.id: m for m in models}
    aliases: dict[str, str] = dict(base._user_aliases)
    for alias, target_name in layer.aliases.items():
        interim = Catalog(models, version="", aliases={})
        target = interim.resolve(target_name)
        if target is None:
            raise CatalogError(
                f"alias target {target_name!r} is not in the catalog",
                source=label,
                model=alias,
                field="aliases",
            )
        aliases[alias] = known[target.id].id
    version = f"{base.version}+{_override_version(data, layer)}"
    return Catalog(models, version=version, aliases=aliases)
