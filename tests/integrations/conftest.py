"""Shared by the integration tests: stream endings a test handed off end with that test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmcost import _pending


@pytest.fixture(autouse=True)
def _drain_stream_endings() -> Iterator[None]:
    """Run the endings garbage collection handed off during the test, before llmcost resets,
    so they never surface in a later test's first call."""
    yield
    _pending.run_pending()
