"""The wire inspector pane (``w``): the packet log and, under it, its search line (``/``)."""

from __future__ import annotations

import datetime as _dt
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input

from conndebug.ui.widgets.wire_log import WireLog


class WireInspector(Vertical):
    """Every Engine.IO and Socket.IO packet in and out while it is open (the monitor's packet
    tap runs only then). ``l`` changes its filter, ``/`` searches, Esc clears the search."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close_search", "Clear search", show=False, id="wire.clear_search"),
    ]

    DEFAULT_CSS = """
    WireInspector {
        height: 100%;
    }
    WireInspector > Input {
        dock: bottom;
        display: none;
    }
    WireInspector.-searching > Input {
        display: block;
    }
    """

    def __init__(
        self,
        *,
        tz: _dt.tzinfo | None = None,
        rtt_event: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.tz = tz
        self.rtt_event = rtt_event
        """The ``--rtt-event`` whose emits and acks are round trips (the filters hide them)."""
        self.ready = False
        """Composed and given the packets so far: the app hands it each refresh's from then on."""

    def compose(self) -> ComposeResult:
        yield WireLog(id="wire-log", tz=self.tz, rtt_event=self.rtt_event, classes="panel")
        yield Input(placeholder="search the packets — Enter: keep · Esc: clear", id="wire-search")

    def on_mount(self) -> None:
        self.log_widget.border_title = "Wire inspector"

    # -- actions ---------------------------------------------------------------------------------

    def action_close_search(self) -> None:
        """Esc: no search, back to the log."""
        self.query_one(Input).value = ""
        self.log_widget.search = ""
        self.remove_class("-searching")
        self.log_widget.focus()

    # -- public ----------------------------------------------------------------------------------

    @property
    def log_widget(self) -> WireLog:
        return self.query_one(WireLog)

    def open_search(self) -> None:
        """``/``: the search line, with the current search to edit."""
        search = self.query_one(Input)
        search.value = self.log_widget.search
        self.add_class("-searching")
        search.focus()

    # -- the search line -------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.log_widget.search = event.value.strip()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.log_widget.search = event.value.strip()
        self.remove_class("-searching")
        self.log_widget.focus()
