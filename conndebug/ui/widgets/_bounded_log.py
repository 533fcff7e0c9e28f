"""A RichLog that stays cheap under a flood: a small line cache, and no layout pass per write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from textual.cache import LRUCache
from textual.geometry import Region
from textual.widgets import RichLog

LINE_CACHE = 256
"""Drawn lines kept per log: a few screens' worth. RichLog keeps 1,024, and while a log scrolls
every tick nearly all of them are lines that have scrolled away. Each one is a Strip with seven
small caches, so two full logs hold ~20,000 objects that every full garbage collection walks."""


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
