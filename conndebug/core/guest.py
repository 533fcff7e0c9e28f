"""Guest sessions: the target's ``POST /api/guest`` contract (see target-contract.md).

:func:`create_guest_session` asks the guest endpoint for a session and sorts the answer into one of
three outcomes (:class:`GuestResult`):

- ``session``: the contract's ``201 {"success": true, "data": {"token", "user": {...}}}``;
- ``absent``: there is no such endpoint (404/405/410/501, another 4xx) or the answer is not the
  contract (HTML, JSON without a token): the caller continues *without auth* and says so;
- ``error``: a failure worth retrying (timeout, connection refused, TLS, proxy, 429, 5xx): the caller
  counts it as a failed connection attempt.

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
    "GuestResult",
    "GuestSession",
    "Post",
    "PostAnswer",
    "PostFailed",
    "create_guest_session",
    "session_from_token",
    "tls_verify_setting",
    "token_problem",
    "wire_post",
]

_ABSENT_STATUSES = frozenset({404, 405, 410, 501})
_RETRY_STATUSES = frozenset({408, 425, 429})
ANSWER_LIMIT = 256 * 1024
"""The most bytes of a guest endpoint's answer read (the contract's answer is well under 2 KiB)."""


@dataclass(frozen=True)
class PostAnswer:
    """What a guest endpoint answered to the POST: status, content type and (bounded) body."""

    status: int
    content_type: str
    body: bytes


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
        return PostAnswer(answer.status, answer.header("content-type") or "", answer.body)

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
        return GuestResult(error=f"guest session at {url}: {exc.why}", kind=exc.kind)
    elapsed_ms = (time.monotonic() - started) * 1000.0
    status, content_type, body = answer.status, answer.content_type, answer.body
    if status in _RETRY_STATUSES or status >= 500:
        return GuestResult(
            error=f"guest session at {url}: HTTP {status} ({_message(body, content_type)})",
            kind=FailureKind.HTTP,
            status=status,
            elapsed_ms=elapsed_ms,
        )
    if status in _ABSENT_STATUSES or not (200 <= status < 300):
        return GuestResult(
            absent=f"no guest endpoint at {url} (HTTP {status}: {_message(body, content_type)})",
            status=status,
            elapsed_ms=elapsed_ms,
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
