"""Pricing: the bundled price catalog, user override layers, model matching and exact cost math.

Example:
    >>> from llmcost.pricing import cost
    >>> from llmcost.types import Usage
    >>> c = cost("gpt-4o", Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=100))
    >>> c.input_cost_usd, c.cache_read_cost_usd, c.output_cost_usd, c.total_cost_usd
    (Decimal('0.002'), Decimal('0.00025'), Decimal('0.001'), Decimal('0.00325'))

See docs/pricing.md for how a price is computed and how to override it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from llmcost.pricing._catalog import (
    Catalog,
    ModelPrice,
    bundled_catalog,
    load_catalog,
    unpriced_on_purpose,
)
from llmcost.pricing._diff import PriceChange, diff_catalogs
from llmcost.pricing._math import RateCard, plain_total, price
from llmcost.types import Cost, Usage

__all__ = [
    "Catalog",
    "ModelPrice",
    "PriceChange",
    "RateCard",
    "cost",
    "diff_catalogs",
    "get_catalog",
    "is_known",
    "load_catalog",
    "plain_total",
    "unpriced_on_purpose",
    "use_catalog",
]

_active: Catalog | None = None
_active_lock = threading.Lock()


def get_catalog() -> Catalog:
    """The active catalog: the bundled data plus any override layer set by :func:`use_catalog`.

    Example:
        >>> get_catalog().resolve("claude-sonnet-4-5@20250929").id
        'claude-sonnet-4-5'
    """
    catalog = _active
    if catalog is None:
        return bundled_catalog()
    return catalog


def use_catalog(source: Catalog | str | os.PathLike[str] | Mapping[str, Any] | None) -> Catalog:
    """Set the active catalog and return it; ``None`` restores the bundled catalog.

    A path or mapping is an override layer over the bundled data, a directory a newer
    catalog (see :func:`load_catalog`). ``llmcost.configure(catalog=...)`` calls this; calling
    it again while the application runs swaps the prices for every later call at once (each
    record names the ``catalog_version`` it was priced with): a team can ship new prices as
    a file and load it without a redeploy.

    Example:
        >>> use_catalog({"models": {"gpt-4o": {"scale": "0.5"}}}).resolve("gpt-4o").rates["input"]
        Decimal('1.25')
        >>> use_catalog(None).version == get_catalog().version
        True
    """
    global _active
    catalog = source if source is None or isinstance(source, Catalog) else load_catalog(source)
    with _active_lock:
        _active = catalog
    return get_catalog()


def is_known(model: str, provider: str | None = None) -> bool:
    """True when the active catalog has a price for ``model``.

    Example:
        >>> is_known("anthropic.claude-haiku-4-5-20251001-v1:0"), is_known("my-own-model")
        (True, False)
    """
    return get_catalog().resolve(model, provider) is not None


def cost(
    model: str,
    usage: Usage,
    *,
    provider: str | None = None,
    at: datetime | None = None,
    batch: bool = False,
    service_tier: str | None = None,
    speed: str | None = None,
    inference_geo: str | None = None,
    data_residency: str | None = None,
) -> Cost:
    """The exact cost of one call, split by what was billed.

    Never raises for an unknown model and never prices one at $0: the result is
    ``Cost.unpriced(version)`` (every amount None, ``priced=False``), and the caller applies
    its ``unknown_model`` policy.

    Args:
        model: the model name as sent or reported (ids, snapshots, prefixes, Bedrock and
            Vertex ids and aliases all resolve).
        usage: the token counts the provider billed.
        provider: a provider hint (``openai``, ``anthropic``, ``azure``, ``bedrock`` …).
        at: when the call happened (naive = UTC); selects prices before dated changes.
        batch: the call went through a batch API.
        service_tier: the tier the provider says it served (``flex``, ``priority`` …).
        speed: Anthropic speed mode (``fast``).
        inference_geo: Anthropic inference geography (``us``).
        data_residency: OpenAI data-residency region (``eu``, ``us``).

    Returns:
        A :class:`~llmcost.types.Cost` whose ``total_cost_usd`` is the exact sum of its parts.

    Example:
        >>> cost("claude-sonnet-4-5", Usage(input_tokens=2000, output_tokens=500)).total_cost_usd
        Decimal('0.0135')
    """
    catalog = _active if _active is not None else bundled_catalog()
    found = catalog._memo.get((model, provider))
    if found is None:
        found = catalog.resolve(model, provider)
        if found is None:
            return Cost.unpriced(catalog.version)
    # The hot path: a standard call to a model without dated prices needs no key at all.
    card = found._plain
    if (
        card is None
        or batch
        or service_tier is not None
        or speed is not None
        or inference_geo is not None
        or data_residency is not None
    ):
        card = found._card(at, batch, service_tier, speed, inference_geo, data_residency)
    return price(card, usage, found.id, catalog.version)
