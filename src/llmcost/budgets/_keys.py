"""Which store key a call is charged to: the budget's name, its ``per`` value, its window.

The window is part of the key (``"daily:u-42@2026-12-06"``), so a new window starts at zero
without any cleanup job; keys of ended windows simply stop being used (and expire).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

__all__ = ["FIELDS", "WINDOWS", "Window", "check_per", "per_value", "window_of"]

Window = Literal["hour", "day", "month"]
WINDOWS = ("hour", "day", "month")
#: The attribution fields ``per`` can name (and a template can use, with ``tags``).
FIELDS = ("feature", "project", "environment", "user_id")
#: What a key holds when the call has no value for ``per`` (no user_id, no such tag).
MISSING = "-"


class _Tags(dict[str, str]):
    """Tags for a template: a tag the call does not have reads as ``MISSING``."""

    def __missing__(self, key: str) -> str:
        return MISSING


def check_per(per: object) -> str:
    """``per`` itself, or a ValueError naming what is wrong with it."""
    if not isinstance(per, str) or not per:
        raise TypeError(f"budget(per=...) must be an attribution field or a template, got {per!r}")
    if "{" not in per:
        if per not in FIELDS:
            raise ValueError(
                f"budget(per={per!r}) must be one of {', '.join(FIELDS)}, or a template such as "
                "'customer:{tags[customer]}'"
            )
        return per
    try:
        names = [field for _, field, _, _ in string.Formatter().parse(per) if field is not None]
    except ValueError as exc:
        raise ValueError(f"budget(per={per!r}) is not a valid template: {exc}") from None
    for name in names:
        root = name.split("[", 1)[0].split(".", 1)[0]
        if root not in (*FIELDS, "tags") or (root == "tags" and not name.startswith("tags[")):
            raise ValueError(
                f"budget(per={per!r}) uses {{{name}}}: a template may use "
                f"{', '.join('{' + f + '}' for f in FIELDS)} and {{tags[name]}}"
            )
    return per


def per_value(per: str, attribution: Any) -> str:
    """The value of ``per`` for a call attributed as ``attribution`` (scope or record).

    ``@`` (which starts the window in a key) and ``%`` are escaped as ``%40`` and ``%25``, so
    no value can pose as another key's window.
    """
    if "{" not in per:
        value = getattr(attribution, per, None)
        return _escaped(value) if value else MISSING
    fields: dict[str, Any] = {
        name: _escaped(getattr(attribution, name, None) or MISSING) for name in FIELDS
    }
    tags: Mapping[str, str] = getattr(attribution, "tags", None) or {}
    fields["tags"] = _Tags({key: _escaped(value) for key, value in tags.items()})
    return per.format_map(fields)


def _escaped(value: str) -> str:
    return value.replace("%", "%25").replace("@", "%40")


def window_of(window: Window, when: datetime, tz: Any) -> tuple[str, datetime]:
    """The label of the window ``when`` falls in, and the (aware) time it ends.

    ``tz`` is a ``tzinfo``; windows follow its calendar (a day in Paris starts at local
    midnight). ``when`` must be timezone-aware.
    """
    local = when.astimezone(tz)
    if window == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
        return start.strftime("%Y-%m-%dT%H"), start + timedelta(hours=1)
    if window == "day":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        following = start.date() + timedelta(days=1)
        end = datetime(following.year, following.month, following.day, tzinfo=tz)
        return start.strftime("%Y-%m-%d"), end
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start.strftime("%Y-%m"), datetime(year, month, 1, tzinfo=tz)


UTC = timezone.utc
