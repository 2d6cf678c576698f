""":class:`HTTPSink`: POST cost records in JSON batches to an ingestion endpoint.

``emit`` appends to a bounded in-memory queue (no I/O on the caller's thread); a background
worker (:mod:`llmcost.sinks._batch`) sends batches of ``{"records": [...]}`` with an
``Idempotency-Key`` header, retrying transient failures with exponential backoff and jitter.
The HTTP client (``httpx2``, the ``http`` extra) is imported when the sink is created.
"""

from __future__ import annotations

import email.utils
import gzip as gzip_module
import ipaddress
import logging
import math
import os
import random
import re
import threading
import urllib.parse
import uuid
from datetime import datetime, timezone
from pathlib import Path

# Bound once (as sinks/_batch.py does): a library that replaces ``time.monotonic`` with a
# virtual clock for its event loop must not break the retries on the worker thread.
from time import monotonic as _monotonic
from typing import TYPE_CHECKING

from llmcost import errors
from llmcost.sinks._batch import DROP_CLOSED, DROP_OVERFLOW, DROP_SEND_FAILED, BatchWorker

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
    as ``CostRecord.to_json()`` writes it.

    A lone surrogate (a tag read from a mis-decoded file name, say), which UTF-8 cannot
    carry, is written as its JSON escape ``\\udc80``: JSON parsers read back the same string.
    """
    text = '{"records":[' + ",".join([record.to_json() for record in records]) + "]}"
    try:
        return text.encode()
    except UnicodeEncodeError:
        # Surrogates only occur inside JSON strings, where "\\udc80" is their escape.
        return text.encode("utf-8", "backslashreplace")


# --- credentials never reach a log ----------------------------------------------------------

_SECRET_NAME = (
    r"(?:api[-_]?key|apikey|key|token|access[-_]?token|auth|authorization|secret|"
    r"client[-_]?secret|password|passwd|pwd|sig|signature|x-api-key|session)"
)
_SECRET_QUERY = re.compile(rf"(?i)(^|[&;])({_SECRET_NAME})=([^&;#]*)")
_SECRET_HEADER = re.compile(r"(?i)(auth|key|token|secret|cookie|password|session)")
_SECRET_TEXT = (
    (re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=\-]+"), r"\1\2***"),
    (
        re.compile(rf"(?i)([\"']?{_SECRET_NAME}[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,;}}]+)"),
        r"\1***",
    ),
    (re.compile(r"(?i)(https?://)[^/\s:@]+:[^/\s@]+@"), r"\1***:***@"),
)


def redact_url(url: str) -> str:
    """``url`` with its password and secret-looking query values replaced by ``***``.

    Example:
        >>> redact_url("https://ci:hunter2@ingest.example.com/v1?api_key=abc&team=x")
        'https://ci:***@ingest.example.com/v1?api_key=***&team=x'
    """
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        # A user name alone may be the token itself (https://TOKEN@host): hide it too.
        netloc = f"{user}:***@{hostport}" if colon else f"***@{hostport}"
    query = _SECRET_QUERY.sub(r"\1\2=***", parts.query)
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _url_secrets(url: str) -> list[str]:
    parts = urllib.parse.urlsplit(url)
    found = []
    if parts.password:
        found.append(parts.password)
    elif parts.username:
        found.append(parts.username)
    found.extend(match.group(3) for match in _SECRET_QUERY.finditer(parts.query))
    return [secret for secret in found if secret]


def _header_secrets(headers: Mapping[str, str]) -> list[str]:
    found = []
    for name, value in headers.items():
        if _SECRET_HEADER.search(name) and value:
            found.append(value)
            found.extend(word for word in value.split() if len(word) >= 8)  # "Bearer <token>"
    return found


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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

#: Drop reasons of this sink, besides the worker's queue_full / send_failed / closed.
DROP_UNENCODABLE = "unencodable"
DROP_TOO_LARGE = "too_large"
DROP_REJECTED = "rejected"

_TOO_LARGE = object()  # _post's answer for HTTP 413


class HTTPSink:
    """Send cost records to an HTTP endpoint in JSON batches, from a background thread.

    Each request is ``POST url`` with body ``{"records": [<CostRecord JSON>, ...]}`` (money as
    exact JSON numbers, field names as in :class:`~llmcost.CostRecord`) and an
    ``Idempotency-Key`` header that stays the same across the retries of one request; every
    record also carries its ``record_id``, the same in every retry and every split. A receiver
    that deduplicates on ``record_id`` never counts a record twice.

    ``emit`` never touches the network: it appends to a queue of at most ``max_queue`` records
    (well under a microsecond). Connection errors, timeouts, 408, 429 and 5xx are retried with
    exponential backoff and jitter, waiting at least what a ``Retry-After`` header asks (up to
    ``max_retry_after`` seconds), for as long as ``max_retry_time`` allows: an outage costs
    nothing while the queue has room. A 413 splits the batch in two (a single record the
    endpoint still refuses is dropped alone); a record that cannot be encoded is dropped alone;
    any other 4xx drops the batch and logs the status and the start of the (redacted) body.

    Every drop is counted by reason (:meth:`stats`, ``llmcost.stats()["sink.http.dropped"]``)
    and :meth:`close` (or the exit flush) logs one line summarising them. With ``spool_dir``,
    what cannot be delivered by close goes to disk instead, and the next ``HTTPSink`` on the
    same directory sends it first. Credentials in the URL or the headers never appear in a log
    line or in ``repr``; sending them over plain ``http://`` to a host other than this
    machine logs a warning. A forked child starts its own worker and connection pool, and a
    ``multiprocessing`` child flushes before it exits.

    Args:
        url: The ingestion endpoint (``http://`` or ``https://``).
        headers: Extra request headers, e.g. ``{"Authorization": "Bearer ..."}``.
        batch_size: Most records per request.
        flush_interval: Longest time, in seconds, a record waits for its batch to fill up.
        max_queue: Most records held in memory waiting to be sent.
        timeout: Seconds for each HTTP request (connect, write and read).
        max_retry_time: Seconds a batch is retried for, from its first attempt, before it is
            dropped; None retries until the sink is closed.
        max_retries: An optional cap on the retries of one batch as well (None: no cap).
        gzip: Compress request bodies (``Content-Encoding: gzip``).
        backoff_base: First retry delay in seconds; doubles per retry, with jitter.
        backoff_max: Largest computed retry delay in seconds.
        max_retry_after: Largest ``Retry-After`` honoured, in seconds.
        shutdown_timeout: Seconds :meth:`close` and :meth:`flush` (without their own timeout)
            and the exit flush wait for delivery before giving up.
        spool_dir: A directory where records still undelivered at close go (one JSON line
            each), to be sent by the next sink created on it. None: no spool.
        spool_max_bytes: Most bytes the spool directory may hold; records beyond are dropped.

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
        max_retry_time: float | None = 300.0,
        max_retries: int | None = None,
        gzip: bool = False,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 60.0,
        shutdown_timeout: float = 5.0,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int = 100_000_000,
    ) -> None:
        try:
            import httpx2
        except ImportError as exc:  # pragma: no cover - the dev extras install it
            raise ImportError(
                "HTTPSink needs the httpx2 package: pip install 'llmcost[http]'"
            ) from exc

        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            shown = redact_url(url) if isinstance(url, str) else url
            raise ValueError(f"HTTPSink url must be an http:// or https:// URL, got {shown!r}")
        try:
            host = httpx2.URL(url).host
        except httpx2.InvalidURL as exc:
            raise ValueError(f"HTTPSink url {redact_url(url)!r} is not a valid URL") from exc
        if not host:
            raise ValueError(f"HTTPSink url {redact_url(url)!r} is not a valid URL: it has no host")
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
        if max_retry_time is not None and not (
            isinstance(max_retry_time, (int, float)) and max_retry_time >= 0
        ):
            raise ValueError(
                f"HTTPSink max_retry_time must be a number >= 0 or None, got {max_retry_time!r}"
            )
        for name, count in (
            ("batch_size", batch_size),
            ("max_queue", max_queue),
            ("spool_max_bytes", spool_max_bytes),
        ):
            if not (isinstance(count, int) and count >= 1):
                raise ValueError(f"HTTPSink {name} must be an integer >= 1, got {count!r}")
        if max_retries is not None and not (isinstance(max_retries, int) and max_retries >= 0):
            raise ValueError(
                f"HTTPSink max_retries must be an integer >= 0 or None, got {max_retries!r}"
            )

        self.url = url
        #: The URL as logs and ``repr`` show it: password and secret query values hidden.
        self.display_url = redact_url(url)
        self._client_class: type[httpx2.Client] = httpx2.Client
        self._transport_error: type[Exception] = httpx2.TransportError
        self._headers = {"User-Agent": _user_agent(), **dict(headers or {})}
        secrets = set(_url_secrets(url) + _header_secrets(self._headers))
        #: Whether the URL or the headers carry credentials (for the plain-http warning).
        self._has_credentials = bool(secrets)
        # Replaced wherever they appear in a logged text, longest first. Shorter values than
        # four characters would garble the text ("HTTP 4***1"); the patterns still catch them
        # where they look like credentials (key=..., Bearer ...).
        self._secrets = sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)
        self._timeout = float(timeout)
        self._max_retry_time = None if max_retry_time is None else float(max_retry_time)
        self._max_retries = max_retries
        self._gzip = gzip
        self._backoff_base = float(backoff_base)
        self._backoff_max = float(backoff_max)
        self._max_retry_after = float(max_retry_after)
        self._shutdown_timeout = float(shutdown_timeout)
        self._spool_dir = None if spool_dir is None else Path(spool_dir)
        self._spool_max_bytes = spool_max_bytes
        self._max_queue = max_queue
        # Made here, on the caller's thread, rather than on the worker's first send: building
        # it imports more of the HTTP stack lazily, and a fork() in the middle of an import
        # on another thread leaves the child a half-initialised module.
        self._client: httpx2.Client | None = None
        self._client = self._get_client()
        self._retried = 0
        self._warned: set[str] = set()
        self._warn_lock = threading.Lock()
        if url.startswith("http://") and not _is_loopback(host) and self._has_credentials:
            logger.warning(
                "llmcost HTTPSink(%s): credentials (in the URL or the headers) will be sent "
                "over plain http to %s, readable by anyone on the way; use https://",
                self.display_url,
                host,
            )
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
            describe=repr(self),
            spill=self._spill if self._spool_dir is not None else None,
        )
        if self._spool_dir is not None:
            self._spool_dir.mkdir(parents=True, exist_ok=True)
            self._load_spool(self._spool_dir)

    def __repr__(self) -> str:
        return f"HTTPSink({self.display_url!r})"

    # --- Sink protocol ---------------------------------------------------------------------

    def emit(self, record: CostRecord) -> None:
        """Queue ``record`` for sending; never blocks. Dropped (and counted) when full."""
        self._worker.put(record)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record emitted so far is sent; True if all were delivered.

        Returns by ``timeout`` seconds (``shutdown_timeout`` when None), delivered or not:
        records still retrying stay queued and keep being retried.
        """
        return self._worker.flush(self._shutdown_timeout if timeout is None else timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush (for up to ``timeout`` or ``shutdown_timeout`` seconds), stop, release.

        Returns by the timeout. Records not delivered by then are spooled (with ``spool_dir``)
        or counted as dropped, and one line summarising every drop is logged. Emitting after
        close is a counted drop.
        """
        # The worker thread closes the HTTP client itself when it stops (see _close_client).
        return self._worker.close(self._shutdown_timeout if timeout is None else timeout)

    def stats(self) -> dict[str, int]:
        """Counters of this sink in this process.

        ``sent`` records delivered, ``sent_batches`` requests that succeeded, ``retried``
        retry attempts, ``failed_batches`` batches given up, ``dropped`` records lost in total
        and ``dropped_<reason>`` for each reason (``queue_full``, ``failed`` (retries ran out),
        ``closed`` (undelivered at close), ``unencodable``, ``too_large`` (413 for a single
        record), ``rejected`` (another 4xx)), ``spooled`` records written to the spool at
        close, ``queued`` records waiting or in flight.
        """
        worker = self._worker
        drops = dict(worker.drops)
        return {
            "sent": worker.sent_items,
            "sent_batches": worker.sent_batches,
            "retried": self._retried,
            "failed_batches": worker.failed_batches,
            "dropped": sum(drops.values()),
            "dropped_queue_full": drops.get(DROP_OVERFLOW, 0),
            "dropped_failed": drops.get(DROP_SEND_FAILED, 0),
            "dropped_closed": drops.get(DROP_CLOSED, 0),
            "dropped_unencodable": drops.get(DROP_UNENCODABLE, 0),
            "dropped_too_large": drops.get(DROP_TOO_LARGE, 0),
            "dropped_rejected": drops.get(DROP_REJECTED, 0),
            "spooled": worker.spilled,
            "queued": worker.queued,
        }

    # --- worker side -----------------------------------------------------------------------

    def _on_drop(self, count: int, reason: str) -> None:
        errors.count("sink.http.dropped", count)
        if reason == DROP_OVERFLOW:
            self._warn_once(
                reason,
                "llmcost %s: queue full, dropping cost records (further drops are counted in "
                "HTTPSink.stats() and llmcost.stats()['sink.http.dropped'] and summarised at "
                "close); raise max_queue or check the endpoint",
                self,
            )

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        with self._warn_lock:
            first = key not in self._warned
            self._warned.add(key)
        if first:
            logger.warning(message, *args)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        for pattern, replacement in _SECRET_TEXT:
            text = pattern.sub(replacement, text)
        return text

    def _after_fork_in_child(self) -> None:
        # The parent's connections are shared sockets: never write to them from the child.
        self._client = None
        self._retried = 0
        self._warned = set()
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

    def _encode(self, batch: list[CostRecord]) -> tuple[list[CostRecord], bytes]:
        """The records that could be encoded and their body; the others are counted alone."""
        try:
            return batch, encode_batch(batch)
        except Exception:  # one bad record must not cost the batch: find it
            pass
        kept: list[CostRecord] = []
        parts: list[str] = []
        for record in batch:
            try:
                parts.append(record.to_json())
            except Exception as exc:
                self._worker.count_drop(1, DROP_UNENCODABLE)
                self._warn_once(
                    DROP_UNENCODABLE,
                    "llmcost %s: dropping cost record %s, which cannot be encoded as JSON "
                    "(%s: %s); further ones are counted and summarised at close",
                    self,
                    getattr(record, "record_id", "?"),
                    type(exc).__name__,
                    exc,
                )
            else:
                kept.append(record)
        body = ('{"records":[' + ",".join(parts) + "]}").encode("utf-8", "backslashreplace")
        return kept, body

    def _send(self, batch: list[CostRecord]) -> bool:
        records, body = self._encode(batch)
        if not records:
            return True  # every record was counted as unencodable
        return self._deliver(records, body)

    def _deliver(self, records: list[CostRecord], body: bytes) -> bool:
        outcome = self._post(body, len(records))
        if outcome is not _TOO_LARGE:
            return bool(outcome)
        if len(records) == 1:
            self._worker.count_drop(1, DROP_TOO_LARGE)
            self._warn_once(
                DROP_TOO_LARGE,
                "llmcost %s: HTTP 413 for a single cost record of %d bytes, dropping it; "
                "further ones are counted and summarised at close",
                self,
                len(body),
            )
            return True
        # Too large: send each half on its own (recursively), so one huge record costs
        # itself and not its neighbours.
        middle = len(records) // 2
        for half in (records[:middle], records[middle:]):
            if not self._deliver(half, encode_batch(half)):
                self._worker.count_drop(len(half), DROP_SEND_FAILED)
        return True

    def _post(self, body: bytes, count: int) -> object:
        """POST ``body`` until it is answered or the retry budget is spent.

        Returns True (delivered), False (given up; logged) or ``_TOO_LARGE`` (HTTP 413).
        """
        headers = {
            "Content-Type": "application/json",
            # One key per request body, reused by its retries: the receiver's dedup handle.
            "Idempotency-Key": str(uuid.uuid4()),
        }
        if self._gzip:
            # Level 1: JSON batches still shrink ~20x, at a third of level 6's CPU cost.
            body = gzip_module.compress(body, compresslevel=1, mtime=0)
            headers["Content-Encoding"] = "gzip"
        transport_error = self._transport_error
        worker = self._worker
        first = _monotonic()
        deadline = None if self._max_retry_time is None else first + self._max_retry_time
        attempt = 0
        while True:
            if worker.aborted:
                return False  # closing: the summary at close accounts for the batch
            retry_after: float | None = None
            try:
                response = self._get_client().post(self.url, content=body, headers=headers)
            except transport_error as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return True
                if status == 413:
                    return _TOO_LARGE
                if status not in (408, 429) and status < 500:
                    worker.count_drop(count, DROP_REJECTED)
                    # Once per status: an endpoint refusing every batch (a revoked token) must
                    # not flood the log; the counts and the summary at close say the rest.
                    self._warn_once(
                        f"{DROP_REJECTED}-{status}",
                        "llmcost %s: HTTP %d, dropping a batch of %d record(s) (not retried; "
                        "further ones with this status are counted and summarised at close): %s",
                        self,
                        status,
                        count,
                        self._redact(response.text[:_RESPONSE_SNIPPET]),
                    )
                    return True  # counted above, as rejected rather than failed
                problem = f"HTTP {status}"
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            now = _monotonic()
            out_of_time = deadline is not None and now >= deadline
            out_of_tries = self._max_retries is not None and attempt >= self._max_retries
            if out_of_time or out_of_tries:
                if not worker.aborted:
                    self._warn_once(
                        DROP_SEND_FAILED,
                        "llmcost %s: dropping a batch of %d record(s) after %d attempt(s) "
                        "over %.1fs; last error: %s (further ones are counted and "
                        "summarised at close)",
                        self,
                        count,
                        attempt + 1,
                        now - first,
                        self._redact(problem),
                    )
                return False
            delay = self._delay(attempt, retry_after)
            if deadline is not None:
                delay = min(delay, max(0.0, deadline - now))
            attempt += 1
            self._retried += 1
            if not worker.sleep(delay):
                return False

    # --- the spool -------------------------------------------------------------------------

    def _spill(self, records: list[CostRecord]) -> int:
        """Append ``records`` to a new spool file (each line whole); return how many fit."""
        spool = self._spool_dir
        assert spool is not None
        used = sum(path.stat().st_size for path in spool.glob("*.jsonl") if path.is_file())
        path = spool / f"{os.getpid()}-{uuid.uuid4().hex}.jsonl.part"
        kept = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            for record in records:
                try:
                    line = (record.to_json() + "\n").encode("utf-8", "backslashreplace")
                except Exception:  # counted as closed by the caller, like any other loss
                    continue
                if used + len(line) > self._spool_max_bytes:
                    break
                if os.write(fd, line) != len(line):
                    break
                used += len(line)
                kept += 1
            os.fsync(fd)
        except OSError:
            os.close(fd)
            path.unlink()  # a full disk: nothing spooled, all of it counted by the caller
            raise
        os.close(fd)
        # Renamed only when complete, so a reader never sees a half-written spool file.
        os.replace(path, path.with_suffix(""))
        return kept

    def _load_spool(self, spool: Path) -> None:
        from llmcost.types import CostRecord

        room = self._max_queue
        for path in sorted(spool.glob("*.jsonl")):
            if room <= 0:
                break  # the rest stays on disk for the next sink: never load into a drop
            claimed = path.with_name(f"{path.name}.claimed-{os.getpid()}-{uuid.uuid4().hex}")
            try:
                path.rename(claimed)  # atomic: of several processes, one wins the file
            except FileNotFoundError:
                continue
            unreadable = 0
            records: list[CostRecord] = []
            for line in claimed.read_bytes().splitlines():
                try:
                    records.append(CostRecord.from_json(line))
                except ValueError:
                    unreadable += 1
            for record in records[:room]:
                self._worker.put(record)
            if len(records) > room:
                self._spill(records[room:])  # what the queue cannot hold goes back to disk
            room -= len(records)
            claimed.unlink()
            if unreadable:
                logger.warning(
                    "llmcost %s: %d unreadable line(s) in the spool file %s were skipped",
                    self,
                    unreadable,
                    path,
                )


def _user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"llmcost/{version('llmcost')}"
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "llmcost"
