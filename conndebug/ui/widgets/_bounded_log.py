"""A RichLog that stays cheap under a flood, follows its tail, and re-draws itself on resize.

- A small line cache, and no layout pass per write (see :class:`BoundedLog`).
- **Following**: new lines scroll the log to the bottom only while the user has not scrolled up;
  while they read older lines, the lines that arrive below are counted (:attr:`new_below`) and
  the panel's subtitle says "↓ N new". Scrolling back to the bottom (End) follows again.
- **Resize**: lines are drawn for one width; when the width changes, the subclass draws its
  remembered items again (:meth:`redraw`), so nothing stays clipped or narrow.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.cells import cell_len
from rich.console import RenderableType
from textual.cache import LRUCache
from textual.events import Resize
from textual.geometry import Region
from textual.widgets import RichLog

LINE_CACHE = 256
"""Drawn lines kept per log: a few screens' worth. RichLog keeps 1,024, and while a log scrolls
every tick nearly all of them are lines that have scrolled away. Each one is a Strip with seven
small caches, so two full logs hold ~20,000 objects that every full garbage collection walks."""


SUBTITLE_FRAME = 6
"""Border columns around a subtitle: the corners, a line each side, a space each side."""


class BoundedLog(RichLog):
    """:class:`RichLog` with a line cache of :data:`LINE_CACHE` entries and batched writes.

    Every write grows the log's virtual size, and Textual answers that with a layout pass of the
    whole screen (~15 ms here), several per second during a storm. The vertical scrollbar is
    always shown (``overflow-y: scroll``) and lines never scroll sideways, so a growing log never
    changes its own size or anyone else's: inside :meth:`batch_writes` the layout pass is replaced by a
    scrollbar update and a repaint of the log.
    """

    DEFAULT_CSS = """
    BoundedLog {
        overflow-y: scroll;
        overflow-x: hidden;
    }
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(getattr(self, "_line_cache", None), LRUCache):
            self._line_cache = LRUCache(LINE_CACHE)
        self._batching = False
        self._grew = False
        self._redrawing = False
        self._end_pending = False
        self.following = True
        """New lines scroll to the bottom (False while the user reads older lines)."""
        self.new_below = 0
        """Entries written below the view since the user scrolled up."""
        self.drawn_width = 0
        """The width the current lines were drawn for (subclasses set it when they draw)."""

    @contextmanager
    def batch_writes(self) -> Iterator[None]:
        """Write several lines with at most a scrollbar update at the end (no layout pass)."""
        self._batching = True
        try:
            yield
        finally:
            self._batching = False
            if self._grew:
                self._grew = False
                self._scroll_update(self.virtual_size)
                self.refresh()

    def refresh(
        self,
        *regions: Region,
        repaint: bool = True,
        layout: bool = False,
        recompose: bool = False,
    ) -> BoundedLog:
        if layout and self._batching:
            self._grew = True
            layout = False
        super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
        return self

    # -- the subtitle ----------------------------------------------------------------------------

    def set_subtitle(self, parts: list[str], hints: tuple[str, ...] = ()) -> None:
        """The border's subtitle: ``parts`` joined by `` · ``, without the key ``hints`` among
        them (``l: filter``: the help and the footer list those keys) while the whole would not
        fit in the border, so that no count or filter is ever cut."""
        room = (self.size.width or 80) - SUBTITLE_FRAME
        subtitle = " · ".join(parts)
        for hint in hints:
            if cell_len(subtitle) <= room:
                break
            parts = [p for p in parts if p != hint]
            subtitle = " · ".join(parts)
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle

    # -- following the tail ----------------------------------------------------------------------

    def write(
        self,
        content: RenderableType | object,
        width: int | None = None,
        expand: bool = False,
        shrink: bool = True,
        scroll_end: bool | None = None,
        animate: bool = False,
    ) -> BoundedLog:
        """Write one entry; it scrolls the log to the bottom only while :attr:`following`."""
        if scroll_end is None:
            if not self.following and self.is_vertical_scroll_end and self.max_scroll_y > 0:
                # The user scrolled back down to the last line: follow again.
                self.following = True
                self.new_below = 0
                self.on_new_below()
            scroll_end = self.following and not self._redrawing  # a redraw ends at the end
        # RichLog would scroll to the end after the next refresh whatever happened meanwhile:
        # a reader who scrolled up in between was pulled back down. Decide then instead.
        super().write(content, width, expand, shrink, False, animate)
        if scroll_end and not self._end_pending:
            self._end_pending = True
            self.call_after_refresh(self._follow_end)
        return self

    def _follow_end(self) -> None:
        self._end_pending = False
        if self.following and not self._redrawing:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def count_new(self, entries: int) -> None:
        """Count ``entries`` written below the view while not following (the subtitle shows it)."""
        if not self.following and not self._redrawing:
            self.new_below += entries
            self.on_new_below()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._redrawing:
            return
        if new_value >= self.max_scroll_y:
            if not self.following or self.new_below:
                self.following = True
                self.new_below = 0
                self.on_new_below()
        elif new_value < old_value and self.following:
            self.following = False
            self.on_new_below()

    def action_scroll_end(self) -> None:
        """End: the newest line, and follow the new ones again (at once: an animation would
        aim at a bottom that new lines keep moving)."""
        self.following = True
        self.new_below = 0
        self.on_new_below()
        self.scroll_end(animate=False, immediate=True, x_axis=False)

    def on_new_below(self) -> None:
        """:attr:`new_below` or :attr:`following` changed (subclasses update their subtitle)."""

    # -- resizing --------------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        # RichLog's own handler (called too) first draws the writes made before the size was
        # known; look at the width once both have run.
        following = self.following
        self.call_later(self._fit, following)

    def _fit(self, following: bool) -> None:
        # Following when the size changed, and still: a reader who scrolled up in between (the
        # call comes after a refresh) stays where they went.
        following = following and self.following
        width = self.scrollable_content_region.width
        if width and self.drawn_width and width != self.drawn_width:
            top = self.scroll_y
            with self.redrawing():
                self.redraw()
            if not following:
                # A reader of older lines stays there (as near as the new wrapping allows) and
                # keeps counting what arrives below: a scrollbar that comes or goes changes the
                # width too, and must not pull them back to the newest line.
                self.call_after_refresh(self._back_to, top)
        elif following:
            # Same width, another height: the newest line stays at the bottom.
            self.following = True
            self.scroll_end(animate=False, immediate=False, x_axis=False)

    def _back_to(self, y: float) -> None:
        self.scroll_to(y=min(y, max(0, self.max_scroll_y - 1)), animate=False, immediate=True)
        self.following = False
        self.on_new_below()

    @contextmanager
    def redrawing(self) -> Iterator[None]:
        """Draw everything again (a filter change): kept at the bottom, not counted as new."""
        self._redrawing = True
        try:
            with self.batch_writes():
                self.clear()
                yield
        finally:
            self._redrawing = False
        self.following = True
        self.new_below = 0
        self.on_new_below()
        self.scroll_end(animate=False, immediate=False, x_axis=False)

    def redraw(self) -> None:
        """Write the remembered entries again at the current width (subclasses)."""
