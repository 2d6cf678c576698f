"""A streamed Claude message with prompt caching, recorded and priced by llmcost, offline.

The client is the real ``anthropic`` SDK answered by llmcost's fake transport, so this runs
without a network or an API key. Swap ``fake_anthropic_client(...)`` for
``anthropic.Anthropic()`` to run it against the real API.

Run: ``python examples/anthropic_budget_stream.py``
"""

from __future__ import annotations

import llmcost
from llmcost.testing import fake_anthropic_client


def main() -> None:
    sink = llmcost.sinks.MemorySink()
    llmcost.configure(project="docs-demo", environment="local", sinks=[sink])
    llmcost.instrument("anthropic")

    # llmcost terms: input_tokens counts ALL input, cache reads and writes included.
    client = fake_anthropic_client(
        text="Prompt caching makes the long shared prefix cheap to reuse.",
        usage={
            "input_tokens": 5200,
            "cache_read_tokens": 4000,
            "cache_write_tokens": 1000,
            "cache_write_1h_tokens": 1000,
            "output_tokens": 120,
        },
    )
    system = [
        {
            "type": "text",
            "text": "You summarise support tickets. <long shared instructions>",
            "cache_control": {"type": "ephemeral", "ttl": "1h"},
        }
    ]
    with (
        llmcost.track_cost(feature="ticket_summary") as scope,
        client.messages.stream(
            model="claude-sonnet-4-6",
            max_tokens=300,
            system=system,
            messages=[{"role": "user", "content": "Summarise ticket #4521."}],
        ) as stream,
    ):
        for text in stream.text_stream:
            print(text, end="", flush=True)
        print()

    for record in sink.records:
        print(
            f"{record.feature}: {record.model} in={record.input_tokens} "
            f"(cache read {record.cache_read_tokens}, cache write {record.cache_write_tokens}, "
            f"1h {record.cache_write_1h_tokens}) out={record.output_tokens} "
            f"cost=${record.total_cost_usd} request={record.request_id} replayed={record.replayed}"
        )
    print(f"scope total: ${scope.total_cost_usd}")


if __name__ == "__main__":
    main()
