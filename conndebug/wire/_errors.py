"""The wire layer's one exception family.

::

    WireError                 kind (FailureKind), phase, message (plain words), reason, evidence
    ├── TlsError              the TLS handshake failed: untrusted, expired, hostname, plain_http...
    ├── ProxyError            the proxy did not open the way: no answer, 407, 403, 5xx...
    ├── NotHttp               what came back cannot be read as HTTP/1.x
    ├── WsRefused             the server answered the websocket upgrade with something but 101
    └── WsClosed              the websocket ended: who ended it, and how

A timeout is a plain :class:`WireError` of kind ``TIMEOUT`` whose ``phase`` names the step that
hung (``dns``, ``tcp``, ``proxy``, ``tls``, ``http``, ``websocket``). ``reason`` is a short stable
code for programs (``refused``, ``unreachable``, ``untrusted``, ``auth_required``...), ``message``
the words a user reads, ``evidence`` the facts behind them (JSON-able values only).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from conndebug.core.failure import FailureKind

__all__ = [
    "NotHttp",
    "Phase",
    "ProxyError",
    "TlsError",
    "Who",
    "WireError",
    "WsClosed",
    "WsRefused",
]

Phase = Literal["dns", "tcp", "proxy", "tls", "http", "websocket"]
"""The step of a connection: name resolution, TCP, the proxy, TLS, an HTTP exchange, a websocket."""

Who = Literal["server", "eof", "reset", "us", "protocol", "limit", "timeout"]
"""Who (or what) ended a websocket:

- ``server``: the server sent a close frame (``code`` and ``reason`` are its own);
- ``eof``: the connection ended without a close frame;
- ``reset``: the connection was reset (or another socket error ended it);
- ``us``: we closed it (:meth:`~conndebug.wire.WebSocket.close`);
- ``protocol``: the server broke the websocket protocol (we closed with 1002/1007);
- ``limit``: a message larger than the limit (we closed with 1009);
- ``timeout``: our close handshake got no answer in time (the connection was dropped).
"""


class WireError(Exception):
    """A step on the wire failed; ``str(error)`` is ``message``."""

    def __init__(
        self,
        kind: FailureKind,
        phase: Phase,
        message: str,
        *,
        reason: str | None = None,
        evidence: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        """Why, as the verdicts see it (``REFUSED``, ``DNS``, ``TIMEOUT``, ``TLS``, ``PROXY``...)."""
        self.phase: Phase = phase
        """The step that failed (for a timeout: the step that hung)."""
        self.message = message
        """Plain words, one line."""
        self.reason = reason
        """A short stable code for programs, finer than ``kind`` (``unreachable``, ``expired``)."""
        self.evidence: dict[str, Any] = dict(evidence or {})
        """The facts behind the message (addresses, status lines, certificate names...)."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.kind.name}, {self.phase!r}, {self.message!r}"
            + (f", reason={self.reason!r}" if self.reason else "")
            + ")"
        )


class TlsError(WireError):
    """The TLS handshake failed. ``reason``: ``untrusted``, ``expired``, ``hostname`` (a
    certificate for another name), ``plain_http`` (the port answered plain HTTP; ``plain_answer``
    holds its status line), or ``handshake`` (anything else). ``certificate`` holds what the
    server presented (subject, issuer, not_before, not_after, names) when it could be read."""

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        certificate: Mapping[str, Any] | None = None,
        plain_answer: str | None = None,
        verify_code: int | None = None,
        evidence: Mapping[str, Any] | None = None,
    ) -> None:
        facts = dict(evidence or {})
        if certificate:
            facts.update(certificate)
        if plain_answer:
            facts["plain_answer"] = plain_answer
        if verify_code is not None:
            facts["verify_code"] = verify_code
        super().__init__(FailureKind.TLS, "tls", message, reason=reason, evidence=facts)
        self.certificate: dict[str, Any] = dict(certificate or {})
        self.plain_answer = plain_answer
        self.verify_code = verify_code


class ProxyError(WireError):
    """The proxy did not open the way. ``reason``: ``unreachable`` (no connection to the proxy),
    ``no_answer`` (it never answered ``CONNECT`` in time), ``closed``, ``not_http``,
    ``auth_required`` (407 without credentials), ``auth_rejected`` (407 with them), ``forbidden``
    (403), ``status`` (any other non-2xx). ``status``, ``status_line`` and ``headers`` are the
    proxy's own answer when there was one (evidence for the report)."""

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        status: int | None = None,
        status_line: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        evidence: Mapping[str, Any] | None = None,
        kind: FailureKind = FailureKind.PROXY,
    ) -> None:
        facts = dict(evidence or {})
        if status is not None:
            facts["status"] = status
        if status_line:
            facts["status_line"] = status_line
        super().__init__(kind, "proxy", message, reason=reason, evidence=facts)
        self.status = status
        self.status_line = status_line
        self.headers = headers


class NotHttp(WireError):
    """What came back is not HTTP/1.x: the message reads ``the answer is not HTTP (why)``."""

    def __init__(self, why: str, *, phase: Phase = "http", sample: str | None = None) -> None:
        super().__init__(
            FailureKind.PROTOCOL,
            phase,
            f"the answer is not HTTP ({why})",
            reason="not_http",
            evidence={"sample": sample} if sample else None,
        )
        self.why = why


class WsRefused(WireError):
    """The server answered the websocket upgrade with ``status`` (not 101).

    ``headers`` are the answer's (lower-case names, in order), ``body`` its first bytes (bounded),
    ``http_version`` e.g. ``1.1``.
    """

    def __init__(
        self,
        status: int,
        reason_phrase: str,
        headers: tuple[tuple[str, str], ...] = (),
        body: bytes = b"",
        *,
        http_version: str = "1.1",
        truncated: bool = False,
    ) -> None:
        line = f"HTTP {status} {reason_phrase}".rstrip()
        super().__init__(
            FailureKind.HTTP,
            "websocket",
            f"the server answered the websocket upgrade with {line}",
            reason="refused",
            evidence={"status": status, "status_line": line},
        )
        self.status = status
        self.reason_phrase = reason_phrase
        self.headers = headers
        self.body = body
        self.http_version = http_version
        self.truncated = truncated

    @property
    def status_line(self) -> str:
        return f"HTTP {self.status} {self.reason_phrase}".rstrip()

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive)."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k == lowered), None)


class WsClosed(WireError):
    """The websocket ended. ``who`` says who ended it (see :data:`Who`); ``code`` and
    ``close_reason`` are the close frame's (the server's when ``who == "server"``, ours when we
    closed); ``clean`` is whether both close frames were exchanged."""

    def __init__(
        self,
        who: Who,
        message: str,
        *,
        code: int | None = None,
        close_reason: str = "",
        clean: bool = False,
    ) -> None:
        kind = FailureKind.PROTOCOL if who in ("protocol", "limit") else FailureKind.CLOSED
        facts: dict[str, Any] = {"who": who}
        if code is not None:
            facts["code"] = code
        if close_reason:
            facts["close_reason"] = close_reason
        super().__init__(kind, "websocket", message, reason=who, evidence=facts)
        self.who: Who = who
        self.code = code
        self.close_reason = close_reason
        self.clean = clean
