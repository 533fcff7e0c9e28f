"""The Events panel: server events in (←) and out (→) with name, size and a preview."""

from __future__ import annotations

import collections
import datetime as _dt
from collections.abc import Sequence

from rich.style import Style
from rich.text import Text

from conndebug.core.events import Event, EventIn, EventOut
from conndebug.core.text import visible
from conndebug.ui.text import clip, local_time
from conndebug.ui.widgets._bounded_log import BoundedLog
from conndebug.ui.widgets._colours import theme_styles

NAME_CHARS = 200
"""The most characters of an event name shown (the server chooses names)."""
MIN_PREVIEW = 12
"""Columns of preview worth keeping on an event's first row."""
INDENT = 9
"""A second row starts under the event's name (after ``12:20:19 ``)."""


class EventsLog(BoundedLog):
    """The application-level traffic; the newest at the bottom, the last few hundred kept."""

    DEFAULT_CSS = """
    EventsLog {
        scrollbar-size-vertical: 1;
    }
    """

    MAX_LINES = 500
    MAX_PER_TICK = 12
    """Lines written per refresh at most (the counters in the subtitle count them all)."""

    def __init__(
        self, *, tz: _dt.tzinfo | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(
            max_lines=self.MAX_LINES,
            wrap=False,
            markup=False,
            highlight=False,
            auto_scroll=True,
            id=id,
            classes=classes,
        )
        self.tz = tz
        self._styles: dict[str, Style] = {}
        self.count_in = 0
        self.count_out = 0
        self._traffic: collections.deque[EventIn | EventOut] = collections.deque(
            maxlen=self.MAX_LINES
        )
        """The lines on the panel, to draw them again at a new width."""

    def on_mount(self) -> None:
        self._styles = theme_styles(self.app.get_css_variables())
        self._update_subtitle()

    def add_events(self, events: Sequence[Event]) -> None:
        """Show the server events among ``events`` (other kinds are ignored)."""
        traffic = [e for e in events if isinstance(e, (EventIn, EventOut))]
        if not traffic:
            return
        for event in traffic:
            if isinstance(event, EventIn):
                self.count_in += 1
            else:
                self.count_out += 1
        drawn = traffic[-self.MAX_PER_TICK :]
        self._traffic.extend(drawn)
        with self.batch_writes():
            self._draw(drawn)
        self.count_new(len(drawn))
        self._update_subtitle()

    def redraw(self) -> None:
        """Every remembered line again, cut for the new width (after a resize)."""
        self._draw(list(self._traffic))

    def _draw(self, events: Sequence[EventIn | EventOut]) -> None:
        width = self.scrollable_content_region.width or 40
        self.drawn_width = width
        for event in events:
            self.write(self._line(event, width), width=width)

    def on_new_below(self) -> None:
        self._update_subtitle()

    def _line(self, event: EventIn | EventOut, width: int) -> Text:
        """``12:20:19 ← name 185 B preview``; where the time, name and size leave the preview
        fewer than :data:`MIN_PREVIEW` columns, the size and preview take a second row (the
        preview, a preview, may end in "…"; the name and size are never cut for it)."""
        arrow, colour = ("←", "accent") if isinstance(event, EventIn) else ("→", "primary")
        style = self._styles.get(colour, Style())
        muted = self._styles.get("foreground-muted")
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(local_time(event.ts, self.tz)[:8] + " ", style=muted)
        name = clip(visible(clip(event.name, NAME_CHARS)), NAME_CHARS)
        line.append(f"{arrow} {name}", style=style + Style(bold=True))
        size = f"{event.size} B"
        if line.cell_len + 1 + len(size) + 1 + MIN_PREVIEW > width:
            line.append("\n" + " " * INDENT)
        else:
            line.append(" ")
        line.append(f"{size} ", style=muted)
        line.append(clip(visible(clip(event.preview))))
        if isinstance(event, EventOut) and event.ack is not None:
            took = f" {event.ack_ms:.1f} ms" if event.ack_ms is not None else ""
            line.append(f"  ack{took}: {clip(visible(clip(event.ack)))}", style=style)
        return line

    def _update_subtitle(self) -> None:
        parts = [f"{self.count_in} in", f"{self.count_out} out"]
        if not self.following:
            parts[:0] = [f"↓ {self.new_below} new", "End"]
        self.set_subtitle(parts, hints=("End",))
