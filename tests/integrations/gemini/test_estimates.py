"""Offline estimates for Gemini budgets: input tokens from the request, the output worst case."""

from __future__ import annotations

import math
from typing import Any

import pytest
from google.genai import types

from llmcost import tokens
from llmcost.budgets._estimate import output_ceiling
from llmcost.pricing import get_catalog
from llmcost.tokens import GEMINI_MARGIN, GEMINI_MEDIA_TOKENS, count_gemini_tokens

TEXT = "Summarise the attached quarterly report in three bullet points, please."


def _o200k(text: str) -> int:
    return tokens.count_tokens(text, "o200k_base")


def test_text_is_o200k_with_the_margin() -> None:
    """Plain text: the o200k count times GEMINI_MARGIN, rounded up."""
    assert count_gemini_tokens(TEXT, "gemini-2.5-flash") == math.ceil(_o200k(TEXT) * GEMINI_MARGIN)
    assert count_gemini_tokens(TEXT, "gemini-2.5-flash") > _o200k(TEXT)
    assert count_gemini_tokens(None, "gemini-2.5-flash") == 0


def test_sdk_objects_and_dicts_count_alike() -> None:
    """Content/Part objects, snake_case dicts and camelCase dicts give the same estimate."""
    image = b"fake png bytes"
    sdk = [
        types.Content(
            role="user",
            parts=[types.Part(text=TEXT), types.Part.from_bytes(data=image, mime_type="image/png")],
        )
    ]
    snake = [
        {
            "role": "user",
            "parts": [{"text": TEXT}, {"inline_data": {"mime_type": "image/png", "data": image}}],
        }
    ]
    camel = [
        {
            "role": "user",
            "parts": [{"text": TEXT}, {"inlineData": {"mimeType": "image/png", "data": "iVBO"}}],
        }
    ]
    expected = math.ceil((3 + _o200k(TEXT) + GEMINI_MEDIA_TOKENS) * GEMINI_MARGIN)
    assert {count_gemini_tokens(c, "gemini-2.5-pro") for c in (sdk, snake, camel)} == {expected}


def test_media_counts_a_fixed_amount_whatever_its_size() -> None:
    """Image, audio, video and file parts are not decoded: each counts GEMINI_MEDIA_TOKENS."""
    small = {"inline_data": {"mime_type": "audio/mp3", "data": b"x"}}
    large = {"inline_data": {"mime_type": "audio/mp3", "data": b"x" * 100_000}}
    uploaded = {"file_data": {"mime_type": "video/mp4", "file_uri": "gs://b/v.mp4"}}
    one = math.ceil(GEMINI_MEDIA_TOKENS * GEMINI_MARGIN)
    assert count_gemini_tokens(small, "m") == count_gemini_tokens(large, "m") == one
    assert count_gemini_tokens(uploaded, "m") == one
    # Objects the SDK uploads or converts (PIL images, File handles) count as media too.
    assert count_gemini_tokens([object()], "m") == one


def test_function_calls_system_instruction_and_tools_add_up() -> None:
    """Tool traffic, the system instruction and tool declarations are all input."""
    call = {"function_call": {"name": "get_weather", "args": {"city": "Paris"}}}
    reply = {"function_response": {"name": "get_weather", "response": {"temp_c": 21}}}
    base = count_gemini_tokens("Hi", "m")
    assert count_gemini_tokens(["Hi", call, reply], "m") > base
    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(name="get_weather", description="Weather for a city.")
        ]
    )
    with_system = count_gemini_tokens("Hi", "m", system_instruction="You are terse.")
    with_tools = count_gemini_tokens("Hi", "m", tools=[tool])
    assert with_system > base
    assert with_tools > base + tokens.TOOL_OVERHEAD_TOKENS


def request_input_tokens(request: dict[str, Any]) -> int:
    """What the core and the budget engine ask for a Gemini request."""
    return tokens.estimate_request_input_tokens("google.genai", "generate_content", request)


def _weather(city: str) -> str:
    """The weather in a city."""
    return city


def test_request_input_tokens_reads_the_config_either_way() -> None:
    """A GenerateContentConfig and the same config as a dict give the same estimate; Python
    functions given as tools (automatic function calling) are counted, not refused."""
    as_dict = {
        "model": "gemini-2.5-flash",
        "contents": TEXT,
        "config": {"system_instruction": "Answer in French."},
    }
    as_object = {
        "model": "gemini-2.5-flash",
        "contents": TEXT,
        "config": types.GenerateContentConfig(system_instruction="Answer in French."),
    }
    estimate = request_input_tokens(as_dict)
    assert estimate == request_input_tokens(as_object)
    assert estimate > request_input_tokens({"model": "gemini-2.5-flash", "contents": TEXT})
    with_function = {**as_object, "config": types.GenerateContentConfig(tools=[_weather])}
    assert request_input_tokens(with_function) > request_input_tokens(
        {"model": "gemini-2.5-flash", "contents": TEXT}
    )
    # embed_content: the contents, whatever the operation is called
    embed = tokens.estimate_request_input_tokens(
        "google.genai", "embeddings", {"model": "gemini-embedding-001", "contents": [TEXT, TEXT]}
    )
    assert embed == count_gemini_tokens([TEXT, TEXT], "gemini-embedding-001")
    assert embed >= 2 * _o200k(TEXT)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"max_output_tokens": 800}, 800),
        (types.GenerateContentConfig(max_output_tokens=800), 800),
        # Thoughts count against max_output_tokens: the thinking budget adds nothing to it.
        ({"max_output_tokens": 800, "thinking_config": {"thinking_budget": 4096}}, 800),
        # A thinking budget alone bounds the thoughts, not the answer: the model's limit.
        ({"thinking_config": {"thinking_budget": 512}}, 65536),
        (None, 65536),
        (types.GenerateContentConfig(), 65536),
        ({"max_output_tokens": -5}, 65536),
        ({"max_output_tokens": True}, 65536),
        ({"max_output_tokens": 0}, 0),
    ],
)
def test_output_worst_case(config: Any, expected: int) -> None:
    """The budget's output worst case: config.max_output_tokens, else the model's limit."""
    price = get_catalog().resolve("gemini-2.5-pro")
    request = {"model": "gemini-2.5-pro", "contents": "Hi", "config": config}
    assert output_ceiling("generate_content", request, price) == expected
