"""A cost regression caught in CI: save a baseline, double a prompt, watch the test fail.

Run: python examples/cost_baseline.py

It writes a tiny project to a temporary directory (an application with two LLM features and
its tests, which use a real OpenAI client on a fake transport: no key, no network), then runs
pytest twice, as CI would:

1. ``pytest --llmcost-save-baseline=llm-baseline.json`` on the main branch: every test's
   calls, tokens and cost, per feature, go to the file (commit it);
2. a branch doubles the summarizer's system prompt, and
   ``pytest --llmcost-compare-baseline=llm-baseline.json --llmcost-max-increase=10%`` fails
   the test whose tokens and cost grew, naming both, per feature. Deterministic: the fake
   counts the tokens of what is sent, so the same code always costs the same.

docs/testing.md ("Cost baselines") explains each step.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

APP = """
import os

import llmcost

SYSTEM = "Summarize the ticket in three bullet points. Be brief."
if os.environ.get("PROMPT_VERSION") == "2":
    # The change under review: a longer prompt, sent with every call.
    SYSTEM = SYSTEM + " " + SYSTEM + " Mention the customer's tone and the product area."


@llmcost.track_cost(feature="summaries")
def summarize(client, ticket):
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": ticket}],
        max_completion_tokens=200,
    )
    return reply.choices[0].message.content


@llmcost.track_cost(feature="triage")
def classify(client, ticket):
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Label: billing, bug or other? " + ticket}],
        max_completion_tokens=5,
    )
    return reply.choices[0].message.content
"""

CONFTEST = '''
import json

import pytest

from llmcost.testing import FakeOpenAITransport, fake_openai_client


class CountingTransport(FakeOpenAITransport):
    """Answers like OpenAI, billing one input token per four characters of the messages sent
    (a stand-in for recorded responses: the bill follows what the code sends)."""

    def handle_request(self, request):
        messages = json.loads(request.content)["messages"]
        sent = sum(len(message["content"]) for message in messages)
        self.usage = {"input_tokens": max(1, sent // 4), "output_tokens": 40}
        return super().handle_request(request)


@pytest.fixture
def client():
    return fake_openai_client(CountingTransport(text="- a\\n- b\\n- c"))
'''

TESTS = """
from app import classify, summarize

TICKET = "The invoice for November was charged twice; please refund one of the payments."


def test_summarize(client):
    assert summarize(client, TICKET).startswith("- ")


def test_classify(client):
    assert classify(client, TICKET)
"""


def pytest_run(project: Path, *args: str, prompt: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PROMPT_VERSION": prompt, "PYTHONPATH": str(project)}
    env.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(project), "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        check=False,
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="llmcost-baseline-") as tmp:
        project = Path(tmp)
        (project / "app.py").write_text(APP, encoding="utf-8")
        (project / "conftest.py").write_text(CONFTEST, encoding="utf-8")
        (project / "test_app.py").write_text(TESTS, encoding="utf-8")

        print("1. main branch: pytest --llmcost-save-baseline=llm-baseline.json")
        saved = pytest_run(project, "--llmcost-save-baseline=llm-baseline.json", prompt="1")
        print(_indent(_tail(saved.stdout, "baseline saved")))
        baseline = (project / "llm-baseline.json").read_text(encoding="utf-8")
        print("   llm-baseline.json (commit it):")
        print(_indent(baseline, "     "))

        print("2. a branch doubles the prompt: pytest --llmcost-compare-baseline=llm-baseline.json")
        compared = pytest_run(
            project,
            "--llmcost-compare-baseline=llm-baseline.json",
            "--llmcost-max-increase=10%",
            prompt="2",
        )
        failure = compared.stdout[compared.stdout.find("LLM cost regression") :]
        print(_indent(failure[: failure.find("=====")].rstrip()))
        print(f"   pytest exit code: {compared.returncode} (the build fails)")
    caught = saved.returncode == 0 and compared.returncode == 1 and "regression" in failure
    return 0 if caught else 1


def _tail(text: str, start: str) -> str:
    return text[text.find(start) :].splitlines()[0] if start in text else text


def _indent(text: str, prefix: str = "   ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


if __name__ == "__main__":
    raise SystemExit(main())
