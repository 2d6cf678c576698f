"""What a newer catalog or an override layer would change: price by price, model by model.

``llmcost prices diff`` prints this; it compares the rate cards each catalog resolves today
(fallbacks applied, so a change in a fallback shows where it bites), for the standard call,
the batch variant, each service tier either catalog prices, and the long-context tier.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmcost.pricing._catalog import Catalog, ModelPrice
    from llmcost.pricing._math import RateCard

__all__ = ["PriceChange", "diff_catalogs"]

_VARIANT_RATES = ("input", "cache_read", "cache_write", "output")


@dataclass(frozen=True)
class PriceChange:
    """One price that differs between two catalogs.

    ``dimension`` is a rate-card name (``input``, ``cache_read``, ``web_search_per_request``
    …), prefixed by its variant (``batch.``, ``service_tier.priority.``, ``long.``);
    ``model`` (with ``old``/``new`` None) when the model is added or removed.
    """

    provider: str
    model: str
    dimension: str
    old: Decimal | None
    new: Decimal | None

    @property
    def kind(self) -> str:
        """``added``, ``removed`` or ``changed``."""
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "changed"


def _card_prices(prefix: str, card: RateCard, names: tuple[str, ...] | None) -> dict[str, Decimal]:
    rates = card.as_dict()
    return {
        f"{prefix}{name}": value for name, value in rates.items() if names is None or name in names
    }


def _prices(model: ModelPrice, tiers: set[str], at: datetime | None) -> dict[str, Decimal]:
    standard = model.card(at=at)
    prices = _card_prices("", standard, None)
    if standard.tiers:
        threshold, long = standard.tiers[-1]
        prices["long.above_input_tokens"] = Decimal(threshold)
        prices.update(_card_prices("long.", long, _VARIANT_RATES))
    prices.update(_card_prices("batch.", model.card(at=at, batch=True), _VARIANT_RATES))
    for tier in sorted(tiers):
        card = model.card(at=at, service_tier=tier)
        prices.update(_card_prices(f"service_tier.{tier}.", card, _VARIANT_RATES))
    return prices


def diff_catalogs(
    old: Catalog, new: Catalog, *, provider: str | None = None, at: datetime | None = None
) -> Iterator[PriceChange]:
    """Every price that differs between ``old`` and ``new``, by provider, model, dimension.

    Example:
        >>> from llmcost.pricing import get_catalog, load_catalog
        >>> newer = load_catalog({"models": {"gpt-4o": {"rates": {"input": "2"}}}})
        >>> [(c.model, c.dimension, c.old, c.new) for c in diff_catalogs(get_catalog(), newer)
        ...  if c.dimension == "input"]
        [('gpt-4o', 'input', Decimal('2.5'), Decimal('2'))]
    """
    before = {m.id: m for m in old.models(provider)}
    after = {m.id: m for m in new.models(provider)}
    for model_id in sorted(
        before.keys() | after.keys(), key=lambda i: ((before.get(i) or after[i]).provider, i)
    ):
        mine, theirs = before.get(model_id), after.get(model_id)
        if mine is None or theirs is None:
            present = theirs or mine
            assert present is not None
            yield PriceChange(
                present.provider,
                model_id,
                "model",
                None if mine is None else Decimal(1),
                None if theirs is None else Decimal(1),
            )
            continue
        tiers = set(mine.service_tiers) | set(theirs.service_tiers)
        a, b = _prices(mine, tiers, at), _prices(theirs, tiers, at)
        for dimension in sorted(a.keys() | b.keys()):
            if a.get(dimension) != b.get(dimension):
                yield PriceChange(
                    theirs.provider, model_id, dimension, a.get(dimension), b.get(dimension)
                )
