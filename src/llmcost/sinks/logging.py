"""LoggingSink: one log line per record on the ``llmcost.records`` logger."""

from __future__ import annotations

import logging
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmcost.types import CostRecord

__all__ = ["LoggingSink"]


class LoggingSink:
    """Log each record as a one-line human message with the whole record as structured data.

    The record's JSON-ready fields are attached to the log record as ``extra={"llmcost": {...}}``
    (so a JSON log formatter ships every field), and the message reads like
    ``openai chat gpt-4o: 1200 in (1000 cached) / 300 out, $0.00595 [feature=support_chat]``.

    Args:
        logger: The logger to use; default ``logging.getLogger("llmcost.records")``.
        level: The level of each line, as a number or a name (``"INFO"``); default INFO.

    Example:
        >>> import logging, llmcost
        >>> logging.basicConfig(level=logging.INFO)
        >>> llmcost.configure(sinks=[llmcost.sinks.LoggingSink()])  # doctest: +SKIP
    """

    def __init__(
        self, logger: logging.Logger | None = None, level: int | str = logging.INFO
    ) -> None:
        self.logger = logger if logger is not None else logging.getLogger("llmcost.records")
        self.level = _level_number(level)

    def emit(self, record: CostRecord) -> None:
        """Log ``record`` if the logger is enabled for the level."""
        if not self.logger.isEnabledFor(self.level):
            return
        self.logger.log(
            self.level, "%s", format_record(record), extra={"llmcost": record.to_json_dict()}
        )

    def flush(self, timeout: float | None = None) -> bool:
        """Flush the logger's handlers."""
        for handler in self.logger.handlers:
            handler.flush()
        return True

    def close(self, timeout: float | None = None) -> None:
        """Nothing to release: the handlers belong to the application."""


def _level_number(level: int | str) -> int:
    if isinstance(level, bool) or not isinstance(level, (int, str)):
        raise TypeError(f"LoggingSink(level=...) takes a logging level, got {level!r}")
    if isinstance(level, int):
        return level
    number = logging.getLevelName(level)  # as registered (a custom "Notice" level) ...
    if not isinstance(number, int):
        number = logging.getLevelName(level.upper())  # ... or the usual upper-case name
    if not isinstance(number, int):
        raise ValueError(f"LoggingSink(level=...): unknown logging level {level!r}")
    return number


# Characters that could end a log line, rewrite the terminal (ESC), hide text or reorder it.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp", "Co", "Cn"})
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def escape(value: object) -> str:
    """``str(value)`` with control characters written as escapes, so it stays on one line.

    Newlines, carriage returns, ESC and other C0/C1 controls, lone surrogates, line and
    paragraph separators and bidirectional overrides become ``\\n``, ``\\x1b``,
    ``\\u202e`` and so on: a tag cannot forge a log line or repaint a terminal.

    Example:
        >>> escape("ok\\nFAKE 200")
        'ok\\\\nFAKE 200'
    """
    text = str(value)
    if text.isprintable():  # the common case: nothing to escape
        return text
    return "".join(
        _escape_char(char)
        if unicodedata.category(char) in _UNSAFE_CATEGORIES or char in _BIDI_CONTROLS
        else char
        for char in text
    )


def _escape_char(char: str) -> str:
    # repr() escapes exactly the characters str.isprintable() rejects: "\\n", "\\x1b", "\\u202e".
    return repr(char)[1:-1]


def format_record(record: CostRecord) -> str:
    """The one-line human summary of a record used by :class:`LoggingSink`.

    Every text field goes through :func:`escape`, so the summary is always one line.
    """
    cached = f" ({record.cache_read_tokens} cached)" if record.cache_read_tokens else ""
    cost = f"${record.total_cost_usd}" if record.total_cost_usd is not None else "unpriced"
    labels = [
        f"{name}={escape(value)}"
        for name, value in (
            ("feature", record.feature),
            ("project", record.project),
            ("environment", record.environment),
            ("user", record.user_id),
        )
        if value
    ]
    labels.extend(f"{escape(key)}={escape(value)}" for key, value in record.tags.items())
    suffix = f" [{' '.join(labels)}]" if labels else ""
    status = (
        "" if record.status == "ok" else f" {escape(record.status)}:{escape(record.error_type)}"
    )
    estimated = " (estimated)" if record.estimated else ""
    model = escape(record.response_model or record.model)
    return (
        f"{escape(record.provider)} {escape(record.operation)} {model}: "
        f"{record.input_tokens} in{cached} / {record.output_tokens} out, "
        f"{cost}{estimated}{status}{suffix}"
    )
