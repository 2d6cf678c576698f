"""Each private SDK attribute llmcost reads, taken away in turn: llmcost degrades visibly.

An SDK release that renames one of them must never switch recording off in silence: the call
is still recorded (estimated or with a field missing), ``seams_missing.<name>`` is counted and
one warning names the attribute. The rename is simulated by pointing llmcost's seam at a name
the SDK does not have, so the SDK itself keeps working as before.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

import llmcost
from llmcost.integrations import _seams
from llmcost.testing import fake_anthropic_client, fake_openai_client

CHAT: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "Hello"}],
}
ASK: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "Hello"}],
}


@pytest.fixture
def renamed(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``renamed(name)``: the SDK no longer has the attribute behind seam ``name``."""
    _seams.forget_warnings()

    def rename(name: str) -> None:
        attribute, consequence = _seams.SEAMS[name]
        monkeypatch.setitem(_seams.SEAMS, name, (f"{attribute}_renamed", consequence))

    yield rename
    _seams.forget_warnings()


@pytest.fixture
def sink() -> llmcost.sinks.MemorySink:
    sink = llmcost.sinks.MemorySink()
    llmcost.configure(sinks=[sink])
    llmcost.instrument()
    return sink


def _warned(caplog: pytest.LogCaptureFixture, attribute: str) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "llmcost" and f"{attribute}_renamed" in record.getMessage()
    ]


def test_every_seam_is_listed_with_what_degrades() -> None:
    """The one list of private attributes: each names its attribute and its consequence."""
    assert set(_seams.SEAMS) == {
        "client",
        "data_residency",
        "http_client",
        "transport",
        "request_id",
        "raw_stream",
        "genai_api_client",
    }
    for attribute, consequence in _seams.SEAMS.values():
        assert attribute.startswith("_")
        assert consequence


def test_without_the_request_id_attribute_calls_are_recorded_without_it(
    sink: llmcost.sinks.MemorySink, renamed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    renamed("request_id")
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        fake_openai_client().chat.completions.create(**CHAT)
        fake_openai_client().chat.completions.create(**CHAT)
    records = sink.records
    assert len(records) == 2
    assert all(record.request_id is None and record.priced for record in records)
    assert llmcost.stats()["seams_missing.request_id"] == 2
    assert len(_warned(caplog, "_request_id")) == 1  # once, not per call


@pytest.mark.parametrize(
    ("seam", "attribute"), [("transport", "_transport"), ("http_client", "_client")]
)
def test_without_the_transport_attributes_parsed_responses_are_not_marked_replayed(
    sink: llmcost.sinks.MemorySink,
    renamed: Any,
    caplog: pytest.LogCaptureFixture,
    seam: str,
    attribute: str,
) -> None:
    renamed(seam)
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        fake_anthropic_client().messages.create(**ASK)
    [record] = sink.records
    assert record.replayed is False
    assert record.request_id is not None  # everything else is still there
    assert llmcost.stats()[f"seams_missing.{seam}"] >= 1
    assert _warned(caplog, attribute)


def test_without_the_client_attribute_openai_streams_are_estimated(
    sink: llmcost.sinks.MemorySink, renamed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """No client, no host: llmcost cannot know the official API is asked, so it does not
    change the request and estimates the stream's usage instead (estimated=True)."""
    renamed("client")
    client = fake_openai_client()
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        chunks = list(client.chat.completions.create(**CHAT, stream=True))
    assert chunks
    [record] = sink.records
    assert record.estimated is True
    assert record.input_tokens > 0
    assert record.output_tokens > 0
    assert llmcost.stats()["seams_missing.client"] >= 1
    assert _warned(caplog, "_client")


def test_without_the_data_residency_attribute_the_host_still_implies_it(
    sink: llmcost.sinks.MemorySink, renamed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import inspect

    import openai

    if "data_residency" not in inspect.signature(openai.OpenAI).parameters:
        pytest.skip(f"openai {openai.__version__} has no data_residency option")
    renamed("data_residency")
    client = fake_openai_client(base_url="https://eu.api.openai.com/v1")
    with caplog.at_level(logging.WARNING, logger="llmcost"):
        client.chat.completions.create(**CHAT)
    [record] = sink.records
    assert record.data_residency == "eu"
    assert llmcost.stats()["seams_missing.data_residency"] >= 1
    assert _warned(caplog, "_data_residency")


def test_without_the_raw_stream_attribute_the_anthropic_helper_is_recorded_from_its_snapshot(
    sink: llmcost.sinks.MemorySink, renamed: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The stream() helper's events cannot be watched: the record comes from the helper's
    public final message, marked estimated."""
    renamed("raw_stream")
    client = fake_anthropic_client(usage={"input_tokens": 300, "output_tokens": 40}, text="hi")
    with (
        caplog.at_level(logging.WARNING, logger="llmcost"),
        client.messages.stream(**ASK) as stream,
    ):
        assert stream.get_final_text() == "hi"
    [record] = sink.records
    assert record.estimated is True
    assert (record.input_tokens, record.output_tokens) == (300, 40)
    assert llmcost.stats()["seams_missing.raw_stream"] == 1
    assert _warned(caplog, "_raw_stream")


def test_without_the_raw_stream_attribute_an_openai_helper_is_still_recorded(
    sink: llmcost.sinks.MemorySink, renamed: Any
) -> None:
    renamed("raw_stream")
    client = fake_openai_client()
    with client.chat.completions.stream(**CHAT) as stream:
        for _event in stream:
            pass
    llmcost.flush(timeout=5)
    [record] = sink.records
    assert record.priced is True
