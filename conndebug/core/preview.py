"""Short, redacted previews of event payloads (for ``event_in`` / ``event_out``)."""

from __future__ import annotations

import json
from typing import Any

from conndebug.core.redact import Redactor

__all__ = ["PREVIEW_CHARS", "preview"]

PREVIEW_CHARS = 120


def preview(redactor: Redactor, value: Any) -> tuple[int, str]:
    """Size in bytes of the JSON of ``value`` and a redacted preview of at most 120 characters.

    Secrets are masked before the text is cut, so a cut can never leave half a secret visible.
    """
    raw: str | None
    try:
        raw = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
        size = len(raw.encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError):
        raw = None
        size = len(repr(value).encode("utf-8", "surrogatepass"))
    shown = redactor.value(value)
    try:
        # Nothing masked (the usual case): the JSON above is the preview; no second encoding.
        same = shown is value or (type(shown) is type(value) and shown == value)
    except (TypeError, ValueError, RecursionError):
        same = False
    if same and raw is not None:
        text = raw
    else:
        try:
            text = json.dumps(shown, ensure_ascii=False, default=str, separators=(",", ":"))
        except (TypeError, ValueError):
            text = redactor.text(repr(shown))
    if len(text) > PREVIEW_CHARS:
        text = text[: PREVIEW_CHARS - 1] + "…"
    return size, text
