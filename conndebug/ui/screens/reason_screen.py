"""The detail view of the Status panel (``i`` / Enter): the whole reason, with its fix."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from conndebug.core.model import Snapshot
from conndebug.ui.reason import Reason
from conndebug.ui.text import Now, badge, duration


class ReasonScreen(ModalScreen[None]):
    """Everything the Status panel knows about what is wrong, never cut (it scrolls instead)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,i,enter,q", "close", "Close", id="reason.close"),
    ]

    DEFAULT_CSS = """
    ReasonScreen {
        align: center middle;
        #reason-box {
            width: 100;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            padding: 0 2;
            border: thick $primary;
            background: $surface;
        }
        #reason-title { text-style: bold; padding-bottom: 1; }
        #reason-body { height: auto; }
        #reason-foot { color: $text-muted; padding-top: 1; }
    }
    """

    def __init__(self, snap: Snapshot, now: Now, reason: Reason | None) -> None:
        super().__init__()
        self.snap = snap
        self.now = now
        self.reason = reason

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="reason-box"):
            yield Static(self._title(), id="reason-title")
            yield Static(self.body(), id="reason-body")
            yield Static("Esc, i or Enter closes this view.", id="reason-foot")

    def action_close(self) -> None:
        self.dismiss(None)

    def _title(self) -> Content:
        label = badge(self.snap, self.now).label
        since = ""
        if self.snap.state_since is not None:
            since = (
                f" since {self.now.time_of(self.snap.state_since)} "
                f"({duration(self.now.wall - self.snap.state_since)})"
            )
        return Content.assemble((label, "bold"), (since, "$text-muted"))

    def body(self) -> Content:
        """The reason in full: title, explanation, fix, and the monitor's own line."""
        reason = self.reason
        if reason is None:
            return Content.styled("Nothing is wrong right now.", "$success")
        tone = f"${reason.tone} bold"
        parts: list[Content] = []
        if reason.live and reason.live != reason.title:
            parts.append(Content.styled(reason.live, tone))
        title = reason.title + (f"  [{reason.code}]" if reason.code else "")
        parts.append(Content.styled(title, tone))
        if reason.explanation:
            parts += [Content(""), Content(reason.explanation)]
        if reason.fix:
            parts += [Content(""), Content.styled("Fix: ", "bold") + Content(reason.fix)]
        if self.snap.diagnosis is not None and self.snap.verdict:
            parts += [
                Content(""),
                Content.styled("The monitor's last word: ", "$text-muted")
                + Content(self.snap.verdict),
            ]
        return Content("\n").join(parts)
