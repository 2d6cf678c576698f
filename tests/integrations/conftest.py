"""Shared by the integration tests: stream endings a test handed off end with that test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import llmcost


@pytest.fixture(autouse=True)
def _drain_stream_endings() -> Iterator[None]:
    """Run the endings garbage collection handed off during the test, before llmcost resets,
    so they never surface in a later test's first call."""
    yield
    llmcost.flush(timeout=5.0)
