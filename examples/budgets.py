"""Budgets and a model policy refusing calls before they are sent, offline.

The clients are the real ``openai`` SDK answered by llmcost's fake transport, so this runs
without a network or an API key; the transport's ``requests`` list shows what was really sent.
Swap ``fake_openai_client(...)`` for ``openai.OpenAI()`` to run it against the real API.

Run: ``python examples/budgets.py``
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import llmcost
from llmcost.testing import FakeOpenAITransport, fake_openai_client

QUESTION = [{"role": "user", "content": "Which payment methods do you accept?"}]


def main() -> None:
    llmcost.configure(
        project="budgets-demo",
        environment="development",
        policy=llmcost.Policy(
            allowed_models={"development": ["gpt-*-mini", "gpt-5*", "text-embedding-*"]}
        ),
    )
    llmcost.instrument("openai")
    transport = FakeOpenAITransport(usage={"input_tokens": 400, "output_tokens": 150})
    client = fake_openai_client(transport=transport)

    # 1. A request budget: capped calls fit; an uncapped gpt-5 call (worst case: the model's
    #    full maximum output) is refused before anything is sent.
    with llmcost.budget(max_cost_usd="0.01", name="answer-request") as request_budget:
        client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, max_tokens=300)
        sent = len(transport.requests)
        try:
            client.chat.completions.create(model="gpt-5", messages=QUESTION)
        except llmcost.BudgetExceeded as error:
            print(f"refused: {error}\n")
        assert len(transport.requests) == sent  # the refused call sent nothing
    print(
        f"request budget: spent ${request_budget.spent_usd} on {request_budget.calls} call(s), "
        f"${request_budget.remaining_usd} left\n"
    )

    # 2. The policy: a model outside the development allowlist never leaves the process.
    try:
        client.chat.completions.create(model="gpt-4o", messages=QUESTION, max_tokens=50)
    except llmcost.PolicyViolation as error:
        print(f"policy: {error}\n")

    # 3. Threads share a budget when the context is carried with bind_context; the budget
    #    allows five calls, so three of the eight are refused, however the threads interleave.
    with llmcost.budget(max_calls=5, max_cost_usd="0.05", name="batch") as batch:

        def ask(_: int) -> str:
            try:
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=QUESTION, max_tokens=150
                )
            except llmcost.BudgetExceeded:
                return "refused"
            return "sent"

        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(llmcost.bind_context(ask), range(8)))
    print(f"batch: {outcomes.count('sent')} sent, {outcomes.count('refused')} refused")
    print(f"batch: spent ${batch.spent_usd} on {batch.calls} calls")

    # 4. Warn mode: over-budget calls go through, are counted and logged once.
    with llmcost.budget(max_calls=1, on_exceed="warn", warn_at=None) as soft:
        for _ in range(3):
            client.embeddings.create(model="text-embedding-3-small", input="hello")
    print(f"soft budget: {soft.calls} calls, {soft.exceeded_calls} over the limit")

    # 5. Offline token estimates, the same ones the budgets use.
    print(
        "estimated input tokens of the question:",
        llmcost.tokens.count_message_tokens(QUESTION, "gpt-4o-mini"),
    )
    llmcost.shutdown()


if __name__ == "__main__":
    main()
