"""What went wrong, as facts: :class:`Failure` (a connection that could not be made),
:class:`CloseReason` (a session that ended) and :class:`UpgradeOutcome` (an upgrade that did
not happen). Words for a user are short and factual; the verdict engine above decides what they
mean. Every server string in them is already clipped (:mod:`conndebug.client.bounds`).

::

    ClientError            raised by the client; carries a Failure
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

from conndebug.client.eio import EngineError
from conndebug.core.failure import FailureKind

__all__ = [
    "ClientError",
    "CloseKind",
    "CloseReason",
    "Failure",
    "FailurePhase",
    "UpgradeOutcome",
]

FailurePhase = Literal[
    "dns", "tcp", "tls", "proxy", "handshake", "upgrade", "websocket", "namespace"
]
"""Where a connection failed: name resolution, TCP, TLS, the proxy, the Engine.IO handshake
(over polling; over the websocket that is ``websocket``), the polling→websocket upgrade, the
websocket itself, or the Socket.IO namespace connection."""


@dataclass(frozen=True)
class Failure:
    """Why a connection (or one transport's attempt) failed: facts for the verdict engine."""

    phase: FailurePhase
    kind: FailureKind
    message: str
    """Plain words, one line: what happened (not what to do)."""
    transport: str | None = None
    """``polling`` or ``websocket``: the transport of the attempt that failed."""
    reason: str | None = None
    """A short stable code, finer than ``kind``: ``refused``, ``timeout``, ``engine_error``,
    ``eio3_server``, ``eio4_server``, ``not_engineio``, ``bad_open``, ``connect_error``,
    ``closed``, ``parser_mismatch``, ``no_answer``, the wire's own codes..."""
    status: int | None = None
    """The HTTP status that refused, if any."""
    engine_error: EngineError | None = None
    """The Engine.IO error in the refusal's body (code 0–5 and message), if any."""
    server_message: str | None = None
    """A namespace refusal: the server's own message (``CONNECT_ERROR``), clipped."""
    server_data: Any = None
    """A namespace refusal: the ``data`` the server attached, as sent."""
    ws_code: int | None = None
    """The websocket close code, when a close frame ended it."""
    ws_who: str | None = None
    """Who ended the websocket (see ``conndebug.wire.Who``)."""
    elapsed_ms: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    """Facts behind the message (status lines, samples, addresses), JSON-able."""

    def with_elapsed(self, ms: float) -> Failure:
        """This failure with ``elapsed_ms`` set (kept if already set)."""
        if self.elapsed_ms is not None:
            return self
        return _replace(self, elapsed_ms=ms)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able facts (for reports and ``--json``)."""
        out: dict[str, Any] = {
            "phase": self.phase,
            "kind": self.kind.value,
            "message": self.message,
            "transport": self.transport,
            "reason": self.reason,
            "status": self.status,
            "elapsed_ms": self.elapsed_ms,
        }
        if self.engine_error is not None:
            out["engine_error"] = {
                "code": self.engine_error.code,
                "name": self.engine_error.name,
                "message": self.engine_error.message,
            }
        if self.server_message is not None:
            out["server_message"] = self.server_message
            out["server_data"] = self.server_data
        if self.ws_code is not None or self.ws_who is not None:
            out["ws_code"] = self.ws_code
            out["ws_who"] = self.ws_who
        if self.evidence:
            out["evidence"] = self.evidence
        return out


def _replace(failure: Failure, **changes: Any) -> Failure:
    import dataclasses

    return dataclasses.replace(failure, **changes)


class ClientError(Exception):
    """A connection step failed; :attr:`failure` says how."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


class CloseKind(enum.Enum):
    """How an open Engine.IO session ended."""

    SERVER_CLOSE = "server_close"
    """The server sent an Engine.IO ``CLOSE`` packet."""
    WS_CLOSED = "ws_closed"
    """The server closed the websocket with a close frame (``ws_code``)."""
    EOF = "eof"
    """The connection ended without a goodbye (no close frame, no ``CLOSE`` packet)."""
    RESET = "reset"
    """The connection was reset or failed at the socket level."""
    HTTP_ERROR = "http_error"
    """A polling request was answered with an error status (``status``, ``engine_error``)."""
    PING_TIMEOUT = "ping_timeout"
    """No heartbeat in time: v4, no ping within pingInterval + pingTimeout; v3, no pong within
    pingTimeout."""
    PROTOCOL = "protocol"
    """The server sent what is not Engine.IO (or broke the websocket protocol)."""
    TRANSPORT_ERROR = "transport_error"
    """A polling request failed on the wire (timeout, refused...)."""
    CLIENT = "client"
    """We closed it (gracefully, or dropped it on purpose)."""


_SOCKETIO_REASONS = {
    CloseKind.SERVER_CLOSE: "transport close",
    CloseKind.WS_CLOSED: "transport close",
    CloseKind.EOF: "transport close",
    CloseKind.RESET: "transport error",
    CloseKind.HTTP_ERROR: "transport error",
    CloseKind.PING_TIMEOUT: "ping timeout",
    CloseKind.PROTOCOL: "parse error",
    CloseKind.TRANSPORT_ERROR: "transport error",
    CloseKind.CLIENT: "io client disconnect",
}


@dataclass(frozen=True)
class CloseReason:
    """Why an open session ended: facts, and the words the JavaScript client would use."""

    kind: CloseKind
    message: str
    """Plain words, one line."""
    transport: str
    mono: float
    """Monotonic time it ended."""
    status: int | None = None
    engine_error: EngineError | None = None
    ws_code: int | None = None
    ws_reason: str | None = None
    ws_who: str | None = None
    dropped: bool = False
    """``CLIENT`` only: we dropped the connection without a goodbye (:meth:`abort`)."""

    @property
    def socketio_reason(self) -> str:
        """The JavaScript client's reason (``transport close``, ``ping timeout``...)."""
        return _SOCKETIO_REASONS[self.kind]

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "message": self.message,
            "transport": self.transport,
            "socketio_reason": self.socketio_reason,
        }
        for key in ("status", "ws_code", "ws_reason", "ws_who"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.engine_error is not None:
            out["engine_error"] = {
                "code": self.engine_error.code,
                "name": self.engine_error.name,
                "message": self.engine_error.message,
            }
        return out


@dataclass(frozen=True)
class UpgradeOutcome:
    """What became of a polling→websocket upgrade."""

    upgraded: bool
    ms: float
    failure: Failure | None = None
    """Why not (phase ``upgrade``): the websocket's HTTP status and Engine.IO error, no ``3probe``
    (and what came instead), the websocket closed, or no answer within the time limit."""
