"""The hot path's shortcuts read exactly what the plain lookups read."""

from __future__ import annotations

import httpx2
import pydantic
import pytest

from llmcost.integrations import _openai_usage as mapping
from llmcost.integrations.openai import _header_facts
from llmcost.types import Usage


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("X-Request-ID", "req_1"), ("content-type", "application/json")],
        [("x-request-id", "a"), ("X-Request-Id", "b")],
        [("x-llmcost-replayed", "1"), ("x-request-id", "req_2")],
        [("X-LLMCOST-REPLAYED", "0")],
        [("x-llmcost-replayed", "1"), ("x-llmcost-replayed", "1")],
        [("x-request-id", "r\u00e9q".encode())],
    ],
)
def test_header_facts_match_headers_get(headers):
    """One pass over httpx headers gives what two Headers.get lookups give."""
    parsed = httpx2.Response(200, headers=headers).headers
    expected = (parsed.get("x-request-id"), parsed.get("x-llmcost-replayed") == "1")
    assert _header_facts(parsed) == expected
    assert _header_facts(dict(parsed.items())) == expected  # any other mapping: by get()


class _OldSDKDetails(pydantic.BaseModel):
    """An SDK model that does not declare a field the server sends (kept as an extra)."""

    model_config = pydantic.ConfigDict(extra="allow")
    audio_tokens: int | None = None


class _OldSDKUsage(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")
    prompt_tokens: int
    completion_tokens: int
    prompt_tokens_details: _OldSDKDetails | None = None


def test_undeclared_fields_of_sdk_objects_are_read():
    """A count an older SDK keeps as a pydantic extra is mapped like a declared one."""
    usage = _OldSDKUsage.model_validate(
        {
            "prompt_tokens": 100,
            "completion_tokens": 1,
            "prompt_tokens_details": {"cached_tokens": 20, "cache_write_tokens": 50},
        }
    )
    assert mapping.chat_usage(usage) == Usage(
        input_tokens=100, cache_read_tokens=20, cache_write_tokens=50, output_tokens=1
    )


def test_plain_objects_are_read_by_attribute():
    """Objects that are neither dicts nor pydantic models are read by attribute."""

    class Counts:
        prompt_tokens = 7

        @property
        def completion_tokens(self) -> int:
            return 3

    assert mapping.chat_usage(Counts()) == Usage(input_tokens=7, output_tokens=3)
