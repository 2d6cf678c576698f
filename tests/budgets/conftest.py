"""Fixtures for budget and policy tests: llmcost configured and the SDKs instrumented."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import llmcost
from llmcost.budgets import _admission


@pytest.fixture(autouse=True)
def _forget_once_only_warnings() -> Iterator[None]:
    """Policy and estimator warnings are logged once per process: reset them per test."""
    _admission.forget_warnings()
    yield
    _admission.forget_warnings()


@pytest.fixture
def sink() -> llmcost.sinks.MemorySink:
    """llmcost configured with one MemorySink and both SDKs instrumented."""
    memory = llmcost.sinks.MemorySink()
    llmcost.configure(sinks=[memory])
    llmcost.instrument()
    return memory
