"""The offline demo behind ``llmcost demo`` and ``examples/quickstart.py``.

It runs the real ``openai`` and ``anthropic`` SDK clients against the fake providers of
:mod:`llmcost.testing`, so it needs no API key and no network, and shows llmcost end to end:

1. ``llmcost.configure`` with a JSONL file sink and a callback sink, then ``instrument()``;
2. three features tagged with ``@llmcost.track_cost``: a support chat (OpenAI chat
   completions), document summaries (Anthropic messages, with prompt caching) and search
   (OpenAI embeddings);
3. one streamed call per provider (feature ``live_chat``): the usage each stream reports in
   its last events is shown next to the record llmcost made from it, token for token;
4. a nightly digest inside ``llmcost.budget(max_cost_usd=0.02)``: the first summary fits, the
   second is refused *before it is sent* with :class:`llmcost.BudgetExceeded`;
5. the records read back from the JSONL file and summarised per feature with
   :func:`llmcost.report.summarize`.

Read this module top to bottom as a tutorial; ``docs/quickstart.md`` walks through it.

Example:
    >>> from llmcost.demo import run_demo
    >>> result = run_demo("costs.jsonl")  # doctest: +SKIP
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import llmcost

if TYPE_CHECKING:
    import anthropic
    import openai
    from google import genai

    from llmcost.report import SummaryRow
    from llmcost.testing import FakeOpenAITransport
    from llmcost.types import CostRecord

__all__ = ["DemoResult", "run_demo"]

CHAT_MODEL = "gpt-4o-mini"
SUMMARY_MODEL = "claude-sonnet-4-6"
EMBEDDING_MODEL = "text-embedding-3-small"
STREAM_SUMMARY_MODEL = "claude-haiku-4-5"
TRANSLATE_MODEL = "gemini-2.5-flash"
DIGEST_BUDGET_USD = Decimal("0.02")


@dataclass
class DemoResult:
    """What the demo did, for tests and for callers that want more than the printout.

    Attributes:
        jsonl_path: The JSONL file the records were written to.
        records: Every record the demo made, in order.
        refused: The :class:`llmcost.BudgetExceeded` raised for the refused call.
        streams: Each streamed call's reply (with the usage its stream reported) and record.
        by_feature: The per-feature summary read back from the JSONL file.
    """

    jsonl_path: Path
    records: list[CostRecord] = field(default_factory=list)
    refused: llmcost.BudgetExceeded | None = None
    by_feature: list[SummaryRow] = field(default_factory=list)
    #: Each streamed call: what the application saw, and the record llmcost made of it.
    streams: list[tuple[StreamedReply, CostRecord]] = field(default_factory=list)

    @property
    def total_usd(self) -> Decimal:
        """The cost of every priced call the demo made."""
        return sum(
            (r.total_cost_usd for r in self.records if r.total_cost_usd is not None), Decimal(0)
        )


# --- the application: three features, each one function tagged with track_cost -----------------


class HelpdeskApp:
    """A tiny application with three LLM features; its clients are ordinary SDK clients."""

    def __init__(
        self,
        chat: openai.OpenAI,
        claude: anthropic.Anthropic,
        claude_stream: anthropic.Anthropic | None = None,
        gemini: genai.Client | None = None,
    ) -> None:
        self.chat = chat
        self.claude = claude
        self.claude_stream = claude_stream or claude
        self.gemini = gemini

    @llmcost.track_cost(feature="translate")
    def translate(self, text: str) -> str:
        """A Gemini call that thinks before it answers (thinking is billed as output)."""
        assert self.gemini is not None
        response = self.gemini.models.generate_content(
            model=TRANSLATE_MODEL, contents=f"Translate into German: {text}"
        )
        return response.text or ""

    @llmcost.track_cost(feature="live_chat")
    def stream_translation(self, text: str) -> StreamedReply:
        """A Gemini reply streamed chunk by chunk: the last chunk's usage is the total."""
        assert self.gemini is not None
        reply = StreamedReply("gemini", TRANSLATE_MODEL)
        for chunk in self.gemini.models.generate_content_stream(
            model=TRANSLATE_MODEL, contents=f"Translate into French: {text}"
        ):
            reply.chunks += 1
            reply.text += chunk.text or ""
            usage = chunk.usage_metadata
            if usage is not None and usage.prompt_token_count is not None:
                reply.input_tokens = usage.prompt_token_count
                # Thinking is billed as output: the record's output includes it.
                reply.output_tokens = (usage.candidates_token_count or 0) + (
                    usage.thoughts_token_count or 0
                )
        return reply

    @llmcost.track_cost(feature="support_chat", tier="pro")
    def answer(self, question: str) -> str:
        response = self.chat.chat.completions.create(
            model=CHAT_MODEL,
            messages=[
                {"role": "system", "content": "You are a helpful support agent."},
                {"role": "user", "content": question},
            ],
            max_completion_tokens=300,
        )
        return response.choices[0].message.content or ""

    @llmcost.track_cost(feature="summarize")
    def summarize(self, document: str) -> str:
        message = self.claude.messages.create(
            model=SUMMARY_MODEL,
            max_tokens=1024,
            system=[
                {
                    "type": "text",
                    "text": "Summarize support tickets in three bullet points.",
                    "cache_control": {"type": "ephemeral"},
                }
            ],
            messages=[{"role": "user", "content": document}],
        )
        return "".join(getattr(block, "text", "") for block in message.content)

    @llmcost.track_cost(feature="search")
    def embed(self, queries: list[str]) -> list[list[float]]:
        response = self.chat.embeddings.create(model=EMBEDDING_MODEL, input=queries)
        return [item.embedding for item in response.data]

    @llmcost.track_cost(feature="live_chat")
    def stream_answer(self, question: str) -> StreamedReply:
        """An OpenAI chat completion streamed chunk by chunk, as a chat UI shows it."""
        stream = self.chat.chat.completions.create(
            model=CHAT_MODEL,
            messages=[{"role": "user", "content": question}],
            max_completion_tokens=300,
            stream=True,
            # Without this OpenAI sends no usage in a stream, and the cost can only be
            # estimated; with it, the last chunk carries the exact token counts.
            stream_options={"include_usage": True},
        )
        reply = StreamedReply("openai", CHAT_MODEL)
        for chunk in stream:
            reply.chunks += 1
            if chunk.choices:
                reply.text += chunk.choices[0].delta.content or ""
            if chunk.usage is not None:
                reply.input_tokens = chunk.usage.prompt_tokens
                reply.output_tokens = chunk.usage.completion_tokens
        return reply

    @llmcost.track_cost(feature="live_chat")
    def stream_summary(self, document: str) -> StreamedReply:
        """An Anthropic message streamed with ``messages.stream()``."""
        reply = StreamedReply("anthropic", STREAM_SUMMARY_MODEL)
        with self.claude_stream.messages.stream(
            model=STREAM_SUMMARY_MODEL,
            max_tokens=512,
            messages=[{"role": "user", "content": document}],
        ) as stream:
            for text in stream.text_stream:
                reply.chunks += 1
                reply.text += text
            usage = stream.get_final_message().usage  # from message_start + message_delta
        reply.input_tokens = usage.input_tokens + (usage.cache_read_input_tokens or 0)
        reply.output_tokens = usage.output_tokens
        return reply


@dataclass
class StreamedReply:
    """What a streamed call gave the application: its text, and the usage the stream reported."""

    provider: str
    model: str
    text: str = ""
    chunks: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None


def _fake_gemini() -> genai.Client | None:
    """A Gemini client on a fake transport, when google-genai is installed (``llmcost[gemini]``)."""
    import importlib.util

    if importlib.util.find_spec("google.genai") is None:
        return None
    from llmcost.testing import fake_gemini_client

    # 700 of the 1,100 output tokens are thinking: billed as output, recorded as reasoning.
    client: genai.Client = fake_gemini_client(
        text="Der Drucker ist wieder online.",
        thought_text="The user wants German.",
        usage={"input_tokens": 400, "output_tokens": 1100, "reasoning_tokens": 700},
    )
    return client


def _fake_clients() -> tuple[
    openai.OpenAI, anthropic.Anthropic, anthropic.Anthropic, FakeOpenAITransport
]:
    """Real SDK clients answered locally; the usage they report is what the demo prices."""
    from llmcost.testing import FakeOpenAITransport, fake_anthropic_client, fake_openai_client

    # One OpenAI transport for chat and embeddings: its usage is changed per call below.
    openai_transport = FakeOpenAITransport(
        text="Try turning it off and on again; if that fails, reset the router.",
        usage={"input_tokens": 1200, "output_tokens": 300},
    )
    chat = fake_openai_client(openai_transport)
    claude = fake_anthropic_client(
        text="- Printer offline\n- Driver reinstalled\n- Customer happy",
        # 2,000 of the 3,000 input tokens are read from the prompt cache (billed at 10%).
        usage={"input_tokens": 3000, "cache_read_tokens": 2000, "output_tokens": 250},
    )
    # The streamed summary: its usage arrives in the stream's message_start and message_delta.
    claude_stream = fake_anthropic_client(
        text="The customer's printer is back online after a driver reinstall.",
        usage={"input_tokens": 1800, "output_tokens": 90},
    )
    return chat, claude, claude_stream, openai_transport


# --- the demo ------------------------------------------------------------------------------------


class _Printer:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def header(self) -> None:
        self.line(
            f"  {'feature':<13} {'provider':<10} {'model':<23} {'input':>6} {'cached':>6} "
            f"{'output':>6}  {'cost':>12}"
        )

    def record(self, record: CostRecord) -> None:
        """A CallbackSink function: one line per call, as it happens."""
        cost = "unpriced" if record.total_cost_usd is None else _usd(record.total_cost_usd)
        self.line(
            f"  {record.feature or '-':<13} {record.provider:<10} {record.model or '-':<23} "
            f"{record.input_tokens:>6,} {record.cache_read_tokens:>6,} "
            f"{record.output_tokens:>6,}  {cost:>12}"
        )


def _usd(amount: Decimal) -> str:
    """``$0.00027``, ``$12.50``: every digit of the exact amount, and at least the cents."""
    text = f"{amount:,f}"
    if "." in text:
        text = text.rstrip("0")
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def run_demo(jsonl_path: str | Path | None = None, *, out: TextIO | None = None) -> DemoResult:
    """Run the offline demo, printing as it goes; no API key and no network needed.

    It replaces the llmcost configuration of the process (``configure`` + ``instrument``) and
    shuts llmcost down at the end.

    Args:
        jsonl_path: The JSONL file to append the records to; None makes a new temporary
            directory.
        out: Where to print (default ``sys.stdout``).

    Returns:
        What the demo did: the records, the refused call and the per-feature summary.

    Example:
        >>> from llmcost.demo import run_demo
        >>> result = run_demo()  # doctest: +SKIP
        >>> result.refused is not None  # doctest: +SKIP
        True
    """
    from llmcost.report import format_table, summarize

    printer = _Printer(out if out is not None else sys.stdout)
    if jsonl_path is None:
        jsonl_path = Path(tempfile.mkdtemp(prefix="llmcost-demo-")) / "costs.jsonl"
    path = Path(jsonl_path)
    result = DemoResult(jsonl_path=path)

    printer.line("llmcost demo: real OpenAI, Anthropic and Gemini SDK clients on fake transports")
    printer.line("(no API key, no network; prices from llmcost's bundled catalog)")
    printer.line()

    # 1. Configure once at start-up: where records go, and default tags. instrument() patches
    #    the installed SDKs; every client made from now on (or before) is measured.
    llmcost.configure(
        project="helpdesk",
        environment="demo",
        sinks=[
            llmcost.sinks.JSONLFileSink(path),
            llmcost.sinks.CallbackSink(printer.record),
            llmcost.sinks.CallbackSink(result.records.append),
        ],
    )
    llmcost.instrument()
    try:
        chat, claude, claude_stream, openai_transport = _fake_clients()
        gemini = _fake_gemini()
        app = HelpdeskApp(chat, claude, claude_stream, gemini)

        # 2. Use the application as usual: each call is priced and tagged with its feature.
        printer.header()
        app.answer("My printer says it is offline. What can I do?")
        app.answer("And how do I reset the router?")
        app.summarize("Ticket 4711: printer offline since Monday ... (a long ticket)")
        openai_transport.usage = {"input_tokens": 64, "output_tokens": 0}  # embeddings
        app.embed(["printer offline", "reset router"])
        if gemini is not None:
            app.translate("The printer is back online.")

        # 3. Streams: the reply arrives chunk by chunk, and the usage only at the end. llmcost
        #    records the call once, when the stream is used up (or closed, or abandoned), with
        #    the exact counts the provider sent, never an estimate when the provider counted.
        openai_transport.usage = {"input_tokens": 900, "output_tokens": 120}
        replies = [
            app.stream_answer("Write a two-line status update for the customer."),
            app.stream_summary("Ticket 4711, the whole thread ... (streamed summary)"),
        ]
        if gemini is not None:
            replies.append(app.stream_translation("The printer is back online."))
        llmcost.flush()  # the record lines above are printed by a sink: let them arrive
        printer.line()
        printer.line("Streamed calls: the usage each stream reported, as llmcost recorded it")
        streamed = [record for record in result.records if record.stream]
        for reply, record in zip(replies, streamed, strict=False):
            cost = record.total_cost_usd
            same = (reply.input_tokens, reply.output_tokens) == (
                record.input_tokens,
                record.output_tokens,
            )
            result.streams.append((reply, record))
            printer.line(
                f"  {reply.provider:<10} {reply.chunks:>2} chunks; the stream said "
                f"{reply.input_tokens:,} in / {reply.output_tokens:,} out; llmcost recorded "
                f"{record.input_tokens:,} in / {record.output_tokens:,} out "
                f"({'exact' if same and not record.estimated else 'DIFFERENT'}), "
                f"{'unpriced' if cost is None else _usd(cost)}"
            )

        # 4. A budget refuses a call *before it is sent* when the call's worst case (estimated
        #    input + max_tokens of output) no longer fits.
        printer.line()
        printer.line(
            f"Nightly digest inside llmcost.budget(max_cost_usd={DIGEST_BUDGET_USD}): "
            "summarize 3 tickets"
        )
        try:
            with llmcost.budget(max_cost_usd=DIGEST_BUDGET_USD, name="nightly-digest") as digest:
                for ticket in ("Ticket 4712 ...", "Ticket 4713 ...", "Ticket 4714 ..."):
                    app.summarize(ticket)
        except llmcost.BudgetExceeded as exc:
            result.refused = exc
            printer.line(
                f"  {'summarize':<13} refused before sending: llmcost.BudgetExceeded\n"
                f"  {'':<13} spent {_usd(digest.spent_usd)} of {_usd(DIGEST_BUDGET_USD)}; the next "
                f"call could cost up to {_usd(Decimal(exc.estimate or 0))}"
            )
    finally:
        llmcost.flush()  # every record reaches the file, however busy the machine
        llmcost.shutdown()  # then close the sinks
        llmcost.uninstrument()

    # 5. The JSONL file is the durable record: read it back and summarise it by feature. (The
    #    sink appends, so a file used before keeps its records: summarise this run's only.)
    ours = {record.record_id for record in result.records}
    result.by_feature = summarize(
        (record for record in llmcost.read_records(path) if record.record_id in ours),
        by="feature",
    )
    printer.line()
    printer.line(f"{len(result.records)} records appended to {path}")
    printer.line(
        "Cost by feature (read back with llmcost.read_records + llmcost.report.summarize):"
    )
    printer.line()
    for row in format_table(result.by_feature).splitlines():
        printer.line("  " + row)
    printer.line()
    live = sum(1 for record in result.records if not record.replayed)
    printer.line(
        f"Total {_usd(result.total_usd)}. "
        + (
            "Every call was answered by a fake transport (replayed=True): no money was spent."
            if not live
            else f"{live} call(s) reached a live provider."
        )
    )
    printer.line(f"Try: llmcost report {path} --by feature,model")
    return result
