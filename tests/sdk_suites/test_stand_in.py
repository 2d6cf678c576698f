"""The stand-in for the SDKs' mock server answers what the SDKs validate strictly."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

STAND_IN = Path(__file__).with_name("stand_in.py")
MESSAGES = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The stand-in, started as the harness starts it: a process on a free loopback port."""
    process = subprocess.Popen([sys.executable, str(STAND_IN)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    try:
        assert line.startswith("port="), line
        yield f"http://127.0.0.1:{int(line.removeprefix('port='))}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.fixture
def oai(base_url: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=base_url, api_key="k", max_retries=0, _strict_response_validation=True
    ) as client:
        yield client


@pytest.fixture
def ant(base_url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=base_url, api_key="k", max_retries=0, _strict_response_validation=True
    ) as client:
        yield client


def test_openai_chat_completions_json_and_stream(oai: openai.OpenAI) -> None:
    """Chat completions: a valid body with usage, and an SSE stream ending in a usage chunk."""
    completion = oai.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert completion.usage is not None
    assert completion.usage.total_tokens == 18
    chunks = list(oai.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))  # type: ignore[arg-type]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 12
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_openai_legacy_completions_and_embeddings(oai: openai.OpenAI) -> None:
    """Legacy completions (JSON and stream) and embeddings validate."""
    assert oai.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hi").choices[0].text
    streamed = list(
        oai.completions.create(model="gpt-3.5-turbo-instruct", prompt="Hi", stream=True)
    )
    assert streamed[-1].usage is not None
    embedding = oai.embeddings.create(model="text-embedding-3-small", input="Hi")
    assert embedding.data[0].embedding
    assert embedding.usage.prompt_tokens == 5


def test_openai_responses_json_stream_and_input_tokens(oai: openai.OpenAI) -> None:
    """Responses: a completed response, a created-delta-completed stream, an input count."""
    response = oai.responses.create(model="gpt-4o-mini", input="Hi")
    assert response.output_text
    assert response.usage is not None
    events = list(oai.responses.create(model="gpt-4o-mini", input="Hi", stream=True))
    assert [event.type for event in events] == [
        "response.created",
        "response.output_text.delta",
        "response.completed",
    ]
    assert oai.responses.input_tokens.count(model="gpt-4o-mini", input="Hi").input_tokens == 12


def test_anthropic_messages_json_stream_and_count(ant: anthropic.Anthropic) -> None:
    """Messages (and beta messages): a message, a full event stream, a token count."""
    message = ant.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
    assert message.usage.input_tokens == 12
    with ant.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=10,
        messages=MESSAGES,  # type: ignore[arg-type]
    ) as stream:
        final = stream.get_final_message()
    assert (final.usage.input_tokens, final.usage.output_tokens) == (12, 6)
    assert (
        ant.messages.count_tokens(model="claude-sonnet-4-6", messages=MESSAGES).input_tokens == 12
    )  # type: ignore[arg-type]
    beta = ant.beta.messages.create(model="claude-sonnet-4-6", max_tokens=10, messages=MESSAGES)  # type: ignore[arg-type]
    assert beta.usage.output_tokens == 6


def test_a_route_not_served_is_a_404_naming_it(oai: openai.OpenAI) -> None:
    """What the stand-in does not serve fails loudly, naming the route."""
    with pytest.raises(openai.NotFoundError, match="/files"):
        oai.files.list()
