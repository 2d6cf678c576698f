"""Conformance: recorded Gemini responses read through the real SDK, every token field and
the price checked to the exact Decimal (rates: llmcost/pricing/data/google.json)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from llmcost.integrations._gemini_usage import (
    GeminiStream,
    model_name,
    response_fields,
    usage_from_gemini,
)
from llmcost.pricing import cost
from llmcost.types import Usage

WHEN = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
D = Decimal

# name: (vertexai, usage fields, cost parts: input, cache_read, output, total)
CASES: dict[str, tuple[bool, dict[str, int], tuple[Decimal, Decimal, Decimal, Decimal]]] = {
    # 9 x 0.1 + 14 x 0.4 per 1M
    "plain": (
        False,
        {"input_tokens": 9, "output_tokens": 14},
        (D("0.0000009"), D(0), D("0.0000056"), D("0.0000065")),
    ),
    # thinking is output: (318 + 1270) x 10 per 1M
    "thinking": (
        False,
        {"input_tokens": 42, "output_tokens": 1588, "reasoning_tokens": 1270},
        (D("0.0000525"), D(0), D("0.01588"), D("0.0159325")),
    ),
    # 246 uncached x 0.3, 24064 cached x 0.03, (210 + 455) x 2.5
    "cached": (
        False,
        {
            "input_tokens": 24310,
            "cache_read_tokens": 24064,
            "output_tokens": 665,
            "reasoning_tokens": 455,
        },
        (D("0.0000738"), D("0.00072192"), D("0.0016625"), D("0.00245822")),
    ),
    # 7 text x 0.3 + 1600 audio x 1.0; 95 x 2.5
    "audio": (
        False,
        {"input_tokens": 1607, "input_audio_tokens": 1600, "output_tokens": 95},
        (D("0.0016021"), D(0), D("0.0002375"), D("0.0018396")),
    ),
    # tool results are input: (80 + 1500) x 0.3; 60 x 2.5
    "tool_use": (
        False,
        {"input_tokens": 1580, "output_tokens": 60},
        (D("0.000474"), D(0), D("0.00015"), D("0.000624")),
    ),
    # Flex PayGo on Vertex AI: 100 x 0.15; (50 + 150) x 1.25
    "vertex_flex": (
        True,
        {"input_tokens": 100, "output_tokens": 200, "reasoning_tokens": 150},
        (D("0.000015"), D(0), D("0.00025"), D("0.000265")),
    ),
    # above 200k the whole call is at long-context rates: 250000 x 2.5; 1500 x 15
    "long_context": (
        False,
        {"input_tokens": 250000, "output_tokens": 1500, "reasoning_tokens": 500},
        (D("0.625"), D(0), D("0.0225"), D("0.6475")),
    ),
}
_ZERO_FIELDS = dict.fromkeys(Usage.model_fields, 0)  # every count Usage has, at 0


def _check(usage: Any, fields: dict[str, Any], name: str) -> None:
    vertexai, expected_usage, parts = CASES[name]
    assert usage.model_dump() == _ZERO_FIELDS | expected_usage
    priced = cost(
        fields["response_model"],
        usage,
        provider="gcp.vertex_ai" if vertexai else "gcp.gemini",
        at=WHEN,
        service_tier=fields["service_tier"],
    )
    got = (
        priced.input_cost_usd,
        priced.cache_read_cost_usd,
        priced.output_cost_usd,
        priced.total_cost_usd,
    )
    assert got == parts
    assert priced.total_cost_usd == sum(
        (priced.input_cost_usd, priced.cache_read_cost_usd, priced.output_cost_usd), D(0)
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_recorded_response(name: str, recorded: Any, serve: Any) -> None:
    """Each recorded response gives the documented token split and the exact price."""
    payload = recorded(name)
    vertexai = CASES[name][0]
    client = serve(payload, vertexai=vertexai)
    response = client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    usage = usage_from_gemini(response.usage_metadata)
    fields = response_fields(response)
    assert fields["response_id"] == payload["response"]["responseId"]
    assert fields["response_model"] == model_name(payload["response"]["modelVersion"])
    assert fields["service_tier"] == ("flex" if name == "vertex_flex" else None)
    _check(usage, fields, name)


async def test_recorded_response_async(recorded: Any, serve: Any) -> None:
    """The async client reads the same usage from the same body."""
    client = serve(recorded("cached"))
    response = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    usage = usage_from_gemini(response.usage_metadata)
    _check(usage, response_fields(response), "cached")


def test_recorded_stream_takes_the_last_cumulative_usage(recorded: Any, serve: Any) -> None:
    """A stream's usage is its last chunk's; adding the chunks up would count 53, not 31."""
    client = serve(recorded("stream"))
    state = GeminiStream()
    texts = []
    for chunk in client.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"):
        state.feed(chunk)
        texts.append(chunk.text)
    usage = state.usage()
    assert usage is not None
    assert usage.model_dump() == _ZERO_FIELDS | {
        "input_tokens": 12,
        "output_tokens": 261,
        "reasoning_tokens": 230,
    }
    assert "".join(texts) == "".join(
        c["candidates"][0]["content"]["parts"][0]["text"] for c in recorded("stream")["chunks"]
    )
    fields = state.fields()
    assert fields["response_id"] == "r7S7aNnSL6S_1MkP2NeqsQ0"
    priced = cost(fields["response_model"], usage, provider="gcp.gemini", at=WHEN)
    # 12 x 0.3 + (31 + 230) x 2.5 per 1M
    assert (priced.input_cost_usd, priced.output_cost_usd, priced.total_cost_usd) == (
        D("0.0000036"),
        D("0.0006525"),
        D("0.0006561"),
    )
