"""A loopback stand-in for the Stainless mock server the SDKs' generated tests talk to.

The generated ``tests/api_resources`` tests of the openai and anthropic SDKs send real HTTP
requests to ``TEST_API_BASE_URL`` (``http://127.0.0.1:4010`` by default), where the SDK
authors run a mock server generated from the OpenAPI spec. The conformance harness
(``scripts/sdk-suites.sh``) starts this module instead, on a free loopback port, and points
``TEST_API_BASE_URL`` at it. It answers the calls llmcost bills, with bodies of the shapes the
SDKs validate strictly:

- OpenAI: ``POST /chat/completions``, ``/completions``, ``/responses``,
  ``/responses/input_tokens``, ``/embeddings`` (JSON, or SSE when the body asks ``stream``);
- Anthropic: ``POST /v1/messages`` and ``/v1/messages/count_tokens`` (beta included).

Anything else gets a 404 with a JSON error naming the route, and a line on stderr.

Run it alone with ``python tests/sdk_suites/stand_in.py``: it prints ``port=N`` on its first
line and serves until killed (``--port`` picks a port; 0, the default, lets the OS choose).
Only the standard library is used, so it runs in any environment the harness builds.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CREATED = 1_764_979_200  # 2025-12-06, fixed so bodies are reproducible
TEXT = "Hello from the stand-in."
EMBEDDING = [0.0125, -0.25, 0.5, 1.0]

Event = tuple[str | None, dict[str, Any] | str]  # (SSE event name, data)


# --- OpenAI bodies --------------------------------------------------------------------------------


def chat_usage() -> dict[str, Any]:
    return {
        "prompt_tokens": 12,
        "completion_tokens": 6,
        "total_tokens": 18,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def chat_completion(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": TEXT, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": chat_usage(),
    }


def chat_chunks(model: str) -> list[Event]:
    def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-standin",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "choices": choices,
            "usage": usage,
        }

    return [
        (None, chunk([{"index": 0, "delta": {"role": "assistant", "content": TEXT}}], None)),
        (None, chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}], None)),
        (None, chunk([], chat_usage())),
        (None, "[DONE]"),
    ]


def completion(model: str) -> dict[str, Any]:
    return {
        "id": "cmpl-standin",
        "object": "text_completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "text": TEXT, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18},
    }


def completion_chunks(model: str) -> list[Event]:
    # One chunk: the SDK's strict validation wants a finish_reason on every choice.
    return [(None, completion(model)), (None, "[DONE]")]


def response(model: str, *, status: str = "completed") -> dict[str, Any]:
    done = status == "completed"
    return {
        "id": "resp_standin",
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "model": model,
        "output": (
            [
                {
                    "type": "message",
                    "id": "msg_standin",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": TEXT, "annotations": []}],
                }
            ]
            if done
            else []
        ),
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "usage": (
            {
                "input_tokens": 12,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": 6,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 18,
            }
            if done
            else None
        ),
    }


def response_events(model: str) -> list[Event]:
    return [
        (
            "response.created",
            {
                "type": "response.created",
                "sequence_number": 0,
                "response": response(model, status="in_progress"),
            },
        ),
        (
            "response.output_text.delta",
            {
                "type": "response.output_text.delta",
                "sequence_number": 1,
                "item_id": "msg_standin",
                "output_index": 0,
                "content_index": 0,
                "delta": TEXT,
                "logprobs": [],
            },
        ),
        (
            "response.completed",
            {"type": "response.completed", "sequence_number": 2, "response": response(model)},
        ),
    ]


def embeddings(model: str) -> dict[str, Any]:
    # Floats even when base64 is asked for, as the mock server answers: the SDK validates the
    # schema (a list) strictly before it would decode a string.
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": EMBEDDING}],
        "model": model,
        "usage": {"prompt_tokens": 5, "total_tokens": 5},
    }


# --- Anthropic bodies -----------------------------------------------------------------------------


def message(model: str) -> dict[str, Any]:
    return {
        "id": "msg_01StandIn000000000000001",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": TEXT, "citations": None}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "output_tokens": 6,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def message_events(model: str) -> list[Event]:
    start = message(model)
    start.update(content=[], stop_reason=None)
    start["usage"] = dict(start["usage"], output_tokens=1)
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": TEXT}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 6},
        },
        {"type": "message_stop"},
    ]
    return [(event["type"], event) for event in events]


# --- routing --------------------------------------------------------------------------------------


def answer(path: str, body: dict[str, Any]) -> dict[str, Any] | list[Event] | None:
    """The JSON body or the SSE events for a POST to ``path``; None for a route not served."""
    route = path.split("?", 1)[0].rstrip("/")
    model = str(body.get("model") or "stand-in-model")
    stream = body.get("stream") is True
    if route == "/v1/messages":
        return message_events(model) if stream else message(model)
    if route == "/v1/messages/count_tokens":
        return {"input_tokens": 12}
    route = route.removeprefix("/v1")
    if route == "/chat/completions":
        return chat_chunks(model) if stream else chat_completion(model)
    if route == "/completions":
        return completion_chunks(model) if stream else completion(model)
    if route == "/responses":
        return response_events(model) if stream else response(model)
    if route == "/responses/input_tokens":
        return {"object": "response.input_tokens", "input_tokens": 12}
    if route == "/embeddings":
        return embeddings(model)
    return None


def sse(events: list[Event]) -> Iterator[bytes]:
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        head = f"event: {name}\n" if name else ""
        yield f"{head}data: {text}\n\n".encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = {}  # multipart or other non-JSON bodies: answered by route alone
        if not isinstance(body, dict):
            body = {}
        result = answer(self.path, body)
        if result is None:
            sys.stderr.write(f"stand-in: no route for POST {self.path}\n")
            self._send(404, "application/json", _error(f"no route for POST {self.path}"))
        elif isinstance(result, list):
            self._send(200, "text/event-stream; charset=utf-8", b"".join(sse(result)))
        else:
            self._send(200, "application/json", json.dumps(result).encode())

    def do_GET(self) -> None:
        sys.stderr.write(f"stand-in: no route for GET {self.path}\n")
        self._send(404, "application/json", _error(f"no route for GET {self.path}"))

    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", "req_standin")
        self.send_header("x-request-id", "req_standin")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per request is noise
        return


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that closes a stream early resets the connection: expected, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _error(message: str) -> bytes:
    return json.dumps(
        {"type": "error", "error": {"type": "not_found_error", "message": message}}
    ).encode()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    args = parser.parse_args(argv)
    server = Server(("127.0.0.1", args.port), Handler)
    print(f"port={server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
