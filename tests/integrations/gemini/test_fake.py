"""llmcost.testing's fake Gemini API: the real google-genai client, answered offline."""

from __future__ import annotations

import doctest

import httpx2
import pytest
from google.genai import errors, types

import llmcost.testing
from llmcost.integrations._gemini_usage import (
    GeminiStream,
    embedding_usage,
    output_text,
    response_fields,
    usage_from_gemini,
)
from llmcost.testing import _gemini
from llmcost.testing._gemini import FakeGeminiTransport

USAGE = {
    "input_tokens": 1500,
    "cache_read_tokens": 1000,
    "tool_use_prompt_tokens": 100,
    "input_audio_tokens": 320,
    "output_tokens": 400,
    "reasoning_tokens": 300,
}


def test_docstring_examples() -> None:
    """The examples in the module's docstrings run and hold."""
    assert doctest.testmod(_gemini).failed == 0


def test_exported_from_llmcost_testing() -> None:
    """The fake is importable from llmcost.testing like the other providers' fakes."""
    assert llmcost.testing.FakeGeminiTransport is FakeGeminiTransport
    assert llmcost.testing.fake_gemini_client is _gemini.fake_gemini_client
    assert {"FakeGeminiTransport", "fake_gemini_client"} <= set(llmcost.testing.__all__)


@pytest.mark.parametrize("vertexai", [False, True])
def test_usage_round_trips_in_llmcost_terms(vertexai: bool) -> None:
    """Usage given in llmcost terms reads back the same through the SDK, on both platforms."""
    transport = FakeGeminiTransport(usage=USAGE, request_id="rq-7")
    client = llmcost.testing.fake_gemini_client(vertexai=vertexai, transport=transport)
    response = client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    usage = usage_from_gemini(response.usage_metadata)
    assert usage is not None
    assert usage.model_dump(exclude_defaults=True) == {
        "input_tokens": 1500,
        "cache_read_tokens": 1000,
        "input_audio_tokens": 320,
        "output_tokens": 400,
        "reasoning_tokens": 300,
    }
    fields = response_fields(response)
    assert fields["response_model"] == "gemini-2.5-flash"
    assert fields["request_id"] == "rq-7"
    assert fields["response_id"].startswith("fake-")
    host = transport.requests[0].url.host
    expected = "us-central1-aiplatform.googleapis.com" if vertexai else "generativelanguage"
    assert host.startswith(expected)
    assert response.sdk_http_response is not None
    assert response.sdk_http_response.headers["x-llmcost-replayed"] == "1"


def test_stream_chunks_carry_cumulative_usage() -> None:
    """Each chunk repeats the usage so far; the last equals the whole call's usage."""
    client = llmcost.testing.fake_gemini_client(
        usage={"input_tokens": 10, "output_tokens": 40, "reasoning_tokens": 10},
        text="one two three four",
        thought_text="thinking...",
    )
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-pro", contents="Hi"))
    assert len(chunks) == 5
    answers = [c.usage_metadata.candidates_token_count for c in chunks]
    assert answers == sorted(answers)
    assert answers[-1] == 30
    state = GeminiStream()
    for chunk in chunks:
        state.feed(chunk)
    usage = state.usage()
    assert usage is not None
    assert (usage.output_tokens, usage.reasoning_tokens) == (40, 10)
    assert "".join(output_text(c) for c in chunks) == "thinking...one two three four"


async def test_async_client_and_stream() -> None:
    """client.aio answers through the same transport."""
    transport = FakeGeminiTransport(text="async hello", latency=0.001)
    client = llmcost.testing.fake_gemini_client(transport=transport)
    response = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert response.text == "async hello"
    chunks = [
        chunk
        async for chunk in await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash", contents="Hi"
        )
    ]
    assert "".join(c.text or "" for c in chunks) == "async hello"
    assert len(transport.requests) == 2


@pytest.mark.parametrize("vertexai", [False, True])
def test_count_compute_and_embed(vertexai: bool) -> None:
    """count_tokens, compute_tokens (Vertex AI only) and embed_content are answered."""
    transport = FakeGeminiTransport(usage={"input_tokens": 77, "output_tokens": 1})
    client = llmcost.testing.fake_gemini_client(vertexai=vertexai, transport=transport)
    counted = client.models.count_tokens(model="gemini-2.5-flash", contents="Hi")
    assert counted.total_tokens == 77
    if vertexai:
        assert client.models.compute_tokens(model="gemini-2.5-flash", contents="Hi").tokens_info
    embedded = client.models.embed_content(model="gemini-embedding-001", contents=["a", "b"])
    assert len(embedded.embeddings or []) == 2
    usage = embedding_usage(embedded)
    if vertexai or "usage_metadata" in types.EmbedContentResponse.model_fields:
        assert usage is not None
        assert usage.input_tokens == 12  # 6 tokens per text
    else:  # google-genai 3.0 drops the Gemini API's usageMetadata: no usage to read
        assert usage is None


@pytest.mark.parametrize(
    ("error", "status"),
    [("rate_limit", 429), ("server_error", 500), ("unavailable", 503), ("invalid_request", 400)],
)
def test_errors_as_the_api_sends_them(error: str, status: int) -> None:
    """Error bodies are Google's shape; the SDK raises its API error with the status."""
    client = llmcost.testing.fake_gemini_client(error=error)
    with pytest.raises(errors.APIError) as raised:
        client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert raised.value.code == status


def test_vertex_predict_embeddings_report_statistics() -> None:
    """Vertex AI's predict (older embedding models) reports a token count per embedding."""
    request = httpx2.Request(
        "POST",
        "https://us-central1-aiplatform.googleapis.com/v1beta1/projects/p/locations/l/"
        "publishers/google/models/text-embedding-005:predict",
        json={"instances": [{"content": "a"}, {"content": "b"}, {"content": "c"}]},
    )
    body = FakeGeminiTransport(embedding_tokens=4).handle_request(request).json()
    counts = [p["embeddings"]["statistics"]["token_count"] for p in body["predictions"]]
    assert counts == [4.0, 4.0, 4.0]


def test_timeout_is_a_transport_timeout() -> None:
    """error='timeout' raises the transport's read timeout."""
    transport = FakeGeminiTransport(error="timeout")
    with pytest.raises(httpx2.ReadTimeout):
        transport.handle_request(httpx2.Request("POST", "https://x/v1/models/m:generateContent"))


def test_unknown_route_is_404() -> None:
    """A path the fake does not know gets a 404, not a made-up answer."""
    response = FakeGeminiTransport().handle_request(httpx2.Request("GET", "https://x/v1/files"))
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"error": "boom"}, "error must be one of"),
        ({"latency": -1}, "latency"),
        ({"usage": {"prompt_tokens": 1}}, "unknown field"),
        ({"usage": {"input_tokens": -1}}, "input_tokens"),
        ({"usage": {"input_tokens": 1, "cache_read_tokens": 2}}, "exceed input_tokens"),
        ({"usage": {"output_tokens": 1, "reasoning_tokens": 2}}, "exceed output_tokens"),
        ({"usage": [1, 2]}, "mapping"),
    ],
)
def test_bad_options_are_named(options: dict[str, object], message: str) -> None:
    """Bad fake options raise an error naming the option."""
    with pytest.raises((TypeError, ValueError), match=message):
        FakeGeminiTransport(**options)  # type: ignore[arg-type]


def test_transport_or_options_not_both() -> None:
    """A given transport and transport options together are refused."""
    with pytest.raises(TypeError, match="not both"):
        llmcost.testing.fake_gemini_client(transport=FakeGeminiTransport(), text="x")
