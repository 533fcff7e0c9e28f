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
            self.write(self._line(event), width=width)

    def on_new_below(self) -> None:
        self._update_subtitle()

    def _line(self, event: EventIn | EventOut) -> Text:
        arrow, colour = ("←", "accent") if isinstance(event, EventIn) else ("→", "primary")
        style = self._styles.get(colour, Style())
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(
            local_time(event.ts, self.tz)[:8] + " ", style=self._styles.get("foreground-muted")
        )
        name = clip(visible(clip(event.name, NAME_CHARS)), NAME_CHARS)
        line.append(f"{arrow} {name} ", style=style + Style(bold=True))
        line.append(f"{event.size} B ", style=self._styles.get("foreground-muted"))
        line.append(clip(visible(clip(event.preview))))
        if isinstance(event, EventOut) and event.ack is not None:
            took = f" {event.ack_ms:.1f} ms" if event.ack_ms is not None else ""
            line.append(f"  ack{took}: {clip(visible(clip(event.ack)))}", style=style)
        return line

    def _update_subtitle(self) -> None:
        subtitle = f"{self.count_in} in · {self.count_out} out"
        if not self.following:
            subtitle = f"↓ {self.new_below} new · End · {subtitle}"
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle
