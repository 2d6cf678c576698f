"""What llmcost's fake provider transports share: latency, the requests received, a number per
request (``FakeAnthropicTransport`` and ``FakeGeminiTransport`` build on it)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

import httpx2


class FakeTransport(httpx2.MockTransport):
    """An ``httpx2`` transport answering every request with :meth:`_respond` after ``latency``
    seconds (``asyncio.sleep`` on async clients).

    Attributes:
        requests: Every ``httpx2.Request`` received, in order (bodies already read).
    """

    #: Read by the llmcost integrations: records of calls answered here are ``replayed``.
    llmcost_replayed = True

    def __init__(self, latency: float) -> None:
        if latency < 0:
            raise ValueError(f"latency must be >= 0 seconds, got {latency!r}")
        super().__init__(self._answer)
        self.latency = latency
        self.requests: list[httpx2.Request] = []
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        if self.latency:
            time.sleep(self.latency)
        return self._answer(request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        if self.latency:
            await asyncio.sleep(self.latency)
        return self._answer(request)

    def _answer(self, request: httpx2.Request) -> httpx2.Response:
        with self._lock:
            self.requests.append(request)
            number = next(self._counter)
        return self._respond(request, number)

    def _respond(self, request: httpx2.Request, number: int) -> httpx2.Response:
        """The response to the ``number``-th request (from 1)."""
        raise NotImplementedError
