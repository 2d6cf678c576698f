"""The model policy: allowlists per environment, required output caps, default caps."""

from __future__ import annotations

import json
import logging

import pytest

import llmcost
from llmcost.testing import (
    FakeAnthropicTransport,
    FakeOpenAITransport,
    fake_anthropic_client,
    fake_openai_client,
)

MESSAGES = [{"role": "user", "content": "Hi"}]


def setup(policy: llmcost.Policy, environment: str | None = "development") -> None:
    llmcost.configure(environment=environment, policy=policy)
    llmcost.instrument()


def test_model_outside_the_allowlist_is_refused_before_sending() -> None:
    """PolicyViolation names the model and environment; nothing is sent."""
    setup(llmcost.Policy(allowed_models={"development": ["gpt-*-mini", "claude-haiku-*"]}))
    transport = FakeOpenAITransport()
    client = fake_openai_client(transport=transport)
    with pytest.raises(llmcost.PolicyViolation) as info:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=5)
    message = str(info.value)
    assert "'gpt-4o'" in message
    assert "'development'" in message
    assert "gpt-*-mini" in message
    assert transport.requests == []
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)
    assert len(transport.requests) == 1
    atransport = FakeAnthropicTransport()
    anthropic = fake_anthropic_client(transport=atransport)
    with pytest.raises(llmcost.PolicyViolation):
        anthropic.messages.create(model="claude-opus-4-5", max_tokens=5, messages=MESSAGES)
    anthropic.messages.create(model="claude-haiku-4-5", max_tokens=5, messages=MESSAGES)
    assert len(atransport.requests) == 1


def test_environment_comes_from_the_innermost_scope() -> None:
    """A track_cost scope's environment selects the allowlist."""
    setup(
        llmcost.Policy(allowed_models={"development": ["gpt-4o-mini"], "*": ["gpt-4o*"]}),
        environment="production",
    )
    client = fake_openai_client()
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=5)  # "*"
    with llmcost.track_cost(environment="development"), pytest.raises(llmcost.PolicyViolation):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=5)
    with pytest.raises(llmcost.PolicyViolation):
        client.chat.completions.create(model="o3", messages=MESSAGES, max_tokens=5)


def test_unlisted_environment_is_unrestricted() -> None:
    """Without a matching key or '*', any model may be called."""
    setup(llmcost.Policy(allowed_models={"development": ["gpt-4o-mini"]}), environment="prod")
    policy = llmcost.Policy(allowed_models={"development": ["GPT-4O-*"]})
    assert policy.allows("gpt-4o-mini", "development")  # globs ignore case
    assert policy.allows("anything", None)
    client = fake_openai_client()
    client.chat.completions.create(model="gpt-5", messages=MESSAGES, max_tokens=5)


def test_require_max_tokens_raise() -> None:
    """A call without an output cap is refused; embeddings have no output and pass."""
    setup(llmcost.Policy(require_max_tokens="raise"))
    transport = FakeOpenAITransport()
    client = fake_openai_client(transport=transport)
    with pytest.raises(llmcost.PolicyViolation, match="max_completion_tokens"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    with pytest.raises(llmcost.PolicyViolation, match="max_output_tokens"):
        client.responses.create(model="gpt-4o-mini", input="hi")
    assert transport.requests == []
    client.embeddings.create(model="text-embedding-3-small", input="hi")
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=5)
    assert len(transport.requests) == 2


def test_require_max_tokens_warn_logs_once_per_model(caplog: pytest.LogCaptureFixture) -> None:
    """'warn' lets the call through and logs once per model."""
    caplog.set_level(logging.WARNING, logger="llmcost")
    setup(llmcost.Policy(require_max_tokens="warn"))
    transport = FakeOpenAITransport()
    client = fake_openai_client(transport=transport)
    for _ in range(3):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(transport.requests) == 3
    warnings = [r for r in caplog.records if "set no output cap" in r.getMessage()]
    assert len(warnings) == 1
    assert llmcost.stats()["policy.uncapped_calls"] == 3


def test_default_max_tokens_fills_the_right_parameter() -> None:
    """The default cap is sent under each API's own parameter name; user caps are kept."""
    setup(llmcost.Policy(require_max_tokens="raise", default_max_tokens=64))
    transport = FakeOpenAITransport()
    client = fake_openai_client(transport=transport)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=7)
    client.responses.create(model="gpt-4o-mini", input="hi")
    bodies = [json.loads(r.content) for r in transport.requests]
    assert bodies[0]["max_completion_tokens"] == 64
    assert bodies[1]["max_tokens"] == 7
    assert "max_completion_tokens" not in bodies[1]
    assert bodies[2]["max_output_tokens"] == 64


def test_default_max_tokens_bounds_the_budget_worst_case() -> None:
    """A call the budget would refuse (model's max output) fits once the default cap applies."""
    llmcost.configure(policy=llmcost.Policy(default_max_tokens=100))
    llmcost.instrument()
    transport = FakeOpenAITransport()
    client = fake_openai_client(transport=transport)
    with llmcost.budget(max_cost_usd="0.01") as b:
        client.chat.completions.create(model="gpt-5", messages=MESSAGES)
    assert len(transport.requests) == 1
    assert b.calls == 1


def test_policy_validation() -> None:
    """Bad policy settings are clear errors."""
    with pytest.raises(ValueError, match="require_max_tokens"):
        llmcost.Policy(require_max_tokens=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="default_max_tokens"):
        llmcost.Policy(default_max_tokens=0)
    with pytest.raises(TypeError, match="list of model globs"):
        llmcost.Policy(allowed_models={"dev": "gpt-4o"})
    with pytest.raises(TypeError, match="must map"):
        llmcost.Policy(allowed_models=["gpt-4o"])  # type: ignore[arg-type]
