"""Attribution and cost per workflow: nested track_cost scopes, async tasks and threads.

Run: python examples/attribution.py   (offline: records are made with llmcost.record_usage)
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import llmcost


def summarize_ticket(ticket: str) -> None:
    # Stands in for an instrumented SDK call; the recorder path is the same.
    llmcost.record_usage(
        provider="openai", model="gpt-4o-mini", input_tokens=800, output_tokens=120
    )


@llmcost.track_cost(feature="triage", tier="pro")
def triage(ticket: str) -> None:
    summarize_ticket(ticket)


async def draft_reply(n: int) -> None:
    await asyncio.sleep(0)
    llmcost.record_usage(
        provider="anthropic", model="claude-haiku-4-5", input_tokens=1500, output_tokens=400
    )


async def reply_to_all() -> None:
    # Tasks created inside the scope inherit it: contextvars are copied into each task.
    with llmcost.track_cost(feature="reply"):
        await asyncio.gather(*(draft_reply(n) for n in range(3)))


def main() -> None:
    sink = llmcost.sinks.MemorySink()
    llmcost.configure(project="helpdesk", environment="demo", sinks=[sink])

    with llmcost.track_cost(user_id="customer-7") as workflow:
        triage("printer on fire")
        asyncio.run(reply_to_all())
        # Threads do not inherit contextvars: bind_context carries the scope across.
        with ThreadPoolExecutor(max_workers=2) as pool:
            tagged = llmcost.track_cost(feature="enrich")
            with tagged:
                jobs = [pool.submit(llmcost.bind_context(summarize_ticket), t) for t in "ab"]
            for job in jobs:
                job.result()

    for record in sink.records:
        print(f"{record.feature:8} {record.user_id} {record.model:18} ${record.total_cost_usd}")
    print(f"workflow: {workflow.calls} calls, ${workflow.total_cost_usd} in total")
    llmcost.shutdown()


if __name__ == "__main__":
    main()
