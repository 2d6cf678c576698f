"""Stream proxies: the user sees the SDK's stream, llmcost sees every item and the end.

A proxy wraps the SDK's stream object (``isinstance`` checks, attributes and helpers all pass
through) and reports to a :class:`StreamObserver`:

- ``on_item(item)`` for every item, on the consumer's thread; returning False hides the item
  from the user (OpenAI's injected usage-only chunk);
- ``on_end(error, completed)`` exactly once: at exhaustion (``completed=True``), on an error
  while iterating, on ``close()``, on leaving the ``with`` block, or when the proxy is garbage
  collected after an early ``break``.

Observer errors are internal errors: counted, logged once, never raised into the user's loop.
"""

from __future__ import annotations

from typing import Any, Protocol

import wrapt

from llmcost import errors

__all__ = ["AsyncRecordingStream", "RecordingStream", "StreamObserver"]


class StreamObserver(Protocol):
    """What a stream proxy reports to: one per stream, owned by the integration."""

    def on_item(self, item: Any) -> bool:
        """See one item; return False to hide it from the user."""
        ...

    def on_end(self, error: BaseException | None, completed: bool) -> None:
        """The stream ended (called once): ``completed`` means it was read to the end."""
        ...


class _StreamEnd:
    """Mixin logic shared by the sync and async proxies (state lives in ``_self_*``)."""

    _self_observer: StreamObserver
    _self_ended: bool

    def _self_end(self, error: BaseException | None, completed: bool) -> None:
        if self._self_ended:
            return
        self._self_ended = True
        try:
            self._self_observer.on_end(error, completed)
        except Exception as exc:
            errors.report_internal_error("stream.end", exc)


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

    def __del__(self) -> None:
        # An early `break` without close(): record what was seen when the proxy goes away.
        if not getattr(self, "_self_ended", True):
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

    def __del__(self) -> None:
        if not getattr(self, "_self_ended", True):
            self._self_end(None, False)
