"""The Connection panel: ids, transport and how it got there, heartbeat, round trips, liveness."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Sparkline, Static

from conndebug.core.model import Snapshot, State
from conndebug.ui.text import UNKNOWN, Now, age, duration, millis, percentile
from conndebug.ui.widgets._lines import LABEL_WIDTH, kv, lines, set_content


def compact_rtt(now: float, p50: float | None, p95: float | None) -> Content:
    """``0.62 ms (p50 0.61, p95 1.4)``: one unit for the three, at most 27 columns."""
    top = max(v for v in (now, p50, p95) if v is not None)
    unit, scale = ("s", 1000.0) if top >= 1000 else ("ms", 1.0)

    def num(ms: float | None) -> str:
        if ms is None:
            return "?"
        v = ms / scale
        if unit == "s":
            return f"{v:.2f}"
        return f"{v:.2f}" if v < 1 else f"{v:.1f}" if v < 100 else f"{v:.0f}"

    return Content.assemble((f"{num(now)} {unit}", "bold"), f" (p50 {num(p50)}, p95 {num(p95)})")


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

    compact = False
    """Small screens: shorter labels and values, so that nothing is cut at 80 columns."""

    def compose(self) -> ComposeResult:
        yield Static(id="conn-main")
        yield Sparkline([], id="rtt-spark")
        yield Static(id="conn-life")

    def show(self, snap: Snapshot, now: Now) -> None:
        """Render ``snap`` as of ``now``."""
        set_content(self.query_one("#conn-main", Static), self._main(snap, compact=self.compact))
        spark = self.query_one("#rtt-spark", Sparkline)
        # No samples on purpose: no flat line pretending to be one; none while not connected.
        self.set_class(snap.rtt_off or snap.state is not State.CONNECTED, "-rtt-off")
        data = list(snap.rtt_recent[-60:])
        if list(spark.data or []) != data:
            spark.data = data
        set_content(
            self.query_one("#conn-life", Static), self._life(snap, now, compact=self.compact)
        )
        subtitle = f"RTT via {snap.rtt_method}" if snap.rtt_method else ""
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle

    @staticmethod
    def _main(snap: Snapshot, *, compact: bool = False) -> Content:
        width = 10 if compact else LABEL_WIDTH
        transport: Content | str = UNKNOWN
        if snap.transport:
            how = snap.how or "how unknown"
            style = "$warning" if how.startswith(("fell back", "upgrade failed")) else ""
            if ":" in how:  # the why is in the Status panel, whole
                how = how.split(":", 1)[0] + ("" if compact else " (why: see Status)")
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
            if compact:
                heartbeat = f"every {interval} · timeout {timeout}"
            else:
                heartbeat = f"ping every {interval}, timeout {timeout} · {snap.pings_seen} seen"
        else:
            heartbeat = UNKNOWN
        return lines(
            kv("socket id", snap.sid or UNKNOWN, width=width),
            kv("engine id", snap.engine_sid or UNKNOWN, width=width),
            kv("transport", transport, width=width),
            kv("heartbeat", heartbeat, width=width),
            kv("RTT", ConnectionPanel._rtt(snap, compact=compact), width=width),
        )

    @staticmethod
    def _rtt(snap: Snapshot, *, compact: bool) -> Content:
        """The round trip now with p50/p95; stale while stalled, none while not connected."""
        if snap.rtt_off:
            return Content.styled(
                "off (--rtt-interval 0)"
                if compact
                else "off (--rtt-interval 0: as quiet as an idle browser)",
                "$text-muted",
            )
        if snap.state is State.STALLED:
            return Content.styled(f"{millis(snap.rtt_ms)}, stale (stalled)", "$text-muted italic")
        if snap.state is not State.CONNECTED:
            return Content.styled("none (not connected)", "$text-muted italic")
        if snap.rtt_ms is None:
            return Content.styled(UNKNOWN, "$text-muted italic")
        recent = snap.rtt_recent
        p50, p95 = percentile(recent, 50), percentile(recent, 95)
        if compact:
            return compact_rtt(snap.rtt_ms, p50, p95)
        return Content.assemble(
            (millis(snap.rtt_ms), "bold"), f"  p50 {millis(p50)}  p95 {millis(p95)}"
        )

    @staticmethod
    def _life(snap: Snapshot, now: Now, *, compact: bool = False) -> Content:
        width = 10 if compact else LABEL_WIDTH
        if snap.last_life_at is None and snap.state not in (State.CONNECTED, State.STALLED):
            return kv(
                "last life",
                Content.styled("none (not connected)", "$text-muted italic"),
                width=width,
            )
        text = age(snap.last_life_at, now.mono)
        style = ""
        if snap.last_life_at is not None and snap.stall_bound_s is not None:
            silent = now.mono - snap.last_life_at
            if silent > snap.stall_bound_s:
                style = "$error bold"
            text += f" · stall {'' if compact else 'at '}{duration(snap.stall_bound_s)}"
        return kv("last life", text, style, width=width)
