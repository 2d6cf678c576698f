"""OpenAI calls attributed with ``@llmcost.track_cost``, one of them streamed, offline.

The client is the real ``openai`` SDK answered by llmcost's fake transport, so this runs
without a network or an API key. Swap ``fake_openai_client(...)`` for ``openai.OpenAI()`` to
run it against the real API.

Run: ``python examples/openai_decorator.py``
"""

from __future__ import annotations

import llmcost
from llmcost.testing import fake_openai_client

# llmcost terms: input_tokens counts ALL input, the cached part included.
client = fake_openai_client(
    text="Your order ships tomorrow and arrives on Thursday.",
    usage={"input_tokens": 1200, "cache_read_tokens": 1000, "output_tokens": 300},
)


@llmcost.track_cost(feature="support_chat", tier="pro")
def answer(question: str) -> str:
    """A plain (non-streamed) chat completion."""
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
    )
    return reply.choices[0].message.content or ""


@llmcost.track_cost(feature="live_answer")
def answer_streamed(question: str) -> str:
    """A streamed chat completion: the record is made when the stream ends."""
    parts = []
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": question}], stream=True
    )
    for chunk in stream:
        # No usage-only chunk shows up here: llmcost asked for it and hides it from you.
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
    return "".join(parts)


def main() -> None:
    sink = llmcost.sinks.MemorySink()
    llmcost.configure(project="docs-demo", environment="local", sinks=[sink])
    llmcost.instrument("openai")

    print("answer:  ", answer("Where is my order?"))
    print("streamed:", answer_streamed("Where is my order?"))

    for record in sink.records:
        print(
            f"{record.feature:<13} {record.operation} {record.response_model} "
            f"stream={record.stream} in={record.input_tokens} "
            f"(cached {record.cache_read_tokens}) out={record.output_tokens} "
            f"cost=${record.total_cost_usd} request_id={record.request_id}"
        )
    total = sum(record.total_cost_usd or 0 for record in sink.records)
    print(f"total: ${total}")
    llmcost.shutdown()


if __name__ == "__main__":
    main()
