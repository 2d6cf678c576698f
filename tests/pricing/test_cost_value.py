"""Cost, the value pricing.cost() returns: immutable, compared and hashed by its fields, the
fields (and only they) in its instance dict, which the recorder lays into a CostRecord."""

from __future__ import annotations

import dataclasses
import pickle
from decimal import Decimal

import pytest

from llmcost.pricing import cost
from llmcost.types import Cost, CostRecord, Usage

FIELDS = [
    "input_cost_usd",
    "cache_read_cost_usd",
    "cache_write_cost_usd",
    "output_cost_usd",
    "tool_cost_usd",
    "total_cost_usd",
    "priced",
    "priced_as",
    "catalog_version",
]


def _priced() -> Cost:
    return cost("gpt-4o", Usage(input_tokens=1200, cache_read_tokens=200, output_tokens=300))


def test_fields_are_the_public_ones_in_order_and_nothing_else() -> None:
    """The dataclass fields, the instance dict and CostRecord's money fields agree."""
    c = _priced()
    assert [f.name for f in dataclasses.fields(Cost)] == FIELDS
    assert list(vars(c)) == FIELDS
    assert set(FIELDS) <= set(CostRecord.model_fields)
    assert vars(c) == {
        "input_cost_usd": Decimal("0.0025"),
        "cache_read_cost_usd": Decimal("0.00025"),
        "cache_write_cost_usd": Decimal(0),
        "output_cost_usd": Decimal("0.003"),
        "tool_cost_usd": Decimal(0),
        "total_cost_usd": Decimal("0.00575"),
        "priced": True,
        "priced_as": "gpt-4o",
        "catalog_version": c.catalog_version,
    }


def test_cost_is_immutable() -> None:
    """Setting or deleting a field raises; the value is unchanged."""
    c = _priced()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.total_cost_usd = Decimal(0)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del c.priced_as  # type: ignore[misc]
    assert c.total_cost_usd == Decimal("0.00575")


def test_equal_and_hashed_by_fields() -> None:
    """Two costs of the same call are equal and hash alike; another price is not equal."""
    a, b = _priced(), _priced()
    assert a is not b
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != cost("gpt-4o", Usage(input_tokens=1201, output_tokens=300))
    assert a != vars(a)


def test_keyword_construction_replace_pickle_and_repr() -> None:
    """Built by keyword (defaults: unpriced), replaced, pickled, and shown field by field."""
    c = Cost(total_cost_usd=Decimal("1.5"), priced=True, priced_as="m", catalog_version="v")
    assert c.input_cost_usd is None
    assert dataclasses.replace(c, priced_as="n").priced_as == "n"
    assert pickle.loads(pickle.dumps(c)) == c
    assert repr(Cost.unpriced("v1")) == (
        "Cost(input_cost_usd=None, cache_read_cost_usd=None, cache_write_cost_usd=None, "
        "output_cost_usd=None, tool_cost_usd=None, total_cost_usd=None, priced=False, "
        "priced_as=None, catalog_version='v1')"
    )
    with pytest.raises(TypeError, match="total_cost"):
        Cost(total_cost=Decimal(1))  # type: ignore[call-arg]


def test_unpriced_is_none_everywhere() -> None:
    """An unknown model's cost: every amount None, never $0."""
    c = cost("no-such-model-anywhere", Usage(input_tokens=10, output_tokens=5))
    assert c == Cost.unpriced(c.catalog_version)
    assert c.priced is False
    assert all(value is None for name, value in vars(c).items() if name.endswith("_usd"))


def test_model_dump_is_kept() -> None:
    """model_dump() (of the pydantic Cost of earlier releases) gives the fields, minus
    ``exclude``."""
    c = _priced()
    assert c.model_dump() == vars(c)
    assert c.model_dump() is not vars(c)
    dumped = c.model_dump(exclude={"catalog_version", "priced"})
    assert list(dumped) == [name for name in FIELDS if name not in ("catalog_version", "priced")]
