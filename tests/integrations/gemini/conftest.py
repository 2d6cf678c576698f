"""Fixtures for the Gemini tests: the real ``google-genai`` client over a fake HTTP transport.

The bodies in ``bodies/`` were written for this project, modelled on the response shapes
Google documents for ``generateContent`` and ``streamGenerateContent`` (camelCase JSON,
``usageMetadata`` as in the API reference); see each file's ``_about``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx2
import pytest
from google import genai
from google.genai import types

from llmcost.testing._gemini import FAKE_GEMINI_API_KEY, _credentials

BODIES = Path(__file__).parent / "bodies"


def body(name: str) -> dict[str, Any]:
    """A recorded body from ``bodies/``."""
    data: dict[str, Any] = json.loads((BODIES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def serving(payload: dict[str, Any], *, vertexai: bool = False) -> genai.Client:
    """A real client whose every call is answered with ``payload`` (``response`` or ``chunks``)."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        if "chunks" in payload:
            text = "".join(f"data: {json.dumps(c)}\r\n\r\n" for c in payload["chunks"])
            return httpx2.Response(
                200, headers={"content-type": "text/event-stream"}, content=text.encode()
            )
        return httpx2.Response(200, json=payload["response"])

    transport = httpx2.MockTransport(answer)
    options = types.HttpOptions(
        httpx_client=httpx2.Client(transport=transport),
        httpx_async_client=httpx2.AsyncClient(transport=transport),
    )
    if vertexai:
        return genai.Client(
            vertexai=True,
            project="conformance",
            location="us-central1",
            credentials=_credentials(),
            http_options=options,
        )
    return genai.Client(api_key=FAKE_GEMINI_API_KEY, http_options=options)


@pytest.fixture
def recorded() -> Any:
    """``recorded(name)``: a body from ``bodies/``."""
    return body


@pytest.fixture
def serve() -> Any:
    """``serve(payload, vertexai=False)``: a real client answering every call with it."""
    return serving


@pytest.fixture
def sink(memory_sink: Any) -> Any:
    """llmcost configured with a MemorySink and google-genai instrumented."""
    import llmcost

    assert llmcost.instrument("google.genai") == ["google.genai"]
    return memory_sink
