"""Cost ceilings for LLM features, checked in CI with the llmcost pytest plugin.

Run: python -m pytest examples/pytest_ceilings -p no:cacheprovider
     (add --llm-budget=0.05 to cap the whole run, --llmcost-json=costs.json for a report)

The plugin is installed with llmcost (no conftest needed). The SDK clients are real; the
fake providers of llmcost.testing answer them, so no API key is needed and nothing is spent,
yet every call is priced as the real one would be.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

import llmcost
from llmcost.testing import fake_anthropic_client, fake_openai_client

# --- the application under test (normally imported from your package) ---------------------


@llmcost.track_cost(feature="support_chat")
def answer(client, question: str) -> str:
    response = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": question}],
        max_completion_tokens=300,
    )
    return response.choices[0].message.content


@llmcost.track_cost(feature="research_agent")
def research(client, topic: str, steps: int) -> list[str]:
    notes = []
    for step in range(steps):
        message = client.messages.create(
            model="claude-sonnet-4-6",
            max_tokens=1024,
            messages=[{"role": "user", "content": f"{topic}: step {step}"}],
        )
        notes.append(message.content[0].text)
    return notes


# --- the tests --------------------------------------------------------------------------------


@pytest.fixture
def openai_client():
    return fake_openai_client(usage={"input_tokens": 1200, "output_tokens": 300})


@pytest.fixture
def claude():
    return fake_anthropic_client(usage={"input_tokens": 2000, "output_tokens": 400})


def test_an_answer_costs_less_than_a_tenth_of_a_cent(openai_client, llm_cost):
    answer(openai_client, "Where is my order?")

    # gpt-4o-mini: 1,200 input tokens at $0.15/M + 300 output tokens at $0.60/M.
    assert llm_cost.total_usd == Decimal("0.00036")
    assert llm_cost.by_feature() == {"support_chat": Decimal("0.00036")}
    llm_cost.assert_under(usd=0.001, calls=1)


@pytest.mark.llm_budget(usd=0.05, calls=3)
def test_a_short_research_run_stays_under_five_cents(claude):
    # Fails (in the test's call phase) if a change makes these three steps cost more.
    assert len(research(claude, "pricing pages", steps=3)) == 3


@pytest.mark.llm_budget(usd=0.05, mode="reject")
def test_a_runaway_agent_is_stopped_before_it_spends(claude, llm_cost):
    # mode="reject" runs the test inside llmcost.budget(max_cost_usd=0.05): the call that
    # could overshoot is refused before it is sent.
    with pytest.raises(llmcost.BudgetExceeded):
        research(claude, "everything", steps=100)
    assert 1 < llm_cost.calls < 100
    assert llm_cost.total_usd <= Decimal("0.05")
