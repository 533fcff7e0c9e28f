"""The help screen (``?`` / F1): every key, what it does, and its binding id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
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
        with Vertical(id="help-box"):
            yield Static(self.help_title, id="help-title")
            yield Static(self._table(), id="help-keys")
            yield Static("Esc, ? or F1 closes this help.", id="help-foot")

    def action_close(self) -> None:
        self.dismiss(None)

    def _table(self) -> Content:
        parts: list[Content] = []
        for heading, rows in self.groups:
            if parts:
                parts.append(Content(""))
            parts.append(Content.styled(heading, "bold $accent"))
            for row in rows:
                style = "" if row.available else "$text-muted"
                line = Content.assemble(
                    (f"  {row.key:<10}", "bold" if row.available else "$text-muted"),
                    (row.description.ljust(54) if self.show_ids else row.description, style),
                    (f" {row.binding_id}" if self.show_ids else "", "$text-muted"),
                )
                parts.append(line)
        return Content("\n").join(parts)
