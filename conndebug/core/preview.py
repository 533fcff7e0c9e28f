"""Short, redacted previews of event payloads (for ``event_in`` / ``event_out``)."""

from __future__ import annotations

import json
from typing import Any

from conndebug.core.redact import Redactor

__all__ = ["PREVIEW_CHARS", "preview"]

PREVIEW_CHARS = 120
_CLIP_CHARS = 64 * 1024
"""Strings are cut here before redaction: only the first 120 characters are ever shown, and a
cut this far out cannot reach them even after masks shorten the text before it."""
_CLIP_ITEMS = 1000
"""Containers are cut here before redaction: their first 1,000 items fill the preview already."""


def _clip(value: Any, depth: int = 0) -> Any:
    """``value`` with huge strings and containers cut, so redacting a 10 MB event stays cheap."""
    if isinstance(value, str):
        return value[:_CLIP_CHARS] if len(value) > _CLIP_CHARS else value
    if depth > 32:
        return "…"
    if isinstance(value, dict):
        items = list(value.items())[:_CLIP_ITEMS] if len(value) > _CLIP_ITEMS else value.items()
        return {k: _clip(v, depth + 1) for k, v in items}
    if isinstance(value, (list, tuple)):
        return [_clip(v, depth + 1) for v in value[:_CLIP_ITEMS]]
    return value


def _json_default(value: Any) -> str:
    """Binary values as ``<binary 4 B> 01020304`` (their true size), anything else as text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        from conndebug.client.tap import binary_text

        return binary_text(bytes(value))
    return str(value)


def preview(redactor: Redactor, value: Any) -> tuple[int, str]:
    """Size in bytes of the JSON of ``value`` and a redacted preview of at most 120 characters.

    Secrets are masked before the text is cut, so a cut can never leave half a secret visible.
    """
    raw: str | None
    try:
        raw = json.dumps(value, ensure_ascii=False, default=_json_default, separators=(",", ":"))
        size = len(raw.encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError):
        raw = None
        size = len(repr(value).encode("utf-8", "surrogatepass"))
    clipped = _clip(value) if raw is None or len(raw) > _CLIP_CHARS else value
    shown = redactor.value(clipped)
    try:
        # Nothing masked (the usual case): the JSON above is the preview; no second encoding.
        same = clipped is value and (
            shown is value or (type(shown) is type(value) and shown == value)
        )
    except (TypeError, ValueError, RecursionError):
        same = False
    if same and raw is not None:
        text = raw
    else:
        try:
            text = json.dumps(
                shown, ensure_ascii=False, default=_json_default, separators=(",", ":")
            )
        except (TypeError, ValueError):
            text = redactor.text(repr(shown))
    if len(text) > PREVIEW_CHARS:
        text = text[: PREVIEW_CHARS - 1] + "…"
    return size, text
