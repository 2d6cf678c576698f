"""The field readers read undeclared and declared fields of SDK objects alike."""

from __future__ import annotations

import pydantic

from llmcost.integrations import _openai_usage as mapping
from llmcost.types import Usage


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
