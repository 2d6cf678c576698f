"""Spot a feature (or model, or customer) whose calls suddenly cost more than they used to.

For every key (e.g. each feature) :class:`AnomalyDetector` keeps a rolling baseline of the last
``window`` calls, separately for three signals: the cost of a call, its input tokens and its
output tokens (a jump in output tokens is what most often comes before a bill shock: a prompt
change that makes the model ramble, a loop that re-sends the whole conversation). A call is an
anomaly on a signal when it lies more than ``z_threshold`` standard deviations *above* that
key's baseline. Only increases are reported: llmcost watches for spend going up.

The baseline statistics are computed from exact sums (integers for tokens, Decimals for money),
so a perfectly steady stream has exactly zero spread and can never alert. So that a steady
baseline does not turn a small wobble into an alarm, the spread used is never less than 10% of
the baseline mean: after a flat baseline, a call is reported from about 1.3 times the mean
(with ``z_threshold=3``).

Wire it into the recorder with ``llmcost.configure(anomaly=llmcost.AnomalyConfig(...))``; use
:class:`AnomalyDetector` directly over stored records (that is what ``llmcost anomalies`` does).

Example:
    >>> import llmcost
    >>> def page_me(record, anomaly):
    ...     print(anomaly)
    >>> llmcost.configure(anomaly=llmcost.AnomalyConfig(by="feature", on_anomaly=page_me,
    ...                                                  min_cost_usd=0.01))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import TYPE_CHECKING, Any

from llmcost import errors
from llmcost.report import key_function, parse_by

if TYPE_CHECKING:
    from llmcost.types import CostRecord

__all__ = ["Anomaly", "AnomalyConfig", "AnomalyDetector", "AnomalyWatcher"]

logger = logging.getLogger("llmcost")

#: The signals tracked per key, in the order they are checked.
METRICS = ("cost_usd", "input_tokens", "output_tokens")

# Exact arithmetic for the money sums: additions and products never round in this context.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
# The spread is never taken as less than this fraction of the mean (see the module docs).
_MIN_RELATIVE_SPREAD = 0.1


@dataclass(frozen=True)
class Anomaly:
    """One signal of one call that stands out from its key's baseline.

    Attributes:
        by: The grouping, e.g. ``("feature",)``.
        key: The call's key, e.g. ``("support_chat",)``.
        metric: ``"cost_usd"``, ``"input_tokens"`` or ``"output_tokens"``.
        value: The call's value (a Decimal for cost, an int for tokens).
        mean: The baseline mean (over ``samples`` earlier calls of the key).
        stddev: The baseline's standard deviation.
        z_score: How many (floored) standard deviations above the mean ``value`` lies.
        samples: How many calls the baseline holds.
        record_id: The record that stood out.
        timestamp: When that call started.
    """

    by: tuple[str, ...]
    key: tuple[str | None, ...]
    metric: str
    value: Decimal | int
    mean: float
    stddev: float
    z_score: float
    samples: int
    record_id: str
    timestamp: datetime

    @property
    def ratio(self) -> float | None:
        """``value / mean``: "10.0" means ten times the usual (None when the mean is 0)."""
        return _float(self.value) / self.mean if self.mean else None

    def __str__(self) -> str:
        key = ", ".join(
            f"{name}={'-' if part is None else part}"
            for name, part in zip(self.by, self.key, strict=True)
        )
        times = f"{self.ratio:.1f}x" if self.ratio is not None else "far above"
        return (
            f"{key}: {self.metric} {self.value} is {times} the mean {self.mean:.6g} "
            f"(z={self.z_score:.1f}, baseline of {self.samples} calls, record {self.record_id})"
        )


class _Series:
    """The last ``window`` values of one signal, with exact running sums."""

    __slots__ = ("count_sum", "square_sum", "values")

    def __init__(self, window: int) -> None:
        self.values: deque[Any] = deque(maxlen=window)
        self.count_sum: Any = 0
        self.square_sum: Any = 0

    def push(self, value: Decimal | int) -> None:
        values = self.values
        if isinstance(value, Decimal):
            if len(values) == values.maxlen:
                old = values[0]
                self.count_sum = _EXACT.subtract(self.count_sum, old)
                self.square_sum = _EXACT.subtract(self.square_sum, _EXACT.multiply(old, old))
            self.count_sum = _EXACT.add(self.count_sum, value)
            self.square_sum = _EXACT.add(self.square_sum, _EXACT.multiply(value, value))
        else:
            if len(values) == values.maxlen:
                old = values[0]
                self.count_sum -= old
                self.square_sum -= old * old
            self.count_sum += value
            self.square_sum += value * value
        values.append(value)

    def judge(self, value: Decimal | int) -> tuple[float, float, float]:
        """(z score, mean, stddev) of ``value`` against the values held (at least one).

        The z score is 0 for a value at or below the mean.
        """
        n = len(self.values)
        total, squares = self.count_sum, self.square_sum
        if isinstance(value, Decimal):
            excess = _EXACT.subtract(_EXACT.multiply(n, value), total)  # n·x − Σ, exact
            spread = _EXACT.subtract(_EXACT.multiply(n, squares), _EXACT.multiply(total, total))
        else:
            excess = n * value - total
            spread = n * squares - total * total  # n²·variance, exact, never negative
        mean = _float(total) / n
        stddev = math.sqrt(max(_float(spread), 0.0)) / n
        if excess <= 0:
            return 0.0, mean, stddev  # at or below the mean: only increases are judged
        scale = max(stddev, _MIN_RELATIVE_SPREAD * abs(mean))
        z = _float(excess) / n / scale if scale > 0 else math.inf
        if z != z:  # inf / inf: sizes beyond any float, which no z-score can judge
            z = 0.0
        return z, mean, stddev


def _float(value: Decimal | int) -> float:
    """``float(value)``, saturating to infinity: a file can carry integers no float holds."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


class AnomalyDetector:
    """Rolling per-key baselines of cost, input tokens and output tokens per call.

    Args:
        window: How many recent calls of a key make its baseline.
        z_threshold: How many standard deviations above the mean counts as an anomaly.
        min_samples: Calls a key needs in its baseline before it is judged at all.
        min_cost_usd: A call costing less than this is never reported (cheap noise stays
            quiet); with a floor above 0, calls of unknown price are not reported either.
        by: The key, e.g. ``"feature"`` or ``("feature", "model")`` (see
            :func:`llmcost.report.parse_by`).
        max_keys: Baselines kept at most; the least recently seen key is forgotten first.

    Example:
        >>> from decimal import Decimal
        >>> from llmcost.types import CostRecord
        >>> detector = AnomalyDetector(min_samples=5)
        >>> def call(output_tokens):
        ...     return CostRecord(provider="openai", operation="chat", feature="chat",
        ...                       input_tokens=100, output_tokens=output_tokens)
        >>> [detector.observe(call(50)) for _ in range(5)][-1]
        []
        >>> [a.metric for a in detector.observe(call(500))]
        ['output_tokens']
    """

    def __init__(
        self,
        window: int = 100,
        z_threshold: float = 3.0,
        min_samples: int = 10,
        min_cost_usd: Decimal | float | int | str = 0.0,
        *,
        by: str | Sequence[str] = "feature",
        max_keys: int = 10_000,
    ) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 2:
            raise ValueError(f"window must be an int of at least 2, got {window!r}")
        if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 2:
            raise ValueError(f"min_samples must be an int of at least 2, got {min_samples!r}")
        if min_samples > window:
            raise ValueError(f"min_samples ({min_samples}) cannot exceed window ({window})")
        if not isinstance(z_threshold, (int, float)) or not z_threshold > 0:
            raise ValueError(f"z_threshold must be a positive number, got {z_threshold!r}")
        if not math.isfinite(z_threshold):
            raise ValueError(f"z_threshold must be finite, got {z_threshold!r}")
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 1:
            raise ValueError(f"max_keys must be a positive int, got {max_keys!r}")
        self.window = window
        self.z_threshold = float(z_threshold)
        self.min_samples = min_samples
        self.min_cost_usd = _money(min_cost_usd)
        self.by = parse_by(by)
        self.max_keys = max_keys
        self._key = key_function(self.by)
        self._baselines: OrderedDict[tuple[str | None, ...], tuple[_Series, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def observe(self, record: CostRecord) -> list[Anomaly]:
        """Judge ``record`` against its key's baseline, then add it to that baseline.

        Returns the anomalies found (empty for an ordinary call). Thread-safe.
        """
        key = self._key(record)
        cost = record.total_cost_usd if record.priced else None
        values: tuple[Decimal | int | None, ...] = (
            cost,
            record.input_tokens,
            record.output_tokens,
        )
        floor = self.min_cost_usd
        reportable = not floor or (cost is not None and cost >= floor)
        found: list[Anomaly] = []
        with self._lock:
            series = self._baselines.get(key)
            if series is None:
                series = tuple(_Series(self.window) for _ in METRICS)
                self._baselines[key] = series
                if len(self._baselines) > self.max_keys:
                    self._baselines.popitem(last=False)
            else:
                self._baselines.move_to_end(key)
            for metric, baseline, value in zip(METRICS, series, values, strict=True):
                if value is None:
                    continue  # an unknown cost is not evidence of anything, and never $0
                if reportable and len(baseline.values) >= self.min_samples:
                    z, mean, stddev = baseline.judge(value)
                    if z > self.z_threshold:
                        found.append(
                            Anomaly(
                                by=self.by,
                                key=key,
                                metric=metric,
                                value=value,
                                mean=mean,
                                stddev=stddev,
                                z_score=z,
                                samples=len(baseline.values),
                                record_id=record.record_id,
                                timestamp=record.timestamp,
                            )
                        )
                baseline.push(value)
        return found

    def reset(self) -> None:
        """Forget every baseline."""
        with self._lock:
            self._baselines.clear()


def _money(value: Decimal | float | int | str) -> Decimal:
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except ArithmeticError as exc:
        raise ValueError(f"min_cost_usd must be a number of dollars, got {value!r}") from exc
    if isinstance(value, bool) or not amount.is_finite() or amount < 0:
        raise ValueError(f"min_cost_usd must be a finite amount >= 0, got {value!r}")
    return amount


AnomalyCallback = Callable[["CostRecord", Anomaly], Any]


@dataclass(frozen=True)
class AnomalyConfig:
    """How ``llmcost.configure(anomaly=...)`` watches every record for anomalies.

    Each anomaly logs a warning on the ``llmcost`` logger and, when given, calls
    ``on_anomaly(record, anomaly)``. A callback that raises is logged and counted
    (``llmcost.stats()["anomaly.callback_errors"]``); it never reaches the LLM call.

    Example:
        >>> import llmcost
        >>> config = llmcost.AnomalyConfig(by="feature", min_cost_usd="0.01",
        ...                                on_anomaly=lambda record, anomaly: print(anomaly))
        >>> llmcost.configure(anomaly=config)  # doctest: +SKIP
    """

    by: str | Sequence[str] = "feature"
    on_anomaly: AnomalyCallback | None = None
    window: int = 100
    z_threshold: float = 3.0
    min_samples: int = 10
    min_cost_usd: Decimal | float | int | str = 0.0
    max_keys: int = field(default=10_000, repr=False)

    def __post_init__(self) -> None:
        self.detector()  # fail at configure() time, naming the bad argument
        if self.on_anomaly is not None and not callable(self.on_anomaly):
            raise TypeError(f"on_anomaly must be callable, got {self.on_anomaly!r}")

    def detector(self) -> AnomalyDetector:
        """A fresh :class:`AnomalyDetector` with these settings."""
        return AnomalyDetector(
            window=self.window,
            z_threshold=self.z_threshold,
            min_samples=self.min_samples,
            min_cost_usd=self.min_cost_usd,
            by=self.by,
            max_keys=self.max_keys,
        )

    def watcher(self) -> AnomalyWatcher:
        """A :class:`AnomalyWatcher` with its own baselines (one per ``configure()``)."""
        return AnomalyWatcher(self.detector(), self.on_anomaly)


class AnomalyWatcher:
    """Feeds records to a detector and reports what it finds: a warning, then the callback.

    Example:
        >>> watcher = AnomalyConfig(min_samples=5).watcher()
        >>> watcher.observe(record)  # doctest: +SKIP
        []
    """

    def __init__(self, detector: AnomalyDetector, on_anomaly: AnomalyCallback | None) -> None:
        self.detector = detector
        self.on_anomaly = on_anomaly
        self._callback_failed_once = False

    def observe(self, record: CostRecord) -> list[Anomaly]:
        """Judge one record; log and hand on every anomaly found. Thread-safe."""
        found = self.detector.observe(record)
        for anomaly in found:
            errors.count("anomalies")
            logger.warning(
                "llmcost anomaly: %s",
                anomaly,
                extra={"llmcost_anomaly": anomaly, "llmcost_record_id": record.record_id},
            )
            if self.on_anomaly is None:
                continue
            try:
                self.on_anomaly(record, anomaly)
            except Exception:  # the user's callback must not break their LLM call
                errors.count("anomaly.callback_errors")
                if not self._callback_failed_once:
                    self._callback_failed_once = True
                    logger.exception(
                        "llmcost on_anomaly callback %r raised (further failures are counted, "
                        "not logged)",
                        self.on_anomaly,
                    )
        return found
