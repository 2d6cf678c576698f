"""A clock replaced for someone else's event loop does not stop llmcost's delivery thread.

anthropic's own test suite (seen by the conformance harness) replaces ``time.monotonic`` with
``anyio.current_time``, which raises outside its event loop's thread, while the SDK's calls are
recorded: the delivery thread read that clock and died ("Exception in thread
llmcost-delivery"), and nothing was delivered until the clock was back.
"""

from __future__ import annotations

import threading
import time
from unittest import mock

import llmcost
from llmcost.sinks import CallbackSink


def loop_only_clock() -> float:
    raise RuntimeError("not on the event loop's thread")


def test_records_are_delivered_while_time_monotonic_is_replaced_by_a_loop_only_clock() -> None:
    """Records made while ``time.monotonic`` raises on every thread but one still reach a
    sink on the delivery thread, and that thread lives on to deliver the next ones."""
    delivered: list[str] = []
    arrived = threading.Event()

    def collect(record: llmcost.CostRecord) -> None:
        delivered.append(record.model)
        arrived.set()

    llmcost.configure(sinks=[CallbackSink(collect)])
    llmcost.record_usage(provider="openai", model="gpt-4o", input_tokens=1, output_tokens=1)
    assert arrived.wait(5)  # the delivery thread is running
    arrived.clear()
    with mock.patch("time.monotonic", loop_only_clock):
        llmcost.record_usage(
            provider="openai", model="gpt-4o-mini", input_tokens=10, output_tokens=5
        )
        assert arrived.wait(5), "the record made under the replaced clock was not delivered"
    arrived.clear()
    llmcost.record_usage(provider="openai", model="gpt-4.1", input_tokens=3, output_tokens=2)
    assert arrived.wait(5), "the delivery thread did not survive the replaced clock"
    assert delivered == ["gpt-4o", "gpt-4o-mini", "gpt-4.1"]
    assert time.monotonic() > 0  # the real clock is back
