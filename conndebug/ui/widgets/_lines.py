"""Small helpers the panels share: label/value lines and change-only updates."""

from __future__ import annotations

from collections.abc import Sequence

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


def fit(
    parts: Sequence[Content | str], width: int, *, sep: str = " · ", keep: str = ""
) -> list[Content]:
    """``parts`` joined by ``sep`` in lines at most ``width`` columns wide, breaking between
    parts first (a part longer than a line wraps at its spaces), so that no value is cut.

    ``keep``: what a broken line ends with (``" →"`` keeps an arrow's promise of more); by
    default the separator is dropped at a break.
    """
    width = max(8, width)
    out: list[Content] = []
    line: Content | None = None
    for raw in parts:
        part = Content(raw) if isinstance(raw, str) else raw
        if line is not None and line.cell_length + len(sep) + part.cell_length <= width:
            line = line + Content(sep) + part
            continue
        if line is not None:
            out.append(line + Content(keep) if keep else line)
        pieces = part.wrap(width - len(keep)) if part.cell_length > width else [part]
        out.extend(pieces[:-1])
        line = pieces[-1]
    if line is not None:
        out.append(line)
    return out


def kv_fit(
    label: str,
    parts: Sequence[Content | str],
    width: int,
    *,
    sep: str = " · ",
    keep: str = "",
    style: str = "",
    label_width: int = LABEL_WIDTH,
) -> list[Content]:
    """A ``label  value`` line that wraps under its value (hanging indent) instead of being
    cut: ``parts`` as :func:`fit` lays them out in the ``width`` left of the label."""
    styled = [Content.styled(p, style) if isinstance(p, str) and style else p for p in parts]
    rows = fit(styled, width - label_width, sep=sep, keep=keep)
    head = Content.styled(label.ljust(label_width), "$text-muted")
    pad = Content(" " * label_width)
    return [(head if i == 0 else pad) + row for i, row in enumerate(rows)]
