"""LoggingSink: one log line per record on the ``llmcost.records`` logger."""

from __future__ import annotations

import logging
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

    def close(self) -> None:
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


def format_record(record: CostRecord) -> str:
    """The one-line human summary of a record used by :class:`LoggingSink`."""
    cached = f" ({record.cache_read_tokens} cached)" if record.cache_read_tokens else ""
    cost = f"${record.total_cost_usd}" if record.total_cost_usd is not None else "unpriced"
    labels = [
        f"{name}={value}"
        for name, value in (
            ("feature", record.feature),
            ("project", record.project),
            ("environment", record.environment),
            ("user", record.user_id),
        )
        if value
    ]
    labels.extend(f"{key}={value}" for key, value in record.tags.items())
    suffix = f" [{' '.join(labels)}]" if labels else ""
    status = "" if record.status == "ok" else f" {record.status}:{record.error_type}"
    estimated = " (estimated)" if record.estimated else ""
    return (
        f"{record.provider} {record.operation} {record.response_model or record.model}: "
        f"{record.input_tokens} in{cached} / {record.output_tokens} out, "
        f"{cost}{estimated}{status}{suffix}"
    )
