"""The History panel: every event with a local timestamp (ms), coloured by kind, filterable."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive

from conndebug.core.events import Event, Note
from conndebug.core.text import visible
from conndebug.ui.history import FILTERS, HistoryFilter, colour_of
from conndebug.ui.text import clip, local_time
from conndebug.ui.widgets._event_log import EventLog

KIND_WIDTH = 19
"""Width of the kind column (``session_regenerated`` is the longest kind)."""


WIDE_HANG = 90
"""From this width on, a long detail wraps under itself; below, under the kind column."""


def wrap_words(text: str, width: int, rest: int | None = None) -> list[str]:
    """``text`` in lines of at most ``width`` columns (``rest`` for the lines after the first),
    broken only between words.

    An id, a URL or a token is never split, unless it alone is wider than a whole line (then it
    is cut into full-width pieces, so nothing is lost off the edge).
    """
    rest = width if rest is None else rest
    pad = max(0, rest - width)
    wrapper = textwrap.TextWrapper(
        width=max(width, rest),
        initial_indent=" " * pad,
        break_on_hyphens=False,
        break_long_words=False,
        drop_whitespace=True,
    )
    chunks = wrapper.wrap(text)
    if chunks:
        chunks[0] = chunks[0][pad:]
    out: list[str] = []
    for n, chunk in enumerate(chunks):
        limit = width if n == 0 else rest
        while len(chunk) > limit:
            out.append(chunk[:limit])
            chunk = chunk[limit:]
            limit = rest
        out.append(chunk)
    return out or [""]


FILTER_HINT = "l: change filter"
FOLLOW_HINT = "End: follow"


class HistoryLog(EventLog):
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
    REDRAW = 300
    """Events drawn again after a resize (the newest; older ones are in --log and the reports)."""
    MAX_PER_TICK = 25
    """Lines written per refresh at most (~375 a second): more than anyone reads, and cheap
    enough that a flood of events never starves the event loop. The rest of a burst is counted
    (subtitle) and stays in ``--log``, the reports and the in-memory history."""

    history_filter: reactive[HistoryFilter] = reactive(FILTERS[0], init=False)
    """Which events are shown (``l`` cycles through :data:`~conndebug.ui.history.FILTERS`)."""

    def watch_history_filter(self) -> None:
        with self.redrawing():
            self.shown.clear()
            # The newest screenful of remembered events: drawn at once, so no more than that
            # (100 took up to 0.15 s under a storm); the rest is in --log and the reports.
            screen = max(self.MAX_PER_TICK, self.scrollable_content_region.height)
            chosen = [e for e in self._events if self.history_filter.shows(e)]
            self._draw(chosen[-screen:])
        self._update_subtitle()

    def add_events(self, events: Sequence[Event]) -> None:
        """Append a batch of events (already in order)."""
        if events:
            note = "… a burst of events: only the newest are shown here (all are in --log)"
            self._take(events, seen=len(events), flood_note=note)

    def _shows(self, event: Event) -> bool:
        return self.history_filter.shows(event)

    def _line(self, event: Event, width: int) -> Text:
        """Time, kind, detail; a long detail wraps under itself (a hanging indent)."""
        kind = event.kind
        if isinstance(event, Note) and event.topic:
            kind = {"ui": "key", "fault": "fault"}.get(event.topic, event.topic)
        style = self._styles.get(colour_of(event), Style())
        muted = self._styles.get("foreground-muted", Style(dim=True))
        kind_width = 14 if width < 70 else KIND_WIDTH
        if len(kind) > kind_width:
            kind = kind[: kind_width - 1] + "…"
        stamp = local_time(event.ts, self.tz)
        indent = len(stamp) + 1 + kind_width + 1
        detail = clip(visible(clip(event.detail)))  # escapes can grow it: cut again
        # Narrow: continuation lines start under the kind, so that a 42-character id fits whole.
        hang = indent if width >= WIDE_HANG else len(stamp) + 1
        chunks = wrap_words(detail, max(10, width - indent), max(10, width - hang))
        line = Text(no_wrap=True, overflow="crop")
        line.append(stamp + " ", style=muted)
        line.append(kind.ljust(kind_width) + " ", style=style + Style(bold=True))
        line.append(chunks[0], style=style)
        for chunk in chunks[1:]:
            line.append("\n" + " " * hang)
            line.append(chunk, style=style)
        self.shown.append(f"{stamp} {kind} {detail}")
        return line

    def on_new_below(self) -> None:
        self._update_subtitle()

    def _update_subtitle(self) -> None:
        count = f"{self.seen} events" + (f" ({self.skipped} not drawn)" if self.skipped else "")
        parts = [self.history_filter.label, FILTER_HINT, count]
        if not self.following:
            parts[:0] = [f"↓ {self.new_below} new", FOLLOW_HINT]
        self.set_subtitle(parts, hints=(FILTER_HINT, FOLLOW_HINT))
