"""llmcost.anomaly: per-key baselines of cost, input and output tokens; the recorder hook."""

from __future__ import annotations

import logging
import threading
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import llmcost
from llmcost import errors
from llmcost.anomaly import Anomaly, AnomalyConfig, AnomalyDetector
from llmcost.types import CostRecord


def _call(
    feature: str = "chat",
    cost: Decimal | None = Decimal("0.01"),
    input_tokens: int = 1000,
    output_tokens: int = 200,
    **fields: object,
) -> CostRecord:
    return CostRecord(
        provider="openai",
        operation="chat",
        model="gpt-4o",
        feature=feature,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_cost_usd=cost,
        priced=cost is not None,
        **fields,  # type: ignore[arg-type]
    )


_amounts = st.decimals(min_value=Decimal("0.000001"), max_value=100, places=6)


@settings(max_examples=60, deadline=None)
@given(
    cost=st.one_of(st.just(Decimal(0)), _amounts),
    inputs=st.integers(0, 10**7),
    outputs=st.integers(0, 10**6),
    count=st.integers(1, 250),
    window=st.integers(2, 120),
)
def test_a_constant_stream_never_alerts(
    cost: Decimal, inputs: int, outputs: int, count: int, window: int
) -> None:
    """However long, a stream of identical calls has zero spread and raises no anomaly."""
    detector = AnomalyDetector(window=window, min_samples=2)
    for _ in range(count):
        assert detector.observe(_call(cost=cost, input_tokens=inputs, output_tokens=outputs)) == []


@settings(max_examples=60, deadline=None)
@given(
    base=_amounts,
    noise=st.lists(st.integers(-5, 5), min_size=30, max_size=30),
    outputs=st.integers(10, 10**5),
)
def test_a_single_ten_times_outlier_after_a_stable_window_alerts(
    base: Decimal, noise: list[int], outputs: int
) -> None:
    """After 30 calls within ±5% of their mean, one call at 10× cost and output is flagged."""
    detector = AnomalyDetector(window=100, z_threshold=3.0, min_samples=10)
    for wobble in noise:
        factor = Decimal(100 + wobble) / 100
        found = detector.observe(
            _call(cost=base * factor, output_tokens=int(outputs * factor), input_tokens=1000)
        )
        assert found == []
    spike = _call(cost=base * 10, output_tokens=outputs * 10, input_tokens=1000)
    found = detector.observe(spike)
    assert {anomaly.metric for anomaly in found} == {"cost_usd", "output_tokens"}
    cost_anomaly = next(a for a in found if a.metric == "cost_usd")
    assert cost_anomaly.value == base * 10
    assert cost_anomaly.record_id == spike.record_id
    assert cost_anomaly.key == ("chat",)
    assert cost_anomaly.samples == 30
    assert cost_anomaly.z_score > 3.0
    assert cost_anomaly.ratio == pytest.approx(10, rel=0.1)


@settings(max_examples=40, deadline=None)
@given(base=_amounts, floor_factor=st.integers(11, 1000))
def test_the_floor_suppresses_alerts_below_it(base: Decimal, floor_factor: int) -> None:
    """A 10× outlier that still costs less than min_cost_usd is not reported."""
    detector = AnomalyDetector(min_samples=5, min_cost_usd=base * floor_factor)
    for _ in range(20):
        detector.observe(_call(cost=base))
    assert detector.observe(_call(cost=base * 10, output_tokens=2000)) == []
    # The same detector reports a spike that clears the floor.
    assert detector.observe(_call(cost=base * floor_factor * 10)) != []


def test_output_tokens_are_watched_apart_from_cost_and_input() -> None:
    """A jump in output tokens alone is reported as such (and only as such)."""
    detector = AnomalyDetector(min_samples=5)
    for _ in range(20):
        detector.observe(_call(output_tokens=200))
    (anomaly,) = detector.observe(_call(output_tokens=4000))
    assert (anomaly.metric, anomaly.value, anomaly.mean) == ("output_tokens", 4000, 200.0)
    assert "output_tokens 4000 is 20.0x the mean 200" in str(anomaly)
    assert "feature=chat" in str(anomaly)


def test_each_key_has_its_own_baseline_and_needs_min_samples() -> None:
    """An expensive feature is normal for itself; a new key is not judged before min_samples."""
    detector = AnomalyDetector(min_samples=10, by=("feature", "model"))
    for _ in range(20):
        assert detector.observe(_call("cheap", cost=Decimal("0.001"))) == []
        assert detector.observe(_call("pricey", cost=Decimal("1"))) == []
    for _ in range(9):
        detector.observe(_call("new", cost=Decimal("0.001")))
    assert detector.observe(_call("new", cost=Decimal("5"))) == []  # 9 samples: not judged yet
    found = detector.observe(_call("new", cost=Decimal("500")))
    assert [(a.key, a.metric) for a in found] == [(("new", "gpt-4o"), "cost_usd")]


def test_drops_are_not_anomalies_and_a_new_level_becomes_the_baseline() -> None:
    """Only increases are flagged; once the window holds the new level, it is normal."""
    detector = AnomalyDetector(window=20, min_samples=5)
    for _ in range(20):
        detector.observe(_call(cost=Decimal("0.05")))
    assert detector.observe(_call(cost=Decimal("0.0001"))) == []
    alerts = [detector.observe(_call(cost=Decimal("0.5"))) for _ in range(40)]
    assert alerts[0] != []
    assert alerts[-1] == []


def test_unpriced_calls_feed_token_baselines_but_not_cost() -> None:
    """A call of unknown price is not $0: it is left out of the cost baseline."""
    detector = AnomalyDetector(min_samples=5)
    for _ in range(10):
        detector.observe(_call(cost=Decimal("0.01")))
    for _ in range(10):
        assert detector.observe(_call(cost=None)) == []
    found = detector.observe(_call(cost=None, input_tokens=50_000))
    assert [a.metric for a in found] == ["input_tokens"]
    # With a floor, a call of unknown price cannot be shown to clear it: not reported.
    floored = AnomalyDetector(min_samples=5, min_cost_usd="0.001")
    for _ in range(10):
        floored.observe(_call(cost=None))
    assert floored.observe(_call(cost=None, input_tokens=50_000)) == []


def test_bad_settings_name_the_argument() -> None:
    """Each invalid setting raises a ValueError naming it."""
    for kwargs, name in [
        ({"window": 1}, "window"),
        ({"min_samples": 1}, "min_samples"),
        ({"window": 5, "min_samples": 6}, "min_samples"),
        ({"z_threshold": 0}, "z_threshold"),
        ({"min_cost_usd": -1}, "min_cost_usd"),
        ({"min_cost_usd": "abc"}, "min_cost_usd"),
        ({"by": "colour"}, "colour"),
    ]:
        with pytest.raises(ValueError, match=name):
            AnomalyDetector(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window"):
        AnomalyConfig(window=0)
    with pytest.raises(TypeError, match="on_anomaly"):
        AnomalyConfig(on_anomaly="not callable")  # type: ignore[arg-type]


def test_watcher_logs_a_warning_and_calls_back(caplog: pytest.LogCaptureFixture) -> None:
    """AnomalyConfig.watcher(): each anomaly is a warning on 'llmcost' and a callback call."""
    seen: list[tuple[CostRecord, Anomaly]] = []
    config = AnomalyConfig(
        by="feature", min_samples=5, on_anomaly=lambda record, a: seen.append((record, a))
    )
    assert llmcost.AnomalyConfig is AnomalyConfig
    watcher = config.watcher()
    for _ in range(10):
        assert watcher.observe(_call()) == []
    caplog.set_level(logging.WARNING, logger="llmcost")
    spike = _call(cost=Decimal("1"))
    found = watcher.observe(spike)
    assert [a.metric for a in found] == ["cost_usd"]
    assert seen == [(spike, found[0])]
    (log,) = [r for r in caplog.records if r.name == "llmcost"]
    assert log.levelno == logging.WARNING
    assert "llmcost anomaly: feature=chat: cost_usd 1 is" in log.getMessage()
    assert config.watcher() is not watcher  # each configure() starts fresh baselines


def test_a_failing_callback_is_counted_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    """The user's callback raising never reaches their LLM call; it is counted and logged once."""
    errors.reset_stats()

    def broken(record: CostRecord, anomaly: Anomaly) -> None:
        raise RuntimeError("pager is down")

    watcher = AnomalyConfig(min_samples=5, on_anomaly=broken).watcher()
    for _ in range(10):
        watcher.observe(_call())
    caplog.set_level(logging.ERROR, logger="llmcost")
    watcher.observe(_call(cost=Decimal("5")))
    watcher.observe(_call(cost=Decimal("500")))
    assert errors.stats()["anomaly.callback_errors"] == 2
    assert len([r for r in caplog.records if "on_anomaly callback" in r.getMessage()]) == 1


def test_observe_is_thread_safe() -> None:
    """Many threads feeding one detector: no errors, every call lands in the baseline."""
    detector = AnomalyDetector(window=10_000, min_samples=2, by="feature")
    failures: list[BaseException] = []

    def feed(worker: int) -> None:
        try:
            for index in range(500):
                detector.observe(_call(f"f{worker % 2}", cost=Decimal(index % 7 + 1) / 1000))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=feed, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    sizes = {key: len(series[0].values) for key, series in detector._baselines.items()}
    assert sizes == {("f0",): 1500, ("f1",): 1500}
