"""Session keeping: the token the connection uses, its expiry and its regeneration.

:class:`SessionKeeper` does what the seed's web client does with its guest session
(target-contract.md), and says so on the bus:

- :meth:`~SessionKeeper.ensure` before each attempt: the given ``--token`` (read, never replaced),
  or the guest session kept for this guest endpoint (as the browser keeps its token, see
  :func:`conndebug.core.guest.guest_session`), or a new one (``session_created``); an endpoint
  that is not there (404, HTML, not the contract, no answer within a few seconds) means
  connecting without auth (a note, once); one that cannot be reached (DNS, refused, TLS, the
  proxy) means this attempt goes without a token (the connection says why with all its facts);
  one that answers with an error (429, 5xx) makes the attempt fail (a ``connect_error`` of phase
  ``guest`` with the answer's facts, retried);
- :meth:`~SessionKeeper.after_rejection` when the server refused the namespace: an expiry message
  (:func:`~conndebug.core.session.is_expiry_message`) → ``session_expired`` (the kept session is
  forgotten) → a new guest session
  → ``session_regenerated`` → reconnect at once, unless the token was given (``--token`` is
  judged, not swapped), there is no guest endpoint, or the loop guard stops a server that
  rejects its own fresh sessions; a kept guest session refused for another reason is dropped and
  replaced once (as the probe does); any other refusal is final;
- the expiry simulation's part (``x``) where the server cannot be told to forget the session:
  the session dropped the way a browser meets an expiry, and a new one created.

It decides; the monitor (the cycle's owner) applies the decision to its state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from conndebug.config import Settings
from conndebug.core.clock import Clock
from conndebug.core.events import (
    ConnectError,
    Event,
    Note,
    SessionCreated,
    SessionExpired,
    SessionRegenerated,
)
from conndebug.core.failure import FailureKind
from conndebug.core.guest import GuestResult, GuestSession, session_from_token
from conndebug.core.redact import Redactor
from conndebug.core.session import RegenerationGuard, is_expiry_message

if TYPE_CHECKING:
    from conndebug.client import Failure

__all__ = ["REGENERATE_PAUSE_S", "CreateGuest", "Decision", "GuestFailure", "SessionKeeper"]

REGENERATE_PAUSE_S = 0.1
"""The web client reconnects 100 ms after creating the new guest session."""
_SAME_FOR_THE_SOCKET = frozenset(
    {FailureKind.DNS, FailureKind.REFUSED, FailureKind.TLS, FailureKind.PROXY}
)
"""Guest-endpoint failures the connection would meet the same way on the same origin."""

CreateGuest = Callable[[Settings], Awaitable[GuestResult]]
"""``create(settings)`` → a guest session (kept or new), "absent" or an error; a new one when
asked with ``fresh=True`` (the regeneration after an expiry)."""
Emit = Callable[..., Any]


@dataclass(frozen=True)
class GuestFailure:
    """The guest endpoint failed this time (the attempt fails and is retried)."""

    kind: FailureKind
    message: str
    status: int | None = None
    phase: str = "guest"
    transport: str | None = None


@dataclass(frozen=True)
class Decision:
    """What to do after a refusal: ``retry`` (backoff), ``now`` (regenerated) or ``stop``."""

    action: Literal["retry", "now", "stop"]
    verdict: str | None = None
    """The plain-words line for the snapshot (``stop``: why it stopped)."""


class SessionKeeper:
    """The session of one monitor (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        redactor: Redactor,
        emit: Callable[..., Event | None],
        note: Callable[..., None],
        create_guest: CreateGuest | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.redactor = redactor
        self._emit = emit
        self._note = note
        self._create_guest = create_guest
        self.session: GuestSession | None = None
        self.created_at: float | None = None
        self.guest_absent = False
        self.guard = RegenerationGuard()

    # -- what the attempt sends -------------------------------------------------------------

    def auth(self) -> dict[str, Any] | None:
        """The ``auth`` object of the next attempt: ``--auth-json`` plus the token, if any."""
        auth = dict(self.settings.auth)
        if self.session is not None:
            auth["token"] = self.session.token
        return auth or None

    @property
    def source(self) -> str:
        """``guest``, ``token`` or ``none`` (what the snapshot shows)."""
        session = self.session
        return session.source if session is not None else "none"

    def reset_for_new_cycle(self) -> None:
        """A new cycle by hand (reconnect, toggle): the guest endpoint may be back."""
        self.guest_absent = False

    async def ensure(self) -> GuestFailure | None:
        """Have the token the attempt should use (or none); a failure if the endpoint failed."""
        s = self.settings
        if self.session is not None:
            return None
        if s.token:
            self._adopt(session_from_token(s.token, source="token"))
            self._announce(self.session)
            return None
        if s.no_guest or self.guest_absent:
            return None
        result = await self._guest(fresh=False)
        if result.session is not None:
            self._adopt(result.session)
            self._announce(result.session)
            return None
        if result.absent is not None:
            self.guest_absent = True
            self._emit(
                Note,
                text=self.redactor.text(f"{result.absent}; connecting without auth"),
                level="warning",
                topic="guest",
                status=result.status,
                url=self.redactor.text(s.guest_url),
                facts=self.redactor.value(result.facts()),
            )
            return None
        if result.kind in _SAME_FOR_THE_SOCKET:
            # DNS, refused, TLS, the proxy: the connection itself meets the same (and says it
            # with all its facts), as the web client would go on without a token.
            self._emit(
                Note,
                text=self.redactor.text(
                    f"no guest session ({result.error}); connecting without a token"
                ),
                level="warning",
                topic="guest",
                status=result.status,
                url=self.redactor.text(s.guest_url),
                facts=self.redactor.value(result.facts()),
            )
            return None
        return self._guest_failed(result, "cannot create a guest session")

    async def _guest(self, *, fresh: bool) -> GuestResult:
        if self._create_guest is not None:
            return await self._create_guest(self.settings)
        from conndebug.core.guest import GUEST_TIMEOUT, guest_session

        timeout = min(self.settings.connect_timeout, GUEST_TIMEOUT)
        return await guest_session(self.settings, timeout=timeout, reuse=not fresh)

    def _guest_failed(self, result: GuestResult, what: str) -> GuestFailure:
        """The endpoint failed this time: a ``connect_error`` of phase ``guest`` with the facts."""
        message = self.redactor.text(f"{what}: {result.error or result.absent}")
        kind = result.kind or FailureKind.OTHER
        self._emit(
            ConnectError,
            message=message,
            source="transport",
            phase="guest",
            failure=kind.value,
            status=result.status,
            url=self.redactor.text(self.settings.guest_url),
            facts=self.redactor.value(result.facts()),
        )
        return GuestFailure(kind=kind, message=message, status=result.status)

    def _adopt(self, session: GuestSession) -> None:
        self.redactor.add(session.token)
        self.session = session
        self.created_at = self.clock.time()

    def _announce(self, session: GuestSession | None) -> None:
        assert session is not None
        self._emit(
            SessionCreated,
            username=session.username,
            user_id=session.user_id,
            session_id=session.session_id,
            expires_at=session.expires_at,
            token=self.redactor.secret(session.token, "token"),
            source=session.source,
        )
        if session.problem is not None:
            unsigned = "alg: none" in session.problem
            self._note(
                f"{'--token' if session.source == 'token' else 'guest session'}: {session.problem}",
                level="warning" if unsigned or session.source != "token" else "info",
                topic="session",
            )

    # -- after the server refused -----------------------------------------------------------

    async def after_rejection(self, failure: Failure) -> Decision:
        """The server refused the namespace: regenerate on an expiry message, else stop."""
        raw = failure.server_message if failure.server_message is not None else failure.message
        message = self.redactor.text(raw)
        session = self.session
        if not is_expiry_message(raw):
            if session is not None and session.source == "stored":
                return await self._replace_kept(message)
            return Decision("stop", f"the server rejected the connection: “{message}”")
        token_expired = None
        if session is not None and session.expires_at is not None:
            token_expired = session.expires_at <= self.clock.time()
        expired: dict[str, Any] = {
            "message": message,
            "session_id": session.session_id if session else None,
            "source": session.source if session else None,
            "token_expired": token_expired,
        }
        if self.settings.token:
            what = {
                True: "the given token expired (its own expiry time has passed)",
                False: "the server dropped the given token's session (the token itself is "
                "still valid)",
                None: "the server refused the given token as expired",
            }[token_expired]
            self._emit(
                SessionExpired,
                **expired,
                renewable=False,
                why_not="a --token is used as given, never replaced",
            )
            return Decision(
                "stop",
                f"{what} (“{message}”); a --token cannot be regenerated (it is used as given, "
                "never replaced): get a new token, or drop --token to use a guest session",
            )
        if self.settings.no_guest or self.guest_absent:
            self._emit(SessionExpired, **expired, renewable=False, why_not="no guest endpoint")
            return Decision(
                "stop",
                f"the server says the session expired (“{message}”) and there is no guest "
                "endpoint to get a new one from",
            )
        now = self.clock.monotonic()
        guard = self.guard
        if not guard.allows(now):
            self._emit(
                SessionExpired,
                **expired,
                renewable=False,
                why_not=f"{guard.recent(now)} new sessions were refused within "
                f"{guard.window_s:.0f} s",
            )
            return Decision(
                "stop",
                f"the session expired again right after {guard.recent(now)} new guest "
                f"sessions within {guard.window_s:.0f} s (“{message}”): stopped to avoid a "
                "loop — the server rejects its own fresh sessions",
            )
        self._emit(SessionExpired, **expired, renewable=True)
        previous = session.session_id if session else None
        self.session = None
        self._forget_kept()
        fresh = await self._fresh_session("the session expired")
        if isinstance(fresh, Decision):
            return fresh
        count = guard.record(now)
        self._emit(
            SessionRegenerated,
            username=fresh.username,
            user_id=fresh.user_id,
            session_id=fresh.session_id,
            previous_session_id=previous,
            count=count,
        )
        await self.clock.sleep(REGENERATE_PAUSE_S)
        return Decision("now")

    async def _replace_kept(self, message: str) -> Decision:
        """The kept guest session refused for another reason than expiry (a server restarted
        with another key, another server on the same address): drop it and use a new one, as
        the probe does. Once: the new session's source is ``guest``, so a second refusal is
        final."""
        self._forget_kept()
        self.session = None
        self._note(
            f"the kept guest session was refused (“{message}”); creating a new one",
            level="info",
            topic="guest",
        )
        fresh = await self._fresh_session(f"the kept guest session was refused (“{message}”)")
        if isinstance(fresh, Decision):
            return fresh
        self._announce(fresh)
        return Decision("now")

    async def _fresh_session(self, what: str) -> GuestSession | Decision:
        """A new guest session, adopted; or what to do when none can be had (``what``: why a
        new one was needed, for the verdict line)."""
        result = await self._guest(fresh=True)
        if result.session is None:
            why = self.redactor.text(result.error or result.absent or "no session")
            self._guest_failed(result, "cannot create a new guest session")
            if result.absent is not None:
                return Decision("stop", f"{what} and no new one can be created: {why}")
            return Decision("retry", why)
        self._adopt(result.session)
        return result.session

    def _forget_kept(self) -> None:
        """The server refused the kept session: the next start must not reuse it."""
        if self._create_guest is None and not self.settings.token:
            from conndebug.core import guest_store

            guest_store.forget(self.settings.guest_url)

    # -- the expiry simulation --------------------------------------------------------------

    async def expire_here(self) -> str | None:
        """Expire the session the way a browser meets it when the server cannot be told to.

        The client's session is gone (the web client's "Test Session Expiry" button removes the
        stored token), so a new guest session is created: ``session_expired`` →
        ``session_regenerated``; the caller reconnects with it. The old session stays valid on
        the server until it expires there. Returns why it could not, or None.
        """
        session = self.session
        assert session is not None
        self._emit(
            SessionExpired,
            message="simulated here (x): the client dropped its session; the server was not told",
            session_id=session.session_id,
            source=session.source,
            renewable=True,
        )
        self.session = None
        self._forget_kept()
        result = await self._guest(fresh=True)
        if result.session is None:
            self._guest_failed(result, "cannot create a new guest session")
            why = self.redactor.text(result.error or result.absent or "no session")
            return f"the session was dropped (x) and no new one can be created: {why}"
        self._adopt(result.session)
        self._emit(
            SessionRegenerated,
            username=result.session.username,
            user_id=result.session.user_id,
            session_id=result.session.session_id,
            previous_session_id=session.session_id,
        )
        self.guard.record_requested()
        return None
