"""Measuring what the path does to held connections, on conndebug's own client.

The rest of :mod:`conndebug.core.path` judges facts; this module gets them, with
:mod:`conndebug.client` over :mod:`conndebug.wire` (it is the one module of the package that
touches the network, and the package does not import it)::

    pair = await hold_pair(http, target, max_s=600, auth=auth)       # quiet + chatty, side by side
    poll = await hold_long_poll(http, target, timeout=20)            # one GET held a pingInterval
    sticky = await stickiness(http, HttpClient(settings), target)    # with and without cookies
    facts = HoldFacts(pair.quiet, pair.chatty, pair.held_s, ...)     # → cuts.HoldFacts.judge()

- :func:`hold_pair`: two connections made like a web client's, one **quiet** (no round trips:
  only the server's heartbeat crosses it) and one **chatty** (a round trip every second: a
  ``CONNECT`` to a namespace no server has, answered at once). It ends at the first cut plus
  :data:`~conndebug.core.path.cuts.TOLERANCE_S` and a little (to see whether the other is cut at
  the same time), at ``max_s``, or when ``stop`` is set (Ctrl-C: what was learnt so far). A
  connection's life is measured from the start of its Engine.IO handshake to the end the client
  saw (:class:`~conndebug.client.CloseReason`: the close frame, an EOF, an HTTP error on a poll).
- :func:`hold_long_poll`: an Engine.IO session over polling with nothing to say: its first GET
  is held by the server until the heartbeat (a ping after ``pingInterval``; Engine.IO 3: the
  pong to the client's ping). Answered then → nothing cuts held requests sooner; cut before →
  the time and the answer that cut it (``HTTP 504``...).
- :func:`stickiness`: a few polling sessions, each with a couple of round trips (a new request
  each), sent with the cookies the path set and without them. Every request of a session must
  reach the node that made it (else ``Session ID unknown``).

Every wait is bounded (``max_s``, the handshake's ``timeout``, the heartbeat plus a margin).
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conndebug.core.path.cuts import TOLERANCE_S, Heartbeat, Held, LongPollFacts

if TYPE_CHECKING:
    from conndebug.client import CloseReason, Connected, SocketClient, Target
    from conndebug.client.engine import HttpLike
    from conndebug.client.sio import ParserName
    from conndebug.client.tap import PacketRecord, TransportName
    from conndebug.wire import Response

__all__ = [
    "CHATTY_EVERY_S",
    "GRACE_S",
    "HoldError",
    "HoldProgress",
    "PairResult",
    "StickCheck",
    "Stickiness",
    "hold_long_poll",
    "hold_pair",
    "stickiness",
]

CHATTY_EVERY_S = 1.0
"""The chatty connection's round trips: one a second."""
GRACE_S = TOLERANCE_S + 0.2
"""After the first cut, how long the other connection is given to be cut too (two cuts within
:data:`~conndebug.core.path.cuts.TOLERANCE_S` are "at the same time"; the rest is for the event
loop). An idle timeout is therefore named this long after its cut, a lifetime cap at once."""
_LONG_POLL_MARGIN_S = 5.0
"""How long past ``pingInterval`` a held GET is waited for before "the server did not answer"."""


class HoldError(Exception):
    """A connection to hold could not be made (the message says why, in plain words)."""


@dataclass(frozen=True)
class HoldProgress:
    """Where a hold stands, for a progress line."""

    elapsed_s: float
    max_s: float
    quiet_lived_s: float | None
    """None while the quiet connection is open."""
    chatty_lived_s: float | None
    round_trips: int
    rtt_ms: float | None
    """The last round trip's time."""


@dataclass(frozen=True)
class PairResult:
    """Two connections held side by side."""

    quiet: Held
    chatty: Held
    held_s: float
    """How long the test held (from both connected to its end)."""
    transport: str
    heartbeat: Heartbeat
    round_trips: int
    rtt_ms: float | None
    """The median round trip of the chatty connection."""
    interrupted: bool = False
    quiet_close: Mapping[str, Any] | None = None
    """How the quiet connection ended (the client's close facts), when it was cut."""
    chatty_close: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class StickCheck:
    """One kind of session (with or without cookies): did every request reach its node?"""

    ok: bool
    sessions: int
    """Sessions tried."""
    round_trips: int
    """Round trips answered, over all sessions."""
    why: str = ""
    """How the first session that broke broke (``HTTP 400 … Session ID unknown``)."""
    cookies: tuple[str, ...] = ()
    """Names of the cookies the path set on the way (values are never kept)."""


@dataclass(frozen=True)
class Stickiness:
    """Sessions with the path's cookies and without them."""

    with_cookies: StickCheck
    without_cookies: StickCheck

    def to_evidence(self) -> dict[str, Any]:
        return {
            "with_cookies_ok": self.with_cookies.ok,
            "without_cookies_ok": self.without_cookies.ok,
            "sessions": self.with_cookies.sessions + self.without_cookies.sessions,
            "cookies": list(self.with_cookies.cookies) or None,
            "why_with": self.with_cookies.why or None,
            "why_without": self.without_cookies.why or None,
        }


def _close_text(close: CloseReason) -> str:
    return f"{close.socketio_reason}: {close.message}"


# -- two connections side by side -----------------------------------------------------------------


@dataclass
class _One:
    conn: Connected
    opened: float
    """Monotonic time its Engine.IO handshake started."""

    @property
    def client(self) -> SocketClient:
        return self.conn.client

    def lived(self) -> float | None:
        closed = self.client.closed
        if not closed.done() or closed.cancelled():
            return None
        return max(0.0, closed.result().mono - self.opened)

    def close_facts(self) -> dict[str, Any] | None:
        closed = self.client.closed
        if not closed.done() or closed.cancelled():
            return None
        return closed.result().as_dict()

    def reason(self) -> str:
        closed = self.client.closed
        if not closed.done() or closed.cancelled():
            return ""
        return _close_text(closed.result())


async def _open_one(
    http: HttpLike,
    target: Target,
    *,
    auth: dict[str, Any] | None,
    namespace: str,
    transports: Sequence[TransportName],
    parser: ParserName,
    timeout: float,
    ws_timeout: float,
) -> _One:
    from conndebug.client import ClientError
    from conndebug.client.connecting import connect

    t0 = time.monotonic()
    try:
        conn = await connect(
            http,
            target,
            namespace=namespace,
            auth=auth,
            transports=transports,
            parser=parser,
            connect_timeout=timeout,
            ws_timeout=ws_timeout,
            detect_parser=False,
        )
    except ClientError as exc:
        raise HoldError(f"a connection to hold could not be made: {exc.failure.message}") from None
    # its life starts with the handshake that worked (after a fallback's failed websocket)
    failed_s = sum((f.elapsed_ms or 0.0) for f in conn.attempts) / 1000.0
    return _One(conn, t0 + min(failed_s, conn.elapsed_ms / 1000.0))


async def _close(one: _One | None) -> None:
    if one is None:
        return
    from conndebug.wire import WireError

    with contextlib.suppress(asyncio.TimeoutError, OSError, WireError):  # the hold ends anyway
        await asyncio.wait_for(one.client.close(timeout=0.5), 1.0)
    one.client.abort()


async def hold_pair(
    http: HttpLike,
    target: Target,
    *,
    max_s: float,
    auth: dict[str, Any] | None = None,
    namespace: str = "/",
    transports: Sequence[TransportName] = ("websocket", "polling"),
    parser: ParserName = "json",
    timeout: float = 20.0,
    ws_timeout: float = 3.0,
    every_s: float = CHATTY_EVERY_S,
    grace_s: float = GRACE_S,
    stop: asyncio.Event | None = None,
    progress: Callable[[HoldProgress], None] | None = None,
) -> PairResult:
    """Hold a quiet and a chatty connection side by side (see the module's docstring).

    Raises :class:`HoldError` when either cannot be made.
    """
    kwargs: dict[str, Any] = {
        "auth": auth,
        "namespace": namespace,
        "transports": transports,
        "parser": parser,
        "timeout": timeout,
        "ws_timeout": ws_timeout,
    }
    opened = await asyncio.gather(
        _open_one(http, target, **kwargs),
        _open_one(http, target, **kwargs),
        return_exceptions=True,
    )
    ones = [o for o in opened if isinstance(o, _One)]
    failed = [o for o in opened if isinstance(o, BaseException)]
    if failed:
        for one in ones:
            await _close(one)
        raise failed[0]
    quiet, chatty = ones
    try:
        return await _hold(quiet, chatty, max_s, every_s, grace_s, stop, progress)
    finally:
        await asyncio.gather(_close(quiet), _close(chatty))


async def _hold(
    quiet: _One,
    chatty: _One,
    max_s: float,
    every_s: float,
    grace_s: float,
    stop: asyncio.Event | None,
    progress: Callable[[HoldProgress], None] | None,
) -> PairResult:
    start = time.monotonic()
    deadline = start + max_s
    rtts: list[float] = []
    trip: asyncio.Future[float | None] | None = None
    next_tick = start
    first_cut: float | None = None
    stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
    last_progress = start
    cuts_told = 0

    def snapshot(now: float) -> HoldProgress:
        return HoldProgress(
            now - start, max_s, quiet.lived(), chatty.lived(), len(rtts), rtts[-1] if rtts else None
        )

    try:
        while True:
            now = time.monotonic()
            q_done, c_done = quiet.client.closed.done(), chatty.client.closed.done()
            if (q_done or c_done) and first_cut is None:
                first_cut = now
            if trip is not None and trip.done():
                ms = trip.result()
                if ms is not None:
                    rtts.append(ms)
                trip = None
            if q_done and c_done:
                break
            if first_cut is not None and now >= first_cut + grace_s:
                break
            if now >= deadline or (stop is not None and stop.is_set()):
                break
            if not c_done and trip is None and now >= next_tick:
                trip = asyncio.ensure_future(chatty.client.round_trip(min(every_s * 2, 5.0)))
                while next_tick <= now:
                    next_tick += every_s
            cut = int(q_done) + int(c_done)
            if progress is not None and (now - last_progress >= every_s or cut != cuts_told):
                last_progress = now
                cuts_told = cut
                progress(snapshot(now))  # a cut is told at once, the rest once a second
            wakers: set[asyncio.Future[Any]] = set()
            for one in (quiet, chatty):
                if not one.client.closed.done():
                    wakers.add(one.client.closed)
            if trip is not None:
                wakers.add(trip)
            if stopping is not None:
                wakers.add(stopping)
            until = min(deadline, next_tick if not c_done else deadline)
            if first_cut is not None:
                until = min(until, first_cut + grace_s)
            await asyncio.wait(
                wakers,
                timeout=max(0.0, until - time.monotonic()) + 0.001,
                return_when=asyncio.FIRST_COMPLETED,
            )
    finally:
        if trip is not None and not trip.done():
            trip.cancel()
        if stopping is not None and not stopping.done():
            stopping.cancel()
    held = time.monotonic() - start
    interrupted = stop is not None and stop.is_set() and first_cut is None
    q_lived, c_lived = quiet.lived(), chatty.lived()
    if progress is not None:
        progress(snapshot(time.monotonic()))
    op = quiet.conn.open_packet
    return PairResult(
        quiet=Held("quiet", q_lived, quiet.reason()),
        chatty=Held("chatty", c_lived, chatty.reason()),
        held_s=held,
        transport=quiet.conn.transport,
        heartbeat=Heartbeat(
            (op.ping_interval_ms or 0) / 1000.0,
            (op.ping_timeout_ms or 0) / 1000.0,
            quiet.client.target.eio,
        ),
        round_trips=len(rtts),
        rtt_ms=statistics.median(rtts) if rtts else None,
        interrupted=interrupted,
        quiet_close=quiet.close_facts(),
        chatty_close=chatty.close_facts(),
    )


# -- one long-poll held -----------------------------------------------------------------------------


class _Watch:
    """The tap of the held session: when the held GET was answered."""

    def __init__(self) -> None:
        self.armed = False
        """Set once the handshake is done (its own answer, the open packet, does not count)."""
        self.answered: float | None = None
        self.event = asyncio.Event()

    def tap(self, record: PacketRecord) -> None:
        if not self.armed or self.answered is not None:
            return
        if record.direction == "in" and record.transport == "polling":
            self.answered = record.mono
            self.event.set()


async def hold_long_poll(
    http: HttpLike,
    target: Target,
    *,
    timeout: float = 20.0,
    max_s: float | None = None,
    stop: asyncio.Event | None = None,
    parser: ParserName = "json",
) -> LongPollFacts:
    """Hold one polling GET until the server answers it (its heartbeat) or the path cuts it.

    ``timeout`` bounds the handshake; the GET is waited for ``pingInterval`` plus a margin (or
    ``max_s``, if shorter; ``stop`` ends the wait early: the GET is then "still held").
    Raises :class:`HoldError` when the polling handshake fails.
    """
    from conndebug.client import ClientError, SocketClient

    watch = _Watch()
    client = SocketClient(http, target, parser=parser, tap=watch.tap)
    try:
        op = await client.open("polling", timeout)
    except ClientError as exc:
        raise HoldError(f"the polling handshake failed: {exc.failure.message}") from None
    watch.armed = True
    started = time.monotonic()
    pi = (op.ping_interval_ms or 0) / 1000.0  # a session opens only with usable timings
    wait_s = pi + min((op.ping_timeout_ms or 0) / 1000.0, _LONG_POLL_MARGIN_S)
    if max_s is not None:
        wait_s = min(wait_s, max_s)
    waiters: list[asyncio.Future[Any]] = [client.closed, asyncio.ensure_future(watch.event.wait())]
    if stop is not None:
        waiters.append(asyncio.ensure_future(stop.wait()))
    try:
        await asyncio.wait(waiters, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
        now = time.monotonic()
        if watch.answered is not None:
            return LongPollFacts(watch.answered - started, True, pi)
        closed = client.closed
        if closed.done() and not closed.cancelled():
            close = closed.result()
            return LongPollFacts(close.mono - started, False, pi, close.status, close.message)
        stopped = stop is not None and stop.is_set()
        return LongPollFacts(
            now - started, False, pi, None, "still held" if stopped else "no answer"
        )
    finally:
        for waiter in waiters[1:]:
            waiter.cancel()
        await _goodbye(client)


# -- stickiness -------------------------------------------------------------------------------------


class _NoCookies:
    """An HTTP client that sends no cookies: its jar is emptied before every request."""

    def __init__(self, http: Any) -> None:
        self.http = http

    async def request(self, method: str, url: str, **kwargs: Any) -> Response:
        self.http.cookies.clear()
        answer: Response = await self.http.request(method, url, **kwargs)
        self.http.cookies.clear()
        return answer

    async def websocket(self, url: str, **kwargs: Any) -> Any:
        self.http.cookies.clear()
        return await self.http.websocket(url, **kwargs)


async def _sessions_stick(
    http: HttpLike, target: Target, *, sessions: int, rounds: int, timeout: float
) -> StickCheck:
    from conndebug.client import ClientError, SocketClient

    answered = 0
    for i in range(sessions):
        client = SocketClient(http, target)
        try:
            try:
                await client.open("polling", timeout)
            except ClientError as exc:
                return StickCheck(False, i + 1, answered, exc.failure.message)
            for _ in range(rounds):
                ms = await client.round_trip(min(timeout, 5.0))
                if ms is None:
                    closed = client.closed
                    why = (
                        closed.result().message
                        if closed.done() and not closed.cancelled()
                        else "a round trip was not answered"
                    )
                    return StickCheck(False, i + 1, answered, why)
                answered += 1
        finally:
            await _goodbye(client)
    return StickCheck(True, sessions, answered)


async def _goodbye(client: SocketClient) -> None:
    """Close a measuring session with a goodbye (the server frees it at once), bounded."""
    from conndebug.wire import WireError

    with contextlib.suppress(asyncio.TimeoutError, OSError, WireError):
        await asyncio.wait_for(client.close(timeout=0.5), 1.0)
    client.abort()


def _cookie_names(http: Any) -> tuple[str, ...]:
    jar = getattr(http, "cookies", None)
    if jar is None:
        return ()
    return tuple(dict.fromkeys(c.name for c in jar.cookies()))


async def stickiness(
    with_http: HttpLike,
    without_http: Any,
    target: Target,
    *,
    sessions: int = 2,
    rounds: int = 2,
    timeout: float = 10.0,
) -> Stickiness:
    """Polling sessions sent with the cookies the path sets (``with_http`` keeps them) and without
    (``without_http``'s jar is emptied before every request; give it a client of its own)."""
    with_cookies = await _sessions_stick(
        with_http, target, sessions=sessions, rounds=rounds, timeout=timeout
    )
    with_cookies = StickCheck(
        with_cookies.ok,
        with_cookies.sessions,
        with_cookies.round_trips,
        with_cookies.why,
        _cookie_names(with_http),
    )
    without = await _sessions_stick(
        _NoCookies(without_http), target, sessions=sessions, rounds=rounds, timeout=timeout
    )
    return Stickiness(with_cookies, without)
