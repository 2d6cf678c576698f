"""`import llmcost` is light: no SDK, tokenizer, OpenTelemetry or HTTP client, no pydantic."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("openai", "anthropic", "tiktoken", "opentelemetry", "httpx", "httpx2", "requests", "wrapt")


def test_import_pulls_in_nothing_heavy() -> None:
    """A fresh interpreter importing llmcost loads none of the heavy modules."""
    code = (
        "import sys, json, llmcost; "
        "import llmcost.sinks, llmcost.tracking; "
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    loaded = set(json.loads(output))
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert "pydantic" not in loaded


def test_instrument_without_sdks_imported_imports_none() -> None:
    """instrument() patches SDKs on import; it never imports one itself."""
    code = (
        "import sys, json, llmcost; llmcost.instrument(); "
        "print(json.dumps([m for m in ('openai', 'anthropic') if m in sys.modules]))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert json.loads(output) == []


def test_lazy_public_names_resolve() -> None:
    """The public names loaded on first use are there."""
    import llmcost

    assert llmcost.CostRecord.__name__ == "CostRecord"
    assert llmcost.Usage.__name__ == "Usage"
    assert callable(llmcost.record_usage)
    assert sorted(llmcost.__all__) == list(llmcost.__all__)
