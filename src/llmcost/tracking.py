"""Attribution scopes: :func:`track_cost` and :func:`bind_context`.

A scope does two things for every call made inside it: it tags the call's record (feature,
project, environment, user, free-form tags; inner scopes win, outer ones are inherited), and
it accumulates the record, so ``scope.total_cost_usd`` is the cost of a whole workflow. Every
enclosing scope sees every record made inside it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import threading
from collections import deque
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar, cast

from llmcost import errors
from llmcost._context import (
    Attribution,
    StackedScope,
    check_label,
    clean_tags,
    scope_stack,
    state,
    warn_if_not_instrumented,
)

if TYPE_CHECKING:
    from llmcost.types import CostRecord

__all__ = ["CostScope", "bind_context", "track_cost"]

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")

_ZERO = Decimal(0)


#: Records a scope keeps by default (its totals count every record).
KEEP_RECORDS = 1000


class CostScope(StackedScope):
    """An open attribution scope and the running totals of the records made inside it.

    Get one from :func:`track_cost`. Totals are exact Decimals; records whose model has no
    price add to ``unpriced_calls`` and never to ``total_cost_usd``.

    Example:
        >>> import llmcost
        >>> with llmcost.track_cost(feature="report") as scope:
        ...     _ = llmcost.record_usage(provider="openai", model="gpt-4o",
        ...                              input_tokens=1000, output_tokens=100)
        >>> scope.calls, scope.total_cost_usd
        (1, Decimal('0.0035'))
    """

    def __init__(
        self,
        feature: str | None = None,
        *,
        project: str | None = None,
        environment: str | None = None,
        user_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        keep_records: bool | int = KEEP_RECORDS,
    ) -> None:
        if isinstance(keep_records, bool):
            keep: int | None = None if keep_records else 0
        elif isinstance(keep_records, int) and keep_records >= 0:
            keep = keep_records
        else:
            raise TypeError(
                f"track_cost(keep_records=...) takes True, False or a count >= 0, "
                f"got {keep_records!r}"
            )
        self.keep_records = keep_records
        self.feature = feature
        self.project = project
        self.environment = environment
        self.user_id = user_id
        self.tags: dict[str, str] = {k: str(v) for k, v in (tags or {}).items()}
        #: The merged attribution in force inside this scope; set when the scope is entered.
        self.attribution: Attribution = Attribution()
        self._records: deque[CostRecord] = deque(maxlen=keep)
        self._calls = 0
        self._total_cost_usd: Decimal = _ZERO
        self._input_tokens = 0
        self._output_tokens = 0
        self._cache_read_tokens = 0
        self._unpriced_calls = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"CostScope(feature={self.feature!r}, calls={self.calls}, "
            f"total_cost_usd={self.total_cost_usd})"
        )

    @property
    def records(self) -> list[CostRecord]:
        """The records made inside this scope, oldest first: the newest ``keep_records`` of
        them (1,000 by default; all with ``keep_records=True``). The totals count every one."""
        with self._lock:
            return list(self._records)

    @property
    def calls(self) -> int:
        """How many records were made inside this scope."""
        return self._calls

    @property
    def total_cost_usd(self) -> Decimal:
        """The exact sum of the priced records' ``total_cost_usd``."""
        return self._total_cost_usd

    @property
    def input_tokens(self) -> int:
        """Input tokens of every record (cache reads and writes included)."""
        return self._input_tokens

    @property
    def output_tokens(self) -> int:
        """Output tokens of every record (reasoning included)."""
        return self._output_tokens

    @property
    def cache_read_tokens(self) -> int:
        """Input tokens read from the provider's prompt cache."""
        return self._cache_read_tokens

    @property
    def unpriced_calls(self) -> int:
        """Records whose model has no price (never counted in ``total_cost_usd``)."""
        return self._unpriced_calls

    def _fresh(self) -> CostScope:
        """A new, empty scope with the same tags (each decorated call gets its own)."""
        return CostScope(
            self.feature,
            project=self.project,
            environment=self.environment,
            user_id=self.user_id,
            tags=self.tags,
            keep_records=self.keep_records,
        )

    def _add(self, record: CostRecord) -> None:
        # Called by the recorder for every record made while this scope is open, possibly from
        # several threads that carried the context across: hence the lock.
        with self._lock:
            self._records.append(record)  # a bounded deque: the oldest falls out
            self._calls += 1
            self._input_tokens += record.input_tokens
            self._output_tokens += record.output_tokens
            self._cache_read_tokens += record.cache_read_tokens
            if record.total_cost_usd is None:
                self._unpriced_calls += 1
            else:
                self._total_cost_usd += record.total_cost_usd

    # -- opening (with / async with come from StackedScope) ---------------------------------

    _stack = scope_stack

    def _on_open(self, enclosing: tuple[Any, ...]) -> None:
        warn_if_not_instrumented("llmcost.track_cost")
        if enclosing:
            parent = enclosing[-1].attribution
        else:
            config = state.config
            parent = config.attribution if config is not None else Attribution()
        self.attribution = parent.merged_with(
            feature=self.feature,
            project=self.project,
            environment=self.environment,
            user_id=self.user_id,
            tags=self.tags,
        )

    # -- decorator -----------------------------------------------------------------------------

    def __call__(self, func: F) -> F:
        """Decorate a function, coroutine function, generator or async generator.

        Each invocation runs in a fresh scope with these tags. For generators the scope is
        open only while the generator's own code runs, not while its consumer does.
        """
        if inspect.isasyncgenfunction(func):
            return cast("F", self._wrap_async_generator(func))
        if inspect.isgeneratorfunction(func):
            return cast("F", self._wrap_generator(func))
        return self._decorate(func)

    def _wrap_generator(
        self, func: Callable[..., Generator[Any, Any, Any]]
    ) -> Callable[..., Generator[Any, Any, Any]]:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            scope = self._fresh()
            with scope:
                gen = func(*args, **kwargs)
            value: Any = None
            thrown: BaseException | None = None
            while True:
                with scope:
                    try:
                        item = gen.throw(thrown) if thrown is not None else gen.send(value)
                    except StopIteration as stop:
                        return stop.value
                thrown = None
                try:
                    value = yield item
                except GeneratorExit:
                    with scope:
                        gen.close()
                    raise
                except BaseException as exc:  # forwarded into the wrapped generator
                    thrown = exc

        return run

    def _wrap_async_generator(
        self, func: Callable[..., AsyncGenerator[Any, Any]]
    ) -> Callable[..., AsyncGenerator[Any, Any]]:
        @functools.wraps(func)
        async def run(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
            scope = self._fresh()
            with scope:
                agen = func(*args, **kwargs)
            value: Any = None
            thrown: BaseException | None = None
            while True:
                with scope:
                    try:
                        if thrown is not None:
                            item = await agen.athrow(thrown)
                        else:
                            item = await agen.asend(value)
                    except StopAsyncIteration:
                        return
                thrown = None
                try:
                    value = yield item
                except GeneratorExit:
                    with scope:
                        await agen.aclose()
                    raise
                except BaseException as exc:  # forwarded into the wrapped generator
                    thrown = exc

        return run


#: The named parameters of track_cost(): an extra keyword close to one of them is a typo.
_PARAMETERS = ("feature", "project", "environment", "user_id", "tags", "keep_records")


def track_cost(
    feature: str | None = None,
    *,
    project: str | None = None,
    environment: str | None = None,
    user_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    keep_records: bool | int = KEEP_RECORDS,
    **more_tags: Any,
) -> CostScope:
    """Attribute every LLM call made inside to a feature, project, environment, user and tags.

    Works as a decorator (functions, async functions, generators, async generators) and as a
    context manager (``with`` and ``async with``) that yields the :class:`CostScope`. Extra
    keyword arguments become tags. Scopes nest: inner values win, outer ones are inherited.

    ``keep_records`` bounds the memory of a long-lived scope: its totals count every record,
    ``scope.records`` keeps the newest 1,000 (``True``: all of them; ``False``: none).

    Raises:
        TypeError: an extra keyword is a near miss of a parameter (``feture=``, ``userid=``,
            ``enviroment=``): a typo would otherwise charge the calls to no feature. A tag of
            such a name still goes in through ``tags={...}``.

    Example:
        >>> import llmcost
        >>> @llmcost.track_cost(feature="support_chat", tier="pro")
        ... def answer(question): ...
        >>> with llmcost.track_cost(feature="report") as scope:
        ...     pass
        >>> scope.total_cost_usd
        Decimal('0')
    """
    feature = check_label("track_cost", "feature", feature)
    project = check_label("track_cost", "project", project)
    environment = check_label("track_cost", "environment", environment)
    user_id = check_label("track_cost", "user_id", user_id)
    for key in more_tags:
        close = errors.near_miss(key, _PARAMETERS, cutoff=0.85)
        if close is not None:
            raise TypeError(
                f"track_cost() got an unexpected keyword {key!r}: did you mean {close!r}? "
                f"(for a tag of that name use tags={{{key!r}: ...}})"
            )
    merged_tags = {**(tags or {}), **more_tags}
    return CostScope(
        feature,
        project=project,
        environment=environment,
        user_id=user_id,
        tags=clean_tags("track_cost", merged_tags),
        keep_records=keep_records,
    )


def bind_context(func: Callable[..., R]) -> Callable[..., R]:
    """Carry the caller's scopes and budgets into another thread or an executor.

    contextvars do not cross threads on their own: a function submitted to a thread pool runs
    without the caller's ``track_cost`` tags or budgets. Wrap it with ``bind_context`` where it
    is submitted; the copy of the context is taken then.

    Example:
        >>> from concurrent.futures import ThreadPoolExecutor
        >>> import llmcost
        >>> with llmcost.track_cost(feature="batch"), ThreadPoolExecutor() as pool:
        ...     future = pool.submit(llmcost.bind_context(lambda: 42))
        >>> future.result()
        42
    """
    context = contextvars.copy_context()

    @functools.wraps(func)
    def run_in_context(*args: Any, **kwargs: Any) -> R:
        # A Context can only be entered by one thread at a time; copy per call so the same
        # bound function may run concurrently in several workers.
        return context.copy().run(func, *args, **kwargs)

    return run_in_context
