"""Short, redacted previews of event payloads (for ``event_in`` / ``event_out``).

Binary values (``bytes``: a Buffer, an ArrayBuffer, a msgpack ``bin``) are shown as
``<binary 4 B> 0a0b0c0d`` and counted with their true size, never as a Python ``b'…'`` repr.
Whatever a server sends, a preview is bounded: strings and containers are cut before redaction,
and JSON nested deeper than the stack allows (a hostile server's 999 levels) is shown cut at
:data:`_CLIP_DEPTH` levels instead of raising.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from conndebug.core.redact import Redactor

__all__ = ["PREVIEW_CHARS", "binary_text", "preview"]

PREVIEW_CHARS = 120
_CLIP_CHARS = 64 * 1024
"""Strings are cut here before redaction: only the first 120 characters are ever shown, and a
cut this far out cannot reach them even after masks shorten the text before it."""
_CLIP_ITEMS = 1000
"""Containers are cut here before redaction: their first 1,000 items fill the preview already."""
_CLIP_DEPTH = 32
"""Nesting kept in a preview of a deep value (deeper levels read ``…``)."""
_HEX_BYTES = 16
"""Bytes of a binary value shown in hex in a preview."""


def binary_text(data: bytes) -> str:
    """``<binary 4 B> 0a0b0c0d`` (the first bytes in hex, ``…`` when there are more)."""
    more = "…" if len(data) > _HEX_BYTES else ""
    return f"<binary {len(data):,} B> {data[:_HEX_BYTES].hex()}{more}".rstrip()


def _clip(value: Any, depth: int = 0) -> Any:
    """``value`` with huge strings and containers cut and deep nesting ended, so redacting and
    encoding it stays cheap and cannot recurse without bound."""
    if isinstance(value, str):
        return value[:_CLIP_CHARS] if len(value) > _CLIP_CHARS else value
    if isinstance(value, (dict, list, tuple)) and depth >= _CLIP_DEPTH:
        return "…"
    if isinstance(value, dict):
        items = list(value.items())[:_CLIP_ITEMS] if len(value) > _CLIP_ITEMS else value.items()
        return {str(k)[:_CLIP_CHARS]: _clip(v, depth + 1) for k, v in items}
    if isinstance(value, (list, tuple)):
        return [_clip(v, depth + 1) for v in value[:_CLIP_ITEMS]]
    return value


def _compact_encoder() -> Callable[[Any], str]:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"))``, its C encoder made once:
    ``json.dumps`` builds an encoder (and ``JSONEncoder.encode`` its C encoder) per call, which
    was a fifth of a storm event's preview. Types JSON cannot encode raise ``TypeError``, as
    ``json.dumps`` does; nesting too deep raises ``RecursionError``."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def default(obj: Any) -> Any:
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    encode = make(None, default, json.encoder.encode_basestring, None, ":", ",", False, False, True)

    def compact(value: Any) -> str:
        return "".join(encode(value, 0))

    return compact


_COMPACT = _compact_encoder()


def _dumps(value: Any, binaries: list[tuple[int, int]] | None = None) -> str:
    """Compact JSON of ``value``; ``bytes`` as :func:`binary_text` (for each, its size and the
    bytes of the JSON string that stands for it are appended to ``binaries``). Raises
    ``RecursionError`` on nesting deeper than the stack allows."""
    if binaries is None:
        return _COMPACT(value)

    def default(obj: Any) -> Any:
        if isinstance(obj, (bytes, bytearray, memoryview)):
            data = bytes(obj)
            shown = binary_text(data)
            binaries.append((len(data), len(shown.encode("utf-8")) + 2))  # + its quotes
            return shown
        return str(obj)

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=default)


def _encode(value: Any) -> tuple[str, int]:
    """(the JSON text of ``value``, its size in bytes with each binary counted as its own
    bytes). Raises ``RecursionError`` for nesting too deep for the encoder."""
    try:
        raw = _dumps(value)  # the usual case: plain JSON, nothing else to do
    except TypeError:
        binaries: list[tuple[int, int]] = []
        raw = _dumps(value, binaries)
        size = len(raw.encode("utf-8", "surrogatepass"))
        # each placeholder stands for its binary: count the bytes, not the placeholder
        size += sum(n - shown for n, shown in binaries)
        return raw, size
    return raw, len(raw) if raw.isascii() else len(raw.encode("utf-8", "surrogatepass"))


def preview(redactor: Redactor, value: Any) -> tuple[int, str]:
    """Size in bytes of the JSON of ``value`` and a redacted preview of at most 120 characters.

    Secrets are masked before the text is cut, so a cut can never leave half a secret visible.
    A binary value counts its own bytes in the size and shows as ``<binary N B> hex…``.
    """
    raw: str | None
    try:
        raw, size = _encode(value)
    except (ValueError, RecursionError):
        raw, size = None, 0
    clipped = value if raw is not None and len(raw) <= _CLIP_CHARS else _clip(value)
    if raw is None:
        try:
            size = _encode(clipped)[1]
        except (ValueError, RecursionError):
            size = 0
    try:
        shown = redactor.value(clipped)
    except RecursionError:  # deep but within the encoder's reach: redact a cut copy
        clipped = _clip(value)
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
            text = _encode(shown)[0]
        except (ValueError, RecursionError):
            text = redactor.text(repr(_clip(shown))[: PREVIEW_CHARS * 2])
    if len(text) > PREVIEW_CHARS:
        text = text[: PREVIEW_CHARS - 1] + "…"
    return size, text
