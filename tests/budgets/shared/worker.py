"""One worker process of the multi-process budget tests (run by test_redis_store.py).

Usage: worker.py URL PREFIX THREADS CALLS_PER_THREAD REAL_FRACTION LATENCY TTL LIMIT
Makes calls through a real OpenAI client (fake transport) on THREADS threads, each until it
is refused or made CALLS_PER_THREAD calls, and prints {"admitted": n, "refused": m} as JSON.
"""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import llmcost
from llmcost import tokens
from llmcost.budgets import RedisBudgetStore
from llmcost.testing import fake_openai_client

MODEL = "gpt-4o-mini"
MESSAGES = [{"role": "user", "content": "Summarise the quarterly report in one line."}]
MAX_TOKENS = 1000


def main() -> None:
    url, prefix = sys.argv[1], sys.argv[2]
    threads, calls = int(sys.argv[3]), int(sys.argv[4])
    fraction, latency, ttl = float(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
    limit = sys.argv[8]
    # A loaded CI machine can keep Redis from answering for a while: wait, do not fail open.
    store = RedisBudgetStore(url=url, prefix=prefix, reservation_ttl=ttl, timeout=30)
    llmcost.configure(
        budgets=[llmcost.budget(max_cost_usd=limit, name="shared", window="day", store=store)]
    )
    llmcost.instrument()
    estimate = tokens.estimate_request_input_tokens(
        "openai", "chat", {"model": MODEL, "messages": MESSAGES}
    )
    # The real usage: the worst case itself (fraction 1) or a fraction of it.
    usage = {
        "input_tokens": max(1, int(estimate * fraction)),
        "output_tokens": max(1, int(MAX_TOKENS * fraction)),
    }
    client = fake_openai_client(latency=latency, usage=usage)
    lock = threading.Lock()
    counts = {"admitted": 0, "refused": 0}
    start = threading.Barrier(threads)

    def run() -> None:
        start.wait()
        for _ in range(calls):
            try:
                client.chat.completions.create(
                    model=MODEL, messages=MESSAGES, max_tokens=MAX_TOKENS
                )
            except llmcost.BudgetExceeded:
                with lock:
                    counts["refused"] += 1
                return
            with lock:
                counts["admitted"] += 1

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(run) for _ in range(threads)]:
            future.result()
    llmcost.shutdown()
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
