"""The offline quickstart: llmcost end to end with no API key and no network.

Run: python examples/quickstart.py [costs.jsonl]      (or: llmcost demo)

Real ``openai``, ``anthropic`` and ``google-genai`` SDK clients talk to the fake providers of
``llmcost.testing``. Five features are tagged with ``@llmcost.track_cost``, one streamed call
per provider shows the usage its stream reported next to what llmcost recorded, a budget
refuses one call before it is sent, every record goes to a JSONL file, and the file is read back and
summarised per feature. The code it runs is ``src/llmcost/demo.py``, written to be read;
docs/quickstart.md walks through it.
"""

from __future__ import annotations

import sys

from llmcost.demo import run_demo


def main() -> int:
    result = run_demo(sys.argv[1] if len(sys.argv) > 1 else None)
    # The demo's promises, checked: the examples test relies on this exit code.
    ok = result.refused is not None and {row.key[0] for row in result.by_feature} == {
        "support_chat",
        "summarize",
        "search",
        "translate",
        "live_chat",
    }
    exact_streams = len(result.streams) == 3 and all(
        (reply.input_tokens, reply.output_tokens) == (record.input_tokens, record.output_tokens)
        for reply, record in result.streams
    )
    return 0 if ok and exact_streams else 1


if __name__ == "__main__":
    raise SystemExit(main())
