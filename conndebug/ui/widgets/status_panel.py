"""The Status panel: a big state badge, since when, and what is wrong in plain words."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from conndebug.core.model import Snapshot, State
from conndebug.core.text import visible
from conndebug.ui.text import Now, badge, duration, millis
from conndebug.ui.widgets._lines import set_content


class StatusPanel(Horizontal):
    """The connection's state at a glance; coloured through the ``-<state>`` CSS classes."""

    DEFAULT_CSS = """
    StatusPanel {
        height: 100%;
        #badge {
            width: 30;
            height: 3;
            padding: 1 1;
            text-style: bold;
            content-align: center middle;
        }
        #status-lines {
            width: 1fr;
            height: 1fr;
            padding-left: 2;
        }
        .line { text-wrap: nowrap; text-overflow: ellipsis; }
        #status-verdict { height: auto; max-height: 3; }
    }
    """

    state_classes: reactive[str] = reactive("-idle")
    """The CSS classes of the current state (e.g. ``-connected -polling``)."""

    def compose(self) -> ComposeResult:
        yield Static(id="badge")
        with Vertical(id="status-lines"):
            yield Static(id="status-since", classes="line")
            yield Static(id="status-summary", classes="line")
            yield Static(id="status-verdict")
            yield Static(id="status-target", classes="line")

    def watch_state_classes(self, old: str, new: str) -> None:
        self.remove_class(*old.split())
        self.add_class(*new.split())

    def show(self, snap: Snapshot, now: Now) -> None:
        """Render ``snap`` as of ``now``."""
        b = badge(snap, now.mono)
        self.state_classes = b.css_class
        set_content(self.query_one("#badge", Static), Content(b.label))
        since, summary, verdict = self._text(snap, now)
        set_content(self.query_one("#status-since", Static), since)
        set_content(self.query_one("#status-summary", Static), summary)
        set_content(self.query_one("#status-verdict", Static), verdict, wraps=True)
        target = Content.styled(f"target {snap.url or 'unknown'}", "$text-muted")
        set_content(self.query_one("#status-target", Static), target)

    def _text(self, snap: Snapshot, now: Now) -> tuple[Content, Content, Content]:
        if snap.state_since is not None:
            since = Content.assemble(
                ("since ", "$text-muted"),
                now.time_of(snap.state_since),
                (f"  ({duration(now.wall - snap.state_since)})", "$text-muted"),
            )
        else:
            since = Content.styled("since unknown", "$text-muted")
        summary = Content.styled(self._summary(snap), "$text-muted" if snap.verdict else "")
        if snap.verdict:
            tone = "$error" if snap.state in (State.FAILED, State.STALLED) else "$warning"
            verdict = Content.styled(f"⚠ {snap.verdict}", f"{tone} bold")
        else:
            verdict = Content("")
        return since, summary, verdict

    @staticmethod
    def _summary(snap: Snapshot) -> str:
        user = snap.session.username
        if snap.state in (State.CONNECTED, State.STALLED):
            parts = [f"over {snap.transport or 'an unknown transport'}"]
            if snap.how and not snap.verdict:
                parts[0] += f" ({snap.how})"
            if snap.rtt_off and snap.rtt_ms is None:
                parts.append("RTT off")
            else:
                parts.append(f"RTT {millis(snap.rtt_ms)}")
            if user:
                parts.append(f"as {visible(user)}")
            return " · ".join(parts)
        if snap.state is State.RECONNECTING:
            of = f"/{snap.reconnect_max}" if snap.reconnect_max else ""
            return f"automatic reconnection, attempt {snap.reconnect_attempt}{of}"
        if snap.state is State.CONNECTING:
            return f"connecting to {snap.url}…"
        if snap.state is State.DISCONNECTED:
            return "not connected; press c to connect"
        if snap.state is State.FAILED:
            return "gave up; press c or r to try again"
        if snap.state is State.STOPPED:
            return "monitor stopped"
        return "starting…"
