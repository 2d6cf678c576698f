"""Offline token estimation with the bundled ``o200k_base`` and ``cl100k_base`` vocabularies.

llmcost counts tokens locally in two places: the budget pre-check (the worst case of a call is
priced from its estimated input before it is sent) and streams whose usage never arrived
(their output is counted from the streamed text). Both must work where nothing can be
downloaded, so the two BPE rank files ship inside the package, are checked against their
published sha256 when first loaded, and are built into :class:`tiktoken.Encoding` objects
without ever calling ``tiktoken.get_encoding`` (which may download). Nothing here touches
the network.

Approximation rules (documented in ``docs/budgets.md``):

* **Chat messages** (:func:`count_message_tokens`): 3 tokens per message, plus its role and
  content, plus 1 and the name's tokens when it has a ``name``; each tool call adds its id,
  function name and argument text plus 3; 3 more tokens prime the reply.
* **Content parts**: text parts are counted exactly; an image part counts
  :data:`IMAGE_TOKENS_LOW` with ``detail="low"`` and :data:`IMAGE_TOKENS_DEFAULT` otherwise;
  audio, file and document payloads (base64 data) are not counted, only their text fields.
* **Tools and schemas**: each tool definition counts the tokens of its compact JSON plus
  :data:`TOOL_OVERHEAD_TOKENS`; JSON is wordier than the format providers render, so this
  errs high.
* **Gemini** (:func:`count_gemini_tokens`): Gemini's tokenizer is not bundled. Text is counted
  with ``o200k_base`` times :data:`GEMINI_MARGIN` (rounded up); every image, audio, video or
  document part counts :data:`GEMINI_MEDIA_TOKENS` whatever its size. The result is an
  estimate (records made from it say ``estimated=True``); ``models.count_tokens`` is exact.
* **Anthropic** (:func:`count_anthropic_tokens`): Claude's tokenizer is not public. The same
  rules are applied with ``o200k_base`` and the result is multiplied by
  :data:`ANTHROPIC_MARGIN` (rounded up), so estimates err high rather than low. Use
  ``llmcost.budget(..., estimator="anthropic_api")`` for the exact, free count.

Example:
    >>> from llmcost import tokens
    >>> tokens.count_tokens("hello world", "gpt-4o")
    2
    >>> tokens.encoding_for_model("gpt-4")
    'cl100k_base'
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "ANTHROPIC_IMAGE_TOKENS",
    "ANTHROPIC_MARGIN",
    "ANTHROPIC_TOOL_SYSTEM_TOKENS",
    "ENCODINGS",
    "GEMINI_MARGIN",
    "GEMINI_MEDIA_TOKENS",
    "IMAGE_TOKENS_DEFAULT",
    "IMAGE_TOKENS_LOW",
    "MESSAGE_OVERHEAD_TOKENS",
    "REPLY_PRIMING_TOKENS",
    "TOOL_OVERHEAD_TOKENS",
    "count_anthropic_tokens",
    "count_gemini_tokens",
    "count_message_tokens",
    "count_responses_input_tokens",
    "count_tokens",
    "encoding_for_model",
    "estimate_request_input_tokens",
    "get_encoding",
]

#: Per-message framing tokens of OpenAI chat formats (role markers, separators).
MESSAGE_OVERHEAD_TOKENS = 3
#: Tokens that prime the assistant's reply after the last message.
REPLY_PRIMING_TOKENS = 3
#: Extra tokens per tool definition on top of its compact JSON.
TOOL_OVERHEAD_TOKENS = 8
#: Tokens an image costs with ``detail="low"`` (OpenAI's fixed low-detail price).
IMAGE_TOKENS_LOW = 85
#: Tokens assumed for any other image: a 1024×1024 image at high detail (85 + 4 tiles × 170).
#: The real count depends on the image's size, which is not decoded here.
IMAGE_TOKENS_DEFAULT = 765
#: Tokens assumed for an Anthropic image: the most an image that is not downscaled costs
#: (about 1.15 megapixels / 750).
ANTHROPIC_IMAGE_TOKENS = 1600
#: The system prompt Anthropic adds when tools are present (Claude 4 models, ``auto``).
ANTHROPIC_TOOL_SYSTEM_TOKENS = 346
#: Multiplier on o200k counts for Claude models, whose tokenizer is not public. Independent
#: comparisons report Claude using roughly 15-30% more tokens than OpenAI's tokenizers for the
#: same English text and code, and newer Claude tokenizers up to about 35% more; 1.35 keeps
#: the estimate on the high side, which is the safe side for a budget.
ANTHROPIC_MARGIN = 1.35
#: Multiplier on o200k counts for Gemini models, whose SentencePiece tokenizer is not
#: bundled. Gemini's 256k vocabulary splits English prose about as finely as o200k, and code
#: and other languages somewhat more; 1.2 keeps the estimate on the high side.
GEMINI_MARGIN = 1.2
#: Tokens assumed for each Gemini image, audio, video or document part, not decoded: one
#: image at the default (high) media resolution of Gemini 3 models. Audio (32 tokens per
#: second) and video (about 260 per second) longer than a few seconds cost more.
GEMINI_MEDIA_TOKENS = 1120

#: The bundled encodings and the sha256 of their rank files (equal to the ``expected_hash``
#: values tiktoken itself uses for these files).
ENCODINGS: dict[str, str] = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}

_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"

# The split patterns and special tokens of the two encodings, as published with tiktoken.
_PATTERNS: dict[str, str] = {
    "cl100k_base": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++"""
        r"""[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
    ),
    "o200k_base": "|".join(
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
            r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"""
            r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
}
_SPECIAL_TOKENS: dict[str, dict[str, int]] = {
    "cl100k_base": {
        _ENDOFTEXT: 100257,
        "<|fim_prefix|>": 100258,
        "<|fim_middle|>": 100259,
        "<|fim_suffix|>": 100260,
        _ENDOFPROMPT: 100276,
    },
    "o200k_base": {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018},
}

_encodings: dict[str, tiktoken.Encoding] = {}
_load_lock = threading.Lock()
_model_encodings: dict[str, str] = {}


def _reset_lock_after_fork() -> None:
    # A thread of the parent may hold the lock at fork() (loading a tokenizer); that thread
    # does not exist in the child, so the inherited lock would stay taken forever.
    global _load_lock
    _load_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX only
    os.register_at_fork(after_in_child=_reset_lock_after_fork)


# --- encodings ------------------------------------------------------------------------------


def _read_ranks(name: str) -> dict[bytes, int]:
    """Read and verify a bundled rank file: one ``base64(token) rank`` pair per line."""
    data = resources.files("llmcost").joinpath(f"_data/{name}.tiktoken").read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != ENCODINGS[name]:
        raise ValueError(
            f"the bundled tokenizer file llmcost/_data/{name}.tiktoken is corrupt: sha256 "
            f"{actual} != expected {ENCODINGS[name]}; reinstall llmcost"
        )
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def get_encoding(name: str) -> tiktoken.Encoding:
    """The bundled tiktoken encoding ``name``, built on first use and cached.

    The rank file is read from the package and verified against its sha256; tiktoken's own
    loader is not used because it may download, and caches copies in the temp directory.

    Args:
        name: ``"o200k_base"`` or ``"cl100k_base"``.

    Raises:
        ValueError: the name is not a bundled encoding, or its file is corrupt.

    Example:
        >>> get_encoding("o200k_base").name
        'o200k_base'
    """
    encoding = _encodings.get(name)
    if encoding is not None:
        return encoding
    if name not in ENCODINGS:
        raise ValueError(
            f"unknown encoding {name!r}; llmcost bundles {', '.join(sorted(ENCODINGS))}"
        )
    with _load_lock:
        encoding = _encodings.get(name)
        if encoding is None:
            import tiktoken

            encoding = tiktoken.Encoding(
                name,
                pat_str=_PATTERNS[name],
                mergeable_ranks=_read_ranks(name),
                special_tokens=_SPECIAL_TOKENS[name],
            )
            _encodings[name] = encoding
    return encoding


# Name rules for models the catalog does not know (fine-tunes, deployments, new releases).
_CL100K_PREFIXES = ("gpt-4-", "gpt-3.5", "gpt-35", "text-embedding-", "gpt-4")
_O200K_PREFIXES = (
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.5",
    "gpt-5",
    "gpt-6",
    "gpt-oss",
    "gpt-realtime",
    "gpt-audio",
    "gpt-image",
    "chatgpt-",
    "codex",
    "o1",
    "o3",
    "o4",
    "computer-use",
)


def _encoding_by_name(model: str) -> str:
    name = model.strip().lower()
    if name.startswith("ft:"):  # fine-tunes: ft:gpt-4o-mini-2024-07-18:org::id
        name = name[3:]
    name = name.rpartition("/")[2]  # openai/gpt-4o, azure/..., gateway prefixes
    if "claude" in name:
        return "claude"
    if name.startswith(_O200K_PREFIXES):
        return "o200k_base"
    if name.startswith(_CL100K_PREFIXES):
        return "cl100k_base"
    return "o200k_base"


def encoding_for_model(model: str, provider: str | None = None) -> str:
    """The tokenizer of ``model``: ``"o200k_base"``, ``"cl100k_base"`` or ``"claude"``.

    The pricing catalog's ``tokenizer`` field wins when it knows the model; otherwise a name
    rule applies (``claude*`` → ``"claude"``, GPT-4o and later and the o-series →
    ``o200k_base``, GPT-4, GPT-3.5 and ``text-embedding-*`` → ``cl100k_base``, anything else
    → ``o200k_base``). An encoding name is returned as is. ``"claude"`` is counted with
    ``o200k_base`` times :data:`ANTHROPIC_MARGIN`.

    Example:
        >>> encoding_for_model("gpt-4o-mini"), encoding_for_model("claude-sonnet-4-5")
        ('o200k_base', 'claude')
    """
    if model in ENCODINGS:
        return model
    key = f"{provider}\x00{model}" if provider else model
    found = _model_encodings.get(key)
    if found is not None:
        return found
    lookup = _tokenizer_lookup
    found = (lookup(model, provider) if lookup is not None else None) or _encoding_by_name(model)
    if len(_model_encodings) > 4096:  # bound memory if callers invent names
        _model_encodings.clear()
    _model_encodings[key] = found
    return found


#: Where a model's tokenizer is looked up before guessing it from the name: the price
#: catalog, which names one for many models. Set by :mod:`llmcost._context` (tokens and
#: pricing are siblings and never import each other).
_tokenizer_lookup: Callable[[str, str | None], str | None] | None = None


def set_tokenizer_lookup(lookup: Callable[[str, str | None], str | None] | None) -> None:
    """Look a model's tokenizer up with ``lookup(model, provider)`` first (None: by name only)."""
    global _tokenizer_lookup
    _tokenizer_lookup = lookup
    _model_encodings.clear()


def forget_model_encodings() -> None:
    """Drop the memo of model → encoding (after the catalog changed)."""
    _model_encodings.clear()


# --- plain text -----------------------------------------------------------------------------


def _count(text: str, encoding: str) -> int:
    if not text:
        return 0
    # encode_ordinary: text that looks like a special token is counted as text, never refused.
    return len(get_encoding(encoding).encode_ordinary(text))


def _base_encoding(encoding: str) -> str:
    return "o200k_base" if encoding == "claude" else encoding


def count_tokens(text: str, model: str) -> int:
    """How many tokens ``text`` is for ``model``, counted offline.

    For Claude models the o200k count is multiplied by :data:`ANTHROPIC_MARGIN` and rounded
    up (their tokenizer is not public).

    Args:
        text: Any string; special-token markers are counted as plain text.
        model: A model name (or an encoding name such as ``"cl100k_base"``).

    Raises:
        TypeError: ``text`` is not a string.

    Example:
        >>> count_tokens("The quick brown fox", "gpt-4o")
        4
    """
    if not isinstance(text, str):
        raise TypeError(f"count_tokens(text=...) must be a str, got {type(text).__name__}")
    encoding = encoding_for_model(model)
    count = _count(text, _base_encoding(encoding))
    if encoding == "claude":
        return _with_margin(count)
    return count


def _with_margin(count: int) -> int:
    return math.ceil(count * ANTHROPIC_MARGIN)


# --- structured inputs ----------------------------------------------------------------------

#: Keys whose values are binary payloads (base64), never text the model reads as tokens.
_BINARY_KEYS = frozenset({"data", "file_data", "image_url", "url", "source", "file_id"})


def _absent(value: Any) -> bool:
    # The SDKs mark omitted arguments with sentinels (openai.NOT_GIVEN, Omit): treat as absent.
    return value is None or type(value).__name__ in ("NotGiven", "Omit")


def _as_mapping(value: Any) -> Mapping[str, Any] | None:
    if type(value) is dict or isinstance(value, Mapping):
        return value
    dump = getattr(value, "model_dump", None)  # SDK pydantic objects passed back as input
    if callable(dump):
        dumped = dump(exclude_none=True)
        return dumped if isinstance(dumped, Mapping) else None
    return None


def _strings(value: Any, *, skip_binary: bool = True) -> Iterator[str]:
    """Every string inside a JSON-like value, skipping binary payloads and data URLs."""
    if isinstance(value, str):
        if not value.startswith("data:"):
            yield value
        return
    mapping = _as_mapping(value)
    if mapping is not None:
        for key, item in mapping.items():
            if skip_binary and key in _BINARY_KEYS:
                continue
            yield from _strings(item, skip_binary=skip_binary)
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item, skip_binary=skip_binary)


def _json_tokens(value: Any, encoding: str) -> int:
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = " ".join(_strings(value, skip_binary=False))
    return _count(text, encoding)


def _tools_tokens(tools: Any, encoding: str) -> int:
    if _absent(tools) or not isinstance(tools, (list, tuple)):
        return 0
    total = 0
    for tool in tools:
        mapping = _as_mapping(tool)
        total += TOOL_OVERHEAD_TOKENS + _json_tokens(
            dict(mapping) if mapping is not None else str(tool), encoding
        )
    return total


def _image_tokens(part: Mapping[str, Any], default: int) -> int:
    detail = part.get("detail")
    image_url = part.get("image_url")
    if isinstance(image_url, Mapping):
        detail = image_url.get("detail", detail)
    return IMAGE_TOKENS_LOW if detail == "low" else default


def _content_tokens(content: Any, encoding: str, image_tokens: int = IMAGE_TOKENS_DEFAULT) -> int:
    """Tokens of a message's content: a string, or a list of typed parts."""
    if _absent(content):
        return 0
    if isinstance(content, str):
        return _count(content, encoding)
    if not isinstance(content, (list, tuple)):
        return _count(str(content), encoding)
    total = 0
    for raw in content:
        if isinstance(raw, str):
            total += _count(raw, encoding)
            continue
        part = _as_mapping(raw)
        if part is None:
            continue
        kind = part.get("type")
        if kind in ("text", "input_text", "output_text"):
            total += _count(str(part.get("text") or ""), encoding)
        elif kind == "refusal":
            total += _count(str(part.get("refusal") or ""), encoding)
        elif kind in ("image_url", "input_image", "image"):
            total += _image_tokens(part, image_tokens)
        else:
            # audio, files, documents, tool blocks: only the text they carry is counted.
            total += sum(_count(text, encoding) for text in _strings(part) if text != kind)
    return total


def _chat_message_tokens(message: Any, encoding: str) -> int:
    mapping = _as_mapping(message)
    if mapping is None:
        raise TypeError(
            f"a chat message must be a mapping with 'role' and 'content', got {message!r:.80}"
        )
    total = MESSAGE_OVERHEAD_TOKENS
    total += _count(str(mapping.get("role") or ""), encoding)
    total += _content_tokens(mapping.get("content"), encoding)
    name = mapping.get("name")
    if isinstance(name, str) and name:
        total += 1 + _count(name, encoding)
    refusal = mapping.get("refusal")
    if isinstance(refusal, str):
        total += _count(refusal, encoding)
    tool_call_id = mapping.get("tool_call_id")
    if isinstance(tool_call_id, str):
        total += _count(tool_call_id, encoding)
    tool_calls = mapping.get("tool_calls")
    if isinstance(tool_calls, (list, tuple)):
        for raw_call in tool_calls:
            call = _as_mapping(raw_call) or {}
            total += 3 + _count(str(call.get("id") or ""), encoding)
            function = _as_mapping(call.get("function")) or _as_mapping(call.get("custom")) or {}
            total += _count(str(function.get("name") or ""), encoding)
            total += _count(str(function.get("arguments") or function.get("input") or ""), encoding)
    function_call = _as_mapping(mapping.get("function_call"))  # the legacy single call
    if function_call is not None:
        total += 3 + _count(str(function_call.get("name") or ""), encoding)
        total += _count(str(function_call.get("arguments") or ""), encoding)
    audio = _as_mapping(mapping.get("audio"))
    if audio is not None and isinstance(audio.get("transcript"), str):
        total += _count(audio["transcript"], encoding)
    return total


def _iter_items(value: Any, what: str) -> Iterable[Any]:
    if isinstance(value, (list, tuple)):
        return value
    if isinstance(value, (str, bytes)) or _as_mapping(value) is not None:
        raise TypeError(f"{what} must be a list, got {type(value).__name__}")
    try:
        iterator = iter(value)
    except TypeError:
        raise TypeError(f"{what} must be a list, got {type(value).__name__}") from None
    if iterator is value:
        # A one-shot iterator (a generator): counting it would consume what the SDK must
        # send, so it is not counted.
        return ()
    return list(iterator)


def count_message_tokens(messages: Any, model: str) -> int:
    """Estimate the input tokens of OpenAI chat ``messages`` for ``model``.

    Rules: 3 tokens per message, plus its role and content (text parts exactly; images
    :data:`IMAGE_TOKENS_LOW` with ``detail="low"``, else :data:`IMAGE_TOKENS_DEFAULT`), plus 1
    and the name's tokens for a ``name``; each tool call adds 3 plus its id, function name
    and arguments; tool messages add their ``tool_call_id``; 3 tokens prime the reply. Exact
    for plain text messages within a few tokens; tool definitions are counted separately
    (see :func:`estimate_request_input_tokens`).

    Args:
        messages: A list of message dicts (or the SDK's message objects).
        model: The model the messages are sent to.

    Raises:
        TypeError: ``messages`` is not a list of mappings.

    Example:
        >>> count_message_tokens([{"role": "user", "content": "Hello!"}], "gpt-4o")
        9
    """
    encoding = encoding_for_model(model)
    base = _base_encoding(encoding)
    total = REPLY_PRIMING_TOKENS
    for message in _iter_items(messages, "messages"):
        total += _chat_message_tokens(message, base)
    return _with_margin(total) if encoding == "claude" else total


def _responses_item_tokens(item: Any, encoding: str) -> int:
    if isinstance(item, str):
        return MESSAGE_OVERHEAD_TOKENS + _count(item, encoding)
    mapping = _as_mapping(item)
    if mapping is None:
        raise TypeError(f"a Responses API input item must be a mapping, got {item!r:.80}")
    kind = mapping.get("type")
    if kind in (None, "message") and "role" in mapping:
        return (
            MESSAGE_OVERHEAD_TOKENS
            + _count(str(mapping.get("role") or ""), encoding)
            + _content_tokens(mapping.get("content"), encoding)
        )
    if kind in ("function_call", "custom_tool_call"):
        return (
            MESSAGE_OVERHEAD_TOKENS
            + _count(str(mapping.get("name") or ""), encoding)
            + _count(str(mapping.get("arguments") or mapping.get("input") or ""), encoding)
        )
    if kind in ("function_call_output", "custom_tool_call_output"):
        output = mapping.get("output")
        return MESSAGE_OVERHEAD_TOKENS + (
            _count(output, encoding)
            if isinstance(output, str)
            else _content_tokens(output, encoding)
        )
    if kind == "item_reference":
        return 0  # refers to an item stored server side: its size is unknown here
    # reasoning summaries, tool-call results and other items: the text they carry.
    ignored = {"id", "call_id", "status", "type", "encrypted_content"}
    texts = (
        text for key, value in mapping.items() if key not in ignored for text in _strings(value)
    )
    return MESSAGE_OVERHEAD_TOKENS + sum(_count(text, encoding) for text in texts)


def count_responses_input_tokens(input: Any, model: str, instructions: str | None = None) -> int:
    """Estimate the input tokens of a Responses API request (``input`` and ``instructions``).

    ``input`` is a string (one user message) or a list of items: messages (with string or
    typed-part content), function calls and their outputs, and other items whose text is
    counted. ``instructions`` counts as a system message. Same rules as
    :func:`count_message_tokens`.

    Example:
        >>> count_responses_input_tokens("Hello!", "gpt-4o", instructions="Be brief.")
        16
    """
    encoding = encoding_for_model(model)
    base = _base_encoding(encoding)
    total = REPLY_PRIMING_TOKENS
    if isinstance(instructions, str) and instructions:
        total += MESSAGE_OVERHEAD_TOKENS + 1 + _count(instructions, base)
    if isinstance(input, str):
        total += MESSAGE_OVERHEAD_TOKENS + 1 + _count(input, base)
    elif not _absent(input):
        for item in _iter_items(input, "input"):
            total += _responses_item_tokens(item, base)
    return _with_margin(total) if encoding == "claude" else total


def _anthropic_block_tokens(block: Any, encoding: str) -> int:
    if isinstance(block, str):
        return _count(block, encoding)
    mapping = _as_mapping(block)
    if mapping is None:
        return 0
    kind = mapping.get("type")
    if kind == "text":
        return _count(str(mapping.get("text") or ""), encoding)
    if kind == "image":
        return ANTHROPIC_IMAGE_TOKENS
    if kind == "tool_use" or kind == "server_tool_use":
        return (
            3
            + _count(str(mapping.get("name") or ""), encoding)
            + _json_tokens(mapping.get("input") or {}, encoding)
        )
    if kind == "tool_result":
        content = mapping.get("content")
        if isinstance(content, (list, tuple)):
            inner = sum(_anthropic_block_tokens(item, encoding) for item in content)
        else:
            inner = _count(str(content or ""), encoding)
        return 3 + inner
    if kind == "thinking":
        return _count(str(mapping.get("thinking") or ""), encoding)
    if kind == "document":
        source = _as_mapping(mapping.get("source")) or {}
        text = source.get("data") if source.get("type") == "text" else None
        extra = _count(text, encoding) if isinstance(text, str) else 0
        return extra + sum(_count(t, encoding) for t in _strings(mapping) if t != kind)
    ignored = {"type", "id", "tool_use_id", "signature", "cache_control", "data"}
    return sum(
        _count(text, encoding)
        for key, value in mapping.items()
        if key not in ignored
        for text in _strings(value)
    )


def _anthropic_content_tokens(content: Any, encoding: str) -> int:
    if _absent(content):
        return 0
    if isinstance(content, str):
        return _count(content, encoding)
    if isinstance(content, (list, tuple)):
        return sum(_anthropic_block_tokens(block, encoding) for block in content)
    return _anthropic_block_tokens(content, encoding)


def count_anthropic_tokens(
    messages: Any,
    model: str,
    system: Any = None,
    tools: Any = None,
) -> int:
    """Estimate the input tokens of an Anthropic Messages request, offline.

    Claude's tokenizer is not public: the messages, system prompt and tools are counted with
    ``o200k_base`` (3 tokens per message; text, tool use input JSON, tool results and
    thinking text counted; each image :data:`ANTHROPIC_IMAGE_TOKENS`; tools as compact JSON
    plus the tool-use system prompt Anthropic adds) and the sum is multiplied by
    :data:`ANTHROPIC_MARGIN`, rounded up. Expect the estimate to be above the real count
    by up to about a third for English text; for the exact count use the free
    ``messages.count_tokens`` API (``llmcost.budget(..., estimator="anthropic_api")``).

    Example:
        >>> count_anthropic_tokens([{"role": "user", "content": "Hello, Claude"}],
        ...                        "claude-sonnet-4-5")
        9
    """
    del model  # every Claude model shares the approximation
    encoding = "o200k_base"
    total = 0
    for message in _iter_items(messages, "messages"):
        mapping = _as_mapping(message)
        if mapping is None:
            raise TypeError(f"an Anthropic message must be a mapping, got {message!r:.80}")
        total += MESSAGE_OVERHEAD_TOKENS + _anthropic_content_tokens(
            mapping.get("content"), encoding
        )
    if not _absent(system):
        total += _anthropic_content_tokens(system, encoding)
    if not _absent(tools) and tools:
        total += ANTHROPIC_TOOL_SYSTEM_TOKENS + _tools_tokens(tools, encoding)
    return _with_margin(total)


_GEMINI_MEDIA_KEYS = ("inline_data", "inlineData", "file_data", "fileData")
_GEMINI_CALL_KEYS = ("function_call", "functionCall", "function_response", "functionResponse")


def _gemini_part_tokens(part: Any, encoding: str) -> int:
    if isinstance(part, str):
        return _count(part, encoding)
    mapping = _as_mapping(part)
    if mapping is None:
        # PIL images, uploaded File objects: media the SDK sends as a part.
        return GEMINI_MEDIA_TOKENS
    total = 0
    text = mapping.get("text")
    if isinstance(text, str):
        total += _count(text, encoding)
    if any(not _absent(mapping.get(key)) for key in _GEMINI_MEDIA_KEYS):
        total += GEMINI_MEDIA_TOKENS
    for key in _GEMINI_CALL_KEYS:
        call = mapping.get(key)
        if not _absent(call):
            total += 3 + _json_tokens(_as_mapping(call) or str(call), encoding)
    parts = mapping.get("parts")
    if isinstance(parts, (list, tuple)):  # a Content: role + parts
        total += MESSAGE_OVERHEAD_TOKENS + sum(_gemini_part_tokens(p, encoding) for p in parts)
    return total


def count_gemini_tokens(
    contents: Any,
    model: str,
    system_instruction: Any = None,
    tools: Any = None,
) -> int:
    """Estimate the input tokens of a Gemini ``generate_content`` request, offline.

    ``contents`` takes every shape ``google-genai`` accepts: a string, a ``Part`` or
    ``Content`` (SDK objects or dicts, snake_case or camelCase), or a list of them. Text is
    counted with ``o200k_base``; each ``Content`` adds 3 tokens; function calls and responses
    count their JSON; each image, audio, video, document or file part counts
    :data:`GEMINI_MEDIA_TOKENS` (not decoded); tools count their compact JSON. The sum is
    multiplied by :data:`GEMINI_MARGIN` and rounded up: an approximation that errs high for
    text. For the exact count use the free ``client.models.count_tokens``.

    Example:
        >>> count_gemini_tokens("Explain how AI works in a few words", "gemini-2.5-flash")
        10
    """
    del model  # every Gemini model shares the approximation
    encoding = "o200k_base"
    if _absent(contents):
        total = 0
    elif isinstance(contents, (list, tuple)):
        total = sum(_gemini_part_tokens(item, encoding) for item in contents)
    else:
        total = _gemini_part_tokens(contents, encoding)
    if not _absent(system_instruction):
        if isinstance(system_instruction, (list, tuple)):
            total += sum(_gemini_part_tokens(item, encoding) for item in system_instruction)
        else:
            total += _gemini_part_tokens(system_instruction, encoding)
    total += _tools_tokens(tools, encoding)
    return math.ceil(total * GEMINI_MARGIN)


# --- whole requests (the budget engine's entry point) ----------------------------------------


def _prompt_tokens(prompt: Any, encoding: str) -> int:
    """Embeddings ``input`` / completions ``prompt``: str, list of str, token ids, or lists."""
    if _absent(prompt):
        return 0
    if isinstance(prompt, str):
        return _count(prompt, encoding)
    if isinstance(prompt, (list, tuple)):
        if prompt and all(isinstance(item, int) for item in prompt):
            return len(prompt)  # already token ids
        return sum(_prompt_tokens(item, encoding) for item in prompt)
    raise TypeError(f"expected a str or a list, got {type(prompt).__name__}")


def prompt_count(prompt: Any) -> int:
    """How many separate prompts a completions ``prompt`` holds (each gets ``n`` choices)."""
    if isinstance(prompt, (list, tuple)) and prompt:
        if all(isinstance(item, int) for item in prompt):
            return 1
        return len(prompt)
    return 1


def estimate_request_input_tokens(provider: str, operation: str, request: Mapping[str, Any]) -> int:
    """Estimate the input tokens of a request from its keyword arguments, offline.

    Args:
        provider: ``"openai"`` or ``"anthropic"`` (or another provider speaking their APIs).
        operation: ``"chat"`` (messages, tools, functions, response_format),
            ``"generate_content"`` (Gemini: contents, config.system_instruction and
            config.tools; a request with ``contents`` is Gemini's for any operation),
            ``"responses"`` (input, instructions, tools), ``"embeddings"`` (input),
            ``"completions"`` (prompt) or ``"messages"`` (Anthropic: messages, system, tools).
        request: The keyword arguments given to the SDK method.

    Raises:
        ValueError: the operation is not one of the above.

    Example:
        >>> estimate_request_input_tokens(
        ...     "openai", "embeddings", {"model": "text-embedding-3-small", "input": "hi"})
        1
    """
    model = request.get("model")
    model_name = model if isinstance(model, str) else ""
    if operation == "generate_content" or "contents" in request:  # Gemini (google-genai)
        config = request.get("config")
        # a dict, or a GenerateContentConfig (read by attribute: its tools may be functions)
        read = config.get if isinstance(config, Mapping) else partial(getattr, config)
        return count_gemini_tokens(
            request.get("contents"),
            model_name,
            system_instruction=read("system_instruction", None),
            tools=read("tools", None),
        )
    if operation == "messages":
        return count_anthropic_tokens(
            request.get("messages") or [],
            model_name,
            system=request.get("system"),
            tools=request.get("tools"),
        )
    encoding = encoding_for_model(model_name, provider) if model_name else "o200k_base"
    base = _base_encoding(encoding)
    if operation == "chat":
        total = count_message_tokens(request.get("messages") or [], base)
        total += _tools_tokens(request.get("tools"), base)
        total += _tools_tokens(request.get("functions"), base)
        response_format = request.get("response_format")
        if not _absent(response_format) and not isinstance(response_format, type):
            total += _json_tokens(_as_mapping(response_format) or str(response_format), base)
    elif operation == "responses":
        instructions = request.get("instructions")
        total = count_responses_input_tokens(
            request.get("input"),
            base,
            instructions=instructions if isinstance(instructions, str) else None,
        )
        total += _tools_tokens(request.get("tools"), base)
        text = _as_mapping(request.get("text"))
        if text is not None and _as_mapping(text.get("format")) is not None:
            total += _json_tokens(dict(text["format"]), base)
    elif operation == "embeddings":
        total = _prompt_tokens(request.get("input"), base)
    elif operation == "completions":
        total = _prompt_tokens(request.get("prompt"), base)
        suffix = request.get("suffix")
        if isinstance(suffix, str):
            total += _count(suffix, base)
    else:
        raise ValueError(
            f"cannot estimate input tokens for operation {operation!r}; expected one of "
            "'chat', 'responses', 'embeddings', 'completions', 'messages'"
        )
    return _with_margin(total) if encoding == "claude" else total
