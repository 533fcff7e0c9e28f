"""The Target panel: where we connect, through what, and how TLS is checked."""

from __future__ import annotations

from textual.content import Content
from textual.reactive import reactive
from textual.widgets import Static

from conndebug.core.model import Snapshot
from conndebug.ui.widgets._lines import kv, kv_fit, lines, set_content


class TargetPanel(Static):
    """The server's address, Engine.IO path, namespace, proxy and TLS verification, and what
    answers in front of the server once the answers named it.

    The URL alone may be cut (it is whole in the History's first line and in ``s``'s report);
    the other values wrap under themselves at the panel's width.
    """

    DEFAULT_CSS = """
    TargetPanel {
        height: auto;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    wanted_height: reactive[int] = reactive(0, init=False)
    """Rows the panel needs for its lines, its border included."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._last: tuple[Snapshot, tuple[str, ...]] | None = None

    def on_resize(self) -> None:
        if self._last is not None:
            self.show(*self._last)

    def show(self, snap: Snapshot, transports: tuple[str, ...]) -> None:
        """Render the target part of ``snap``; ``transports`` is the order they are tried."""
        self._last = (snap, transports)
        width = self.content_region.width or 40
        tls: Content | str = snap.tls_verify or "unknown"
        if snap.insecure:
            tls = Content.styled(f"⚠ {snap.tls_verify or 'DISABLED (--insecure)'}", "$error bold")
        rows = [
            kv("URL", snap.url or "unknown", "bold"),
            *kv_fit("path", [snap.path, f"namespace {snap.namespace}"], width),
            *kv_fit("transports", list(transports), width, sep=" → ", keep=" →"),
            *kv_fit("proxy", [snap.proxy or "none (direct)"], width),
            *kv_fit("TLS", [tls], width),
        ]
        if snap.in_front:  # once the answers named what stands in front of the server
            boxes = snap.in_front.split(" → ")
            server = boxes.pop() if boxes[-1].startswith("server") else None
            rows += kv_fit("in front", boxes or ["none named"], width, sep=" → ", keep=" →")
            if server is not None:  # "server: aiohttp (python-engineio)", or "server" unnamed
                name = server.partition(": ")[2] or "not named by its answers"
                rows += kv_fit("server", [name], width)
        set_content(self, lines(*rows))
        self.wanted_height = len(rows) + 2
