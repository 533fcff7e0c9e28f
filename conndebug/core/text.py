"""Text from the outside world made fit for one line of history, a verdict title or a log line.

A hostile or broken server's bytes can end up in an exception's message (an HTTP parser quotes
the "status line" it could not read); :func:`one_line` keeps such text printable, on one line and
short. Event names, previews and server messages reach terminals and reports: :func:`visible`
shows every character a terminal would act on (ESC, CSI, BEL, backspace, bidi overrides) as an
escape, so a server cannot drive the terminal of whoever reads the history.
"""

from __future__ import annotations

__all__ = ["one_line", "visible"]

ONE_LINE = 240
"""The default length of :func:`one_line`."""


def one_line(text: str, limit: int = ONE_LINE) -> str:
    """``text`` as one printable line of at most ``limit`` characters (``…`` marks a cut)."""
    if text.isprintable():  # the usual case, at C speed
        flat = " ".join(text.split())
    else:
        flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: str) -> str:
    """``text`` with each non-printable character written as an escape (``\\x1b``, ``\\u202e``).

    Printable text (the usual case) is returned as it is, at C speed.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)
