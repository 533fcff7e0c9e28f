"""Why a connection attempt failed: :class:`FailureKind`, shared by every transport.

Kept apart from the wire and the client, so that code which only names a kind — the
guest-session contract, the verdict rules — loads neither.
"""

from __future__ import annotations

import enum

__all__ = ["FailureKind"]


class FailureKind(enum.Enum):
    """Why a connection attempt failed (the codes echo the verdicts of design.md)."""

    REFUSED = "connection_refused"
    DNS = "dns_failure"
    TIMEOUT = "connect_timeout"
    TLS = "tls_error"
    PROXY = "proxy_error"
    HTTP = "http_status"
    """The server answered with an unexpected HTTP status (e.g. 403 to the websocket handshake)."""
    PROTOCOL = "protocol"
    """Something answered, but not Engine.IO / Socket.IO as expected."""
    REJECTED = "rejected"
    """The namespace connection was refused by the server (its own message)."""
    CLOSED = "closed"
    """The connection closed while being set up."""
    OTHER = "other"

    @property
    def network_level(self) -> bool:
        """Failures that are not specific to one transport (polling would fail the same way)."""
        return self in (FailureKind.REFUSED, FailureKind.DNS, FailureKind.TLS, FailureKind.PROXY)
