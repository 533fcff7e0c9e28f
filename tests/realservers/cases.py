"""The matrix: each real server set-up, what conndebug is asked, and the right verdict.

A :class:`Case` names a server (a factory from :mod:`tests.realservers.servers`), the URL and the
flags a support engineer would type, the verdict code and exit code that are right there, and what
the official JavaScript client with the seed's options does there (the ground truth every case
checks first). ``today`` holds, per check, what the code of the first round says where it is wrong
(the check is a strict xfail until the fix flips it). README.md beside this file gives the reasons.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tests.lab.helpers import NGINX_GOOD, NGINX_NO_UPGRADE
from tests.realservers.servers import (
    RealServer,
    ServerFactory,
    behind_nginx,
    node_server,
    python_server,
)

if TYPE_CHECKING:
    from tests.realservers.matrix import CaseResult

__all__ = ["CASES", "CONNECT_TIMEOUT", "EXIT", "TODAY", "Case", "Check", "ClientExpectation"]

CONNECT_TIMEOUT = 5.0
"""``--connect-timeout`` of every conndebug run: each case stays bounded in time."""

EXIT = {
    "ok": 0,
    "websocket_blocked": 1,
    "cors_permissive": 1,
    "dns_failure": 2,
    "connection_refused": 2,
    "connect_timeout": 2,
    "tls_error": 2,
    "proxy_error": 2,
    "not_socketio": 2,
    "protocol_mismatch": 2,
    "cors_rejected": 2,
    "sticky_session_missing": 2,
    "auth_rejected": 2,
    "session_expired": 2,
    "server_error": 2,
    "parser_mismatch": 2,
    "namespace_unknown": 2,
    "server_disconnect": 2,
    "rate_limited": 2,
}
"""Exit code of each verdict (design.md's table); ``transport_unavailable`` is 1 or 2 by case."""


@dataclass(frozen=True)
class Check:
    """A case-specific assertion on a :class:`CaseResult` (raises AssertionError)."""

    name: str
    run: Callable[[CaseResult], None]


@dataclass(frozen=True)
class ClientExpectation:
    """What the official client does on this case (the ground truth; always checked)."""

    connects: bool
    """With the seed's options (websocket first, no tryAllTransports)."""
    connects_try_all: bool | None = None
    """With ``tryAllTransports: true`` (None: not run)."""
    transport: str | None = None
    """The transport it ends up on when it connects."""
    connect_error: str | None = None
    """The (start of the) connect_error message it gets, if it never connects."""
    server_disconnect: str | None = None
    """The disconnection reason right after connecting, if the server drops it."""


def _url(server: RealServer) -> str:
    return server.url


@dataclass(frozen=True)
class Case:
    id: str
    server: ServerFactory
    right: str
    """The right verdict code."""
    why: str
    """What a real client does there and why the verdict is right (short)."""
    client: ClientExpectation
    right_exit: int | None = None
    """Defaults to the verdict's exit code (``EXIT``)."""
    url: Callable[[RealServer], str] = _url
    flags: tuple[str, ...] = ()
    """conndebug flags, the same for probe and watch (``--connect-timeout 5`` is always added)."""
    token: str | None = None
    """``expired`` | ``orphan``: a token from the server's test hook is given as ``--token``
    (and to the official client); ``guest``: only the official client gets a guest token, as the
    web client does before connecting."""
    client_options: Mapping[str, Any] = field(default_factory=dict)
    """Extra options of the official client (``reference_client``): e.g. ``{"client": "v2"}``."""
    duration: float = 4.0
    """watch --duration."""
    recovery: bool = False
    """Also drop the connection once connected and see whether it is recovered."""
    sequential: bool = False
    """Run probe, then watch, with one home folder (what a user's machine keeps between two
    runs); otherwise they run side by side, each with its own."""
    checks: tuple[Check, ...] = ()
    today: Mapping[str, str] = field(default_factory=dict)
    """check name → what today's code says (the check is a strict xfail)."""
    system: bool = False
    """Needs a Debian service (nginx)."""

    @property
    def exit(self) -> int:
        return self.right_exit if self.right_exit is not None else EXIT[self.right]


# --- case-specific checks ---------------------------------------------------------------------------


def _probe_says(*needles: str, where: str = "verdict") -> Check:
    """The probe's verdict (or, ``where="all"``, anything it printed) contains each needle."""

    def run(result: CaseResult) -> None:
        text = (
            " ".join(str(v) for v in result.probe.verdict.values())
            if where == "verdict"
            else result.probe.text()
        )
        for needle in needles:
            assert needle.lower() in text.lower(), (
                f"the probe's {where} does not say {needle!r}: {text[:600]}"
            )

    return Check(f"probe-says-{_slug(needles[0])}", run)


def _watch_says(*needles: str) -> Check:
    """What watch shows a reader (each event's ``detail`` line, its final verdict, its closing
    line on stderr) contains each needle; a JSON field nobody reads in the text output does not
    count."""

    def run(result: CaseResult) -> None:
        text = "\n".join(
            [
                *(str(e.get("detail", "")) for e in result.watch.events),
                _verdict_text(result, "watch"),
                result.watch.stderr,
            ]
        )
        for needle in needles:
            assert needle.lower() in text.lower(), (
                f"watch does not show {needle!r}: {result.watch.summary()}"
            )

    return Check(f"watch-says-{_slug(needles[0])}", run)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:24]


def _verdict_text(result: CaseResult, command: str) -> str:
    """What the command concluded in words: the probe's verdict; watch's final ``verdict``
    event (title, explanation, fix) once it prints one, else its closing line on stderr."""
    if command == "probe":
        return " ".join(str(v) for v in result.probe.verdict.values())
    verdicts = result.watch.of("verdict")
    if verdicts:
        return " ".join(
            str(verdicts[-1].get(k, "")) for k in ("detail", "title", "explanation", "fix")
        )
    return result.watch.stderr.strip().splitlines()[-1] if result.watch.stderr.strip() else ""


def _tells(check: str, *, says: str, never: tuple[str, ...]) -> Check:
    """Both commands' conclusions quote ``says`` and contain none of ``never`` (how two causes
    that look alike are told apart)."""

    def run(result: CaseResult) -> None:
        for command in ("probe", "watch"):
            text = _verdict_text(result, command)
            assert says.lower() in text.lower(), f"{command} does not quote {says!r}: {text!r}"
            for wrong in never:
                assert wrong.lower() not in text.lower(), f"{command} says {wrong!r}: {text!r}"

    return Check(check, run)


_JWT = re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")


def _no_secrets(result: CaseResult) -> None:
    """No token in what probe and watch print (redacted unless --show-secrets), and whatever
    conndebug keeps on disk is readable by its owner only."""
    for name, text in (("probe", result.probe.text()), ("watch", result.watch.text())):
        found = _JWT.search(text)
        assert found is None, f"{name} prints a token: {found.group(0)[:16]}…"
    for path, mode in result.home_files.items():
        assert mode & 0o077 == 0, f"conndebug left {path} with mode {mode:o}, not 0600"


def _guest_reused(result: CaseResult) -> None:
    created = [
        e
        for e in result.watch.events
        if e.get("kind") == "connect_error" and "429" in str(e.get("detail"))
    ]
    assert not created, (
        "watch asked for a new guest session after the probe had one for this target: "
        f"{created[0].get('detail')}"
    )


def _probe_never(*wrong: str) -> Check:
    """Nothing the probe printed (verdict, steps, history) says any of ``wrong``."""

    def run(result: CaseResult) -> None:
        text = result.probe.text()
        for words in wrong:
            at = text.lower().find(words.lower())
            assert at < 0, f"the probe says {words!r}: …{text[max(0, at - 160) : at + 40]}…"

    return Check(f"probe-never-{_slug(wrong[0])}", run)


def _binary_events(command: str) -> Check:
    """The server emits welcome, bin (a 4-byte Buffer), after: the command's history shows them
    in that order, the binary one as 4 bytes, not as a Python bytes repr."""

    def run(result: CaseResult) -> None:
        if command == "watch":
            events = result.watch.events
        else:
            events = (result.probe.result or {}).get("history", [])
        arrived = [e for e in events if e.get("kind") == "event_in"]
        names = [e.get("name") for e in arrived]
        assert names[:3] == ["welcome", "bin", "after"], f"{command} shows events {names}"
        binary = arrived[1]
        shown = f"{binary.get('detail')} {binary.get('preview')}"
        assert "b'" not in shown, f"{command} shows a bytes repr: {shown}"
        assert "4 B" in shown, f"{command} does not show the binary as 4 bytes: {shown}"

    return Check(f"binary-events-{command}", run)


def _probe_not_stuck_on_guest(result: CaseResult) -> None:
    """The probe connects before its whole connect timeout is gone: a guest endpoint that
    never answers must not cost the connection's entire time budget."""
    history = (result.probe.result or {}).get("history", [])
    connected = [e for e in history if e.get("kind") == "connected"]
    assert connected, f"the probe never connected: {result.probe.summary()}"
    assert float(connected[0]["t"]) < CONNECT_TIMEOUT, (
        f"the probe connected only after {float(connected[0]['t']):.1f} s: "
        f"{connected[0].get('detail')}"
    )


def _never_connected(result: CaseResult) -> None:
    connected = result.watch.of("connected")
    assert not connected, f"watch shows a connection: {connected[0].get('detail')}"
    history = (result.probe.result or {}).get("history", [])
    shown = [e for e in history if e.get("kind") == "connected"]
    assert not shown, f"the probe's history shows a connection: {shown[0].get('detail')}"


def _watch_connects(result: CaseResult) -> None:
    assert result.watch.of("connected"), f"watch never connected: {result.watch.summary()}"


def _no_retry_storm(result: CaseResult) -> None:
    retries = result.watch.of("reconnect_scheduled")
    assert len(retries) <= 1, (
        f"watch retries a permanent error {len(retries)} times in {result.case.duration:g} s: "
        + "; ".join(str(e.get("detail")) for e in result.watch.of("connect_error")[:2])
    )


def _token_not_replaced(result: CaseResult) -> None:
    """After the server refused the user's --token, neither command regenerated or created a
    guest session in its place (the token is judged, not swapped)."""
    for name, events in (
        ("probe", (result.probe.result or {}).get("history", [])),
        ("watch", result.watch.events),
    ):
        kinds = [e.get("kind") for e in events]
        refused = kinds.index("connect_error") if "connect_error" in kinds else len(kinds)
        swapped = [
            e
            for e in events[refused:]
            if e.get("kind") in ("session_created", "session_regenerated")
        ]
        assert not swapped, (
            f"{name} replaced the user's --token with a new guest session: {swapped[0].get('detail')}"
        )


def _noticed_before_timeout(result: CaseResult) -> None:
    """The server's close is noticed, not the connect timeout awaited."""
    seen = [e for e in result.watch.events if e.get("kind") in ("connect_error", "verdict")]
    early = [e for e in seen if float(e.get("t", 99)) < CONNECT_TIMEOUT]
    assert early, (
        f"watch showed no connect_error before its {CONNECT_TIMEOUT:g} s connect timeout: "
        + result.watch.summary()
    )


def _watch_recovered(result: CaseResult) -> None:
    run = result.extra.get("watch_recovery")
    assert run is not None, "the recovery scenario did not run"
    connected = run.of("connected")
    assert len(connected) >= 2, f"watch did not reconnect after the drop: {run.summary()}"
    assert connected[1].get("recovered") is True, (
        f"watch's reconnection is not shown as recovered: {connected[1].get('detail')!r} "
        f"(recovered={connected[1].get('recovered')!r}); the official client: "
        f"{result.extra['client_recovery'].summary()}"
    )


def _client_recovered(result: CaseResult) -> None:
    run = result.extra.get("client_recovery")
    assert run is not None, "the recovery scenario did not run"
    assert len(run.of("connect")) >= 2, f"the official client did not reconnect: {run.lines}"
    assert run.recovered, f"the official client was not recovered: {run.lines}"


# --- the cases -----------------------------------------------------------------------------------

OK_CLIENT = ClientExpectation(connects=True, connects_try_all=True, transport="websocket")


def sio(*flags: str) -> ServerFactory:
    return lambda: node_server(*flags)


CHAT = ("--chat", "--cors-origin", "http://localhost:3000")

_CASES: tuple[Case, ...] = (
    # socket.io 4 -----------------------------------------------------------------------------------
    Case(
        id="sio4-default",
        server=sio(),
        right="ok",
        why="the official client connects over websocket",
        client=OK_CLIENT,
    ),
    Case(
        id="sio4-recovery",
        server=sio("--recovery"),
        right="ok",
        why="connects; after a network drop the official client is recovered (same id, "
        "missed events), so conndebug must show `recovered`",
        client=OK_CLIENT,
        recovery=True,
        checks=(
            Check("client-recovered", _client_recovered),
            Check("watch-recovered", _watch_recovered),
        ),
    ),
    Case(
        id="sio4-binary",
        server=sio("--binary"),
        right="ok",
        why="binary attachments are ordinary events: shown in order, as `<binary 4 B>`",
        client=OK_CLIENT,
        checks=(_binary_events("probe"), _binary_events("watch")),
    ),
    Case(
        id="sio4-binary-polling",
        server=sio("--binary"),
        flags=("--transports", "polling"),
        right="ok",
        why="the user asks for polling and the server offers it: the official client connects "
        "over polling; binary packets arrive base64 in the payload, still in order",
        client=ClientExpectation(connects=True, connects_try_all=True, transport="polling"),
        checks=(_binary_events("probe"), _binary_events("watch")),
    ),
    Case(
        id="sio4-msgpack",
        server=sio("--parser", "msgpack"),
        right="parser_mismatch",
        why="the server closes the session on the first JSON packet; the official client with the "
        "default parser loops on `transport close` and never connects",
        client=ClientExpectation(connects=False, connects_try_all=False),
        checks=(Check("noticed-before-timeout", _noticed_before_timeout),),
    ),
    Case(
        id="sio4-msgpack-parser-flag",
        server=sio("--parser", "msgpack"),
        flags=("--parser", "msgpack"),
        right="ok",
        why="with the msgpack parser the official client connects; so must conndebug",
        client=ClientExpectation(connects=True, connects_try_all=True, transport="websocket"),
        client_options={"parser": "msgpack"},
    ),
    Case(
        id="sio4-polling-only",
        server=sio("--transports", "polling"),
        right="transport_unavailable",
        right_exit=1,
        why="websocket answers 400 `Transport unknown`; the seed-options client never connects "
        "(no tryAllTransports) although polling works: a warning that names the transport",
        client=ClientExpectation(
            connects=False,
            connects_try_all=True,
            transport="polling",
            connect_error="websocket error",
        ),
    ),
    Case(
        id="sio4-websocket-only",
        server=sio("--transports", "websocket"),
        right="ok",
        why="the official client connects over websocket directly",
        client=OK_CLIENT,
    ),
    Case(
        id="sio4-websocket-only-forced-polling",
        server=sio("--transports", "websocket"),
        flags=("--transports", "polling"),
        right="transport_unavailable",
        right_exit=2,
        why="the user forces polling, the server refuses it with Engine.IO error 0 "
        "`Transport unknown`: quote it, it is not a protocol break",
        client=ClientExpectation(
            connects=False, connects_try_all=False, connect_error="xhr poll error"
        ),
        checks=(_probe_says("Transport unknown"), _watch_says("Transport unknown")),
    ),
    Case(
        id="sio4-allow-eio3",
        server=sio("--allow-eio3"),
        right="ok",
        why="allowEIO3 changes nothing for a v4 client",
        client=OK_CLIENT,
    ),
    Case(
        id="sio4-allow-eio3-old-client",
        server=sio("--allow-eio3"),
        flags=("--eio", "3"),
        right="ok",
        why="allowEIO3 lets socket.io-client 2 (Engine.IO 3) connect; conndebug speaking EIO 3 too",
        client=ClientExpectation(connects=True, transport="websocket"),
        client_options={"client": "v2"},
    ),
    Case(
        id="sio4-disconnect-on-connect",
        server=sio("--disconnect-on-connect"),
        right="server_disconnect",
        why="the client connects and is kicked at once (`io server disconnect`, no automatic "
        "reconnection): no web client can use this server",
        client=ClientExpectation(
            connects=True,
            connects_try_all=True,
            transport="websocket",
            server_disconnect="io server disconnect",
        ),
    ),
    Case(
        id="sio4-reject-with-data",
        server=sio("--reject-with-data"),
        right="auth_rejected",
        why="a middleware rejects with a message and `err.data`; both are the server's words and "
        "both commands must show them",
        client=ClientExpectation(
            connects=False, connects_try_all=False, connect_error="not authorized"
        ),
        checks=(
            _probe_says("not authorized"),
            _probe_says("please retry later"),
            _watch_says("not authorized"),
            _watch_says("please retry later"),
        ),
    ),
    Case(
        id="sio4-bare-guest-hangs",
        server=sio("--bare"),
        right="ok",
        why="the docs' bare createServer() never answers /api/guest; the server needs no token, "
        "the official client connects, so treat the hang as 'no guest API' quickly and connect",
        client=OK_CLIENT,
        duration=8.0,
        checks=(
            Check("watch-connects", _watch_connects),
            Check("probe-not-stuck-on-guest", _probe_not_stuck_on_guest),
        ),
    ),
    Case(
        id="sio4-spa-fallback",
        server=sio("--spa"),
        right="ok",
        why="a single-page app's catch-all answers /api/guest with 200 HTML: no guest API, "
        "like a 404; the server needs no token and the official client connects",
        client=OK_CLIENT,
    ),
    Case(
        id="sio4-cors-any",
        server=sio("--cors-any"),
        flags=("--origin", "http://localhost:3000"),
        right="ok",
        why="`cors: {origin: '*'}` without credentials allows every origin, and browsers send no "
        "cookies there: nothing to warn about, and never claim an origin is refused",
        client=OK_CLIENT,
        checks=(_probe_never("not allowed", "refused", "rejected"),),
    ),
    Case(
        id="sio4-cors-reflect",
        server=sio("--cors-reflect"),
        flags=("--origin", "http://localhost:3000"),
        right="cors_permissive",
        why="`cors: {origin: true, credentials: true}` reflects any origin with credentials: a "
        "security warning (the client connects); the fix allow-lists the user's origin",
        client=OK_CLIENT,
        checks=(_probe_says("http://localhost:3000"),),
    ),
    Case(
        id="sio4-path-in-url",
        server=sio(),
        url=lambda s: s.url + "/socket.io",
        right="namespace_unknown",
        why="the URL's path is a namespace to every client: `/socket.io` does not exist "
        "(`Invalid namespace`); the user meant --path",
        client=ClientExpectation(
            connects=False, connects_try_all=False, connect_error="Invalid namespace"
        ),
        checks=(_probe_says("--path"),),
    ),
    Case(
        id="sio4-https-to-plain-port",
        server=sio(),
        url=lambda s: s.url.replace("http://", "https://"),
        right="tls_error",
        why="TLS spoken to a plain HTTP port: permanent, say use http://, do not retry",
        client=ClientExpectation(connects=False, connects_try_all=False),
        checks=(Check("watch-no-retry-storm", _no_retry_storm),),
    ),
    # the chat backend ------------------------------------------------------------------------------
    Case(
        id="chat-guest",
        server=sio(*CHAT),
        right="ok",
        token="guest",
        why="the web client's flow: POST /api/guest, connect with the token",
        client=OK_CLIENT,
    ),
    Case(
        id="chat-guest-reused",
        server=sio(*CHAT, "--guest-limit", "2"),
        right="ok",
        token="guest",
        sequential=True,
        why="the real backend allows 100 guest sessions per 15 min per client; the browser keeps "
        "its token, so must conndebug: the probe spends the last session the limit allows, and "
        "watch afterwards reuses it instead of hitting 429",
        client=OK_CLIENT,
        checks=(Check("guest-reused", _guest_reused), Check("no-secrets", _no_secrets)),
    ),
    Case(
        id="chat-guest-429",
        server=sio(*CHAT, "--guest-limit", "0"),
        right="rate_limited",
        token="guest",
        why="POST /api/guest answers 429: the web client gets no token and the middleware then "
        "refuses it; the cause is the rate limit, not a missing token",
        client=ClientExpectation(
            connects=False, connects_try_all=False, connect_error="Authentication token required"
        ),
        checks=(_probe_says("429"),),
    ),
    Case(
        id="chat-expired-token",
        server=sio(*CHAT),
        token="expired",
        right="session_expired",
        why="the user's own --token is judged, not replaced: its JWT expired (`Token has expired`)",
        client=ClientExpectation(
            connects=False, connects_try_all=False, connect_error="Token has expired"
        ),
        checks=(
            Check("token-not-replaced", _token_not_replaced),
            _tells(
                "tells-the-jwt-expired",
                says="Token has expired",
                never=("still valid", "dropped the session", "session not found"),
            ),
            Check("no-secrets", _no_secrets),
        ),
    ),
    Case(
        id="chat-session-gone",
        server=sio(*CHAT),
        token="orphan",
        right="session_expired",
        why="the JWT is valid but the server dropped its session "
        "(`Guest session not found or expired`); say so, do not swap in a new session",
        client=ClientExpectation(
            connects=False,
            connects_try_all=False,
            connect_error="Guest session not found or expired",
        ),
        checks=(
            Check("token-not-replaced", _token_not_replaced),
            _tells(
                "tells-the-session-was-dropped",
                says="Guest session not found or expired",
                never=("token expired", "token has expired", "jwt expired", "jwt has expired"),
            ),
        ),
    ),
    # socket.io 3 and 2 ----------------------------------------------------------------------------
    Case(
        id="sio3-default",
        server=sio("--io", "3"),
        right="ok",
        why="socket.io 3 speaks the same protocol as 4: the official client connects",
        client=OK_CLIENT,
    ),
    Case(
        id="sio2-default",
        server=sio("--io", "2"),
        right="protocol_mismatch",
        why="socket.io 2 (Engine.IO 3): a v4 client never connects; never show it as connected",
        client=ClientExpectation(connects=False, connects_try_all=False),
        checks=(Check("never-shown-connected", _never_connected),),
    ),
    Case(
        id="sio2-old-client",
        server=sio("--io", "2"),
        flags=("--eio", "3"),
        right="ok",
        why="speaking Engine.IO 3 as socket.io-client 2 does, it connects",
        client=ClientExpectation(connects=True, transport="websocket"),
        client_options={"client": "v2"},
    ),
    # Python servers ------------------------------------------------------------------------------
    Case(
        id="python-socketio-aiohttp",
        server=lambda: python_server("aiohttp"),
        right="ok",
        why="the official client connects over websocket",
        client=OK_CLIENT,
    ),
    Case(
        id="flask-socketio-threading",
        server=lambda: python_server("flask"),
        right="ok",
        why="the official client connects over websocket (simple-websocket on Werkzeug)",
        client=OK_CLIENT,
    ),
    # behind nginx ---------------------------------------------------------------------------------
    Case(
        id="sio4-nginx",
        server=lambda: behind_nginx(sio(), NGINX_GOOD),
        right="ok",
        why="nginx with the documented Upgrade settings: the official client connects over websocket",
        client=OK_CLIENT,
        system=True,
    ),
    Case(
        id="flask-socketio-nginx-no-upgrade",
        server=lambda: behind_nginx(lambda: python_server("flask"), NGINX_NO_UPGRADE),
        right="websocket_blocked",
        why="nginx does not forward Upgrade: the websocket fails; the seed-options client never "
        "connects, tryAllTransports falls back to polling: a warning",
        client=ClientExpectation(connects=False, connects_try_all=True, transport="polling"),
        system=True,
    ),
)


# --- what the first round's code says where it is wrong (strict xfail until fixed) -------------------
# Recorded from `python -m tests.realservers.matrix` on the first-round code. When a fix flips a
# check, pytest reports XPASS(strict) as a failure: delete the entry here.

TODAY: dict[str, dict[str, str]] = {}

CASES: tuple[Case, ...] = tuple(replace(case, today=TODAY.get(case.id, {})) for case in _CASES)
