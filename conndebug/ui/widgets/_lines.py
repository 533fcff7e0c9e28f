"""Small helpers the panels share: label/value lines and change-only updates."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from conndebug.ui.text import UNKNOWN

LABEL_WIDTH = 12


def kv(label: str, value: str | Content, style: str = "", *, width: int = LABEL_WIDTH) -> Content:
    """One ``label  value`` line; an ``unknown`` value is dimmed so it never looks like data."""
    head = Content.styled(label.ljust(width), "$text-muted")
    if isinstance(value, Content):
        return head + value
    if value == UNKNOWN:
        return head + Content.styled(value, "$text-muted italic")
    return head + Content.styled(value, style) if style else head + Content(value)


def lines(*parts: Content | str) -> Content:
    """Join lines into one Content."""
    return Content("\n").join(Content(p) if isinstance(p, str) else p for p in parts)


def set_content(widget: Static, content: Content) -> None:
    """Update ``widget`` only when its text or styles changed (no needless repaints)."""
    old = widget.content
    if isinstance(old, Content) and old.plain == content.plain and old.spans == content.spans:
        return
    widget.update(content)
