"""A bounded log of history events: remembered, filtered, drawn a screenful at a time.

:class:`EventLog` is what the History and the wire inspector share: the events remembered for
re-filtering (``KEEP``), what is on the panel (:attr:`~EventLog.shown`), a flood drawn only at its
newest ``MAX_PER_TICK`` entries per refresh (said once, counted in the subtitle), and a redraw
after a resize. Subclasses say which events they show (:meth:`~EventLog._shows`) and how one
looks (:meth:`~EventLog._line`).
"""

from __future__ import annotations

import collections
import datetime as _dt
from collections.abc import Sequence

from rich.style import Style
from rich.text import Text

from conndebug.core.events import Event
from conndebug.ui.widgets._bounded_log import BoundedLog
from conndebug.ui.widgets._colours import theme_styles

__all__ = ["EventLog"]


class EventLog(BoundedLog):
    """See the module docstring."""

    MAX_LINES = 2_000
    KEEP = 5_000
    """Entries remembered for re-filtering (and searching)."""
    REDRAW = 300
    """Entries drawn again after a resize (the newest)."""
    MAX_PER_TICK = 25
    """Entries written per refresh at most; the rest of a flood is counted in the subtitle."""

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
        """Entries received (shown or not)."""
        self.skipped = 0
        """Entries that passed the filter but were left out during floods."""
        self._flooding = False
        self.shown: collections.deque[str] = collections.deque(maxlen=self.MAX_LINES)
        """The plain text of the entries on the panel, oldest first."""

    def on_mount(self) -> None:
        self._styles = theme_styles(self.app.get_css_variables())
        self._update_subtitle()

    def redraw(self) -> None:
        """The newest remembered entries again, at the new width (after a resize)."""
        self.shown.clear()
        self._draw([e for e in self._events if self._shows(e)][-self.REDRAW :])
        self._update_subtitle()

    def _take(self, events: Sequence[Event], *, seen: int, flood_note: str) -> None:
        """Remember ``events`` and draw those shown; in a flood only the newest, said once."""
        self.seen += seen
        self._events.extend(events)
        chosen = [e for e in events[-self.KEEP :] if self._shows(e)]
        skipped = max(0, len(chosen) - self.MAX_PER_TICK)
        with self.batch_writes():
            if skipped:
                chosen = chosen[-self.MAX_PER_TICK :]
                if not self._flooding:
                    muted = self._styles.get("foreground-muted", Style(dim=True))
                    self.write(Text(flood_note, style=muted + Style(italic=True)))
                self.skipped += skipped
            self._flooding = bool(skipped)
            self._draw(chosen)
            self.count_new(len(chosen))
        self._update_subtitle()

    def _draw(self, events: Sequence[Event]) -> None:
        width = self.scrollable_content_region.width or 80
        self.drawn_width = width
        for event in events:
            self.write(self._line(event, width), width=width)

    # -- what subclasses say -----------------------------------------------------------------

    def _shows(self, event: Event) -> bool:
        raise NotImplementedError

    def _line(self, event: Event, width: int) -> Text:
        raise NotImplementedError

    def _update_subtitle(self) -> None:
        raise NotImplementedError
