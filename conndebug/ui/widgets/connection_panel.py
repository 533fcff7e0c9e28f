"""The Connection panel: ids, transport and how it got there, heartbeat, round trips, liveness."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Sparkline, Static

from conndebug.core.model import Snapshot, State
from conndebug.ui.text import UNKNOWN, Now, age, duration, millis, percentile
from conndebug.ui.widgets._lines import kv, lines, set_content


class ConnectionPanel(Vertical):
    """What the socket is, how it travels and how alive it is."""

    DEFAULT_CSS = """
    ConnectionPanel {
        Static { text-wrap: nowrap; text-overflow: ellipsis; }
        #conn-main { height: auto; }
        #rtt-spark { height: 1; margin-left: 12; }
        #conn-life { height: auto; }
    }
    ConnectionPanel.-rtt-off #rtt-spark { display: none; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="conn-main")
        yield Sparkline([], id="rtt-spark")
        yield Static(id="conn-life")

    def show(self, snap: Snapshot, now: Now) -> None:
        """Render ``snap`` as of ``now``."""
        set_content(self.query_one("#conn-main", Static), self._main(snap))
        spark = self.query_one("#rtt-spark", Sparkline)
        # No samples on purpose: no flat line pretending to be one.
        self.set_class(snap.rtt_off, "-rtt-off")
        data = list(snap.rtt_recent[-60:])
        if list(spark.data or []) != data:
            spark.data = data
        set_content(self.query_one("#conn-life", Static), self._life(snap, now))
        subtitle = f"RTT via {snap.rtt_method}" if snap.rtt_method else ""
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle

    @staticmethod
    def _main(snap: Snapshot) -> Content:
        live = snap.state in (State.CONNECTED, State.STALLED)
        transport: Content | str = UNKNOWN
        if snap.transport:
            how = snap.how or "how unknown"
            style = "$warning" if how.startswith("fell back") else ""
            transport = Content.assemble((snap.transport, "bold"), " · ", (how, style))
        if snap.ping_interval_ms is not None or snap.ping_timeout_ms is not None:
            interval = (
                duration(snap.ping_interval_ms / 1000)
                if snap.ping_interval_ms is not None
                else UNKNOWN
            )
            timeout = (
                duration(snap.ping_timeout_ms / 1000)
                if snap.ping_timeout_ms is not None
                else UNKNOWN
            )
            heartbeat = f"ping every {interval}, timeout {timeout} · {snap.pings_seen} seen"
        else:
            heartbeat = UNKNOWN
        recent = snap.rtt_recent
        if snap.rtt_ms is not None:
            rtt = Content.assemble(
                (millis(snap.rtt_ms), "bold"),
                f"  p50 {millis(percentile(recent, 50))}  p95 {millis(percentile(recent, 95))}",
            )
        elif snap.rtt_off:
            rtt = Content.styled(
                "off (--rtt-interval 0: as quiet as an idle browser)", "$text-muted"
            )
        else:
            rtt = Content(UNKNOWN if live else "not measured (not connected)")
        return lines(
            kv("socket id", snap.sid or UNKNOWN),
            kv("engine id", snap.engine_sid or UNKNOWN),
            kv("transport", transport),
            kv("heartbeat", heartbeat),
            kv("RTT", rtt),
        )

    @staticmethod
    def _life(snap: Snapshot, now: Now) -> Content:
        text = age(snap.last_life_at, now.mono)
        style = ""
        if snap.last_life_at is not None and snap.stall_bound_s is not None:
            silent = now.mono - snap.last_life_at
            if silent > snap.stall_bound_s:
                style = "$error bold"
            text += f" · stall at {duration(snap.stall_bound_s)}"
        return kv("last life", text, style)
