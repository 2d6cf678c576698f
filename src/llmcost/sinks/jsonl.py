"""A sink that appends one JSON line per record to a local file, safe for many writers.

Why the lines never tear or interleave
--------------------------------------
The file is opened with ``O_APPEND`` and every record is written with *one* ``os.write`` of the
whole encoded line (bytes, newline included). POSIX specifies that for a file opened with
``O_APPEND`` the move to the end of the file and the write happen as one step, with no other
modification of the file in between; so two processes (or two open file descriptions in one
process) can never write over each other. On Linux, local file systems (ext4, xfs, btrfs, tmpfs,
overlayfs) also hold the inode's lock for the whole of a regular-file ``write``, so one write's
bytes are never split by another's. Cost lines are about 1 KB, well under ``PIPE_BUF`` (4 KB,
the limit up to which even a pipe or FIFO guarantees an atomic write), so the same holds when
the path is a FIFO. Network file systems are the exception: NFS emulates ``O_APPEND`` on the
client, so several *machines* appending to one NFS file can interleave. Give each host its own
file there.

A ``threading.Lock`` serialises the writers of one sink object: it keeps a write from racing
with :meth:`JSONLFileSink.close` or with a rotation.

Whole lines or nothing
----------------------
When the disk is full (or a file size limit is hit) the kernel may write only the start of a
line. Finishing it later could glue other bytes onto it, so the sink cuts the file back to where
the line began (``ftruncate``) and counts the record as dropped; the next record starts on a
clean line. Should another process have appended in between, cutting would destroy its line, so
the torn line is ended with a newline instead (a reader then reports one unreadable line). A
record that cannot be written at all is counted and logged once, never raised into the caller.

Rotated or deleted under us
---------------------------
Before every write the sink compares the inode at ``path`` with the one it has open; when the
file was moved away (logrotate's ``create`` mode) or deleted, it opens ``path`` afresh, so no
record goes into a file nobody will read.

Rotation with several processes
-------------------------------
With ``max_bytes`` set, writers hold a shared ``fcntl.flock`` on ``<path>.lock`` while they
check that their descriptor still names ``<path>`` and write; a writer that finds the file full
takes the lock exclusively, checks again, renames ``costs.jsonl`` to ``costs.jsonl.1`` (and
``.1`` to ``.2`` …, the oldest beyond ``backup_count`` being replaced) and opens a fresh file.
Other processes notice the new inode before their next write and reopen. Where ``fcntl`` does
not exist (Windows) rotation is only coordinated between the threads of one process.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from llmcost import errors

if TYPE_CHECKING:
    from llmcost.types import CostRecord

try:  # POSIX only: Windows has no flock; rotation is then coordinated per process only.
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - exercised on Windows only
    _fcntl = None  # type: ignore[assignment]

__all__ = ["JSONLFileSink"]

logger = logging.getLogger("llmcost")

_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


def _record_line(record: CostRecord) -> bytes:
    """One line of the file: ``record.to_json()`` and a newline, as UTF-8 bytes.

    A lone surrogate, which UTF-8 cannot carry, is written as its JSON escape (``\\udc80``).
    """
    text = record.to_json() + "\n"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # surrogates only occur inside JSON strings
        return text.encode("utf-8", "backslashreplace")


# --- fork safety ----------------------------------------------------------------------------

_live_sinks: weakref.WeakSet[JSONLFileSink] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A thread of the parent may have held a sink's lock at the moment of fork(); in the child
    # that thread does not exist, so the lock would stay taken forever. Give each a new one.
    for sink in list(_live_sinks):
        sink._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class JSONLFileSink:
    """Append every record as one line of JSON (``record.to_json()``) to a local file.

    Safe for many threads and many processes writing the same file: each line is written whole
    by a single ``os.write`` on a descriptor opened with ``O_APPEND`` (see the module docs for
    why that cannot tear or interleave). Parent directories are created. Nothing is buffered in
    Python, so a record is in the operating system's hands when :meth:`emit` returns; pass
    ``fsync=True`` to also wait for the disk on every record.

    Args:
        path: The file to append to, e.g. ``"costs/costs.jsonl"``.
        fsync: Call ``os.fsync`` after every record (durable across power loss; much slower).
        max_bytes: Rotate before a write would make the file larger than this many bytes:
            ``costs.jsonl`` becomes ``costs.jsonl.1``, ``.1`` becomes ``.2`` and so on. A single
            line larger than ``max_bytes`` still goes whole into a fresh file. None: never rotate.
        backup_count: How many rotated files to keep (at least 1); the oldest is replaced.

    Example:
        >>> import llmcost
        >>> sink = llmcost.sinks.JSONLFileSink("costs/costs.jsonl", max_bytes=50_000_000)
        >>> llmcost.configure(sinks=[sink])  # doctest: +SKIP
        >>> for record in llmcost.read_records("costs/costs.jsonl"):  # doctest: +SKIP
        ...     print(record.feature, record.total_cost_usd)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: bool = False,
        max_bytes: int | None = None,
        backup_count: int = 5,
    ) -> None:
        if max_bytes is not None and (isinstance(max_bytes, bool) or max_bytes <= 0):
            raise ValueError(f"JSONLFileSink max_bytes must be a positive int, got {max_bytes!r}")
        if max_bytes is not None and backup_count < 1:
            # Rotating with no backup would delete records; refuse rather than lose them.
            raise ValueError(
                f"JSONLFileSink backup_count must be at least 1 when max_bytes is set, "
                f"got {backup_count!r}"
            )
        self.path = Path(path)
        self.fsync = fsync
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        #: How many records this sink object has written (for tests and diagnostics).
        self.records_written = 0
        self._lock = threading.Lock()
        self._closed = False
        self._warned_closed = False
        self._warned_write = False
        #: Records lost because the file could not take them (disk full, I/O error).
        self.records_dropped = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = self._open()
        self._lock_fd: int | None = None
        if max_bytes is not None and _fcntl is not None:
            self._lock_fd = os.open(f"{self.path}.lock", _OPEN_FLAGS, 0o644)
        _live_sinks.add(self)

    def __repr__(self) -> str:
        return f"JSONLFileSink({str(self.path)!r})"

    def _open(self) -> int:
        try:
            fd = os.open(self.path, _OPEN_FLAGS, 0o644)
        except OSError as exc:
            raise OSError(
                exc.errno, f"cannot open cost file for appending: {exc.strerror}", str(self.path)
            ) from exc
        info = os.fstat(fd)
        self._identity = (info.st_ino, info.st_dev)
        return fd

    def _reopen_if_moved(self) -> None:
        """Open ``path`` afresh when the file we hold was renamed away or deleted."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            info = None
        if info is None or (info.st_ino, info.st_dev) != self._identity:
            old = self._fd
            self._fd = self._open()
            os.close(old)
            logger.debug("llmcost reopened %s (moved or deleted)", self.path)

    # --- writing --------------------------------------------------------------------------

    def emit(self, record: CostRecord) -> None:
        """Append ``record`` as one line. After :meth:`close` the record is counted as dropped."""
        try:
            data = _record_line(record)
        except Exception as exc:  # one record that is not JSON (NaN money) costs itself only
            with self._lock:
                self._dropped(f"it cannot be encoded as JSON: {type(exc).__name__}: {exc}")
            return
        with self._lock:
            if self._closed:
                errors.count("sink.jsonl.dropped_after_close")
                if not self._warned_closed:
                    self._warned_closed = True
                    logger.warning(
                        "%r is closed: records emitted to it are dropped and counted in "
                        "llmcost.stats()['sink.jsonl.dropped_after_close']",
                        self,
                    )
                return
            try:
                if self.max_bytes is None:
                    self._reopen_if_moved()
                    written = self._write(data)
                elif self._lock_fd is None:
                    self._reopen_if_moved()
                    written = self._write_rotating_local(data, self.max_bytes)
                else:
                    written = self._write_rotating_shared(data, self.max_bytes, self._lock_fd)
            except OSError as exc:
                self._dropped(f"{type(exc).__name__}: {exc}")
                return
            if written:
                self.records_written += 1
            else:
                self._dropped("the disk took only part of the line; it was cut back")

    def _dropped(self, why: str) -> None:
        # Under self._lock. A full disk is the host's condition, not a bug: count and say once.
        self.records_dropped += 1
        errors.count("sink.jsonl.dropped")
        if not self._warned_write:
            self._warned_write = True
            logger.warning(
                "llmcost %r: a cost record could not be written (%s); it is dropped, and "
                "further ones are counted in llmcost.stats()['sink.jsonl.dropped']",
                self,
                why,
            )

    def _write(self, data: bytes) -> bool:
        """Append ``data`` whole; False (file unchanged) when only part of it fit."""
        fd = self._fd
        written = os.write(fd, data)
        if written < len(data):
            # O_APPEND left the offset at the end of our partial line. If the file still ends
            # there, cut it back to where the line began; else (another process appended
            # after us) end the torn line so the next one starts clean.
            end = os.lseek(fd, 0, os.SEEK_CUR)
            if os.fstat(fd).st_size == end:
                os.ftruncate(fd, end - written)
            else:
                os.write(fd, b"\n")
            errors.count("sink.jsonl.partial_writes")
            return False
        if self.fsync:
            os.fsync(fd)
        return True

    def _write_rotating_local(self, data: bytes, max_bytes: int) -> bool:
        size = os.fstat(self._fd).st_size
        if size and size + len(data) > max_bytes:
            self._rotate()
        return self._write(data)

    def _write_rotating_shared(self, data: bytes, max_bytes: int, lock_fd: int) -> bool:
        assert _fcntl is not None
        flock = _fcntl.flock
        flock(lock_fd, _fcntl.LOCK_SH)
        try:
            size = self._current_size()
            if not size or size + len(data) <= max_bytes:
                return self._write(data)
        finally:
            flock(lock_fd, _fcntl.LOCK_UN)
        # Full: take the lock exclusively and look again, since another process may have
        # rotated between our two lock calls (flock cannot upgrade atomically).
        flock(lock_fd, _fcntl.LOCK_EX)
        try:
            size = self._current_size()
            if size and size + len(data) > max_bytes:
                self._rotate()
            return self._write(data)
        finally:
            flock(lock_fd, _fcntl.LOCK_UN)

    def _current_size(self) -> int:
        """The size of the file at ``path``, reopening first if another process rotated it."""
        self._reopen_if_moved()
        return os.fstat(self._fd).st_size

    def _rotate(self) -> None:
        base = str(self.path)
        for index in range(self.backup_count - 1, 0, -1):
            source = f"{base}.{index}"
            if os.path.exists(source):
                os.replace(source, f"{base}.{index + 1}")
        os.replace(base, f"{base}.1")
        old = self._fd
        self._fd = self._open()
        os.close(old)
        logger.debug("llmcost rotated %s (keeping %d backups)", base, self.backup_count)

    # --- lifecycle ------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Nothing is buffered in Python; this asks the OS to put the file on disk (fsync).

        Returns True when the data is durable (or the file cannot be synced, e.g. a FIFO),
        False after :meth:`close` or when the sync failed.
        """
        with self._lock:
            if self._closed:
                return False
            try:
                os.fsync(self._fd)
            except OSError as exc:
                if exc.errno == errno.EINVAL:  # a pipe or FIFO: nothing to sync
                    return True
                logger.warning("llmcost could not fsync %s: %s", self.path, exc)
                errors.count("sink.jsonl.fsync_errors")
                return False
        return True

    def close(self, timeout: float | None = None) -> None:
        """Sync and close the file; later records are counted as dropped. Idempotent.

        ``timeout`` is accepted for the common sink signature; nothing here waits on others.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self.fsync:
                    os.fsync(self._fd)
            finally:
                os.close(self._fd)
                if self._lock_fd is not None:
                    os.close(self._lock_fd)
                    self._lock_fd = None
        _live_sinks.discard(self)

    def __enter__(self) -> JSONLFileSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
