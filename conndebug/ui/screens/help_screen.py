"""The help screen (``?`` / F1): every key, what it does, and its binding id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static


@dataclass(frozen=True)
class HelpRow:
    """One key of the help screen."""

    key: str
    description: str
    binding_id: str
    available: bool = True
    """False for keys that do nothing here (e.g. the probe before it exists)."""


BOX_WIDTH = 100
"""The help box's width on a wide screen."""
BOX_FRAME = 2 + 4 + 1
"""Its thick border, its padding and the scrollbar's column."""
KEY_COLUMN = 12
"""Columns of the key column (two spaces of indent included)."""


class HelpScreen(ModalScreen[None]):
    """All keys, grouped as given; closes on Escape, ``?``, F1 or ``q``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,f1,q", "close", "Close help", id="help.close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        #help-box {
            width: 100;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            padding: 0 2;
            border: thick $primary;
            background: $surface;
            overflow-y: auto;
            scrollbar-size-vertical: 1;
        }
        #help-title { text-style: bold; padding-bottom: 1; }
        #help-keys { width: 100%; height: auto; }
        #help-foot { color: $text-muted; padding-top: 1; }
    }
    """

    def __init__(
        self,
        groups: Sequence[tuple[str, Sequence[HelpRow]]],
        title: str,
        *,
        show_ids: bool = True,
    ) -> None:
        super().__init__()
        self.groups = groups
        self.help_title = title
        self.show_ids = show_ids
        """Show the binding ids (they need a wide screen)."""

    def compose(self) -> ComposeResult:
        # Scrollable and focused: ↑ ↓ PgUp PgDn reach the last rows on a small screen.
        with VerticalScroll(id="help-box"):
            yield Static(self.help_title, id="help-title")
            yield Static(self._table(self._width()), id="help-keys")
            yield Static("Esc, ? or F1 closes this help; ↑ ↓ PgUp PgDn scroll it.", id="help-foot")

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()

    def on_resize(self) -> None:
        self.query_one("#help-keys", Static).update(self._table(self._width()))

    def action_close(self) -> None:
        self.dismiss(None)

    def _width(self) -> int:
        """Columns inside the box: at most 100, less its border, padding and scrollbar."""
        return min(BOX_WIDTH, self.app.size.width) - BOX_FRAME

    def _table(self, width: int) -> Content:
        """The key, then its description wrapped under itself (and the binding id beside
        its first line when ``show_ids``)."""
        ids = max((len(r.binding_id) for _, rs in self.groups for r in rs), default=0)
        room = width - KEY_COLUMN - (ids + 2 if self.show_ids else 0)
        parts: list[Content] = []
        for heading, rows in self.groups:
            if parts:
                parts.append(Content(""))
            parts.extend(Content.styled(heading, "bold $accent").wrap(width))
            for row in rows:
                style = "" if row.available else "$text-muted"
                text = Content.styled(row.description, style).wrap(max(20, room))
                for i, piece in enumerate(text):
                    key = f"  {row.key:<{KEY_COLUMN - 2}}" if i == 0 else " " * KEY_COLUMN
                    line = Content.assemble(
                        (key, "bold" if row.available else "$text-muted"), piece
                    )
                    if i == 0 and self.show_ids:
                        pad = " " * (room - piece.cell_length + 2)
                        line += Content.styled(pad + row.binding_id, "$text-muted")
                    parts.append(line)
        return Content("\n").join(parts)
