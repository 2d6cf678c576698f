""":class:`HTTPSink`: POST cost records in JSON batches to an ingestion endpoint.

``emit`` appends to a bounded in-memory queue (no I/O on the caller's thread); a background
worker (:mod:`llmcost.sinks._batch`) sends batches of ``{"records": [...]}`` with an
``Idempotency-Key`` header, retrying transient failures with exponential backoff and jitter.
The HTTP client (``httpx2``, the ``http`` extra) is imported when the sink is created.
"""

from __future__ import annotations

import email.utils
import gzip as gzip_module
import logging
import math
import random
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from llmcost import errors
from llmcost.sinks._batch import DROP_OVERFLOW, BatchWorker

if TYPE_CHECKING:
    from collections.abc import Mapping

    import httpx2

    from llmcost.types import CostRecord

__all__ = ["HTTPSink"]

logger = logging.getLogger("llmcost.sinks.http")

_RESPONSE_SNIPPET = 500


# --- the wire format ----------------------------------------------------------------------


def encode_record(record: CostRecord) -> str:
    """One record as compact JSON text, money as exact JSON numbers (``record.to_json()``)."""
    return record.to_json()


def encode_batch(records: list[CostRecord]) -> bytes:
    """The request body for ``records``: ``{"records":[...]}`` as UTF-8, each record written
    as ``CostRecord.to_json()`` writes it."""
    return ('{"records":[' + ",".join([record.to_json() for record in records]) + "]}").encode()


# --- Retry-After ---------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date), or None.

    Example:
        >>> parse_retry_after("3")
        3.0
        >>> parse_retry_after("soon") is None
        True
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds or seconds == math.inf:
        return None
    return max(0.0, seconds)


# --- the sink ------------------------------------------------------------------------------


class HTTPSink:
    """Send cost records to an HTTP endpoint in JSON batches, from a background thread.

    Each request is ``POST url`` with body ``{"records": [<CostRecord JSON>, ...]}`` (money as
    exact JSON numbers, field names as in :class:`~llmcost.CostRecord`) and an
    ``Idempotency-Key`` header that stays the same across the retries of one batch; every
    record also carries its ``record_id``. A receiver that deduplicates on either never counts
    a record twice.

    ``emit`` never touches the network: it appends to a queue of at most ``max_queue`` records
    (about a microsecond). When the queue is full, records are dropped, counted in
    :meth:`stats` and in ``llmcost.stats()["sink.http.dropped"]``, and one warning is logged.
    Connection errors, timeouts, 429 and 5xx are retried up to ``max_retries`` times with
    exponential backoff and jitter, waiting at least what a ``Retry-After`` header asks (up to
    ``max_retry_after`` seconds). Any other non-2xx answer drops the batch and logs the status
    and the start of the response body. Pending records are flushed at interpreter exit, and a
    forked child process starts its own worker and connection pool.

    Args:
        url: The ingestion endpoint (``http://`` or ``https://``).
        headers: Extra request headers, e.g. ``{"Authorization": "Bearer ..."}``.
        batch_size: Most records per request.
        flush_interval: Longest time, in seconds, a record waits for its batch to fill up.
        max_queue: Most records held in memory waiting to be sent.
        timeout: Seconds for each HTTP request (connect, write and read).
        max_retries: Retries per batch after the first attempt.
        gzip: Compress request bodies (``Content-Encoding: gzip``).
        backoff_base: First retry delay in seconds; doubles per retry, with jitter.
        backoff_max: Largest computed retry delay in seconds.
        max_retry_after: Largest ``Retry-After`` honoured, in seconds.
        shutdown_timeout: Seconds :meth:`close` (without its own timeout) and the exit flush
            wait for delivery before counting the rest as dropped.

    Example:
        >>> import llmcost
        >>> sink = llmcost.sinks.HTTPSink("https://ingest.example.com/v1/costs",
        ...                               headers={"Authorization": "Bearer s3cret"}, gzip=True)
        >>> llmcost.configure(project="checkout", sinks=[sink])  # doctest: +SKIP
        >>> sink.stats()["dropped"]
        0
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        max_queue: int = 10_000,
        timeout: float = 5.0,
        max_retries: int = 5,
        gzip: bool = False,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 60.0,
        shutdown_timeout: float = 5.0,
    ) -> None:
        try:
            import httpx2
        except ImportError as exc:  # pragma: no cover - the dev extras install it
            raise ImportError(
                "HTTPSink needs the httpx2 package: pip install 'llmcost[http]'"
            ) from exc

        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"HTTPSink url must be an http:// or https:// URL, got {url!r}")
        try:
            host = httpx2.URL(url).host
        except httpx2.InvalidURL as exc:
            raise ValueError(f"HTTPSink url {url!r} is not a valid URL: {exc}") from exc
        if not host:
            raise ValueError(f"HTTPSink url {url!r} is not a valid URL: it has no host")
        for name, value in (
            ("timeout", timeout),
            ("flush_interval", flush_interval),
            ("shutdown_timeout", shutdown_timeout),
        ):
            if not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"HTTPSink {name} must be a positive number, got {value!r}")
        for name, value in (
            ("backoff_base", backoff_base),
            ("backoff_max", backoff_max),
            ("max_retry_after", max_retry_after),
        ):
            if not (isinstance(value, (int, float)) and value >= 0):
                raise ValueError(f"HTTPSink {name} must be a number >= 0, got {value!r}")
        for name, count in (("batch_size", batch_size), ("max_queue", max_queue)):
            if not (isinstance(count, int) and count >= 1):
                raise ValueError(f"HTTPSink {name} must be an integer >= 1, got {count!r}")
        if not (isinstance(max_retries, int) and max_retries >= 0):
            raise ValueError(f"HTTPSink max_retries must be an integer >= 0, got {max_retries!r}")

        self.url = url
        self._client_class: type[httpx2.Client] = httpx2.Client
        self._transport_error: type[Exception] = httpx2.TransportError
        self._headers = {"User-Agent": _user_agent(), **dict(headers or {})}
        self._timeout = float(timeout)
        self._max_retries = max_retries
        self._gzip = gzip
        self._backoff_base = float(backoff_base)
        self._backoff_max = float(backoff_max)
        self._max_retry_after = float(max_retry_after)
        self._shutdown_timeout = float(shutdown_timeout)
        self._client: httpx2.Client | None = None
        self._retried = 0
        self._overflow_warned = False
        self._warn_lock = threading.Lock()
        self._worker: BatchWorker[CostRecord] = BatchWorker(
            self._send,
            name="http",
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_queue=max_queue,
            on_drop=self._on_drop,
            after_fork_in_child=self._after_fork_in_child,
            on_stop=self._close_client,
            exit_timeout=shutdown_timeout,
        )

    def __repr__(self) -> str:
        return f"HTTPSink({self.url!r})"

    # --- Sink protocol ---------------------------------------------------------------------

    def emit(self, record: CostRecord) -> None:
        """Queue ``record`` for sending; never blocks. Dropped (and counted) when full."""
        self._worker.put(record)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record emitted so far is sent; True if all were delivered."""
        return self._worker.flush(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush (for up to ``timeout`` or ``shutdown_timeout`` seconds), stop, release.

        Records not delivered in time are counted as dropped. Emitting after close is a no-op.
        """
        # The worker thread closes the HTTP client itself when it stops (see _close_client).
        return self._worker.close(self._shutdown_timeout if timeout is None else timeout)

    def stats(self) -> dict[str, int]:
        """Counters of this sink in this process.

        ``sent`` records delivered, ``sent_batches`` requests that succeeded, ``retried``
        retry attempts, ``failed_batches`` batches given up, ``dropped`` records lost in total
        (``dropped_queue_full`` + ``dropped_failed`` + ``dropped_closed``), ``queued`` records
        waiting or in flight.
        """
        worker = self._worker
        dropped = worker.dropped_overflow + worker.dropped_failed + worker.dropped_closed
        return {
            "sent": worker.sent_items,
            "sent_batches": worker.sent_batches,
            "retried": self._retried,
            "failed_batches": worker.failed_batches,
            "dropped": dropped,
            "dropped_queue_full": worker.dropped_overflow,
            "dropped_failed": worker.dropped_failed,
            "dropped_closed": worker.dropped_closed,
            "queued": worker.queued,
        }

    # --- worker side -----------------------------------------------------------------------

    def _on_drop(self, count: int, reason: str) -> None:
        errors.count("sink.http.dropped", count)
        if reason != DROP_OVERFLOW:
            return  # failed batches and close() log their own, more specific message
        with self._warn_lock:
            first, self._overflow_warned = not self._overflow_warned, True
        if first:
            logger.warning(
                "llmcost HTTPSink(%s): queue full, dropping cost records (further drops are "
                "counted in HTTPSink.stats() and llmcost.stats()['sink.http.dropped'], "
                "not logged); raise max_queue or check the endpoint",
                self.url,
            )

    def _after_fork_in_child(self) -> None:
        # The parent's connections are shared sockets: never write to them from the child.
        self._client = None
        self._retried = 0
        self._overflow_warned = False
        self._warn_lock = threading.Lock()

    def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _get_client(self) -> httpx2.Client:
        client = self._client
        if client is None:
            client = self._client = self._client_class(
                headers=self._headers, timeout=self._timeout, follow_redirects=False
            )
        return client

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self._backoff_max, self._backoff_base * (2.0**attempt))
        delay = backoff * random.uniform(0.5, 1.0)  # jitter spreads out synchronized clients
        if retry_after is not None:
            delay = max(delay, min(retry_after, self._max_retry_after))
        return delay

    def _send(self, batch: list[CostRecord]) -> bool:
        body = encode_batch(batch)
        headers = {
            "Content-Type": "application/json",
            # One key per batch, reused by its retries: the receiver's dedup handle.
            "Idempotency-Key": str(uuid.uuid4()),
        }
        if self._gzip:
            # Level 1: JSON batches still shrink ~20x, at a third of level 6's CPU cost.
            body = gzip_module.compress(body, compresslevel=1, mtime=0)
            headers["Content-Encoding"] = "gzip"
        transport_error = self._transport_error
        attempt = 0
        while True:
            retry_after: float | None = None
            started = time.monotonic()
            try:
                response = self._get_client().post(self.url, content=body, headers=headers)
            except transport_error as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return True
                if status != 429 and status < 500:
                    logger.warning(
                        "llmcost HTTPSink(%s): HTTP %d, dropping a batch of %d record(s) "
                        "(not retried): %s",
                        self.url,
                        status,
                        len(batch),
                        response.text[:_RESPONSE_SNIPPET],
                    )
                    return False
                problem = f"HTTP {status}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt >= self._max_retries or self._worker.aborted:
                logger.warning(
                    "llmcost HTTPSink(%s): dropping a batch of %d record(s) after %d attempt(s); "
                    "last error: %s (%.2fs)",
                    self.url,
                    len(batch),
                    attempt + 1,
                    problem,
                    time.monotonic() - started,
                )
                return False
            delay = self._delay(attempt, retry_after)
            attempt += 1
            self._retried += 1
            if not self._worker.sleep(delay):
                logger.warning(
                    "llmcost HTTPSink(%s): closing; gave up retrying a batch of %d record(s) "
                    "(last error: %s)",
                    self.url,
                    len(batch),
                    problem,
                )
                return False


def _user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"llmcost/{version('llmcost')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "llmcost"
