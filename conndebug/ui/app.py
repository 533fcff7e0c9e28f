"""ConnectionStatusDebug for the terminal: the Textual app and its factory.

The app never touches the socket client. It subscribes to ``monitor.bus`` (the one stream of typed
events) and renders ``monitor.snapshot()``. The subscriber only appends to a pending list; a timer
flushes the batch into the widgets ~15 times a second and refreshes the panels from the snapshot
(countdowns, ages), so thousands of events a second cost one repaint per tick, not one per event.

Every key runs its network work in a worker and leaves a history note at once, so its effect is on
screen within a tick; failures become notifications and history lines, never tracebacks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import gc
import inspect
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer

from conndebug.config import Settings
from conndebug.core.clock import Clock, SystemClock
from conndebug.core.errors import ConndebugError
from conndebug.core.events import Event, Note, Packet, Rtt
from conndebug.core.model import MonitorAPI, Snapshot, State
from conndebug.core.redact import settings_redactor
from conndebug.ui.demo import (
    RESTART_DOWN_S,
    DemoServer,
    latency_step,
    next_websocket_mode,
    settle,
)
from conndebug.ui.history import next_filter
from conndebug.ui.packets import next_filter as next_packet_filter
from conndebug.ui.report_files import save_report
from conndebug.ui.screens import EmitRequest, EmitScreen, HelpRow, HelpScreen
from conndebug.ui.text import Now, millis
from conndebug.ui.widgets import (
    ConnectionPanel,
    DemoPanel,
    EventsLog,
    HistoryLog,
    InsecureBanner,
    SessionPanel,
    StatusPanel,
    TargetPanel,
    WireInspector,
    WireLog,
)
from conndebug.ui.widgets.demo_panel import FaultView

__all__ = ["ConndebugApp", "DemoApp", "ProbeRunner", "make_app"]

ProbeRunner = Callable[..., Awaitable[Any]]
"""``run_probe(settings, *, bus=...)`` of :mod:`conndebug.core.probe`."""

WIDE = 100
"""From this many columns on, the screen is laid out wide (Target and Events panels shown)."""

REFRESH_HZ = 15
"""Panel refreshes per second while events arrive (each flushes the pending events in one batch)."""

IDLE_REFRESH_HZ = 4
"""Panel refreshes per second when no event is pending: only the clocks ("0.4 s ago", countdowns)
move then."""

QUIET_REFRESH_S = 1.0
"""Connected, and nothing but round-trip samples arriving: redraw this often (the samples gather
in the sparkline; "since" and "last life" count whole seconds). A redraw costs about 20 ms of
CPU; redrawing 15 times a second, then once per round trip, kept an idle panel at 8 %, then 3 %
of a core."""

STOP_TIMEOUT_S = 5.0
"""How long quitting waits for the monitor to close its connection."""

_HELP: dict[str, str] = {
    "conndebug.reconnect": "reconnect cleanly: disconnect, then connect again",
    "conndebug.drop_transport": "drop the transport underneath (auto-reconnect follows)",
    "conndebug.simulate_expiry": "session expiry: a new guest session, then reconnect",
    "conndebug.toggle": "connect / disconnect",
    "conndebug.probe": "probe the target and show the verdict",
    "conndebug.emit": "emit an event (name, JSON payload, wait for the ack)",
    "conndebug.save_report": "save a redacted report (JSON + Markdown)",
    "conndebug.history_filter": "filter: History (quiet / everything / problems), or the wire "
    "inspector's when it is open (every packet / no heartbeats / Socket.IO / problems)",
    "conndebug.wire": "wire inspector: every Engine.IO/Socket.IO packet in and out (open / close)",
    "conndebug.search": "search the wire inspector's packets (Enter keeps it, Esc clears it)",
    "conndebug.details": "the whole reason: title, explanation and fix",
    "conndebug.help": "this help",
    "conndebug.quit": "quit (closes the connection cleanly)",
    "demo.firewall": "websocket firewall: allow → reject → blackhole",
    "demo.blackhole": "black-hole all traffic (a silent drop) on / off",
    "demo.kick": "the server kicks every socket (no auto-reconnect)",
    "demo.restart": f"restart the server: all drops, down for {RESTART_DOWN_S:.0f} s",
    "demo.latency_up": "more latency (0, 50, 200, 500, 1000 ms each way)",
    "demo.latency_down": "less latency",
}


_CONNECTION_KEYS: list[Binding] = [
    Binding("r", "reconnect", "Reconnect", id="conndebug.reconnect"),
    Binding("d", "drop_transport", "Drop", id="conndebug.drop_transport"),
    Binding("x", "simulate_expiry", "Expire", id="conndebug.simulate_expiry"),
    Binding("c", "connect_toggle", "Connect", id="conndebug.toggle"),
    Binding("p", "probe", "Probe", id="conndebug.probe"),
    Binding("e", "emit", "Emit", id="conndebug.emit"),
    Binding("s", "save_report", "Save", id="conndebug.save_report"),
    Binding("l", "history_filter", "Filter", id="conndebug.history_filter"),
    Binding("i,enter", "details", "Why", key_display="i", id="conndebug.details"),
    Binding("w", "wire", "Wire", id="conndebug.wire"),
    Binding("slash", "search", "Search", key_display="/", show=False, id="conndebug.search"),
]
_DEMO_KEYS: list[Binding] = [
    Binding("f", "firewall", "Firewall", show=False, id="demo.firewall"),
    Binding("b", "blackhole", "Blackhole", show=False, id="demo.blackhole"),
    Binding("k", "kick", "Kick", show=False, id="demo.kick"),
    Binding("t", "restart_server", "Restart", show=False, id="demo.restart"),
    Binding(
        "plus,equals_sign",
        "latency(1)",
        "more latency",
        key_display="+",
        show=False,
        id="demo.latency_up",
    ),
    Binding(
        "minus", "latency(-1)", "less latency", key_display="-", show=False, id="demo.latency_down"
    ),
]
"""The demo's fault keys: not in the footer but in the line above it (the demo strip), which
shows each switch's state beside its key."""
_LAST_KEYS: list[Binding] = [
    Binding("question_mark,f1", "help", "Help", key_display="?", id="conndebug.help"),
    Binding("q", "quit", "Quit", id="conndebug.quit"),
    Binding("ctrl+c,ctrl+q", "quit", "Quit", show=False, priority=True, id="conndebug.interrupt"),
]

FOOTER_PRIORITY: tuple[str, ...] = (
    "conndebug.quit",
    "conndebug.help",
    "conndebug.reconnect",
    "conndebug.simulate_expiry",
    "conndebug.drop_transport",
    "conndebug.toggle",
    "conndebug.probe",
    "conndebug.emit",
    "conndebug.save_report",
    "conndebug.history_filter",
    "conndebug.wire",
    "conndebug.details",
)
"""Which footer keys stay when the footer is too narrow for all: the first ones. The others
keep working (hidden twins, see :func:`_always`) and are listed by ``?``."""

ALWAYS = "always"
"""Last action parameter of a hidden twin binding (see :func:`_always`)."""


def _always(binding: Binding) -> Binding:
    """A hidden twin of ``binding`` that works where the footer binding is switched off."""
    name, _, args = binding.action.partition("(")
    args = args.rstrip(")")
    action = f"{name}({args + ', ' if args else ''}{ALWAYS!r})"
    return dataclasses.replace(binding, action=action, show=False, group=None)


def footer_fit(width: int, keys: list[tuple[str, str, str]], *, compact: bool) -> frozenset[str]:
    """The binding ids of ``keys`` (``(id, key display, description)``) that fit in a footer
    ``width`` columns wide, chosen in :data:`FOOTER_PRIORITY` order, so that the footer never
    ends in a cut word. A key takes ``key desc`` plus one column (compact: ``keydesc`` and a
    space, as in htop)."""
    cost = {
        binding_id: len(key) + len(description) + (1 if compact else 3)
        for binding_id, key, description in keys
    }
    chosen: set[str] = set()
    used = 0
    for binding_id in (*FOOTER_PRIORITY, *cost):
        if binding_id in chosen or binding_id not in cost:
            continue
        if used + cost[binding_id] - (1 if compact else 0) <= width:
            chosen.add(binding_id)
            used += cost[binding_id]
    return frozenset(chosen)


class ConndebugApp(App[int]):
    """Live panels for one Socket.IO connection, driven by a :class:`MonitorAPI`."""

    CSS_PATH = "app.tcss"
    TITLE = "conndebug"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012 - typed as an instance variable by Textual
        (0, "-narrow"),
        (WIDE, "-wide"),
    ]

    BINDINGS: ClassVar[list[BindingType]] = [
        *_CONNECTION_KEYS,
        *_LAST_KEYS,
        *(_always(b) for b in (*_CONNECTION_KEYS, *_LAST_KEYS[:2])),
    ]

    def __init__(
        self,
        settings: Settings,
        monitor: MonitorAPI,
        *,
        clock: Clock | None = None,
        tz: _dt.tzinfo | None = None,
        report_dir: Path | None = None,
        probe: ProbeRunner | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.monitor = monitor
        self.clock: Clock = clock or SystemClock()
        self.tz = tz
        self.report_dir = report_dir or default_report_dir()
        self.probe_runner = probe
        self.last_probe: Any = None
        """The result of the last ``p`` (its verdict and ladder go into the ``s`` report)."""
        self._footer_ids: frozenset[str] = frozenset()
        """The binding ids the footer has room for (see :func:`footer_fit`)."""
        self._laid_out_for: tuple[int, int] = (0, 0)
        self.redactor = settings_redactor(settings)
        self.pending: list[Event] = []
        """Events received since the last refresh (the bus subscriber only appends here)."""
        self.snap: Snapshot = monitor.snapshot()
        self._unsubscribe: Callable[[], None] | None = None
        self._refreshed_at = 0.0
        """``time.monotonic()`` of the last refresh (real time: it only paces the redraws)."""
        self._quitting = False

    # -- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        if self.settings.insecure:
            yield InsecureBanner()
        with Horizontal(id="row-top"):
            yield StatusPanel(id="status", classes="panel")
            yield TargetPanel(id="target", classes="panel")
        with Horizontal(id="row-mid"):
            yield ConnectionPanel(id="connection", classes="panel")
            yield SessionPanel(id="session", classes="panel")
        with Horizontal(id="row-bottom"):
            yield HistoryLog(id="history", tz=self.tz, classes="panel")
            with Vertical(id="side"):
                yield from self.compose_side()
                yield EventsLog(id="events", tz=self.tz, classes="panel")
        yield from self.compose_bottom()
        yield Footer()

    def compose_side(self) -> ComposeResult:
        """Extra panels above Events (the demo adds its switches)."""
        yield from ()

    def compose_bottom(self) -> ComposeResult:
        """Extra strips above the footer (the demo adds a compact switch line for small screens)."""
        yield from ()

    def on_mount(self) -> None:
        titles = {
            "#status": "Status",
            "#target": "Target",
            "#connection": "Connection",
            "#session": "Guest session",
            "#history": "History",
            "#events": "Events",
        }
        for selector, title in titles.items():
            self.query_one(selector).border_title = title
        self.mount_extra()
        self.watch(self.query_one(StatusPanel), "wanted_height", self.sync_top_row, init=False)
        self.watch(self.query_one(TargetPanel), "wanted_height", self.sync_top_row, init=False)
        self._unsubscribe = self.monitor.bus.subscribe(self.pending.append, replay=True)
        self.set_interval(1 / REFRESH_HZ, self._tick)
        self.refresh_panels()
        # Everything built so far (modules, widgets, styles) lives as long as the app: keep it out
        # of the collector's full passes, which otherwise stall the screen ~0.1 s during storms.
        self.call_after_refresh(gc.freeze)
        self.run_worker(self._guard("connect", self.monitor.start), name="start")

    def mount_extra(self) -> None:
        """Set up extra panels (the demo's)."""

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    # -- refreshing ---------------------------------------------------------------------------

    def on_resize(self) -> None:
        self.fit_to_size()

    def fit_to_size(self) -> None:
        """Lay the panels out for the screen's size (footer keys, compact panels, reason rows).

        Called on resize, and by the refresh timer whenever the size it was made for is no
        longer the screen's (Textual debounces the app's resize; the screen's own changes later).
        """
        width, height = self.size
        self._laid_out_for = (width, height)
        narrow = width < WIDE
        # Small screens: the compact footer fits more keys (the help screen lists them all).
        footer = self.query_one(Footer)
        footer.compact = narrow
        shown = [
            (b.id, self.get_key_display(b), b.description)
            for _key, b in self._bindings
            if b.show and b.id and (b.action != "probe" or self.probe_runner is not None)
        ]
        self._footer_ids = footer_fit(width, shown, compact=narrow)
        self.refresh_bindings()
        # A dialog's resize: the footer is the main screen's, under the dialog; it must fit too
        # (it ended in "qQ" at 80 columns after a resize behind the emit dialog).
        for screen in self.screen_stack[:-1]:
            screen.refresh_bindings()
        status = self.query_one(StatusPanel)
        self.query_one(ConnectionPanel).compact = narrow
        self.query_one(SessionPanel).compact = narrow
        status.compact = narrow
        status.reason_rows = self.reason_rows(width, height)
        self.refresh_panels()

    def sync_top_row(self) -> None:
        """Status and Target as tall as the taller needs (in CSS, a row of ``height: auto``
        panels leaves the shorter one's border floating above a gap, and ``100%`` in an auto
        row never shrinks again); compact, the Status panel's height is its content's."""
        status, target = self.query_one(StatusPanel), self.query_one(TargetPanel)
        if not status.wanted_height:
            status.styles.height = "auto"
            return
        rows = max(status.wanted_height, target.wanted_height)
        for panel in (status, target):
            if panel.styles.height is None or panel.styles.height.value != rows:
                panel.styles.height = rows

    def reason_rows(self, width: int, height: int) -> int:
        """Rows the Status panel may give the reason: what is left once the other panels and at
        least :data:`MIN_HISTORY_ROWS` rows of History (:data:`MIN_HISTORY_ROWS_NARROW` on small
        screens) have theirs; between 2 and :data:`MAX_REASON_ROWS`."""
        fixed = 1 + self.strip_rows() + (1 if self.settings.insecure else 0)
        if width < WIDE:
            other = 8 + 1 + MIN_HISTORY_ROWS_NARROW + 2  # Connection row, badge row, History
        else:
            other = 9 + 5 + MIN_HISTORY_ROWS + 2  # Connection row, badge and border, History
        return max(2, min(MAX_REASON_ROWS, height - fixed - other))

    def strip_rows(self) -> int:
        """Rows above the footer (the demo's switches)."""
        return 0

    def now(self) -> Now:
        """One reading of the injected clock."""
        return Now(mono=self.clock.monotonic(), wall=self.clock.time(), tz=self.tz)

    def _tick(self) -> None:
        """The refresh timer: every tick while events are pending, else at the idle rate."""
        since = time.monotonic() - self._refreshed_at
        if tuple(self.size) != self._laid_out_for:
            self.fit_to_size()
            return
        if self.pending and not all(isinstance(e, Rtt) for e in self.pending):
            self.refresh_panels()
        elif self.snap.state is State.CONNECTED:
            if since >= QUIET_REFRESH_S:
                self.refresh_panels()
        elif since >= 1 / IDLE_REFRESH_HZ:
            self.refresh_panels()

    def refresh_panels(self) -> None:
        """Flush pending events into the logs and redraw every panel from a fresh snapshot."""
        self._refreshed_at = time.monotonic()
        try:
            self._refresh_panels()
        except NoMatches:
            # The screen is being torn down (quitting): nothing left to draw.
            return

    def _refresh_panels(self) -> None:
        batch, self.pending[:] = list(self.pending), []
        if batch:
            self.query_one(HistoryLog).add_events(batch)
            self.query_one(EventsLog).add_events(batch)
            wire = self.wire
            if wire is not None and wire.ready:
                wire.log_widget.add_events(batch)
        self.snap = snap = self.monitor.snapshot()
        now = self.now()
        self.query_one(StatusPanel).show(snap, now)
        self.query_one(TargetPanel).show(snap, self.settings.transports)
        self.query_one(ConnectionPanel).show(snap, now)
        self.query_one(SessionPanel).show(snap, now)
        self.refresh_extra(now)

    def refresh_extra(self, now: Now) -> None:
        """Redraw extra panels (the demo's)."""

    # -- helpers ------------------------------------------------------------------------------

    def note(self, text: str, *, topic: str = "ui", level: str = "info") -> None:
        """Put a plain-words line in the history (and the --log) through the monitor's bus."""
        self.monitor.bus.emit(Note, text=self.redactor.text(text), topic=topic, level=level)
        self.refresh_panels()

    def problem(self, title: str, hint: str = "") -> None:
        """Show an error as a notification and a history line (never a traceback)."""
        title = self.redactor.text(title)
        hint = self.redactor.text(hint)
        self.notify(hint or title, title=title if hint else "", severity="error", timeout=8)
        self.note(f"{title}" + (f" — {hint}" if hint else ""), level="error")

    async def _guard(self, label: str, call: Callable[[], Awaitable[object]]) -> None:
        """Run ``call``; turn any failure into a notification and a history line."""
        try:
            await call()
        except ConndebugError as exc:
            self.problem(f"{label}: {exc.title}", exc.hint)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            self.problem(f"{label} failed: {type(exc).__name__}: {exc}")

    def run_op(self, label: str, call: Callable[[], Awaitable[object]]) -> None:
        """Run a monitor or server operation in a worker."""
        self.run_worker(self._guard(label, call), name=label, group="ops")

    # -- actions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "probe" and self.probe_runner is None:
            return False
        if action == "search":
            return self.wire is not None
        if parameters[-1:] == (ALWAYS,):
            return True
        binding_id = self._footer_action_ids.get(action)
        if binding_id is not None and self._footer_ids:
            return binding_id in self._footer_ids
        return True

    @property
    def _footer_action_ids(self) -> dict[str, str]:
        return {b.action: b.id for _key, b in self._bindings if b.show and b.id}

    def action_reconnect(self, _via: str = "") -> None:
        self.note("r: clean reconnect (disconnect, then a fresh connection cycle)")
        self.run_op("reconnect", self.monitor.reconnect)

    def action_drop_transport(self, _via: str = "") -> None:
        self.note("d: dropping the transport underneath (automatic reconnection should follow)")
        self.run_op("drop transport", self.monitor.drop_transport)

    def action_simulate_expiry(self, _via: str = "") -> None:
        self.note(
            "x: simulating session expiry: the session ends here, a new guest session is created "
            "and the connection comes back"
        )
        self.run_op("simulate expiry", self.monitor.simulate_expiry)

    def action_connect_toggle(self, _via: str = "") -> None:
        verb = "disconnecting" if self.snap.state.value in _LIVE_STATES else "connecting"
        self.note(f"c: {verb}")
        self.run_op(verb, self.monitor.toggle)

    def action_history_filter(self, _via: str = "") -> None:
        wire = self.wire
        if wire is not None:
            log = wire.log_widget
            log.packet_filter = next_packet_filter(log.packet_filter)
            self.note(f"l: wire inspector filter: {log.packet_filter.label}")
            return
        history = self.query_one(HistoryLog)
        history.history_filter = next_filter(history.history_filter)
        self.note(f"l: history filter: {history.history_filter.label}")

    @property
    def wire(self) -> WireInspector | None:
        """The wire inspector, while it is open."""
        try:
            return self.query_one(WireInspector)
        except NoMatches:
            return None

    def action_wire(self, _via: str = "") -> None:
        """``w``: open the wire inspector in the History's place (the packet tap runs while it
        is open), or close it."""
        wire = self.wire
        if wire is not None:
            self.monitor.set_trace(False)
            wire.remove()
            self.screen.remove_class("-wire")
            self.query_one(HistoryLog).focus()
            self.note("w: wire inspector closed (the packet tap is off)")
            return
        self.monitor.set_trace(True)
        wire = WireInspector(id="wire", tz=self.tz, rtt_event=self.settings.rtt_event)
        self.query_one("#row-bottom").mount(wire, before=self.query_one(HistoryLog))
        self.screen.add_class("-wire")
        self.call_after_refresh(self._wire_opened, wire)
        self.note(
            "w: wire inspector open: every packet in and out from now on "
            "(l: filter, /: search, w: close)"
        )

    def _wire_opened(self, wire: WireInspector) -> None:
        """The inspector is composed: the packets so far at once, then each refresh's."""
        if wire is not self.wire:
            return  # closed again before it was drawn
        if not wire.query(WireLog):
            self.call_after_refresh(self._wire_opened, wire)  # mounting takes another refresh
            return
        # The packets in the history and not waiting for the next refresh (which brings those).
        waiting = {id(e) for e in self.pending}
        earlier = [
            e for e in self.monitor.bus.history if isinstance(e, Packet) and id(e) not in waiting
        ]
        if earlier:
            wire.log_widget.add_events(earlier[-wire.log_widget.KEEP :])
        wire.ready = True
        wire.log_widget.focus()

    def action_search(self, _via: str = "") -> None:
        """``/``: search the wire inspector's packets."""
        wire = self.wire
        if wire is not None:
            wire.open_search()

    def action_help(self, _via: str = "") -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        self.push_screen(
            HelpScreen(self.help_groups(), "conndebug — keys", show_ids=self.size.width >= WIDE)
        )

    def action_emit(self, _via: str = "") -> None:
        self.push_screen(EmitScreen(), self._emit_chosen)

    def _emit_chosen(self, request: EmitRequest | None) -> None:
        if request is None:
            return
        self.note(f"e: emitting {request.name}" + (" (waiting for the ack)" if request.ack else ""))
        self.run_op("emit", lambda: self._emit(request))

    async def _emit(self, request: EmitRequest) -> None:
        result = await self.monitor.emit(request.name, request.payload, ack=request.ack)
        if not request.ack:
            return
        if result.acked:
            self.notify(
                self.redactor.text(
                    f"{request.name}: ack in {millis(result.ms)}: {json_text(result.value)}"
                ),
                title="Ack received",
            )
        elif result.error == NOT_CONNECTED:
            self.notify(
                f"{request.name}: not sent: not connected", title="Not sent", severity="warning"
            )
        else:
            self.notify(
                self.redactor.text(f"{request.name}: {result.error or 'no ack'}"),
                title="No ack",
                severity="warning",
            )

    def action_save_report(self, _via: str = "") -> None:
        self.run_op("save report", self._save_report)

    async def _save_report(self) -> None:
        snap = self.monitor.snapshot()
        history = list(self.monitor.bus.history)
        json_path, md_path = await asyncio.to_thread(
            save_report,
            self.report_dir,
            self.settings,
            snap,
            history,
            redactor=self.redactor,
            saved_at=self.clock.time(),
            probe=self.last_probe,
        )
        har_path = await self._save_har(json_path.with_suffix(".har"))
        also = f", {har_path.name}" if har_path is not None else ""
        self.note(
            f"s: report saved (secrets redacted): {json_path.resolve()} and {md_path.name}{also}"
        )
        # The folder, the name, the kinds: three short rows a small screen's toast shows whole
        # (three full paths took nine rows at 80 columns and the last one ran under the footer).
        kinds = [".json", ".md", *([".har"] if har_path is not None else [])]
        self.notify(
            f"{json_path.resolve().parent}{os.sep}\n{json_path.stem}\n"
            + (", ".join(kinds[:-1]) + f" and {kinds[-1]}"),
            title="Report saved",
            timeout=12,
        )

    async def _save_har(self, path: Path) -> Path | None:
        """The wire's HAR beside the report (when the monitor records it); None without one."""
        recorder = getattr(self.monitor, "har", None)
        if recorder is None or recorder.empty:
            return None
        from conndebug.core.har_export import save_har

        redactor = getattr(self.monitor, "redactor", None) or self.redactor
        try:
            await save_har(recorder, path, redactor, title=f"conndebug {self.settings.url}")
        except (OSError, asyncio.TimeoutError) as exc:
            self.problem(f"the HAR could not be written: {exc}")
            return None
        return path

    def action_probe(self, _via: str = "") -> None:
        runner = self.probe_runner
        if runner is None:
            return
        from conndebug.ui.screens.probe_screen import ProbeScreen

        self.note(f"p: probing {self.settings.url} layer by layer")
        self.push_screen(
            ProbeScreen(
                self.settings,
                runner,
                tz=self.tz,
                on_done=lambda line: self.note(line),
                on_result=self._probe_done,
            )
        )

    def _probe_done(self, result: Any) -> None:
        self.last_probe = result

    def action_details(self, _via: str = "") -> None:
        from conndebug.ui.screens.reason_screen import ReasonScreen

        if isinstance(self.screen, ReasonScreen):
            self.screen.dismiss(None)
            return
        if len(self.screen_stack) > 1:
            return  # another dialog is open (Enter belongs to it)
        status = self.query_one(StatusPanel)
        snap, now = self.monitor.snapshot(), self.now()
        self.push_screen(ReasonScreen(snap, now, status.reason))

    async def action_quit(self, _via: str = "") -> None:
        if self._quitting:
            return
        self._quitting = True
        self.run_worker(self._close_and_exit(), name="shutdown")

    async def _close_and_exit(self) -> None:
        try:
            await asyncio.wait_for(self.monitor.stop(), STOP_TIMEOUT_S)
        except (asyncio.TimeoutError, ConndebugError, OSError) as exc:
            self.log.warning(f"monitor did not stop cleanly: {exc!r}")
        await self.stop_extra()
        self.exit(0)

    async def stop_extra(self) -> None:
        """Release what the subclass owns (the demo's server is stopped by its launcher)."""

    # -- help -----------------------------------------------------------------------------------

    def help_groups(self) -> list[tuple[str, list[HelpRow]]]:
        """The help screen's rows, grouped: connection keys, then the demo's."""
        rows: dict[str, list[HelpRow]] = {}
        seen: set[str] = set()
        for _key, binding in self._bindings:
            if not binding.id or binding.id in seen or binding.id not in _HELP:
                continue
            seen.add(binding.id)
            group = (
                "Demo: the reference server's fault switches"
                if binding.id.startswith("demo.")
                else "Connection"
            )
            key = binding.key_display or binding.key.split(",")[0]
            if binding.id == "conndebug.details":
                key = "i, ⏎"
            available = binding.action != "probe" or self.probe_runner is not None
            description = _HELP[binding.id] + ("" if available else " (not available)")
            rows.setdefault(group, []).append(HelpRow(key, description, binding.id, available))
        groups = list(rows.items())
        groups.insert(
            1,
            (
                "History, Events and the wire inspector (the focused one; Tab moves between them)",
                SCROLL_ROWS,
            ),
        )
        return groups


_LIVE_STATES = frozenset({"connected", "connecting", "stalled", "reconnecting"})

SCROLL_ROWS: list[HelpRow] = [
    HelpRow("↑ ↓", "a line (up: stop following the newest)", "scroll_up/down"),
    HelpRow("PgUp PgDn", "a page", "page_up/down"),
    HelpRow("Home", "the oldest line kept", "scroll_home"),
    HelpRow("End", "the newest line; follow again (“↓ N new” counts)", "scroll_end"),
    HelpRow("Tab", "History ⇄ Events (the mouse wheel scrolls either)", "focus_next"),
]
"""Textual's own scrolling keys of the two logs (their ids are Textual's actions)."""

MIN_HISTORY_ROWS = 10
"""History rows kept free on wide screens before the reason may take more."""
MIN_HISTORY_ROWS_NARROW = 8
"""History rows kept free on small screens (80×24)."""
MAX_REASON_ROWS = 10
"""The most rows the Status panel's reason takes (a longer one points to ``i``)."""

NOT_CONNECTED = "not connected"
"""The emit error of a send that was not made (no connection)."""


def json_text(value: Any) -> str:
    """``value`` as compact JSON (what the server sent), not as a Python repr."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return str(value)


def default_report_dir() -> Path:
    """Where ``s`` saves reports: ``$CONNDEBUG_REPORT_DIR``, else the platform's user data folder
    (``~/.local/share/conndebug/reports`` on Linux), never the current folder (a clone's root)."""
    configured = os.environ.get("CONNDEBUG_REPORT_DIR")
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("conndebug", appauthor=False)) / "reports"


class DemoApp(ConndebugApp, inherit_bindings=False):
    """The app on the in-process reference server, with its fault switches on keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *_CONNECTION_KEYS,
        *_DEMO_KEYS,
        *_LAST_KEYS,
        *(_always(b) for b in (*_CONNECTION_KEYS, *_LAST_KEYS[:2])),
    ]

    def __init__(
        self,
        settings: Settings,
        monitor: MonitorAPI,
        server: DemoServer,
        *,
        session_ttl_s: float | None = None,
        clock: Clock | None = None,
        tz: _dt.tzinfo | None = None,
        report_dir: Path | None = None,
        probe: ProbeRunner | None = None,
    ) -> None:
        super().__init__(settings, monitor, clock=clock, tz=tz, report_dir=report_dir, probe=probe)
        self.server = server
        self.session_ttl_s = session_ttl_s
        self._server_lines: list[str] = []
        """The server's own lines about its switches, not yet in the History."""

    def compose_side(self) -> ComposeResult:
        yield DemoPanel(id="demo", classes="panel")

    def compose_bottom(self) -> ComposeResult:
        yield DemoPanel(id="demo-strip")

    def strip_rows(self) -> int:
        return 1

    def mount_extra(self) -> None:
        self.query_one("#demo").border_title = "Demo: fault switches"
        self.query_one(SessionPanel).server_ttl_s = self.session_ttl_s
        self.server.on_change(self._server_said)

    def _server_said(self, line: str) -> None:
        self._server_lines.append(str(line))

    def refresh_extra(self, now: Now) -> None:
        # The server's lines go to the History, with the key's own note: in the Demo panel they
        # squeezed Events to one row at 120×35, and 80×24 (the strip) never showed them.
        said, self._server_lines[:] = list(self._server_lines), []
        for line in said:
            self.monitor.bus.emit(Note, text=self.redactor.text(f"server: {line}"), topic="fault")
        view = self.fault_view(now)
        for panel in self.query(DemoPanel):
            panel.show(view, now, compact=panel.id == "demo-strip")

    def fault_view(self, now: Now) -> FaultView:
        """The server's switches as of ``now``."""
        faults = self.server.faults
        down_for = None
        if faults.down_until is not None:
            left = faults.down_until - now.mono
            down_for = left if left > 0 else None
        return FaultView(
            websocket=faults.websocket,
            blackhole=bool(faults.blackhole),
            latency_ms=float(faults.latency_ms),
            cors=faults.cors,
            down_for_s=down_for,
            session_ttl_s=self.session_ttl_s,
        )

    # -- demo actions ---------------------------------------------------------------------------

    def switch(self, label: str, flip: Callable[[], object]) -> bool:
        """Flip a switch now (so the next key press sees it); await it if it is a coroutine."""
        try:
            result = flip()
        except ConndebugError as exc:
            self.problem(f"{label}: {exc.title}", exc.hint)
            return False
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            self.problem(f"{label} failed: {type(exc).__name__}: {exc}")
            return False
        if inspect.isawaitable(result):
            self.run_op(label, lambda: settle(result))
        return True

    def action_firewall(self) -> None:
        mode = next_websocket_mode(self.server.faults.websocket)
        if not self.switch("firewall", lambda: self.server.set_websocket(mode)):
            return
        after = "" if mode == "allow" else " — press r to reconnect and watch the fallback"
        self.note(f"firewall: websocket {mode}{after}", topic="fault")

    def action_blackhole(self) -> None:
        on = not self.server.faults.blackhole
        if not self.switch("black hole", lambda: self.server.set_blackhole(on)):
            return
        if on:
            self.note(
                "black hole: ON — the server answers nothing (watch the stall)", topic="fault"
            )
        else:
            self.note("black hole: off — traffic flows again", topic="fault")

    def action_kick(self) -> None:
        self.note("kick: the server disconnects every socket", topic="fault")
        self.run_op("kick", self.server.kick_all)

    def action_restart_server(self) -> None:
        self.note(
            f"restart: the server drops everything and refuses connections for {RESTART_DOWN_S:.0f} s",
            topic="fault",
        )
        self.run_op("restart", lambda: self.server.restart(RESTART_DOWN_S))

    def action_latency(self, direction: int, _via: str = "") -> None:
        ms = latency_step(float(self.server.faults.latency_ms), direction)
        if not self.switch("latency", lambda: self.server.set_latency(ms)):
            return
        self.note(f"latency: {ms:.0f} ms added each way", topic="fault")

    def action_simulate_expiry(self, _via: str = "") -> None:
        self.note(
            "x: the server forgets the session (its token stays valid); "
            "the client must regenerate it"
        )
        self.run_op("simulate expiry", self.monitor.simulate_expiry)


def make_app(
    settings: Settings,
    monitor: MonitorAPI | None = None,
    server: DemoServer | None = None,
    clock: Clock | None = None,
    *,
    tz: _dt.tzinfo | None = None,
    session_ttl_s: float | None = None,
    report_dir: Path | None = None,
    probe: ProbeRunner | None = None,
    find_probe: bool = True,
) -> ConndebugApp:
    """The app for ``settings``: a :class:`DemoApp` when a ``server`` is given.

    Without ``monitor``, one is built with the core's ``make_monitor``. ``probe`` defaults to the
    core's ``run_probe`` when it exists (the ``p`` key stays hidden otherwise).
    """
    clock = clock or SystemClock()
    if monitor is None:
        from conndebug.core.monitor import make_monitor

        monitor = make_monitor(settings, clock=clock)
    if probe is None and find_probe:
        probe = find_probe_runner()
    if server is not None:
        return DemoApp(
            settings,
            monitor,
            server,
            session_ttl_s=session_ttl_s,
            clock=clock,
            tz=tz,
            report_dir=report_dir,
            probe=probe,
        )
    return ConndebugApp(settings, monitor, clock=clock, tz=tz, report_dir=report_dir, probe=probe)


def find_probe_runner() -> ProbeRunner | None:
    """The core's ``run_probe``, or ``None`` while the probe is not built."""
    try:
        from conndebug.core import probe
    except ImportError:
        return None
    runner = getattr(probe, "run_probe", None)
    return runner if callable(runner) else None
