"""Suite-wide rules: internal errors fail tests, and every test starts from a clean llmcost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import llmcost
from llmcost import errors


@pytest.fixture(autouse=True)
def _llmcost_clean_state() -> Iterator[None]:
    """Turn swallowed internal errors into failures, and undo all llmcost state afterwards."""
    previous = errors.RAISE_INTERNAL_ERRORS
    errors.RAISE_INTERNAL_ERRORS = True
    llmcost.reset()
    try:
        yield
    finally:
        errors.RAISE_INTERNAL_ERRORS = previous
        llmcost.reset()


@pytest.fixture
def memory_sink() -> llmcost.sinks.MemorySink:
    """llmcost configured with one MemorySink, which the test reads."""
    sink = llmcost.sinks.MemorySink()
    llmcost.configure(sinks=[sink])
    return sink


@pytest.fixture
def swallow_internal_errors() -> Iterator[None]:
    """Let internal errors be swallowed as in production, for tests of that very behaviour."""
    errors.RAISE_INTERNAL_ERRORS = False
    yield
    errors.RAISE_INTERNAL_ERRORS = True
