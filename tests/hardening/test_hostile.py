"""Hostile and broken servers: every one ends in a verdict in time, in bounded memory, on record.

Each case is a real peer on loopback (see :mod:`tests.hardening.peers` and :mod:`tests.hostile`).
For each, two runs:

- ``probe`` (in this process): a verdict of the expected code within a bound derived from
  ``--connect-timeout``, with the process's resident memory measured while it runs;
- ``watch`` (``python -m conndebug watch URL --jsonl --log FILE``, a subprocess as a user runs it):
  it ends by itself within the configured timeouts (``--duration 0``: as soon as the first
  connection attempt settles; a few seconds for the peers that misbehave only once connected),
  prints one summary line on stderr that says what happened, the history (stdout and the log file
  alike, every line JSON) records it, and the child's peak resident memory stays bounded.

Memory bounds are generous on purpose (the process itself is ~70 MB); they exist to catch the
unbounded cases — before the fix, an endless chunked body grew ``watch`` by 770 MB in 5 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from conndebug.core.events import KINDS
from conndebug.core.probe import run_probe
from tests import hostile
from tests.conftest import ROOT
from tests.hardening import peers
from tests.probe.conftest import probe_settings
from tests.servers import reference_server

pytestmark = pytest.mark.timeout(90)

CONNECT_TIMEOUT = 3.0
WS_TIMEOUT = 1.0
COMMON = (
    "--connect-timeout",
    str(CONNECT_TIMEOUT),
    "--ws-timeout",
    str(WS_TIMEOUT),
    "--reconnect-attempts",
    "1",
)
PROBE_RSS_MB = 200.0
"""Growth of this test process while the probe runs (the peer runs here too)."""
WATCH_RSS_MB = 250.0
"""Peak resident memory of the whole ``watch`` process."""
SLACK_S = 8.0
"""Process start-up and teardown on a slow machine, on top of the configured timeouts."""

Target = tuple[str, tuple[str, ...]]
"""The URL to point at, and extra flags (e.g. ``--api-url`` of a hostile guest endpoint)."""


# ---- the peers ----------------------------------------------------------------------------------


def _sio(
    intercept: peers.Intercept | None = None, on_connect: peers.OnConnect | None = None
) -> Callable[[], contextlib.AbstractAsyncContextManager[Target]]:
    @contextlib.asynccontextmanager
    async def run() -> AsyncIterator[Target]:
        async with peers.sio_peer(intercept=intercept, on_connect=on_connect) as peer:
            yield peer.url, ("--no-guest",)

    return run


def _handshakes(
    answer: Callable[[web.Request, peers.Peer], Awaitable[web.StreamResponse]],
) -> peers.Intercept:
    """Answer every Engine.IO handshake (both transports) with ``answer``."""

    async def intercept(request: web.Request, peer: peers.Peer) -> web.StreamResponse | None:
        return await answer(request, peer) if peers.is_handshake(request) else None

    return intercept


def _everything(
    answer: Callable[[web.Request, peers.Peer], Awaitable[web.StreamResponse]],
) -> peers.Intercept:
    """Answer every request (Engine.IO or not) with ``answer``: a plain web site."""

    async def intercept(request: web.Request, peer: peers.Peer) -> web.StreamResponse | None:
        return await answer(request, peer)

    return intercept


def _websockets(
    answer: Callable[[web.Request, peers.Peer], Awaitable[web.StreamResponse]],
) -> peers.Intercept:
    async def intercept(request: web.Request, peer: peers.Peer) -> web.StreamResponse | None:
        return await answer(request, peer) if peers.wants_websocket(request) else None

    return intercept


async def _broken_open(request: web.Request, peer: peers.Peer) -> web.StreamResponse:
    return peers.text_response('0{"sid":"BrokenOpen0001","upgrades":["websocket"],"pingInt')


async def _absurd_open(request: web.Request, peer: peers.Peer) -> web.StreamResponse:
    return peers.text_response(
        '0{"sid":"AbsurdOpen0001","upgrades":[],"pingInterval":1e400,"pingTimeout":NaN}'
    )


async def _html(request: web.Request, peer: peers.Peer) -> web.StreamResponse:
    return peers.text_response(
        "<!doctype html><html><body><h1>Welcome</h1></body></html>", 200, "text/html"
    )


async def _slowloris(request: web.Request, peer: peers.Peer) -> web.StreamResponse:
    return await peers.slowloris(request, peer, interval=1.0)


async def _frames_before_open(request: web.Request, peer: peers.Peer) -> web.StreamResponse:
    return await peers.bad_frames(request, peer, after_connect=False)


async def _frames_when_connected(request: web.Request, peer: peers.Peer) -> web.StreamResponse:
    return await peers.bad_frames(request, peer, after_connect=True)


async def _redirect_home(request: web.Request, peer: peers.Peer) -> web.StreamResponse | None:
    return web.Response(status=302, headers={"Location": str(request.url)})


async def _ten_megabytes(sio: Any, sid: str, peer: peers.Peer) -> None:
    await sio.emit("big", {"pad": "x" * 10_000_000}, to=sid)
    peer.sent += 1


async def _redaction_bomb(sio: Any, sid: str, peer: peers.Peer) -> None:
    """Text that made the redactor's patterns rescan from every position (minutes per event)."""
    await sio.emit("bomb", {"text": "\n" * 400_000 + "eyJ" * 100_000 + " \n" * 100_000}, to=sid)
    peer.sent += 1


async def _flood(sio: Any, sid: str, peer: peers.Peer) -> None:
    i = 0
    while True:
        await sio.emit("flood", {"i": i}, to=sid)
        peer.sent = i = i + 1
        if i % 200 == 0:
            await asyncio.sleep(0)


def _raw(
    factory: Callable[[], contextlib.AbstractAsyncContextManager[Any]],
) -> Callable[[], contextlib.AbstractAsyncContextManager[Target]]:
    @contextlib.asynccontextmanager
    async def run() -> AsyncIterator[Target]:
        async with factory() as peer:
            yield peer.url, ("--no-guest",)

    return run


@contextlib.asynccontextmanager
async def _redirect_elsewhere() -> AsyncIterator[Target]:
    async with peers.sio_peer(host="127.0.0.2") as other:

        async def redirect(request: web.Request, peer: peers.Peer) -> web.StreamResponse:
            return web.Response(status=307, headers={"Location": other.url + request.path_qs})

        async with peers.sio_peer(intercept=redirect) as target:
            yield target.url, ("--no-guest",)


def _guest(
    status: int, body: bytes, content_type: str = "application/json"
) -> Callable[[], contextlib.AbstractAsyncContextManager[Target]]:
    """The reference server for the socket, a hostile guest endpoint (``--api-url``)."""

    @contextlib.asynccontextmanager
    async def run() -> AsyncIterator[Target]:
        async def handler(request: hostile.Request) -> hostile.Response:
            return hostile.Response(status, "X", [("Content-Type", content_type)], body)

        async with reference_server() as server, hostile.http_server(handler) as guest:
            yield server.url, ("--api-url", guest.url)

    return run


def _guest_token(token: str) -> bytes:
    user = {"id": "guest_h", "username": "Mallory1", "isGuest": True, "sessionId": "s-h"}
    return json.dumps({"success": True, "data": {"token": token, "user": user}}).encode()


NONE_JWT = peers.jwt_none(
    {"userId": "guest_h", "sessionId": "s-h", "username": "Mallory1", "exp": 4102444800}
)


@dataclass(frozen=True)
class Case:
    """A hostile peer and what the probe and ``watch`` must make of it."""

    id: str
    peer: Callable[[], contextlib.AbstractAsyncContextManager[Target]]
    verdicts: tuple[str, ...]
    """Acceptable probe verdict codes."""
    probe_words: tuple[str, ...]
    """One of these is in the verdict's title or explanation (lower case)."""
    exit_codes: tuple[int, ...]
    summary_words: tuple[str, ...]
    """One of these is in ``watch``'s summary line (lower case)."""
    history: str
    """An event kind the history must hold."""
    history_words: str = ""
    """...and some event's detail contains this (lower case)."""
    duration: float = 0.0
    """``watch --duration``: 0 stops when the first attempt settles."""
    probe_note: str = ""
    """A note the probe's history must hold (lower case)."""
    scheme: str = "http"


CASES = [
    Case(
        "garbage-on-tcp",
        _raw(peers.garbage_server),
        ("server_error",),
        ("not http",),
        (2,),
        ("not http", "closed the connection"),
        "connect_error",
        "not http",
    ),
    Case(
        "tls-garbage",
        _raw(peers.tls_garbage_server),
        ("tls_error",),
        ("tls",),
        (2,),
        ("tls",),
        "connect_error",
        "tls",
    ),
    Case(
        "http-200-html",
        _sio(_everything(_html)),
        ("not_socketio",),
        ("not socket.io",),
        (2,),
        ("not socket.io",),
        "connect_error",
        "is not engine.io",
    ),
    Case(
        "open-packet-broken-json",
        _sio(_handshakes(_broken_open)),
        ("server_error",),
        ("not a json object with a sid",),
        (2,),
        ("broke the protocol",),
        "connect_error",
        "open packet that is not json",
    ),
    Case(
        "open-packet-absurd-numbers",
        _sio(_handshakes(_absurd_open)),
        ("server_error",),
        ("no client can use",),
        (2,),
        ("no client can use",),
        "connect_error",
        "open packet cannot be used",
    ),
    Case(
        "open-packet-gigantic",
        _sio(_handshakes(peers.gigantic_open)),
        ("server_error",),
        ("larger than",),
        (2,),
        ("larger than",),
        "connect_error",
        "open packet larger than",
    ),
    Case(
        "endless-chunked-body",
        _sio(_handshakes(peers.endless_chunked)),
        ("not_socketio", "server_error"),
        ("not socket.io", "larger than"),
        (2,),
        ("not socket.io", "larger than"),
        "connect_error",
        "is not engine.io",
    ),
    Case(
        "slowloris-one-byte-a-second",
        _sio(_handshakes(_slowloris)),
        ("connect_timeout",),
        ("never answers", "no answer", "no complete answer"),
        (2,),
        ("no answer from",),
        "connect_error",
        f"no complete answer within {CONNECT_TIMEOUT - WS_TIMEOUT:g} s",
    ),
    Case(
        "accept-and-never-answer",
        _raw(hostile.silent_server),
        ("connect_timeout",),
        ("never answers",),
        (2,),
        ("no answer from",),
        "connect_error",
        "no answer",
    ),
    Case(
        "close-mid-websocket-upgrade",
        _sio(_websockets(peers.cut_upgrade)),
        ("websocket_blocked",),
        ("websocket",),
        (1,),
        ("polling only",),
        "fallback",
        "closed the connection",
    ),
    Case(
        "invalid-websocket-frames",
        _sio(_websockets(_frames_before_open)),
        ("websocket_blocked",),
        ("websocket",),
        (1,),
        ("polling only",),
        "fallback",
    ),
    Case(
        "invalid-websocket-frames-once-connected",
        _sio(_websockets(_frames_when_connected)),
        ("websocket_blocked",),
        ("websocket",),
        (0, 2),
        ("broke the protocol", "connected over websocket"),
        "disconnected",
        "the server broke the websocket protocol ('utf-8' codec can't decode",
        duration=2.5,
    ),
    Case(
        "ten-megabyte-event",
        _sio(on_connect=_ten_megabytes),
        ("ok",),
        ("connected",),
        (0,),
        ("connected over websocket",),
        "event_in",
        "← big (10000010 b)",
        duration=2.5,
    ),
    Case(
        "redaction-bomb-event",
        _sio(on_connect=_redaction_bomb),
        ("ok",),
        ("connected",),
        (0,),
        ("connected over websocket",),
        "event_in",
        "← bomb (",
        duration=2.5,
    ),
    Case(
        "event-flood",
        _sio(on_connect=_flood),
        ("ok",),
        ("connected",),
        (0,),
        ("connected over websocket",),
        "event_in",
        "← flood",
        duration=2.5,
    ),
    Case(
        "redirect-loop",
        _sio(_redirect_home),
        ("not_socketio",),
        ("redirect",),
        (2,),
        ("redirect",),
        "connect_error",
        "not followed",
    ),
    Case(
        "redirect-to-another-host",
        _redirect_elsewhere,
        ("not_socketio",),
        ("redirect",),
        (2,),
        ("redirect",),
        "connect_error",
        "a redirect to http://127.0.0.2",
    ),
    Case(
        "guest-endpoint-500",
        _guest(500, b'{"success":false,"message":"Internal error"}'),
        ("auth_rejected",),
        ("http 500",),
        (2,),
        ("http 500",),
        "connect_error",
        "guest session",
    ),
    Case(
        "guest-endpoint-429",
        _guest(
            429, b'{"success":false,"message":"Too many API requests, please try again later."}'
        ),
        ("rate_limited",),
        ("http 429",),
        (2,),
        ("http 429",),
        "connect_error",
        "too many api requests",
    ),
    Case(
        "guest-endpoint-html",
        _guest(200, b"<html><body>Sign in</body></html>", "text/html"),
        ("auth_rejected",),
        ("html",),
        (2,),
        ("authentication token required",),
        "note",
        "html page",
    ),
    Case(
        "guest-endpoint-malformed-jwt",
        _guest(201, _guest_token("eyJhbGciOiJIUzI1NiJ9.!!not-base64!!.c2ln")),
        ("auth_rejected",),
        ("invalid token",),
        (2,),
        ("invalid token",),
        "note",
        "guest session: the token is not a readable jwt",
        probe_note="guest session: the token is not a readable jwt",
    ),
    Case(
        "guest-endpoint-jwt-alg-none",
        _guest(201, _guest_token(NONE_JWT)),
        ("auth_rejected",),
        ("invalid token",),
        (2,),
        ("invalid token",),
        "note",
        "the token is unsigned (alg: none)",
        probe_note="the token is unsigned (alg: none)",
    ),
]

IDS = [c.id for c in CASES]


def test_every_hostile_peer_of_the_issue_is_covered() -> None:
    assert len(CASES) == len(set(IDS)) >= 20


# ---- probe --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_probe_ends_in_a_verdict_in_time_and_bounded_memory(case: Case) -> None:
    async with case.peer() as (url, flags):
        with peers.PeakRss() as rss:
            started = time.monotonic()
            result = await run_probe(probe_settings(url, *COMMON, *flags))
            took = time.monotonic() - started
    verdict = result.verdict
    assert verdict.code in case.verdicts, (verdict.code, verdict.title, verdict.explanation)
    words = (verdict.title + " " + verdict.explanation).lower()
    assert any(w in words for w in case.probe_words), (verdict.title, verdict.explanation)
    if case.probe_note:
        notes = " | ".join(e.detail.lower() for e in result.history if e.kind == "note")
        assert case.probe_note in notes, notes
    assert len(verdict.title) <= 300, verdict.title
    assert verdict.title.isprintable(), verdict.title
    # Each rung is bounded by --connect-timeout; at most a few rungs can each use it up.
    assert took < 3 * CONNECT_TIMEOUT + 2, took
    assert rss.growth_mb < PROBE_RSS_MB, f"{rss.growth_mb:.0f} MB"
    assert result.exit_code == (
        0 if verdict.code == "ok" else 1 if verdict.code == "websocket_blocked" else 2
    )


# ---- watch --------------------------------------------------------------------------------------


@dataclass
class Watched:
    code: int
    events: list[dict[str, Any]]
    logged: list[dict[str, Any]]
    err: str
    took: float
    peak_mb: float


async def run_watch(url: str, flags: tuple[str, ...], duration: float, log: Path) -> Watched:
    env = {**os.environ, "NO_PROXY": "*", "NO_COLOR": "1"}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env.pop(name, None)
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "conndebug",
        "watch",
        url,
        "--jsonl",
        "--duration",
        str(duration),
        "--log",
        str(log),
        *COMMON,
        *flags,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    with peers.PeakRss(proc.pid) as rss:
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(), duration + CONNECT_TIMEOUT + SLACK_S + 10
            )
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode is not None
    lines = out.decode().splitlines()
    text = await asyncio.to_thread(log.read_text, encoding="utf-8")
    logged = [json.loads(line) for line in text.splitlines()]
    return Watched(
        code=proc.returncode,
        events=[json.loads(line) for line in lines],
        logged=logged,
        err=err.decode(),
        took=time.monotonic() - started,
        peak_mb=rss.peak / 1e6,
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_watch_ends_in_a_clear_state_in_time_and_bounded_memory(
    case: Case, tmp_path: Path
) -> None:
    async with case.peer() as (url, flags):
        done = await run_watch(url, flags, case.duration, tmp_path / "watch.jsonl")
    err_lines = done.err.strip().splitlines()
    assert len(err_lines) == 1, done.err
    summary = err_lines[0].lower()
    assert summary.startswith("watch: "), summary
    assert "traceback" not in done.err.lower()
    assert done.code in case.exit_codes, (done.code, summary)
    assert any(w in summary for w in case.summary_words), summary
    assert f"(exit {done.code})" in summary
    # In time: the first attempt settles within the configured timeouts (or --duration ends it).
    assert done.took < max(case.duration, CONNECT_TIMEOUT) + SLACK_S, done.took
    # On record: the history has what happened, stdout and the log file alike; the log file
    # also keeps the libraries' own records (never shown in the history), each one bounded.
    assert {e["kind"] for e in done.events} <= KINDS
    library = [e for e in done.logged if e.get("topic") in ("engineio", "socketio")]
    assert [e for e in done.logged if e not in library] == done.events
    assert not [e for e in done.events if e.get("topic") in ("engineio", "socketio")]
    assert all(len(e["detail"]) <= 600 for e in library)
    matching = [e for e in done.events if e["kind"] == case.history]
    assert matching, [e["kind"] for e in done.events]
    if case.history_words:
        details = " | ".join(e["detail"].lower() for e in matching)
        assert case.history_words in details, details[:2000]
    for event in done.events:
        assert "\n" not in event["detail"], event
        assert len(event["detail"]) < 2000, event["detail"][:300]
    # Bounded memory.
    assert done.peak_mb < WATCH_RSS_MB, f"{done.peak_mb:.0f} MB"
