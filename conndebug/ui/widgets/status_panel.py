"""The Status panel: a big state badge, since when, and the whole reason in plain words."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from conndebug.core.model import Snapshot, State
from conndebug.core.text import visible
from conndebug.ui.reason import Reason, reason_lines, reason_of
from conndebug.ui.text import Now, badge, duration, millis
from conndebug.ui.widgets._lines import fit, lines, set_content

BADGE_ROWS = 3
"""The badge's height (``#badge``'s CSS) outside the compact layout."""


class StatusPanel(Vertical):
    """The connection's state at a glance, coloured through the ``-<state>`` CSS classes.

    Under the badge, the reason takes the panel's whole width and as many rows as it needs, up to
    :attr:`reason_rows` (the app sets it from the screen's height); a longer one ends with a
    pointer to the detail view (``i``), never with a silent cut. ``compact`` (small screens): a
    one-row badge, no border, the summary in the reason's place when nothing is wrong.
    """

    DEFAULT_CSS = """
    StatusPanel {
        height: auto;
        #status-head { height: auto; }
        #badge {
            width: 30;
            height: 3;
            padding: 1 1;
            text-style: bold;
            content-align: center middle;
        }
        #status-lines {
            width: 1fr;
            height: auto;
            padding-left: 2;
        }
        .line { text-wrap: nowrap; text-overflow: ellipsis; }
        #status-reason { height: auto; }
    }
    StatusPanel.-compact {
        #badge { width: auto; height: 1; padding: 0 1; }
        #status-summary, #status-target { display: none; }
    }
    """

    state_classes: reactive[str] = reactive("-idle")
    """The CSS classes of the current state (e.g. ``-connected -polling``)."""
    reason_rows: reactive[int] = reactive(4, init=False)
    """Rows the reason may take (set by the app from the screen's height)."""
    compact: reactive[bool] = reactive(False, init=False)
    """The small-screen layout: one-row badge, summary in the reason's place."""
    wanted_height: reactive[int] = reactive(0, init=False)
    """Rows the panel needs for what it shows now, its border included (0: compact, where its
    height is its content's)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.reason: Reason | None = None
        """What the panel says is wrong now (the detail view shows all of it)."""
        self.cut = False
        """Whether the reason needed more rows than it had."""
        self._last: tuple[Snapshot, Now] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="status-head"):
            yield Static(id="badge")
            with Vertical(id="status-lines"):
                yield Static(id="status-since", classes="line")
                yield Static(id="status-summary", classes="line")
                yield Static(id="status-target", classes="line")
        yield Static(id="status-reason")

    def watch_state_classes(self, old: str, new: str) -> None:
        self.remove_class(*old.split())
        self.add_class(*new.split())

    def watch_reason_rows(self) -> None:
        self._redraw()

    def watch_compact(self, compact: bool) -> None:
        self.set_class(compact, "-compact")
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()
        # The children's widths are the new ones only once the layout has run: draw again then
        # (a reason wrapped at the old width took a row too many or too few until the next tick).
        self.call_after_refresh(self._redraw)

    def show(self, snap: Snapshot, now: Now) -> None:
        """Render ``snap`` as of ``now``."""
        self._last = (snap, now)
        b = badge(snap, now)
        self.state_classes = b.css_class
        # Compact, the badge is as wide as its words: a new label may need another width.
        set_content(self.query_one("#badge", Static), Content(b.label), wraps=self.compact)
        # Beside the badge, a line breaks between its parts rather than cutting one.
        summary_box = self.query_one("#status-summary", Static)
        room = summary_box.content_region.width or max(20, self.size.width - 36)
        since = fit(self._since(snap, now), room, sep="  ")
        set_content(self.query_one("#status-since", Static), lines(*since))
        parts = [Content.styled(p, "$text-muted") for p in self._summary(snap)]
        summary = fit(parts, room)
        set_content(summary_box, lines(*summary))
        target = Content.styled(f"target {snap.url or 'unknown'}", "$text-muted")
        set_content(self.query_one("#status-target", Static), target)
        self.reason = reason_of(snap, now)
        reason_box = self.query_one("#status-reason", Static)
        if self.reason is None:
            self.cut = False
            width = reason_box.content_region.width or max(20, self.size.width - 2)
            rows = [*fit(parts, width), target] if self.compact else []
            set_content(reason_box, lines(*rows) if rows else Content(""), wraps=True)
            reason_rows = max(1, len(rows))
        else:
            width = reason_box.content_region.width or max(20, self.size.width - 4)
            wrapped, self.cut = reason_lines(self.reason, width, self.reason_rows)
            set_content(reason_box, lines(*wrapped), wraps=True)
            reason_rows = len(wrapped)
        head = max(BADGE_ROWS, len(since) + len(summary))
        self.wanted_height = 0 if self.compact else head + reason_rows + 2
        subtitle = "i: the whole reason" if self.reason is not None else ""
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle

    def _redraw(self) -> None:
        if self._last is not None and self.is_mounted:
            self.show(*self._last)

    @staticmethod
    def _since(snap: Snapshot, now: Now) -> list[Content]:
        """``since 12:11:02.117`` and ``(3.2 s)``: shown two spaces apart."""
        if snap.state_since is None:
            return [Content.styled("since unknown", "$text-muted")]
        return [
            Content.assemble(("since ", "$text-muted"), now.time_of(snap.state_since)),
            Content.styled(f"({duration(now.wall - snap.state_since)})", "$text-muted"),
        ]

    @staticmethod
    def _summary(snap: Snapshot) -> list[str]:
        """The state in a few parts (shown joined by `` · ``, a line broken between parts)."""
        user = snap.session.username
        if snap.state is State.CONNECTED:
            parts = [f"over {snap.transport or 'an unknown transport'}"]
            if snap.how and not snap.verdict:
                parts[0] += f" ({snap.how})"
            if user:
                parts.append(f"as {visible(user)}")
            # The round trip last: its width changes every second, and last it can only move
            # the end of the last line, never re-flow the lines above it.
            if snap.rtt_off and snap.rtt_ms is None:
                parts.append("RTT off")
            else:
                parts.append(f"RTT {millis(snap.rtt_ms)}")
            return parts
        if snap.state is State.STALLED:
            return [f"over {snap.transport or 'an unknown transport'}", "RTT stale (stalled)"]
        if snap.state is State.RECONNECTING:
            of = f"/{snap.reconnect_max}" if snap.reconnect_max else ""
            return [f"automatic reconnection, attempt {snap.reconnect_attempt}{of}"]
        if snap.state is State.CONNECTING:
            return [f"connecting to {snap.url}…"]
        if snap.state is State.DISCONNECTED:
            return ["not connected; press c to connect"]
        if snap.state is State.FAILED:
            return ["gave up; press c or r to try again"]
        if snap.state is State.STOPPED:
            return ["monitor stopped"]
        return ["starting…"]
