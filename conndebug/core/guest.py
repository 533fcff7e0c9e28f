"""Guest sessions: the target's ``POST /api/guest`` contract (see target-contract.md).

:func:`create_guest_session` asks the guest endpoint for a session and sorts the answer into one of
three outcomes (:class:`GuestResult`):

- ``session``: the contract's ``201 {"success": true, "data": {"token", "user": {...}}}``;
- ``absent``: there is no such endpoint (404/405/410/501, another 4xx), the answer is not the
  contract (HTML, JSON without a token), or no answer came within the (short) time limit: the
  caller continues *without auth* and says so. A server without this API often never answers
  unknown paths (the socket.io docs' bare ``createServer()``), so a silent endpoint is read as
  "no such API" as quickly as a 404, not waited on for the whole connect timeout;
- ``error``: a failure worth retrying (connection refused, TLS, proxy, 429, 5xx): the caller
  counts it as a failed connection attempt (a 429 carries the server's message and
  ``Retry-After``: the cause is the rate limit).

:func:`guest_session` is what the commands call: it reuses the session kept for this guest
endpoint (:mod:`conndebug.core.guest_store`, as the browser keeps its token) while its token is
valid, and creates (and keeps) a new one otherwise or when told to (``--new-session``).

The request itself is a small injected callable (:data:`Post`): by default :func:`wire_post`, one
request over the wire layer's :class:`~conndebug.wire.HttpClient` (no aiohttp, no httpx); a caller
with its own client (the probe) passes a post that uses it. Whatever carries it, the answer is read
here, in one place.

The token's claims (``exp``, ``userId``, ``sessionId``, ``username``) are read **without verifying**
the signature: the tool has no key, it only displays them. Requests use the same proxy and TLS
settings as the socket, and a time limit.
"""

from __future__ import annotations

import base64
import binascii
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conndebug.client.bounds import loads as bounded_loads
from conndebug.config import Settings
from conndebug.core.failure import FailureKind

__all__ = [
    "GUEST_TIMEOUT",
    "GuestResult",
    "GuestSession",
    "Post",
    "PostAnswer",
    "PostFailed",
    "create_guest_session",
    "guest_session",
    "session_from_token",
    "tls_verify_setting",
    "token_problem",
    "wire_post",
]

_ABSENT_STATUSES = frozenset({404, 405, 410, 501})
_RETRY_STATUSES = frozenset({408, 425, 429})
GUEST_TIMEOUT = 3.0
"""Seconds the guest endpoint gets (at most; less when the connect timeout is shorter): a guest
endpoint answers in milliseconds, and one that has not answered in 3 s is treated as absent."""
ANSWER_LIMIT = 256 * 1024
"""The most bytes of a guest endpoint's answer read (the contract's answer is well under 2 KiB)."""


@dataclass(frozen=True)
class PostAnswer:
    """What a guest endpoint answered to the POST: status, content type and (bounded) body."""

    status: int
    content_type: str
    body: bytes
    retry_after: str | None = None
    """The ``Retry-After`` header of the answer (a 429's), when there is one."""


class PostFailed(Exception):
    """No answer to the POST: ``kind`` says how, ``why`` in a few plain words."""

    def __init__(self, kind: FailureKind, why: str) -> None:
        super().__init__(why)
        self.kind = kind
        self.why = why


Post = Callable[[str, Mapping[str, str], bytes, float], Awaitable[PostAnswer]]
"""``post(url, headers, body, timeout)``: one POST, no redirect followed, the answer's body read
up to :data:`ANSWER_LIMIT` bytes, the whole within ``timeout``; raises :class:`PostFailed`. It
carries the settings' proxy and TLS verification."""


@dataclass(frozen=True)
class GuestSession:
    """A token and what it says about its user (claims read without verifying)."""

    token: str
    username: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    expires_at: float | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)
    source: str = "guest"
    """``guest`` (created here) or ``token`` (given with ``--token``)."""
    problem: str | None = None
    """What is wrong with the token's form (see :func:`token_problem`), if anything."""


@dataclass(frozen=True)
class GuestResult:
    """What the guest endpoint answered: a session, "absent" (go on without auth), or an error."""

    session: GuestSession | None = None
    absent: str | None = None
    """Why there is no guest session to be had (the caller connects without auth)."""
    error: str | None = None
    """Why creating a session failed this time (the caller retries later)."""
    kind: FailureKind | None = None
    status: int | None = None
    elapsed_ms: float | None = None
    message: str | None = None
    """The server's own words (its ``message`` field, or what the body is), when it answered."""
    retry_after: str | None = None
    """The answer's ``Retry-After`` (a 429's), when there was one."""
    reused: bool = False
    """The session is the one kept for this guest endpoint (no request was made)."""

    def facts(self) -> dict[str, Any]:
        """JSON-able facts for a ``Note(topic="guest")`` (the verdict rules read them)."""
        outcome = "session" if self.session else "absent" if self.absent else "error"
        if self.reused:
            outcome = "reused"
        out: dict[str, Any] = {"outcome": outcome}
        for key in ("status", "message", "retry_after"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.kind is not None:
            out["failure"] = self.kind.value
        why = self.absent or self.error
        if why:
            out["why"] = why
        return out


def _segment(text: str) -> Any:
    """One base64url JSON segment of a JWT (``ValueError`` when it is not one)."""
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    return bounded_loads(raw)


def _claims(token: str) -> dict[str, Any]:
    """The claims of a compact JWT, read without verifying (no key here; PyJWT costs 0.1 s to
    import with its cryptography backend, for a base64 decode)."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        header, claims = _segment(parts[0]), _segment(parts[1])
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return {}
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return {}
    return claims


def token_problem(token: str) -> str | None:
    """What is wrong with a token's form: not a readable JWT, or an unsigned one (``alg: none``).

    Nothing is verified (the tool has no key); this only says what anyone can read from it.
    """
    unreadable = "the token is not a readable JWT: its user and expiry cannot be shown"
    parts = token.split(".")
    if len(parts) != 3:
        return unreadable
    try:
        header = _segment(parts[0])
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return unreadable
    if not isinstance(header, dict) or not _claims(token):
        return unreadable
    if str(header.get("alg", "")).lower() == "none":
        return "the token is unsigned (alg: none): a server that accepts it accepts forged tokens"
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def session_from_token(
    token: str, user: Mapping[str, Any] | None = None, *, source: str = "token"
) -> GuestSession:
    """A :class:`GuestSession` for ``token``, its fields from ``user`` or else from the claims."""
    claims = _claims(token)
    user = user or {}
    exp = claims.get("exp")
    return GuestSession(
        token=token,
        username=_str(user.get("username")) or _str(claims.get("username")),
        user_id=_str(user.get("id")) or _str(claims.get("userId")) or _str(claims.get("sub")),
        session_id=_str(user.get("sessionId")) or _str(claims.get("sessionId")),
        expires_at=float(exp)
        if isinstance(exp, (int, float)) and not isinstance(exp, bool)
        else None,
        claims=claims,
        source=source,
        problem=token_problem(token),
    )


def _message(body: bytes, content_type: str) -> str:
    """The server's ``message`` field, or a short description of the body."""
    text = body.decode("utf-8", "replace")
    try:
        data = bounded_loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    if "html" in content_type or text.lstrip()[:1] == "<":
        return "an HTML page"
    text = text.strip().replace("\n", " ")
    return (text[:80] + "…") if len(text) > 80 else (text or "an empty body")


def tls_verify_setting(settings: Settings) -> ssl.SSLContext | bool:
    """httpx's ``verify``: like the socket's (the system store, a CA bundle, or off)."""
    if settings.insecure:
        return False
    if settings.ca_bundle:
        return ssl.create_default_context(cafile=settings.ca_bundle)
    return ssl.create_default_context()


def wire_post(settings: Settings) -> Post:
    """The guest POST over the wire layer, with the settings' proxy (and ``NO_PROXY``) and TLS
    verification (``--ca-bundle``, ``--insecure``); a client of its own per POST, closed after."""

    async def post(url: str, headers: Mapping[str, str], body: bytes, timeout: float) -> PostAnswer:
        from conndebug.wire import HttpClient, WireError

        try:
            async with HttpClient(settings, timeout=timeout) as http:
                answer = await http.request(
                    "POST", url, headers=headers, body=body, limit=ANSWER_LIMIT
                )
        except WireError as exc:
            raise PostFailed(exc.kind, exc.message) from None
        return PostAnswer(
            answer.status,
            answer.header("content-type") or "",
            answer.body,
            answer.header("retry-after"),
        )

    return post


async def create_guest_session(
    settings: Settings, *, timeout: float | None = None, post: Post | None = None
) -> GuestResult:
    """``POST`` the guest endpoint once (bounded by ``timeout``, by default ``--connect-timeout``
    as the whole connection attempt is) and sort out the answer.

    ``post`` carries the request (default: :func:`wire_post` of the settings).
    """
    if timeout is None:
        timeout = settings.connect_timeout
    url = settings.guest_url
    headers = dict(settings.headers)
    if settings.origin:
        headers["Origin"] = settings.origin
    headers.setdefault("Accept", "application/json")
    headers["Content-Type"] = "application/json"
    send = post or wire_post(settings)
    started = time.monotonic()
    try:
        answer = await send(url, headers, b"{}", timeout)
    except PostFailed as exc:
        if exc.kind is FailureKind.TIMEOUT:
            return GuestResult(
                absent=f"no guest endpoint at {url} (no answer within {timeout:g} s)",
                kind=exc.kind,
                elapsed_ms=(time.monotonic() - started) * 1000.0,
            )
        return GuestResult(error=f"guest session at {url}: {exc.why}", kind=exc.kind)
    elapsed_ms = (time.monotonic() - started) * 1000.0
    status, content_type, body = answer.status, answer.content_type, answer.body
    message = _message(body, content_type)
    if status in _RETRY_STATUSES or status >= 500:
        return GuestResult(
            error=f"guest session at {url}: HTTP {status} ({message})",
            kind=FailureKind.HTTP,
            status=status,
            elapsed_ms=elapsed_ms,
            message=message,
            retry_after=answer.retry_after,
        )
    if status in _ABSENT_STATUSES or not (200 <= status < 300):
        return GuestResult(
            absent=f"no guest endpoint at {url} (HTTP {status}: {message})",
            status=status,
            elapsed_ms=elapsed_ms,
            message=message,
        )
    try:
        data_all = bounded_loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        data_all = None
    data = data_all.get("data") if isinstance(data_all, dict) else None
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        return GuestResult(
            absent=f"{url} answered HTTP {status} but not the guest-session contract "
            f"(no data.token; got {_message(body, content_type)})",
            status=status,
            elapsed_ms=elapsed_ms,
        )
    assert isinstance(data, dict)
    user = data.get("user")
    session = session_from_token(token, user if isinstance(user, dict) else None, source="guest")
    return GuestResult(session=session, status=status, elapsed_ms=elapsed_ms)


async def guest_session(
    settings: Settings,
    *,
    timeout: float = GUEST_TIMEOUT,
    post: Post | None = None,
    reuse: bool = True,
    now: float | None = None,
) -> GuestResult:
    """A guest session for ``settings``: the one kept for its guest endpoint while its token is
    valid (``reused``), else a new one from the endpoint, kept for the next time.

    ``reuse=False`` (or ``--new-session``) always asks the endpoint. Nothing is kept or reused
    for a ``--token`` (the caller does not come here) or when the store cannot be written.
    """
    from conndebug.core import guest_store

    moment = time.time() if now is None else now
    if reuse and not settings.new_session:
        kept = guest_store.load(settings.guest_url, now=moment)
        if kept is not None:
            return GuestResult(session=kept, reused=True)
    result = await create_guest_session(settings, timeout=timeout, post=post)
    if result.session is not None:
        guest_store.save(settings.guest_url, result.session, now=moment)
    return result
