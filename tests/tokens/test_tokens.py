"""Offline token estimation: bundled vocabularies, model → encoding, message counting rules."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmcost
from llmcost import tokens

SHARED_SUMS = Path(__file__).resolve().parents[3] / "shared" / "tiktoken" / "SHA256SUMS"
DATA = Path(tokens.__file__).parent / "_data"


def test_bundled_hashes_match_the_published_sums() -> None:
    """The hashes in the code equal the sha256 of the shipped files (and shared/ SHA256SUMS)."""
    for name, expected in tokens.ENCODINGS.items():
        digest = hashlib.sha256((DATA / f"{name}.tiktoken").read_bytes()).hexdigest()
        assert digest == expected
    if SHARED_SUMS.exists():
        published = dict(
            reversed(line.split()) for line in SHARED_SUMS.read_text().splitlines() if line
        )
        assert published == {f"{n}.tiktoken": h for n, h in tokens.ENCODINGS.items()}


def test_encodings_match_tiktokens_own_definitions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split pattern and special tokens equal tiktoken's, built from our files (no network)."""
    from tiktoken_ext import openai_public

    def load_local(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        name = url.rsplit("/", 1)[-1].removesuffix(".tiktoken")
        assert expected_hash == tokens.ENCODINGS[name]
        return tokens._read_ranks(name)

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", load_local)
    for name in ("o200k_base", "cl100k_base"):
        reference = getattr(openai_public, name)()
        ours = tokens.get_encoding(name)
        assert ours._pat_str == reference["pat_str"]
        assert ours._special_tokens == reference["special_tokens"]
        assert ours._mergeable_ranks == reference["mergeable_ranks"]


def test_known_counts() -> None:
    """Reference counts of short strings in both encodings."""
    assert tokens.count_tokens("hello world", "gpt-4o") == 2
    assert tokens.count_tokens("hello world", "gpt-4") == 2
    assert tokens.count_tokens("", "gpt-4o") == 0
    # The encodings differ on non-English text: o200k is the more compact one here.
    text = "Привет, как дела? こんにちは世界"
    assert tokens.count_tokens(text, "gpt-4o") < tokens.count_tokens(text, "gpt-4")
    assert (
        tokens.get_encoding("o200k_base").decode(
            tokens.get_encoding("o200k_base").encode_ordinary(text)
        )
        == text
    )


def test_special_token_text_is_counted_as_text() -> None:
    """A prompt containing '<|endoftext|>' is counted, never refused."""
    assert tokens.count_tokens("<|endoftext|>", "gpt-4o") > 1


def test_count_tokens_rejects_non_strings() -> None:
    """Bad input gets a clear error naming it."""
    with pytest.raises(TypeError, match=r"count_tokens\(text=\.\.\.\) must be a str"):
        tokens.count_tokens(b"bytes", "gpt-4o")  # type: ignore[arg-type]


def test_unknown_encoding_name() -> None:
    """get_encoding names what it bundles."""
    with pytest.raises(ValueError, match="cl100k_base, o200k_base"):
        tokens.get_encoding("p50k_base")


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-5.1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base"),
        ("text-embedding-3-small", "cl100k_base"),
        ("claude-sonnet-4-5", "claude"),
        ("anthropic.claude-haiku-4-5-20251001-v1:0", "claude"),
        # not in the catalog: name rules
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base"),
        ("ft:gpt-3.5-turbo-0125:acme::abc", "cl100k_base"),
        ("openrouter/claude-next", "claude"),
        ("my-azure-deployment", "o200k_base"),
        ("cl100k_base", "cl100k_base"),
    ],
)
def test_encoding_for_model(model: str, encoding: str) -> None:
    """Catalog tokenizer first, then name rules, default o200k."""
    assert tokens.encoding_for_model(model) == encoding


def test_every_catalog_model_has_an_encoding() -> None:
    """Every model in the bundled catalog maps to a bundled encoding (or the Claude rule)."""
    catalog = llmcost.pricing.get_catalog()
    for model in catalog.models():
        found = tokens.encoding_for_model(model.id)
        assert found in ("o200k_base", "cl100k_base", "claude"), model.id
        if model.tokenizer is not None:
            assert found == model.tokenizer


def test_claude_counts_carry_the_margin() -> None:
    """Claude counts are the o200k count times the margin, rounded up."""
    text = "The quick brown fox jumps over the lazy dog. " * 10
    base = tokens.count_tokens(text, "o200k_base")
    assert tokens.count_tokens(text, "claude-sonnet-4-5") == -(-base * 135 // 100)


def test_chat_message_rules() -> None:
    """3 per message + role + content; name adds 1 + its tokens; 3 prime the reply."""
    enc = "gpt-4o"
    hello = tokens.count_tokens("Hello!", enc)
    user = tokens.count_tokens("user", enc)
    assert tokens.count_message_tokens([{"role": "user", "content": "Hello!"}], enc) == (
        3 + user + hello + 3
    )
    named = tokens.count_message_tokens([{"role": "user", "content": "Hello!", "name": "bob"}], enc)
    assert named == 3 + user + hello + 1 + tokens.count_tokens("bob", enc) + 3


def test_chat_tool_calls_and_tool_results_are_counted() -> None:
    """Tool calls count their id, name and arguments; tool messages their call id."""
    args = json.dumps({"city": "Paris", "unit": "celsius"})
    messages = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": args}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    ]
    without_args = json.loads(json.dumps(messages))
    without_args[1]["tool_calls"][0]["function"]["arguments"] = ""
    difference = tokens.count_message_tokens(messages, "gpt-4o") - tokens.count_message_tokens(
        without_args, "gpt-4o"
    )
    assert difference == tokens.count_tokens(args, "gpt-4o")


def test_content_parts_and_images() -> None:
    """Text parts count exactly; images count a fixed estimate by detail; data URLs never."""
    text_only = [{"role": "user", "content": [{"type": "text", "text": "Describe"}]}]
    as_string = [{"role": "user", "content": "Describe"}]
    assert tokens.count_message_tokens(text_only, "gpt-4o") == tokens.count_message_tokens(
        as_string, "gpt-4o"
    )
    big_data_url = "data:image/png;base64," + "A" * 100_000
    low = [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": big_data_url, "detail": "low"}}],
        }
    ]
    high = json.loads(json.dumps(low))
    high[0]["content"][0]["image_url"]["detail"] = "high"
    base = tokens.count_message_tokens([{"role": "user", "content": []}], "gpt-4o")
    assert tokens.count_message_tokens(low, "gpt-4o") == base + tokens.IMAGE_TOKENS_LOW
    assert tokens.count_message_tokens(high, "gpt-4o") == base + tokens.IMAGE_TOKENS_DEFAULT


def test_sdk_message_objects_are_accepted() -> None:
    """A response message passed back as input (a pydantic object) is counted like a dict."""
    from openai.types.chat import ChatCompletionMessage

    message = ChatCompletionMessage(role="assistant", content="Sure, here it is.")
    as_dict = {"role": "assistant", "content": "Sure, here it is."}
    assert tokens.count_message_tokens([message], "gpt-4o") == tokens.count_message_tokens(
        [as_dict], "gpt-4o"
    )


def test_messages_must_be_a_list() -> None:
    """A string where a list of messages belongs is a clear error."""
    with pytest.raises(TypeError, match="messages must be a list"):
        tokens.count_message_tokens("hello", "gpt-4o")
    with pytest.raises(TypeError, match="chat message must be a mapping"):
        tokens.count_message_tokens([42], "gpt-4o")


def test_responses_input() -> None:
    """A string input equals one user message; instructions add a system message."""
    plain = tokens.count_responses_input_tokens("Hello!", "gpt-4o")
    as_items = tokens.count_responses_input_tokens(
        [{"role": "user", "content": "Hello!"}], "gpt-4o"
    )
    assert plain == as_items
    with_instructions = tokens.count_responses_input_tokens(
        "Hello!", "gpt-4o", instructions="Be brief."
    )
    assert with_instructions == plain + 3 + 1 + tokens.count_tokens("Be brief.", "gpt-4o")
    items = [
        {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": '{"c":"P"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "18C and sunny"},
        {"type": "item_reference", "id": "msg_123"},
    ]
    counted = tokens.count_responses_input_tokens(items, "gpt-4o")
    assert counted > tokens.count_responses_input_tokens(items[:1], "gpt-4o") + 6


def test_anthropic_estimate_has_margin_and_covers_blocks() -> None:
    """Anthropic estimates: o200k rules × margin; system, tools and tool blocks count."""
    messages = [{"role": "user", "content": "Hello, Claude"}]
    plain = tokens.count_anthropic_tokens(messages, "claude-sonnet-4-5")
    raw = 3 + tokens.count_tokens("Hello, Claude", "o200k_base")
    assert plain == -(-raw * 135 // 100)
    with_system = tokens.count_anthropic_tokens(
        messages, "claude-sonnet-4-5", system=[{"type": "text", "text": "You are terse."}]
    )
    assert with_system > plain
    tool = {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}
    with_tools = tokens.count_anthropic_tokens(messages, "claude-sonnet-4-5", tools=[tool])
    assert with_tools - plain >= tokens.ANTHROPIC_TOOL_SYSTEM_TOKENS
    blocks = [
        {"role": "user", "content": [{"type": "text", "text": "What is in this image?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "tu_1", "name": "lookup", "input": {"q": "cats"}}
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "tu_1", "content": "many cats"},
                {"type": "image", "source": {"type": "base64", "data": "A" * 50_000}},
            ],
        },
    ]
    counted = tokens.count_anthropic_tokens(blocks, "claude-sonnet-4-5")
    assert counted >= tokens.ANTHROPIC_IMAGE_TOKENS
    assert counted < tokens.ANTHROPIC_IMAGE_TOKENS * 2  # base64 data is never read as text


@pytest.mark.parametrize(
    ("operation", "request_kwargs", "expected"),
    [
        ("embeddings", {"model": "text-embedding-3-small", "input": "hello world"}, 2),
        ("embeddings", {"model": "text-embedding-3-small", "input": ["hello", "world"]}, 2),
        ("embeddings", {"model": "text-embedding-3-small", "input": [1, 2, 3]}, 3),
        ("embeddings", {"model": "text-embedding-3-small", "input": [[1, 2], [3]]}, 3),
        ("completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "hello world"}, 2),
    ],
)
def test_estimate_request_inputs(
    operation: str, request_kwargs: dict[str, object], expected: int
) -> None:
    """Embeddings and completions inputs: strings, lists, token ids."""
    assert tokens.estimate_request_input_tokens("openai", operation, request_kwargs) == expected


def test_estimate_chat_request_adds_tools() -> None:
    """Tools add their compact JSON plus a fixed overhead."""
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
    plain = tokens.estimate_request_input_tokens("openai", "chat", request)
    assert plain == tokens.count_message_tokens(request["messages"], "gpt-4o")
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    with_tool = tokens.estimate_request_input_tokens("openai", "chat", {**request, "tools": [tool]})
    compact = json.dumps(tool, separators=(",", ":"))
    assert with_tool == plain + tokens.TOOL_OVERHEAD_TOKENS + tokens.count_tokens(compact, "gpt-4o")


def test_sdk_sentinels_are_absent() -> None:
    """openai.NOT_GIVEN / omit values count as absent."""
    import openai

    request = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": openai.NOT_GIVEN,
        "response_format": openai.omit,
    }
    assert tokens.estimate_request_input_tokens("openai", "chat", request) == (
        tokens.count_message_tokens(request["messages"], "gpt-4o")
    )


def test_unknown_operation_is_named() -> None:
    """An operation the estimator does not know is a clear error."""
    with pytest.raises(ValueError, match="'images'"):
        tokens.estimate_request_input_tokens("openai", "images", {})


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300))
def test_counts_are_bounded_by_bytes_and_round_trip(text: str) -> None:
    """Every token is at least one byte; text is non-empty iff it has tokens; decode inverts."""
    for model in ("gpt-4o", "gpt-4"):
        count = tokens.count_tokens(text, model)
        assert (count > 0) == bool(text)
        assert count <= len(text.encode("utf-8"))
    encoding = tokens.get_encoding("o200k_base")
    assert encoding.decode(encoding.encode_ordinary(text)) == text


def test_import_llmcost_does_not_import_tiktoken() -> None:
    """The tokenizer is loaded lazily: importing llmcost (or llmcost.tokens) does not load it."""
    code = (
        "import sys, llmcost, llmcost.tokens, llmcost.budgets, llmcost.policy;"
        "print('tiktoken' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_one_shot_iterators_are_not_consumed() -> None:
    """A generator of messages is left for the SDK to send; other iterables are counted."""
    messages = ({"role": "user", "content": "Hi"} for _ in range(2))
    assert tokens.count_message_tokens(messages, "gpt-4o") == tokens.REPLY_PRIMING_TOKENS
    assert len(list(messages)) == 2
    as_list = [{"role": "user", "content": "Hi"}] * 2
    assert tokens.count_message_tokens(range(0), "gpt-4o") == tokens.REPLY_PRIMING_TOKENS
    assert tokens.count_message_tokens(as_list, "gpt-4o") > tokens.REPLY_PRIMING_TOKENS
