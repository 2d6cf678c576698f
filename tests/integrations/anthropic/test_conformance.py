"""Replay real recorded Anthropic responses (../shared, when present) through the real client.

Each interaction's response body and headers are served by an ``httpx2.MockTransport``; the
record must carry the usage, request id, message id and model that the recording holds. The
expected values are read from the recording here, independently of the integration's code.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import warnings
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

import llmcost

CASSETTES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "real-cassettes"
FILES = sorted(CASSETTES.glob("*/*anthropic*.yaml")) if CASSETTES.is_dir() else []
_DROPPED_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}


def _interactions() -> list[Any]:
    if not FILES:
        if os.environ.get("CI") == "true":  # CI must run them: the test below then fails
            return [pytest.param(None, None, id="cassettes-absent")]
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"{CASSETTES} is absent"))]
    yaml = pytest.importorskip("yaml")
    found = []
    for path in FILES:
        for index, interaction in enumerate(yaml.safe_load(path.read_text())["interactions"]):
            found.append(pytest.param(interaction, index, id=f"{path.stem}-{index}"))
    return found


def _body_text(interaction: dict[str, Any]) -> str:
    body = interaction["response"]["body"]["string"]
    if isinstance(body, bytes):
        with contextlib.suppress(OSError):  # not every recorded body is gzip
            body = gzip.decompress(body)
        return str(body.decode())
    return str(body)


def _header(headers: dict[str, Any], name: str) -> str | None:
    for key, values in headers.items():
        if key.lower() == name:
            return str(values[0])
    return None


def _expected(body: str) -> dict[str, Any]:
    """Usage, id and model as the recording states them (stream: last value of each field)."""
    if not body.lstrip().startswith("event:"):
        message = json.loads(body)
        return {"id": message["id"], "model": message["model"], "usage": message["usage"]}
    usage: dict[str, Any] = {}
    found: dict[str, Any] = {}
    for line in body.splitlines():
        if not line.startswith("data:"):
            continue
        event = json.loads(line[5:])
        if event["type"] == "message_start":
            found = {"id": event["message"]["id"], "model": event["message"]["model"]}
            usage.update(event["message"]["usage"])
        elif event["type"] == "message_delta":
            usage.update({k: v for k, v in event["usage"].items() if v is not None})
    return {**found, "usage": usage}


@pytest.mark.parametrize(("interaction", "index"), _interactions())
def test_recorded_response_gives_the_recorded_usage_ids_and_model(
    sink: llmcost.sinks.MemorySink, interaction: dict[str, Any], index: int
) -> None:
    """The CostRecord of a replayed recording holds the recording's numbers."""
    if interaction is None:
        pytest.fail(f"CI=true but the conformance cassettes are absent: {CASSETTES}")
    response = interaction["response"]
    body = _body_text(interaction)
    headers = {
        key: str(values[0])
        for key, values in response["headers"].items()
        if key.lower() not in _DROPPED_HEADERS
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(response["status"]["code"], headers=headers, content=body.encode())

    client = anthropic.Anthropic(
        api_key="sk-ant-test-key",
        base_url="https://api.anthropic.com",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    request = json.loads(interaction["request"]["body"])
    resource = (
        client.beta.messages if "beta=true" in interaction["request"]["uri"] else client.messages
    )
    with warnings.catch_warnings():
        # Recordings name models the SDK now flags as deprecated.
        warnings.simplefilter("ignore", DeprecationWarning)
        if request.pop("stream", False):
            with resource.stream(**request) as stream:
                stream.until_done()
        else:
            resource.create(**request)

    expected = _expected(body)
    usage = expected["usage"]
    reads = usage.get("cache_read_input_tokens") or 0
    writes = usage.get("cache_creation_input_tokens") or 0
    [record] = sink.records
    assert record.request_id == _header(response["headers"], "request-id")
    assert record.response_id == expected["id"]
    assert record.response_model == expected["model"]
    assert record.model == request["model"]
    assert record.input_tokens == usage["input_tokens"] + reads + writes
    assert (record.cache_read_tokens, record.cache_write_tokens) == (reads, writes)
    assert record.output_tokens == usage["output_tokens"]
    assert record.estimated is False
    assert record.priced is True
