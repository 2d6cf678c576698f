"""Write cost records to a JSONL file, read them back, report the spend, watch for anomalies.

Runs offline: the records are built directly (in an application they come from the patched
SDKs through ``llmcost.configure(sinks=[JSONLFileSink(...)])``).

    python examples/jsonl_and_report.py
"""

from __future__ import annotations

import logging
import random
import tempfile
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from llmcost.anomaly import Anomaly, AnomalyConfig
from llmcost.reading import read_records
from llmcost.report import format_table, summarize
from llmcost.sinks.jsonl import JSONLFileSink
from llmcost.types import CostRecord

# Per-token prices used to make the demo records (USD): input, output.
PRICES = {
    "gpt-4o": (Decimal("0.0000025"), Decimal("0.00001")),
    "gpt-4o-mini": (Decimal("0.00000015"), Decimal("0.0000006")),
}
FEATURES = {  # feature: (model, typical input tokens, typical output tokens)
    "support_chat": ("gpt-4o", 3000, 400),
    "search": ("gpt-4o-mini", 800, 60),
    "summaries": ("gpt-4o", 6000, 900),
}


def make_call(
    feature: str, when: datetime, rng: random.Random, output_boost: int = 1
) -> CostRecord:
    model, inputs, outputs = FEATURES[feature]
    input_tokens = int(inputs * rng.uniform(0.9, 1.1))
    output_tokens = int(outputs * rng.uniform(0.9, 1.1)) * output_boost
    input_rate, output_rate = PRICES[model]
    input_cost, output_cost = input_rate * input_tokens, output_rate * output_tokens
    return CostRecord(
        provider="openai",
        operation="chat",
        model=model,
        feature=feature,
        project="checkout",
        environment="production",
        timestamp=when,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        input_cost_usd=input_cost,
        output_cost_usd=output_cost,
        total_cost_usd=input_cost + output_cost,
        priced=True,
    )


def main() -> None:
    logging.basicConfig(format="%(name)s %(levelname)s: %(message)s")
    rng = random.Random(42)
    start = datetime(2026, 11, 16, tzinfo=timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "costs" / "costs.jsonl"
        # Each anomaly is logged as a warning on the "llmcost" logger and handed to on_anomaly.
        alerts: list[Anomaly] = []
        watcher = AnomalyConfig(
            by="feature",
            min_cost_usd="0.01",
            on_anomaly=lambda record, anomaly: alerts.append(anomaly),
        ).watcher()

        with JSONLFileSink(path, max_bytes=5_000_000) as sink:
            for index in range(600):
                when = start + timedelta(minutes=17 * index)
                if index == 550:
                    # A prompt change makes a support_chat answer ten times longer.
                    record = make_call("support_chat", when, rng, output_boost=10)
                else:
                    record = make_call(rng.choice(list(FEATURES)), when, rng)
                sink.emit(record)
                watcher.observe(record)  # what configure(anomaly=...) does for every call

        print(f"{len(alerts)} anomalies, all on record {alerts[0].record_id[:8]}...")
        reader = read_records(path)
        rows = summarize(reader, by=("feature", "model"))
        print(f"\n{reader.records} records read from {path.name}\n")
        print(format_table(rows))
        print("\nCost per request, by day:\n")
        print(format_table(summarize(read_records(path), by="day", sort="key")))


if __name__ == "__main__":
    main()
