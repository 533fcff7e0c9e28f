"""The Target panel: where we connect, through what, and how TLS is checked."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from conndebug.core.model import Snapshot
from conndebug.ui.widgets._lines import kv, lines, set_content


class TargetPanel(Static):
    """The server's address, Engine.IO path, namespace, proxy and TLS verification, and what
    answers in front of the server once the answers named it."""

    DEFAULT_CSS = """
    TargetPanel {
        height: auto;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def show(self, snap: Snapshot, transports: tuple[str, ...]) -> None:
        """Render the target part of ``snap``; ``transports`` is the order they are tried."""
        tls: Content | str = snap.tls_verify or "unknown"
        if snap.insecure:
            tls = Content.styled(f"⚠ {snap.tls_verify or 'DISABLED (--insecure)'}", "$error bold")
        rows = [
            kv("URL", snap.url or "unknown", "bold"),
            kv("path", f"{snap.path} · namespace {snap.namespace}"),
            kv("transports", " → ".join(transports)),
            kv("proxy", snap.proxy or "none (direct)"),
            kv("TLS", tls),
        ]
        if snap.in_front:  # once the answers named what stands in front of the server
            rows.append(kv("in front", snap.in_front))
        set_content(self, lines(*rows))
