"""``conndebug explain``: what a customer sends in, read back into history events.

:func:`read_record` takes one file: a HAR (Chrome, Firefox), a ``DEBUG=socket.io-client:*`` log, a
python-socketio / python-engineio client log, or conndebug's own JSON lines. The format is found
from the content, never from the file name. The result is a :class:`Timeline`: events of
:mod:`conndebug.core.events` in the record's order (redacted), and plain sentences for what the
record cannot tell. :mod:`conndebug.core.diagnosis` turns the events into a verdict.

No Textual here; nothing here opens a connection.
"""

from __future__ import annotations

import json
from pathlib import Path

from conndebug.core.errors import ConfigError
from conndebug.core.explain.debuglog import looks_like_debug_log, read_debug_log
from conndebug.core.explain.har import looks_like_har, read_har
from conndebug.core.explain.jsonl import looks_like_jsonl, read_jsonl
from conndebug.core.explain.pylog import looks_like_python_log, read_python_log
from conndebug.core.explain.timeline import Timeline
from conndebug.core.redact import Redactor

__all__ = ["FORMATS", "MAX_BYTES", "Timeline", "detect", "read_record", "read_text"]

FORMATS = ("chrome-har", "firefox-har", "har", "debug-log", "python-log", "jsonl")
MAX_BYTES = 200 * 1024 * 1024
"""Records larger than this are refused: a HAR of a whole working day is rarely bigger."""


def detect(text: str) -> str | None:
    """The record's format by content: ``har``, ``jsonl``, ``debug-log``, ``python-log``, or None."""
    stripped = text.lstrip()
    if stripped.startswith("{") and '"log"' in stripped[:4096]:
        try:
            if looks_like_har(json.loads(stripped)):
                return "har"
        except json.JSONDecodeError:
            pass
    if looks_like_jsonl(text):
        return "jsonl"
    if looks_like_debug_log(text):
        return "debug-log"
    if looks_like_python_log(text):
        return "python-log"
    return None


def read_text(text: str, path: str, redactor: Redactor) -> Timeline:
    """The timeline of a record given as text (``path`` only names it)."""
    kind = detect(text)
    if kind == "har":
        return read_har(json.loads(text), path, redactor)
    if kind == "jsonl":
        return read_jsonl(text, path, redactor)
    if kind == "debug-log":
        return read_debug_log(text, path, redactor)
    if kind == "python-log":
        return read_python_log(text, path, redactor)
    timeline = Timeline(source="unknown", path=path)
    timeline.gap(
        "this file is not a format explain reads (a HAR, a DEBUG=socket.io-client:* log, a "
        "python-socketio client log, conndebug's JSON lines)"
    )
    return timeline


def read_record(path: str, redactor: Redactor) -> Timeline:
    """Read and parse one record file (raises :class:`ConfigError` when it cannot be read)."""
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(
                f"{path} is {size // (1024 * 1024)} MB", "explain reads records up to 200 MB"
            )
        text = file.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read", exc.strerror or str(exc)) from None
    return read_text(text.lstrip("\ufeff"), path, redactor)
