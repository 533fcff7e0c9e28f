"""Bounds at the edge: server-supplied strings cut short, JSON that cannot recurse without end.

Everything a server sends passes through here before the layers above see it:

- :func:`clip` cuts a name, id, namespace or message to a sane length and says so, with the
  true length (``"aaaa…[+999,800 chars, 1,000,000 in all]"``), so a 1 MB event name or sid can
  never reach a terminal, a log line or a table whole;
- :func:`loads` decodes JSON like :func:`json.loads` (the C decoder, once, on the usual path) but
  refuses nesting deeper than :data:`JSON_DEPTH_LIMIT` with :class:`JsonTooDeep` (a
  ``ValueError``) instead of a ``RecursionError``, and decodes valid deep JSON (500–1000 levels,
  which the C decoder may refuse depending on how deep the caller's stack already is) without
  recursion;
- :func:`text_preview` bounds a text before anything formats it.
"""

from __future__ import annotations

import json
import json.decoder
import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "JSON_DEPTH_LIMIT",
    "MESSAGE_LIMIT",
    "NAME_LIMIT",
    "PREVIEW_LIMIT",
    "JsonTooDeep",
    "clip",
    "clip_message",
    "loads",
    "text_preview",
]

NAME_LIMIT = 200
"""Event names, sids, namespaces: the characters kept."""
MESSAGE_LIMIT = 1000
"""Server messages (a ``CONNECT_ERROR`` message, an Engine.IO error message): characters kept."""
PREVIEW_LIMIT = 4096
"""The characters of a packet's text a tap record keeps (previews are cut from these)."""
JSON_DEPTH_LIMIT = 1000
"""The deepest JSON nesting decoded; deeper JSON is refused (:class:`JsonTooDeep`)."""


def clip(text: str, limit: int = NAME_LIMIT) -> str:
    """``text`` cut to ``limit`` characters plus a marker with the true length; short text as is."""
    n = len(text)
    if n <= limit:
        return text
    return f"{text[:limit]}…[+{n - limit:,} chars, {n:,} in all]"


def clip_message(text: str) -> str:
    """A server message cut to :data:`MESSAGE_LIMIT` characters (see :func:`clip`)."""
    return clip(text, MESSAGE_LIMIT)


def text_preview(text: str, limit: int = PREVIEW_LIMIT) -> str:
    """The first ``limit`` characters of ``text``, with a marker (and the true length) if cut."""
    return clip(text, limit)


class JsonTooDeep(ValueError):
    """JSON nested deeper than :data:`JSON_DEPTH_LIMIT` (refused, not decoded)."""

    def __init__(self, limit: int, position: int) -> None:
        super().__init__(
            f"JSON nested deeper than {limit:,} levels (refused at character {position:,}; "
            "no client needs this, a hostile server can send it to exhaust the stack)"
        )
        self.limit = limit
        self.position = position


def loads(text: str | bytes, *, limit: int = JSON_DEPTH_LIMIT) -> Any:
    """``json.loads(text)``, but nesting deeper than ``limit`` raises :class:`JsonTooDeep`.

    The C decoder runs once on the usual path; only when it runs out of stack does the bounded,
    non-recursive decoder below take over (it decodes what ``json.loads`` would, in Python).
    """
    try:
        return json.loads(text)
    except RecursionError:
        pass
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8")  # json.loads accepts UTF-8 bytes (and UTF-16/32 BOMs)
    return _Decoder(text, limit).run()


_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?")
_CONSTANTS: dict[str, Any] = {
    "null": None,
    "true": True,
    "false": False,
    "NaN": float("nan"),
    "Infinity": float("inf"),
    "-Infinity": float("-inf"),
}
_DECODER = json.JSONDecoder()
scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
"""The C string scanner of :mod:`json` (not in the type stubs)."""


class _Decoder:
    """An explicit-stack JSON decoder with a depth bound (the slow path of :func:`loads`)."""

    def __init__(self, text: str, limit: int) -> None:
        self.s = text
        self.limit = limit

    def fail(self, msg: str, pos: int) -> json.JSONDecodeError:
        return json.JSONDecodeError(msg, self.s, pos)

    def run(self) -> Any:
        s = self.s
        pos = _WS.match(s, 0).end()  # type: ignore[union-attr]
        value, pos = self.value(pos)
        pos = _WS.match(s, pos).end()  # type: ignore[union-attr]
        if pos != len(s):
            raise self.fail("Extra data", pos)
        return value

    def scalar(self, pos: int) -> tuple[Any, int]:
        """A string, number or constant at ``pos`` (never a container)."""
        s = self.s
        ch = s[pos : pos + 1]
        if ch == '"':
            return scanstring(s, pos + 1, True)
        m = _NUMBER.match(s, pos)
        if m is not None and not s.startswith("-Infinity", pos):
            integer, frac, exp = m.groups()
            if frac or exp:
                return _DECODER.parse_float(integer + (frac or "") + (exp or "")), m.end()
            return int(integer), m.end()
        for word, value in _CONSTANTS.items():
            if s.startswith(word, pos):
                return value, pos + len(word)
        raise self.fail("Expecting value", pos)

    def value(self, pos: int) -> tuple[Any, int]:
        s = self.s
        # The stack holds the open containers; a dict's entry also holds the key being filled.
        stack: list[tuple[list[Any] | dict[str, Any], str | None]] = []
        while True:
            ch = s[pos : pos + 1]
            if ch == "[" or ch == "{":
                if len(stack) >= self.limit:
                    raise JsonTooDeep(self.limit, pos)
                container: list[Any] | dict[str, Any] = [] if ch == "[" else {}
                pos = _WS.match(s, pos + 1).end()  # type: ignore[union-attr]
                closing = "]" if ch == "[" else "}"
                if s[pos : pos + 1] == closing:
                    value: Any = container
                    pos += 1
                else:
                    key: str | None = None
                    if ch == "{":
                        key, pos = self.key(pos)
                    stack.append((container, key))
                    continue
            else:
                value, pos = self.scalar(pos)
            # ``value`` is complete: hand it to its container, closing every container it ends.
            while True:
                if not stack:
                    return value, pos
                container, key = stack[-1]
                pos = _WS.match(s, pos).end()  # type: ignore[union-attr]
                nxt = s[pos : pos + 1]
                if isinstance(container, list):
                    container.append(value)
                    if nxt == ",":
                        pos = _WS.match(s, pos + 1).end()  # type: ignore[union-attr]
                        break
                    if nxt != "]":
                        raise self.fail("Expecting ',' delimiter", pos)
                else:
                    assert key is not None
                    container[key] = value
                    if nxt == ",":
                        pos = _WS.match(s, pos + 1).end()  # type: ignore[union-attr]
                        new_key, pos = self.key(pos)
                        stack[-1] = (container, new_key)
                        break
                    if nxt != "}":
                        raise self.fail("Expecting ',' delimiter", pos)
                stack.pop()
                value = container
                pos += 1

    def key(self, pos: int) -> tuple[str, int]:
        """A dict key and its colon at ``pos``; returns the position of the value."""
        s = self.s
        if s[pos : pos + 1] != '"':
            raise self.fail("Expecting property name enclosed in double quotes", pos)
        key, pos = scanstring(s, pos + 1, True)
        pos = _WS.match(s, pos).end()  # type: ignore[union-attr]
        if s[pos : pos + 1] != ":":
            raise self.fail("Expecting ':' delimiter", pos)
        return key, _WS.match(s, pos + 1).end()  # type: ignore[union-attr]
