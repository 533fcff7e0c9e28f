"""The History panel: every event with a local timestamp (ms), coloured by kind, filterable."""

from __future__ import annotations

import collections
import datetime as _dt
from collections.abc import Sequence

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import RichLog

from conndebug.core.events import Event, Note
from conndebug.ui.history import FILTERS, HistoryFilter, colour_of
from conndebug.ui.text import local_time
from conndebug.ui.widgets._colours import theme_styles

KIND_WIDTH = 19
"""Width of the kind column (``session_regenerated`` is the longest kind)."""


class HistoryLog(RichLog):
    """The history as it happens; bounded on screen (the ``--log`` file keeps everything)."""

    DEFAULT_CSS = """
    HistoryLog {
        scrollbar-size-vertical: 1;
    }
    """

    MAX_LINES = 2_000
    """Events shown at most (older ones scroll away)."""
    KEEP = 5_000
    """Events remembered for re-filtering."""

    history_filter: reactive[HistoryFilter] = reactive(FILTERS[0], init=False)
    """Which events are shown (``l`` cycles through :data:`~conndebug.ui.history.FILTERS`)."""

    def __init__(
        self, *, tz: _dt.tzinfo | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(
            max_lines=self.MAX_LINES,
            wrap=True,
            markup=False,
            highlight=False,
            auto_scroll=True,
            id=id,
            classes=classes,
        )
        self.tz = tz
        self._events: collections.deque[Event] = collections.deque(maxlen=self.KEEP)
        self._styles: dict[str, Style] = {}
        self.seen = 0
        """Events received since the start (shown or not)."""
        self.shown: collections.deque[str] = collections.deque(maxlen=self.MAX_LINES)
        """The plain text of the lines on the panel (time, kind, detail), oldest first."""

    def on_mount(self) -> None:
        self._styles = theme_styles(self.app.get_css_variables())
        self._update_subtitle()

    def watch_history_filter(self) -> None:
        self.clear()
        self.shown.clear()
        self._write(list(self._events))
        self._update_subtitle()

    def add_events(self, events: Sequence[Event]) -> None:
        """Append a batch of events (already in order)."""
        if not events:
            return
        self.seen += len(events)
        self._events.extend(events)
        self._write(events[-self.KEEP :])
        self._update_subtitle()

    def _write(self, events: Sequence[Event]) -> None:
        chosen = [e for e in events if self.history_filter.shows(e)][-self.MAX_LINES :]
        width = self.scrollable_content_region.width or None
        for event in chosen:
            line = self._line(event)
            self.write(line, width=width)

    def _line(self, event: Event) -> Table:
        """Time, kind, detail; a long detail wraps under itself (hanging indent)."""
        kind = event.kind
        if isinstance(event, Note) and event.topic:
            kind = {"ui": "key", "fault": "fault"}.get(event.topic, event.topic)
        style = self._styles.get(colour_of(event), Style())
        muted = self._styles.get("foreground-muted", Style(dim=True))
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(width=12, no_wrap=True)
        narrow = (self.scrollable_content_region.width or 80) < 70
        grid.add_column(width=14 if narrow else KIND_WIDTH, no_wrap=True, overflow="ellipsis")
        grid.add_column(ratio=1, overflow="fold")
        stamp = local_time(event.ts, self.tz)
        grid.add_row(
            Text(stamp, style=muted),
            Text(kind, style=style + Style(bold=True)),
            Text(event.detail, style=style),
        )
        self.shown.append(f"{stamp} {kind} {event.detail}")
        return grid

    def _update_subtitle(self) -> None:
        subtitle = f"{self.history_filter.label} · l: change filter · {self.seen} events"
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle
