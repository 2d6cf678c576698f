"""Reading fields of provider responses that are SDK objects or plain JSON dicts, alike.

Non-streamed responses arrive as the SDK's pydantic objects, raw responses as parsed JSON:
the usage readers of both integrations accept either through these helpers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["field", "view"]


def field(obj: Any, name: str) -> Any:
    """The field ``name`` of ``obj`` (a dict, an SDK object or None); None when absent.

    Example:
        >>> field({"id": "msg_1"}, "id"), field(None, "id")
        ('msg_1', None)
    """
    # dict first and cheaply (raw responses are parsed JSON); SDK objects by attribute.
    if isinstance(obj, dict):
        return obj.get(name)
    if obj is None:
        return None
    # Not isinstance(obj, Mapping): an ABC check per field costs more than the whole mapping.
    return getattr(obj, name, None)


class _Attributes:
    """Reads an object's fields by attribute: the view of an object that is not a dict."""

    __slots__ = ("_obj",)

    def __init__(self, obj: Any) -> None:
        self._obj = obj

    def get(self, name: str) -> Any:
        return getattr(self._obj, name, None)


_NO_FIELDS: dict[str, Any] = {}


def view(obj: Any) -> dict[str, Any] | _Attributes:
    """Something to ``.get(name)`` the fields of ``obj`` from, as :func:`field` reads them.

    A JSON dict is its own view; anything else (an SDK's pydantic object, whose undeclared
    fields the server sent are attributes too) is read by attribute.

    Example:
        >>> view({"input_tokens": 3}).get("input_tokens"), view(None).get("input_tokens")
        (3, None)
    """
    if isinstance(obj, dict):
        return obj
    if obj is None:
        return _NO_FIELDS
    return _Attributes(obj)
