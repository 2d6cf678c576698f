"""Stream proxies: the user sees the SDK's stream, llmcost sees every item and the end.

A proxy wraps the SDK's stream object (``isinstance`` checks, attributes and helpers all pass
through) and reports to a :class:`StreamObserver`:

- ``on_item(item)`` for every item, on the consumer's thread; returning False hides the item
  from the user (OpenAI's injected usage-only chunk);
- ``on_end(error, completed)`` exactly once: at exhaustion (``completed=True``), on an error
  while iterating, on ``close()``, on leaving the ``with`` block, or after the proxy was
  garbage collected following an early ``break``.

Observer errors are internal errors: counted, logged once, never raised into the user's loop.
An ``on_end`` that raises still ends the observer's ``call`` (recorded as unknown usage), so
no call is left open holding its budget reservation.

Garbage collection can run inside any bytecode, including while this very thread holds one of
llmcost's locks (budget store, sinks, logging), so ``__del__`` never records: it hands the
ending to llmcost's delivery thread (:func:`llmcost._dispatch.run_later`), where it runs
shortly after; ``llmcost.flush()`` waits for it.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import wrapt

from llmcost import _dispatch, errors

if TYPE_CHECKING:
    from llmcost._recorder import Call

__all__ = [
    "AsyncRecordingStream",
    "RecordingStream",
    "StreamObserver",
    "defer",
    "end_observer",
]


class StreamObserver(Protocol):
    """What a stream proxy reports to: one per stream, owned by the integration."""

    @property
    def call(self) -> Call | None:
        """The call this stream belongs to (ended as unknown usage if ``on_end`` fails)."""
        ...

    def on_item(self, item: Any) -> bool:
        """See one item; return False to hide it from the user."""
        ...

    def on_end(self, error: BaseException | None, completed: bool) -> None:
        """The stream ended (called once): ``completed`` means it was read to the end."""
        ...


# --- endings handed off by garbage collection -------------------------------------------------


def defer(action: Callable[[], object]) -> None:
    """Run ``action`` later, outside the garbage collector (for ``__del__``: never record
    there), on llmcost's delivery thread."""
    _dispatch.run_later(functools.partial(_run_ending, action))


def _run_ending(action: Callable[[], object]) -> None:
    try:
        action()
    except Exception as exc:
        errors.report_internal_error("stream.end", exc)


def end_observer(
    observer: StreamObserver, error: BaseException | None = None, completed: bool = False
) -> None:
    """Call ``observer.on_end`` once; if it raises, still end its call, then report the error."""
    try:
        observer.on_end(error, completed)
    except Exception as exc:
        # The safety net: a call left open would hold its budget reservation for ever.
        _end_call_of(observer)
        errors.report_internal_error("stream.end", exc)


def _end_call_of(observer: StreamObserver) -> None:
    try:
        call = getattr(observer, "call", None)
        if call is not None and not call.done:
            call.finish_unknown()  # guarded: if recording fails, it frees the reservation
    except Exception as exc:
        errors.report_internal_error("stream.end", exc)


class _StreamEnd:
    """Mixin logic shared by the sync and async proxies (state lives in ``_self_*``)."""

    _self_observer: StreamObserver
    _self_ended: bool

    def _self_end(self, error: BaseException | None, completed: bool) -> None:
        if self._self_ended:
            return
        self._self_ended = True
        end_observer(self._self_observer, error, completed)

    def __del__(self) -> None:
        # An early `break` without close(): the ending is handed off, not run here (see the
        # module docstring). At interpreter exit nothing can be recorded any more.
        if getattr(self, "_self_ended", True) or sys.is_finalizing():
            return
        self._self_ended = True
        observer = self._self_observer
        # The ending runs a moment later: it must not keep the SDK's objects (the HTTP
        # response) alive until then, since the SDK may act when they are collected.
        detach = getattr(observer, "detach", None)
        if detach is not None:
            with contextlib.suppress(Exception):  # never raise in a finalizer
                detach()
        defer(functools.partial(end_observer, observer))


class RecordingStream(_StreamEnd, wrapt.BaseObjectProxy[Any]):
    """A synchronous stream proxy (OpenAI ``Stream``, Anthropic ``Stream``/``MessageStream``)."""

    def __init__(self, wrapped: Any, observer: StreamObserver) -> None:
        super().__init__(wrapped)
        self._self_observer = observer
        self._self_ended = False

    def __iter__(self) -> RecordingStream:
        return self

    def __next__(self) -> Any:
        wrapped = self.__wrapped__
        on_item = self._self_observer.on_item
        while True:
            try:
                item = wrapped.__next__()
            except StopIteration:
                self._self_end(None, True)
                raise
            except BaseException as exc:
                self._self_end(exc, False)
                raise
            # Runs for every item: the observer is called here, not through a helper.
            try:
                show = on_item(item)
            except Exception as exc:
                errors.report_internal_error("stream.item", exc)
                show = True
            if show:
                return item

    def __enter__(self) -> RecordingStream:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_end(exc, False)

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_end(None, False)


class AsyncRecordingStream(_StreamEnd, wrapt.BaseObjectProxy[Any]):
    """An asynchronous stream proxy (OpenAI ``AsyncStream``, Anthropic ``AsyncStream``)."""

    def __init__(self, wrapped: Any, observer: StreamObserver) -> None:
        super().__init__(wrapped)
        self._self_observer = observer
        self._self_ended = False

    def __aiter__(self) -> AsyncRecordingStream:
        return self

    async def __anext__(self) -> Any:
        wrapped = self.__wrapped__
        on_item = self._self_observer.on_item
        while True:
            try:
                item = await wrapped.__anext__()
            except StopAsyncIteration:
                self._self_end(None, True)
                raise
            except BaseException as exc:
                self._self_end(exc, False)
                raise
            try:
                show = on_item(item)
            except Exception as exc:
                errors.report_internal_error("stream.item", exc)
                show = True
            if show:
                return item

    async def __aenter__(self) -> AsyncRecordingStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_end(exc, False)

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_end(None, False)

    async def aclose(self) -> Any:
        try:
            closer = getattr(self.__wrapped__, "aclose", None) or self.__wrapped__.close
            return await closer()
        finally:
            self._self_end(None, False)
