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


def set_content(widget: Static, content: Content, *, wraps: bool = False) -> None:
    """Update ``widget`` only when its text or styles changed (no needless repaints).

    A widget whose lines do not wrap keeps its size while its line count stays the same, so the
    layout pass is skipped; one whose text ``wraps`` always gets it.
    """
    old = widget.content
    if isinstance(old, Content):
        if old.plain == content.plain and old.spans == content.spans:
            return
        # Same number of lines: the size cannot change, so skip the layout pass.
        same_lines = old.plain.count("\n") == content.plain.count("\n")
        widget.update(content, layout=wraps or not same_lines)
        return
    widget.update(content)
