"""The wire inspector's log: every Engine.IO and Socket.IO packet in and out, one entry each."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive

from conndebug.core.events import Event, Packet
from conndebug.core.text import visible
from conndebug.ui.history import colour_of
from conndebug.ui.packets import (
    FILTERS,
    MARKERS,
    PacketFilter,
    RoundTrips,
    is_problem,
    searchable,
)
from conndebug.ui.text import clip, local_time
from conndebug.ui.widgets._event_log import EventLog
from conndebug.ui.widgets.history_log import wrap_words

LABEL_WIDTH = 13
"""Width of the type column (``CONNECT_ERROR`` is the longest)."""
SIZE_WIDTH = 8
"""Width of the size column (``12,345 B``)."""
_KEPT = (Packet, *MARKERS)
NARROW = 90
"""Below this width the transport is one letter and long lines wrap under the type."""


def _hard_wrap(text: str, first: int, rest: int) -> list[str]:
    """``text`` in lines of at most ``first`` then ``rest`` characters: a packet's JSON has few
    spaces, and every character of it counts (no word wrapping). A line ends after a JSON
    delimiter (``,`` ``:`` ``[`` ``{`` or a space) in its second half when it has one, so that a
    number or an id is not split between two lines; else at the width."""
    chunks: list[str] = []
    i, width = 0, first
    while i < len(text):
        end = i + width
        if end < len(text):
            cut = max(text.rfind(d, i + width // 2, end) for d in _BREAK_AFTER)
            if cut >= 0:
                end = cut + 1
        chunks.append(text[i:end])
        i, width = end, rest
    return chunks or [""]


_BREAK_AFTER = (",", ":", "[", "{", " ")
"""Where a packet's line may end before its width (the delimiter stays on the line)."""


FILTER_HINT = "l: filter"
SEARCH_HINT = "/: search"
FOLLOW_HINT = "End: follow"


class WireLog(EventLog):
    """Packets as they cross the wire: time, direction, transport, type, size, the request that
    carried it (polling), a heartbeat's timing, and what it carried (redacted; msgpack decoded,
    binary as hex). Bounded on screen and in memory; follows the newest unless scrolled up."""

    DEFAULT_CSS = """
    WireLog {
        scrollbar-size-vertical: 1;
    }
    """

    MAX_LINES = 2_000
    """Entries shown at most (older ones scroll away)."""
    KEEP = 5_000
    """Entries remembered for re-filtering and searching."""
    REDRAW = 300
    """Entries drawn again after a resize."""
    MAX_PER_TICK = 40
    """Entries written per refresh at most (~600 a second): the rest of a storm is counted in
    the subtitle (``--log`` and ``--har`` keep everything)."""

    packet_filter: reactive[PacketFilter] = reactive(FILTERS[0], init=False)
    """Which packets are shown (``l`` cycles through :data:`~conndebug.ui.packets.FILTERS`)."""
    search: reactive[str] = reactive("", init=False)
    """Only entries whose line contains this (case-insensitive); ``""``: all."""

    def __init__(
        self,
        *,
        tz: _dt.tzinfo | None = None,
        rtt_event: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(tz=tz, id=id, classes=classes)
        self.round_trips = RoundTrips(rtt_event)
        """Tells conndebug's own round trips (hidden by two of the filters)."""

    def watch_packet_filter(self) -> None:
        self._refilter()

    def watch_search(self) -> None:
        self._refilter()

    # -- public ----------------------------------------------------------------------------------

    def add_events(self, events: Sequence[Event]) -> None:
        """Take a batch of history events (in order); keeps the packets and the markers."""
        mine = [e for e in events if isinstance(e, _KEPT)]
        if mine:
            self._take(
                mine,
                seen=sum(1 for e in mine if isinstance(e, Packet)),
                flood_note="… a storm of packets: only the newest are drawn (--log keeps all)",
            )

    # -- drawing ---------------------------------------------------------------------------------

    def _shows(self, event: Event) -> bool:
        if not self.packet_filter.shows(event, self.round_trips):
            return False
        needle = self.search
        return not needle or needle.lower() in searchable(event)

    def _refilter(self) -> None:
        with self.redrawing():
            self.shown.clear()
            screen = max(self.MAX_PER_TICK, self.scrollable_content_region.height)
            self._draw([e for e in self._events if self._shows(e)][-screen:])
        self._update_subtitle()

    def _style(self, name: str) -> Style:
        return self._styles.get(name, Style())

    def _line(self, event: Event, width: int) -> Text:
        stamp = local_time(event.ts, self.tz)
        muted = self._styles.get("foreground-muted", Style(dim=True))
        line = Text(no_wrap=True, overflow="crop")
        line.append(stamp + " ", style=muted)
        if not isinstance(event, Packet):
            detail = clip(visible(event.detail))
            style = self._style(colour_of(event)) + Style(bold=True)
            chunks = wrap_words(f"── {detail}", max(10, width - len(stamp) - 1))
            line.append(chunks[0], style=style)
            for chunk in chunks[1:]:
                line.append("\n" + " " * (len(stamp) + 1) + chunk, style=style)
            self.shown.append(f"{stamp} ── {detail}")
            return line
        narrow = width < NARROW
        arrow = "←" if event.direction == "in" else "→"
        transport = (
            event.transport[0] if narrow else ("ws" if event.transport == "websocket" else "poll")
        )
        label = event.sio_type or event.eio_type  # the namespace and ack id are in the wire text
        if len(label) > LABEL_WIDTH:
            label = label[: LABEL_WIDTH - 1] + "…"
        size = f"{event.size:,} B"
        # Heartbeats and conndebug's own round trips are muted: the traffic that is not the app's.
        heartbeat = event.eio_type in ("PING", "PONG", "NOOP") or self.round_trips(event)
        if is_problem(event):
            colour = "error"
        elif heartbeat:
            colour = "foreground-muted"
        elif event.eio_type in ("OPEN", "UPGRADE", "CLOSE"):
            colour = "foreground"  # bold: where a transport begins, moves and ends
        else:
            # As in the Events panel: in is the accent, out the primary colour. ($secondary is
            # a dark blue that the default theme's surface leaves unreadable.)
            colour = "accent" if event.direction == "in" else "primary"
        style = self._style(colour)
        head = f"{arrow} {transport:<{1 if narrow else 4}} "
        line.append(head, style=style + Style(bold=True))
        line.append(f"{label:<{LABEL_WIDTH}} ", style=style + Style(bold=True))
        line.append(f"{size:>{SIZE_WIDTH}} ", style=muted)
        indent = len(stamp) + 1 + len(head) + LABEL_WIDTH + 1 + SIZE_WIDTH + 1
        extras = " ".join(x for x in (event.carrier, event.timing) if x)
        content = clip(visible(event.wire))
        if event.problem:
            content += f" — not decoded: {visible(event.problem)}"
        text = f"[{extras}] {content}" if extras else content
        hang = indent if not narrow else len(stamp) + 1
        chunks = _hard_wrap(text, max(10, width - indent), max(10, width - hang))
        first = chunks[0]
        if extras and first.startswith(f"[{extras}]"):
            line.append(f"[{extras}]", style=muted)
            line.append(first[len(extras) + 2 :], style=style)
        else:
            line.append(first, style=style)
        for chunk in chunks[1:]:
            line.append("\n" + " " * hang)
            line.append(chunk, style=style)
        self.shown.append(f"{stamp} {arrow} {event.transport} {event.label} {size} {text}".rstrip())
        return line

    # -- the subtitle ----------------------------------------------------------------------------

    def on_new_below(self) -> None:
        self._update_subtitle()

    def _update_subtitle(self) -> None:
        count = f"{self.seen} packets" + (f" ({self.skipped} not drawn)" if self.skipped else "")
        parts = [self.packet_filter.label, FILTER_HINT, SEARCH_HINT, count]
        if self.search:
            parts.insert(0, f"“{self.search}”")
        if not self.following:
            parts[:0] = [f"↓ {self.new_below} new", FOLLOW_HINT]
        self.set_subtitle(parts, hints=(SEARCH_HINT, FILTER_HINT, FOLLOW_HINT))
