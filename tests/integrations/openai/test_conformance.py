"""Conformance: real recorded OpenAI responses, replayed through the real client.

The cassettes live outside the project (../shared/fixtures/real-cassettes); the test is
skipped when they are absent. Each recorded response body and its headers go through a mock
transport, and the CostRecord must carry the usage, request id and model they hold.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

import llmcost

yaml = pytest.importorskip("yaml")

CASSETTES = (
    Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "real-cassettes"
).resolve()
SKIP_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}


def _interactions() -> list[Any]:
    if not CASSETTES.is_dir():
        if os.environ.get("CI") == "true":  # CI must run them: the test below then fails
            return [pytest.param(None, id="cassettes-absent")]
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{CASSETTES} is absent"))]
    found = []
    for path in sorted(CASSETTES.glob("*/*.yaml")):
        data = yaml.safe_load(path.read_text())
        for index, interaction in enumerate(data["interactions"]):
            uri = interaction["request"]["uri"]
            if "api.openai.com" in uri:
                found.append(
                    pytest.param(interaction, id=f"{path.parent.name}/{path.stem}#{index}")
                )
    return found


def _decoded(response: dict[str, Any]) -> bytes:
    raw = response["body"]["string"]
    if isinstance(raw, str):
        return raw.encode()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def _expected_usage(path: str, usage: dict[str, Any]) -> dict[str, int]:
    """The mapping the integration promises, written out from the recorded JSON."""
    if path.endswith("/embeddings"):
        return {"input_tokens": usage["prompt_tokens"], "output_tokens": 0}
    if path.endswith("/responses"):
        return {
            "input_tokens": usage["input_tokens"],
            "cache_read_tokens": usage["input_tokens_details"]["cached_tokens"],
            "output_tokens": usage["output_tokens"],
            "reasoning_tokens": usage["output_tokens_details"]["reasoning_tokens"],
        }
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    return {
        "input_tokens": usage["prompt_tokens"],
        "cache_read_tokens": prompt.get("cached_tokens", 0),
        "input_audio_tokens": prompt.get("audio_tokens", 0),
        "output_tokens": usage["completion_tokens"],
        "reasoning_tokens": completion.get("reasoning_tokens", 0),
        "output_audio_tokens": completion.get("audio_tokens", 0),
    }


def _final_body(content: bytes, streamed: bool) -> dict[str, Any] | None:
    """The object holding usage: the JSON body, or the stream's last usage-bearing event."""
    if not streamed:
        return json.loads(content)
    found = None
    for line in content.decode().splitlines():
        if not line.startswith("data: {"):
            continue
        event = json.loads(line[len("data: ") :])
        holder = event.get("response", event)
        if holder.get("usage"):
            found = holder
    return found


@pytest.mark.parametrize("interaction", _interactions())
def test_recorded_response_lands_in_the_record(memory_sink, interaction):
    if interaction is None:
        pytest.fail(f"CI=true but the conformance cassettes are absent: {CASSETTES}")
    llmcost.instrument("openai")
    request, response = interaction["request"], interaction["response"]
    content = _decoded(response)
    headers = {
        name: values[0]
        for name, values in response["headers"].items()
        if name.lower() not in SKIP_HEADERS
    }

    def handler(_request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(response["status"]["code"], headers=headers, content=content)

    client = openai.OpenAI(
        api_key="sk-test",
        base_url="https://api.openai.com/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    kwargs = json.loads(request["body"])
    path = httpx2.URL(request["uri"]).path
    method = {
        "/v1/chat/completions": client.chat.completions.create,
        "/v1/responses": client.responses.create,
        "/v1/embeddings": client.embeddings.create,
    }[path]
    result = method(**kwargs)
    streamed = kwargs.get("stream") is True
    if streamed:
        list(result)

    [record] = memory_sink.records
    lower = {name.lower(): value for name, value in headers.items()}
    assert record.request_id == lower.get("x-request-id")
    assert record.replayed is False
    assert record.model == kwargs["model"]
    final = _final_body(content, streamed)
    if final is None:
        # A stream recorded without usage (no include_usage): counted locally.
        assert record.estimated is True
        assert record.output_tokens > 0
        return
    assert record.estimated is False
    assert record.response_model == final["model"]
    if "id" in final:
        assert record.response_id == final["id"]
    actual = record.usage.model_dump()
    for name, value in _expected_usage(path, final["usage"]).items():
        assert actual[name] == value, name
    if record.priced:
        assert (
            record.total_cost_usd
            == llmcost.pricing.cost(
                record.priced_as,
                record.usage,
                provider="openai",
                service_tier=record.service_tier,
            ).total_cost_usd
        )
