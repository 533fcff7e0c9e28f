"""Measuring what a box in the path does, with plain clients (aiohttp), for the lab scenarios.

- :func:`hold_pair`: a quiet and a chatty Engine.IO websocket held side by side until the first
  cut (plus the tolerance, to see whether the other is cut at the same time) or ``max_s``;
- :func:`hold_long_poll`: one polling GET held until the server answers or the path cuts it;
- :func:`session_sticks`: a polling session's follow-up requests, with or without the cookies
  the path set, reach the node that made it (no "Session ID unknown").

Every wait is bounded. The answers read are kept (:class:`Seen`) for :func:`identify`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field

import aiohttp

from conndebug.core.path import Answer, Held
from conndebug.core.path.cuts import TOLERANCE_S

__all__ = ["Seen", "hold_long_poll", "hold_pair", "session_sticks"]

_EIO = "/socket.io/?EIO=4&transport="
_PROBE_NS = "/__lab_probe"


@dataclass
class Seen:
    """The answers read on the way (for the path fingerprints)."""

    answers: list[Answer] = field(default_factory=list)

    def add(self, where: str, response: aiohttp.ClientResponse, body: bytes = b"") -> None:
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers]
        self.answers.append(Answer.of(where, response.status, pairs, body))

    def tracer(self) -> aiohttp.TraceConfig:
        """Records the websocket upgrade answers (aiohttp hands them over only to a trace)."""

        async def on_end(
            _session: aiohttp.ClientSession,
            _ctx: object,
            params: aiohttp.TraceRequestEndParams,
        ) -> None:
            if "transport=websocket" in str(params.url):
                self.add("websocket", params.response)

        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(on_end)
        return trace


async def _hold_one(
    session: aiohttp.ClientSession,
    url: str,
    *,
    chatty: bool,
    max_s: float,
) -> tuple[float | None, str]:
    """One websocket held until it is cut (seconds from the 101 to the cut) or ``max_s``."""
    ws = await session.ws_connect(url + _EIO + "websocket", timeout=aiohttp.ClientWSTimeout(5))
    start = time.monotonic()
    reason = ""
    try:
        first = await asyncio.wait_for(ws.receive(), 5)
        assert first.type == aiohttp.WSMsgType.TEXT, first
        assert first.data.startswith("0"), first.data
        next_ask = start
        while True:
            remaining = start + max_s - time.monotonic()
            if remaining <= 0:
                return None, ""
            if chatty and time.monotonic() >= next_ask:
                # a round trip: a namespace the server does not have answers CONNECT_ERROR
                await ws.send_str(f"40{_PROBE_NS},")
                next_ask += 1.0
            wait = min(remaining, max(0.01, next_ask - time.monotonic())) if chatty else remaining
            try:
                msg = await asyncio.wait_for(ws.receive(), wait)
            except asyncio.TimeoutError:
                continue
            if msg.type == aiohttp.WSMsgType.TEXT:
                if msg.data == "2":
                    await ws.send_str("3")  # the heartbeat: answer the server's ping
                continue
            reason = "transport close" if msg.type != aiohttp.WSMsgType.ERROR else "transport error"
            return time.monotonic() - start, reason
    except (aiohttp.ClientError, ConnectionError) as exc:
        return time.monotonic() - start, f"transport error ({exc})"
    finally:
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, asyncio.TimeoutError):
            await asyncio.wait_for(ws.close(), 1)


async def hold_pair(
    url: str, *, max_s: float, tolerance_s: float = TOLERANCE_S
) -> tuple[Held, Held, float, Seen]:
    """A quiet and a chatty websocket side by side; ends at the first cut plus the tolerance
    (so a cut of both at the same time shows), or at ``max_s``. Returns both, how long they were
    held, and the answers seen."""
    seen = Seen()
    bound = aiohttp.ClientTimeout(total=max_s + 10)
    async with aiohttp.ClientSession(trace_configs=[seen.tracer()], timeout=bound) as session:
        async with session.get(url + _EIO + "polling") as first:
            seen.add("handshake", first, await first.read())
        quiet = asyncio.ensure_future(_hold_one(session, url, chatty=False, max_s=max_s))
        chatty = asyncio.ensure_future(_hold_one(session, url, chatty=True, max_s=max_s))
        start = time.monotonic()
        done, _ = await asyncio.wait({quiet, chatty}, return_when=asyncio.FIRST_COMPLETED)
        first_done = done.pop()
        if first_done.result()[0] is not None:  # cut: give the other the tolerance to follow
            await asyncio.wait({quiet, chatty}, timeout=tolerance_s + 0.5)
        held = time.monotonic() - start
        for task in (quiet, chatty):
            if not task.done():
                task.cancel()
        results = await asyncio.gather(quiet, chatty, return_exceptions=True)
    (q, q_reason), (c, c_reason) = (r if isinstance(r, tuple) else (None, "") for r in results)
    return Held("quiet", q, q_reason), Held("chatty", c, c_reason), held, seen


async def hold_long_poll(url: str, *, max_s: float) -> tuple[float, bool, int | None, Seen]:
    """A polling GET held until the server answers it (``True``) or the path cuts it: seconds,
    answered, the status of the answer that ended it (None: the connection closed)."""
    seen = Seen()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.get(url + _EIO + "polling") as first:
            body = await first.read()
            seen.add("handshake", first, body)
        sid = json.loads(body[1:])["sid"]
        start = time.monotonic()
        try:
            async with session.get(
                f"{url}{_EIO}polling&sid={sid}", timeout=aiohttp.ClientTimeout(total=max_s)
            ) as held:
                data = await held.read()
                seen.add("polling", held, data)
                answered = held.status == 200 and data.startswith(b"2")
                return time.monotonic() - start, answered, held.status, seen
        except (aiohttp.ClientError, ConnectionError):
            return time.monotonic() - start, False, None, seen


async def session_sticks(url: str, *, cookies: bool, rounds: int = 4) -> tuple[bool, Seen]:
    """Whether a polling session's follow-up requests all reach its node, sending back the
    cookies the path set (``cookies``) or none."""
    seen = Seen()
    jar: aiohttp.abc.AbstractCookieJar = (
        aiohttp.CookieJar(unsafe=True) if cookies else aiohttp.DummyCookieJar()
    )
    bound = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(cookie_jar=jar, timeout=bound) as session:
        async with session.get(url + _EIO + "polling") as first:
            body = await first.read()
            seen.add("handshake", first, body)
        sid = json.loads(body[1:])["sid"]
        for _ in range(rounds):
            async with session.post(
                f"{url}{_EIO}polling&sid={sid}", data=f"40{_PROBE_NS},"
            ) as sent:
                data = await sent.read()
                seen.add("polling", sent, data)
                if sent.status != 200:
                    return False, seen
            async with session.get(
                f"{url}{_EIO}polling&sid={sid}", timeout=aiohttp.ClientTimeout(total=5)
            ) as got:
                data = await got.read()
                seen.add("polling", got, data)
                if got.status != 200:
                    return False, seen
    return True, seen
