"""A pytest plugin that turns llmcost on inside an SDK's own test suite, and counts its errors.

The conformance harness (``scripts/sdk-suites.sh``) runs each SDK's suite twice: plain, and
with ``-p llmcost_on`` (this module, found through ``PYTHONPATH``). At session start it does what
a user does, ``llmcost.configure(sinks=[MemorySink()])`` and ``llmcost.instrument()``, and lets
llmcost swallow its internal errors as in production. Around each test it reads
``llmcost.stats()`` and notes which test made llmcost count an internal error, of which kind.

Each pytest process (the controller and every xdist worker) writes what it saw to a JSON file
in the folder named by ``LLMCOST_SDK_SUITES_OUT``, after every test (some suites' workers never
reach ``pytest_unconfigure``: they are stopped while their session ends), which the harness
adds up:
``{"instrumented": [...], "records": N, "internal_errors": {kind: n}, "tests": {nodeid: {kind:
n}}}``. Without that variable the plugin prints its tally at the end of the session instead.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

import llmcost
from llmcost import errors

_PREFIX = "internal_errors."
_state: dict[str, Any] = {}


def _internal_errors() -> dict[str, int]:
    counts = llmcost.stats()
    errors_by_kind = {
        name.removeprefix(_PREFIX): value
        for name, value in counts.items()
        if name.startswith(_PREFIX) and value
    }
    if not errors_by_kind and counts.get("internal_errors"):
        errors_by_kind["(unnamed)"] = counts["internal_errors"]
    return errors_by_kind


def pytest_configure(config: pytest.Config) -> None:
    errors.RAISE_INTERNAL_ERRORS = False  # production behaviour: count, never raise
    sink = llmcost.sinks.MemorySink(max_records=1000)
    llmcost.configure(sinks=[sink])
    _state.update(sink=sink, instrumented=llmcost.instrument(), tests={})


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    before = _internal_errors()
    try:
        return (yield)
    finally:
        after = _internal_errors()
        new = {
            kind: n - before.get(kind, 0) for kind, n in after.items() if n > before.get(kind, 0)
        }
        if new:
            _state["tests"][item.nodeid] = new
        _save()


def _tally() -> dict[str, Any]:
    sink = _state["sink"]
    return {
        "instrumented": _state["instrumented"],
        "records": len(sink) + sink.dropped,
        "internal_errors": _internal_errors(),
        "tests": _state["tests"],
    }


def _save() -> None:
    out = os.environ.get("LLMCOST_SDK_SUITES_OUT")
    if not out:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    path = Path(out, f"llmcost-{worker}-{os.getpid()}.json")
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(_tally()))
    scratch.replace(path)  # atomic: the harness never reads half a file


def pytest_unconfigure(config: pytest.Config) -> None:
    if "sink" not in _state:
        return
    if os.environ.get("LLMCOST_SDK_SUITES_OUT"):
        _save()
    else:
        print(f"\nllmcost_on: {json.dumps(_tally(), indent=1)}")
    llmcost.uninstrument()
