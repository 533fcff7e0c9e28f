"""The Demo panel: the reference server's fault switches (what the server says about each
change goes to the History)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from conndebug.ui.demo import WEBSOCKET_WORDS
from conndebug.ui.text import Now, duration
from conndebug.ui.widgets._lines import kv, kv_fit, lines, set_content


@dataclass(frozen=True)
class FaultView:
    """The switches as shown (read from the server on every refresh)."""

    websocket: str
    blackhole: bool
    latency_ms: float
    cors: str
    down_for_s: float | None
    """Seconds until a restarted server listens again; ``None`` when it is up."""
    session_ttl_s: float | None


class DemoPanel(Vertical):
    """Demo only: the switches the keys flip (``f b + - k t x``), each beside its state."""

    DEFAULT_CSS = """
    DemoPanel {
        height: auto;
        #demo-switches { text-wrap: nowrap; text-overflow: ellipsis; }
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._last: tuple[FaultView, Now, bool] | None = None

    def on_resize(self) -> None:
        if self._last is not None:
            self.show(*self._last[:2], compact=self._last[2])

    def compose(self) -> ComposeResult:
        yield Static(id="demo-switches")

    def show(self, faults: FaultView, now: Now, *, compact: bool = False) -> None:
        """Render the switches as of ``now`` (``compact``: one line, for small screens)."""
        self._last = (faults, now, compact)
        switches = self.query_one("#demo-switches", Static)
        if compact:
            set_content(switches, self._compact(faults))
            return
        ws_style = "" if faults.websocket == "allow" else "$error bold"
        bh = (
            Content.styled("ON: nothing is answered", "$error bold")
            if faults.blackhole
            else Content("off")
        )
        latency = f"{faults.latency_ms:.0f} ms"
        if faults.down_for_s is not None:
            server: Content | str = Content.styled(
                f"DOWN · back in {duration(faults.down_for_s)}", "$error bold"
            )
        else:
            server = "up"
        ttl = (
            f"{duration(faults.session_ttl_s)} on the server"
            if faults.session_ttl_s is not None
            else "unknown"
        )
        width = switches.content_region.width or 36
        ws = WEBSOCKET_WORDS.get(faults.websocket, faults.websocket)
        set_content(
            switches,
            lines(
                *kv_fit("websocket", [ws], width, style=ws_style),
                *kv_fit("black hole", [bh], width),
                kv("latency", latency, "$warning" if faults.latency_ms else ""),
                *kv_fit("server", [server], width),
                *kv_fit("session ttl", [ttl], width),
            ),
        )

    @staticmethod
    def _compact(faults: FaultView) -> Content:
        """One line for above the footer: each fault key beside its switch's state (≤ 70
        columns whatever the states, so it fits on 80)."""

        def part(key: str, label: str, value: str, bad: bool) -> Content:
            return Content.assemble(
                (key, "$accent bold"),
                (f" {label}" + (" " if value else ""), "$text-muted"),
                (value, "$error bold" if bad else "bold"),
            )

        down = faults.down_for_s is not None
        server = f"down {duration(faults.down_for_s or 0.0)}" if down else ""
        return Content("  ").join(
            [
                part("f", "ws", faults.websocket, faults.websocket != "allow"),
                part("b", "blackhole", "ON" if faults.blackhole else "off", faults.blackhole),
                part("+-", "lag", f"{faults.latency_ms:.0f} ms", faults.latency_ms > 0),
                part("t", "restart", server, down),
                part("k", "kick", "", False),
            ]
        )
