"""The fault-injection harness: a loopback ingestion server that fails on purpose.

The server deduplicates by ``record_id`` (as a careful real receiver does), remembers the
``Idempotency-Key`` each record first came with, and answers each request as its ``plan``
says: ``ok``, ``500``, ``503`` (with ``Retry-After: 1``), ``429``, ``reset`` (the connection
is torn down with a TCP RST, nothing stored), ``stall`` (no answer until the client gave up,
nothing stored) or ``stored_then_reset`` (the records are kept, the answer is lost on the way
back: the client must retry and the receiver sees duplicates). ``go_down()`` closes the
listening socket (connections are refused) and resets open ones; ``come_up()`` listens on the
same port again.

Everything is bounded: at most ``max_requests`` requests are served (later ones get a 507 the
sink does not retry, so a runaway loop fails the test instead of spinning), and every test
waits with a timeout.
"""

from __future__ import annotations

import gzip
import json
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from llmcost.types import CostRecord

KINDS = ("500", "503", "429", "reset", "stall", "stored_then_reset")


class FaultServer:
    """A loopback ingestion endpoint with scripted faults (see the module docs)."""

    def __init__(
        self,
        plan: Callable[[int, bytes], str] | None = None,
        *,
        max_requests: int = 20_000,
        stall_seconds: float = 1.0,
    ) -> None:
        self.lock = threading.Lock()
        self.plan = plan or (lambda index, body: "ok")
        self.max_requests = max_requests
        self.stall_seconds = stall_seconds
        #: The body of every error answer.
        self.error_body = b'{"error":"injected"}'
        self.requests = 0
        self.kinds: Counter[str] = Counter()
        self.unique: dict[str, dict[str, Any]] = {}
        self.first_key: dict[str, str] = {}
        self.duplicates = 0
        self.key_mismatches = 0
        self.down = False
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.come_up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ingest"

    # --- lifecycle -------------------------------------------------------------------------

    def come_up(self) -> None:
        server = _Server(("127.0.0.1", self.port), _make_handler(self))
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        with self.lock:
            self.down = False

    def go_down(self) -> None:
        with self.lock:
            self.down = True
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            server.shutdown()
            thread.join(5)
            server.server_close()
        self._server = self._thread = None

    def stop(self) -> None:
        self.go_down()

    # --- what the handler does -------------------------------------------------------------

    def store(self, records: list[dict[str, Any]], key: str) -> None:
        # Under self.lock.
        for record in records:
            record_id = record["record_id"]
            if record_id in self.unique:
                self.duplicates += 1
                if self.first_key[record_id] != key:
                    self.key_mismatches += 1
            else:
                self.unique[record_id] = record
                self.first_key[record_id] = key


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # resets and client timeouts are the point of this server


def _reset(connection: socket.socket) -> None:
    # SO_LINGER with a zero timeout turns close() into a TCP RST: "connection reset by peer".
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def _make_handler(fs: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            with fs.lock:
                if fs.down:
                    kind = "down"
                elif fs.requests >= fs.max_requests:
                    kind = "over_limit"
                else:
                    kind = fs.plan(fs.requests, raw)
                    fs.requests += 1
                fs.kinds[kind] += 1
                if kind in ("ok", "stored_then_reset"):
                    if self.headers.get("Content-Encoding") == "gzip":
                        raw = gzip.decompress(raw)
                    records = json.loads(raw, parse_float=Decimal)["records"]
                    fs.store(records, self.headers.get("Idempotency-Key", ""))
            if kind in ("down", "reset", "stored_then_reset"):
                self.close_connection = True
                _reset(self.connection)
                return
            if kind == "stall":
                time.sleep(fs.stall_seconds)
                self.close_connection = True
                _reset(self.connection)
                return
            status, headers = {
                "ok": (200, {}),
                "500": (500, {}),
                "503": (503, {"Retry-After": "1"}),
                "429": (429, {}),
                "401": (401, {}),
                "413": (413, {}),
                "over_limit": (507, {}),
            }[kind]
            body = b'{"ok":true}' if status == 200 else fs.error_body
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer()
    yield server
    server.stop()


def make_record(index: int = 0, **fields: Any) -> CostRecord:
    """A priced chat record; ``fields`` override any field."""
    base: dict[str, Any] = {
        "provider": "openai",
        "operation": "chat",
        "model": "gpt-4o",
        "request_id": f"req_{index}",
        "feature": "fault_injection",
        "input_tokens": 1000 + index,
        "output_tokens": 100,
        "input_cost_usd": Decimal("0.0025"),
        "output_cost_usd": Decimal("0.001"),
        "total_cost_usd": Decimal("0.0035"),
        "priced": True,
    }
    base.update(fields)
    return CostRecord(**base)


@pytest.fixture
def records() -> Callable[[int], list[CostRecord]]:
    return lambda count: [make_record(index) for index in range(count)]


@pytest.fixture
def new_record() -> Callable[..., CostRecord]:
    return make_record


@pytest.fixture
def sinks_to_close() -> Iterator[list[Any]]:
    """Sinks a test made; each is closed (bounded) at the end even when the test failed."""
    made: list[Any] = []
    yield made
    for sink in made:
        sink.close(timeout=2.0)
