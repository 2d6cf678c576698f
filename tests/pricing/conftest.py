"""Pricing tests: every test starts and ends with the bundled catalog active."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmcost.pricing import use_catalog


@pytest.fixture(autouse=True)
def _bundled_catalog() -> Iterator[None]:
    use_catalog(None)
    yield
    use_catalog(None)
