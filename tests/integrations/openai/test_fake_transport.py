"""The fake OpenAI provider behaves like the real API, without llmcost instrumenting it."""

from __future__ import annotations

import time

import httpx2
import openai
import pytest

from llmcost.testing import FakeOpenAITransport, fake_async_openai_client, fake_openai_client

MESSAGES = [{"role": "user", "content": "Hi"}]


def test_records_every_request_and_marks_every_response():
    transport = FakeOpenAITransport()
    client = fake_openai_client(transport=transport)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    assert raw.headers["x-llmcost-replayed"] == "1"
    assert raw.headers["x-request-id"] == "req_fake_0001"
    assert len(transport.requests) == 1
    assert transport.request_json() == {"messages": MESSAGES, "model": "gpt-4o-mini"}
    assert transport.requests[0].headers["authorization"].startswith("Bearer sk-llmcost-fake")


def test_usage_is_rendered_in_each_endpoint_shape():
    usage = {"input_tokens": 1200, "output_tokens": 300, "cache_read_tokens": 1000}
    client = fake_openai_client(usage=usage, model="gpt-4o-mini-2024-07-18")
    chat = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert chat.model == "gpt-4o-mini-2024-07-18"
    assert (chat.usage.prompt_tokens, chat.usage.completion_tokens) == (1200, 300)
    assert chat.usage.prompt_tokens_details.cached_tokens == 1000
    response = client.responses.create(model="gpt-4.1", input="Hi")
    assert response.usage.input_tokens_details.cached_tokens == 1000
    assert response.output_text == "Hello from the fake OpenAI provider."
    embedding = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert [item.index for item in embedding.data] == [0, 1]
    assert len(embedding.data[0].embedding) == 8
    assert embedding.usage.prompt_tokens == 1200


def test_stream_with_include_usage_matches_the_real_wire_format():
    client = fake_openai_client(usage={"input_tokens": 5, "output_tokens": 2}, text="a b")
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert [c.choices[0].delta.content for c in chunks[:-1]] == ["", "a", " b", None]
    assert all("usage" in c.model_fields_set for c in chunks)
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == 5
    plain = list(
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    )
    assert all("usage" not in c.model_fields_set for c in plain)


def test_responses_stream_ends_with_completed_event():
    client = fake_openai_client(usage={"input_tokens": 5, "output_tokens": 2})
    events = list(client.responses.create(model="gpt-4.1", input="Hi", stream=True))
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage.output_tokens == 2
    assert [e.sequence_number for e in events] == list(range(len(events)))


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, openai.InternalServerError),
        (429, openai.RateLimitError),
        (400, openai.BadRequestError),
    ],
)
def test_status_errors_have_a_real_error_body(status, error):
    client = fake_openai_client(status_code=status)
    with pytest.raises(error) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert caught.value.body["type"]
    assert caught.value.response.headers["x-llmcost-replayed"] == "1"


def test_timeout_and_connection_errors():
    with pytest.raises(openai.APITimeoutError):
        fake_openai_client(error="timeout").embeddings.create(model="m", input="x")
    with pytest.raises(openai.APIConnectionError):
        fake_openai_client(error="connection").embeddings.create(model="m", input="x")


def test_latency_is_applied():
    client = fake_openai_client(latency=0.05)
    started = time.perf_counter()
    client.embeddings.create(model="text-embedding-3-small", input="x")
    assert time.perf_counter() - started >= 0.05


def test_unknown_path_is_a_404():
    client = fake_openai_client()
    with pytest.raises(openai.NotFoundError):
        client.models.list()


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="error must be"):
        FakeOpenAITransport(error="boom")
    with pytest.raises(ValueError, match="cache_read_tokens"):
        FakeOpenAITransport(usage={"input_tokens": 1, "cache_read_tokens": 5})
    with pytest.raises(TypeError, match="either transport"):
        fake_openai_client(transport=FakeOpenAITransport(), text="x")


def test_transport_is_an_httpx2_transport_for_both_clients():
    transport = FakeOpenAITransport()
    assert isinstance(transport, httpx2.BaseTransport)
    assert isinstance(transport, httpx2.AsyncBaseTransport)


async def test_async_client_and_broken_stream():
    transport = FakeOpenAITransport(fail_after_events=2)
    client = fake_async_openai_client(transport=transport)
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )
    seen = []

    async def read_all() -> None:
        async for chunk in stream:
            seen.append(chunk)

    # Older openai releases let httpx2's ReadError through; newer ones wrap it.
    with pytest.raises((openai.APIConnectionError, httpx2.ReadError)):
        await read_all()
    assert len(seen) == 2
    assert len(transport.requests) == 1
