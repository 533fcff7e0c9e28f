"""The probe ladder: each layer of a Socket.IO connection checked in order, with evidence.

:func:`run_probe` climbs the rungs of :data:`~conndebug.core.probe.result.STEP_NAMES` (URL, DNS,
TCP, TLS, proxy, Engine.IO handshake, session consistency, websocket, namespace connect, round
trips, CORS, and the path: what answers in front of the server, named from every answer read by
:mod:`conndebug.core.path`; that last rung is recorded even after a failure). Each rung records a :class:`Step` (ok / warn / fail / skip, milliseconds, a line of
detail, the evidence) and emits a :class:`~conndebug.core.events.ProbeStep` on the bus, so a UI
can show the ladder as it grows. The first failing rung decides the verdict and the rungs above it
are skipped; warnings (websocket blocked, permissive CORS) decide only when everything needed to
connect works.

Every wait is bounded: network operations by ``--connect-timeout``, the websocket attempt by
``--ws-timeout``, every read in bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import socket
import ssl
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from conndebug.config import Settings, effective_proxy
from conndebug.core.clock import Clock, SystemClock
from conndebug.core.events import (
    Connected,
    ConnectError,
    Event,
    EventBus,
    EventIn,
    Note,
    ProbeStep,
    Rtt,
    SessionCreated,
    SessionExpired,
    SessionRegenerated,
    TransportChanged,
    UpgradeFailed,
)
from conndebug.core.path.witness import PathWitness
from conndebug.core.probe.engineio import (
    EngineRequestFailed,
    Handshake,
    OpenPacket,
    PollingTransport,
    Transport,
    WebSocketTransport,
    classify_handshake,
    eio_url,
    engine_error,
    parse_open,
    parse_sio,
    sio_packet,
)
from conndebug.core.probe.http import HttpAnswer, HttpClient, HttpFailure, fetch
from conndebug.core.probe.net import (
    NetFailure,
    ProxyAnswer,
    address_text,
    classify_tls_error,
    connect_tcp,
    make_ssl_context,
    open_stream,
    proxy_connect,
    proxy_endpoint,
    resolve,
    sniff_plain_http,
    target_endpoint,
    tls_error_text,
    tls_handshake,
    within,
)
from conndebug.core.probe.result import STEP_NAMES, STEP_TITLES, ProbeResult, Status, Step
from conndebug.core.probe.wsclient import RawWebSocket, WsClosed, WsRefused
from conndebug.core.redact import settings_redactor
from conndebug.core.report import environment_info
from conndebug.core.text import visible
from conndebug.core.verdicts import Verdict, make_verdict

if TYPE_CHECKING:
    from conndebug.core.guest import PostAnswer
    from conndebug.wire import HttpClient as WireClient

__all__ = ["PROBE_NAMESPACE", "is_expiry_message", "run_probe"]

PROBE_NAMESPACE = "/__conndebug_probe"
"""A namespace no server has: connecting to it is a round trip every v4 server answers."""
_ROUNDS = 3
_RTT_SAMPLES = 5
_MAX_EVENTS_IN = 20


def is_expiry_message(message: str) -> bool:
    """The web client's regeneration rule: these rejection messages mean "create a new session"."""
    lowered = message.lower()
    return (
        message in ("Token has expired", "Guest session not found or expired")
        or "session not found" in lowered
        or "expired" in lowered
    )


class _Stop(Exception):
    """A rung failed: the ladder stops climbing."""


class _Ladder:
    def __init__(self, settings: Settings, bus: EventBus, clock: Clock) -> None:
        self.settings = settings
        self.bus = bus
        self.clock = clock
        self.redactor = settings_redactor(settings)
        self.timeout = settings.connect_timeout
        self.target = target_endpoint(settings)
        self.proxy = effective_proxy(settings)
        self.environment = environment_info(settings, self.redactor)
        self.steps: list[Step] = []
        self.verdict: Verdict | None = None
        self.warning: Verdict | None = None
        self.failed_step: str | None = None
        self.connection: dict[str, Any] = {
            "transport": None,
            "sid": None,
            "engine_sid": None,
            "upgrade": None,
            "ping_interval_ms": None,
            "ping_timeout_ms": None,
            "rtt_ms": None,
            "user": None,
        }
        self.client: HttpClient | None = None
        self.guest_http: WireClient | None = None
        """The guest POST's client (the wire layer's), made on first use."""
        self.addresses: list[tuple[int, tuple[Any, ...]]] = []
        self.tcp_ms: float = 0.0
        self.sock: socket.socket | None = None
        self.proxy_answer: ProxyAnswer | None = None
        self.first_answer: HttpAnswer | None = None
        self.open: OpenPacket | None = None
        self.websocket_only = False
        self.polling: PollingTransport | None = None
        self.transport: Transport | None = None
        self.ws_worked = False
        self.token: str | None = None
        self.token_source: str | None = None
        self.guest_note: str = ""
        self.regenerated: dict[str, Any] | None = None
        self.events_in = 0
        self.witness = PathWitness()
        """Every answer read (HTTP and the websocket upgrade), for the path rung."""

    # -- bookkeeping --------------------------------------------------------------------------
    @property
    def http(self) -> HttpClient:
        """The HTTP client of this probe, made on first use (DNS and TCP failures never need it)."""
        if self.client is None:
            self.client = HttpClient(self.settings, self.timeout)
            self.client.on_answer = self._saw
        return self.client

    def _saw(self, method: str, url: str, answer: HttpAnswer) -> None:
        headers, body = answer.headers, answer.body
        cookies = answer.extra.get("set_cookie", ())
        self.witness.http(method, url, answer.status, headers, body, cookies)

    def now(self) -> float:
        return self.clock.monotonic()

    def ms_since(self, start: float) -> float:
        return max(0.0, (self.now() - start) * 1000)

    def record(
        self, name: str, status: Status, start: float | None, detail: str, /, **evidence: Any
    ) -> Step:
        ms = self.ms_since(start) if start is not None else 0.0
        step = Step(
            name=name,
            status=status,
            ms=ms,
            detail=visible(self.redactor.text(detail)),
            evidence=self.redactor.value({k: v for k, v in evidence.items() if v is not None}),
        )
        self.steps.append(step)
        self.bus.emit(ProbeStep, name=name, status=status, ms=ms, info=step.detail)
        return step

    def evidence(self, **extra: Any) -> dict[str, Any]:
        """The common evidence every verdict template may use, plus ``extra``."""
        base: dict[str, Any] = {
            "url": self.settings.url,
            "host": self.target.host,
            "port": self.target.port,
            "path": self.settings.path,
            "namespace": self.settings.namespace,
            "handshake_url": self._display_url(eio_url(self.settings)),
            "proxy": self.environment.get("proxy"),
            "proxy_source": self.environment.get("proxy_source"),
            "tls_verify": self.settings.tls_verify,
            "timeout_s": f"{self.timeout:g}",
            "guest_url": self.settings.guest_url,
        }
        base.update(extra)
        return {k: (self.redactor.text(v) if isinstance(v, str) else v) for k, v in base.items()}

    def _display_url(self, url: str) -> str:
        """An Engine.IO URL without the cache-busting ``t`` parameter."""
        parts = urllib.parse.urlsplit(url)
        query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "t"]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    def fail(
        self,
        step: str,
        start: float | None,
        detail: str,
        code: str,
        reason: str | None = None,
        /,
        **evidence: Any,
    ) -> _Stop:
        """Record a failing step and its verdict; return the exception that stops the ladder."""
        ev = self.evidence(**evidence)
        self.record(step, "fail", start, detail, **evidence)
        if self.verdict is None:
            verdict = make_verdict(code, reason, **ev)
            # A failing step means nothing connected: CRITICAL, even for a cause that is only a
            # warning when another transport still works (a blocked websocket on a server that
            # offers no polling).
            self.verdict = dataclasses.replace(verdict, exit_code=max(verdict.exit_code, 2))
            self.failed_step = step
        return _Stop(detail)

    def warn(self, code: str, reason: str | None, **evidence: Any) -> None:
        if self.warning is None:
            self.warning = make_verdict(code, reason, **self.evidence(**evidence))

    # -- the climb ----------------------------------------------------------------------------
    async def run(self) -> ProbeResult:
        rungs: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("url", self.rung_url),
            ("dns", self.rung_dns),
            ("tcp", self.rung_tcp),
            ("tls", self.rung_tls),
            ("proxy", self.rung_proxy),
            ("handshake", self.rung_handshake),
            ("session", self.rung_session),
            ("websocket", self.rung_websocket),
            ("namespace", self.rung_namespace),
            ("rtt", self.rung_rtt),
            ("cors", self.rung_cors),
            ("path", self.rung_path),
        ]
        assert tuple(n for n, _ in rungs) == STEP_NAMES
        events: list[Event] = []
        unsubscribe = self.bus.subscribe(events.append)
        try:
            for name, rung in rungs:
                if self.verdict is not None and name != "path":
                    failed = STEP_TITLES.get(self.failed_step or "", self.failed_step)
                    self.record(name, "skip", None, f"not tried: {failed} failed")
                    continue
                try:
                    await rung()
                except _Stop:
                    continue
        finally:
            await self.cleanup()
            unsubscribe()
        verdict = self.verdict or self.warning or self.ok_verdict()
        return ProbeResult(
            url=self.settings.url,
            verdict=verdict,
            steps=tuple(self.steps),
            connection=dict(self.connection),
            environment=dict(self.environment),
            history=tuple(events),
        )

    async def cleanup(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        transports = [self.transport]
        if self.polling is not self.transport:
            transports.append(self.polling)
        for transport in transports:
            if transport is not None:
                with contextlib.suppress(
                    EngineRequestFailed, WsClosed, OSError, asyncio.TimeoutError
                ):
                    await asyncio.wait_for(transport.close(), 2.0)
        self.transport = self.polling = None
        if self.client is not None:
            await self.client.aclose()
            self.client = None
        if self.guest_http is not None:
            await self.guest_http.aclose()
            self.guest_http = None

    def ok_verdict(self) -> Verdict:
        transport = self.connection.get("transport") or "polling"
        user = self.connection.get("user")
        interval = self.connection.get("ping_interval_ms")
        timeout = self.connection.get("ping_timeout_ms")
        ev = self.evidence(
            transport=transport,
            as_user=f" as {user}" if user else "",
            user=user,
            rtt_ms=self.connection.get("rtt_ms"),
            ping_interval_s=f"{interval / 1000:g}" if interval else None,
            ping_timeout_s=f"{timeout / 1000:g}" if timeout else None,
            upgrades=", ".join(self.open.upgrades) if self.open and self.open.upgrades else "none",
        )
        if self.regenerated:
            ev.update(self.regenerated)
            return make_verdict("ok", "regenerated", **ev)
        if transport == "polling" and self.connection.get("upgrade") == "not offered":
            return make_verdict("ok", "polling_only", **ev)
        return make_verdict("ok", None, **ev)

    # -- 1. URL and settings ------------------------------------------------------------------
    async def rung_url(self) -> None:
        s = self.settings
        parts = [
            s.url,
            f"path {s.path}",
            f"namespace {s.namespace}",
            f"transports {','.join(s.transports)}",
        ]
        if s.insecure:
            parts.append("TLS NOT VERIFIED (--insecure)")
        self.record(
            "url",
            "ok",
            None,
            ", ".join(parts),
            url=s.url,
            path=s.path,
            namespace=s.namespace,
            transports=list(s.transports),
            connect_timeout_s=s.connect_timeout,
            ws_timeout_s=s.ws_timeout,
        )

    # -- 2. DNS -------------------------------------------------------------------------------
    def _hop(self) -> tuple[str, int, bool]:
        if self.proxy:
            ep = proxy_endpoint(self.proxy)
            return ep.host, ep.port, True
        return self.target.host, self.target.port, False

    async def rung_dns(self) -> None:
        host, port, via_proxy = self._hop()
        start = self.now()
        try:
            self.addresses = await resolve(host, port, self.timeout)
        except NetFailure as exc:
            raise self.fail(
                "dns",
                start,
                f"{host}{' (the proxy)' if via_proxy else ''} does not resolve: {exc.error}",
                "dns_failure",
                "proxy" if via_proxy else None,
                host=host,
                error=exc.error,
                ms=f"{self.ms_since(start):.1f}",
            ) from None
        addrs = [str(a[0]) for _, a in self.addresses]
        shown = ", ".join(addrs[:4]) + (f" (+{len(addrs) - 4})" if len(addrs) > 4 else "")
        self.record(
            "dns",
            "ok",
            start,
            f"{host}{' (the proxy)' if via_proxy else ''} → {shown}",
            host=host,
            addresses=addrs,
            via_proxy=via_proxy,
        )

    # -- 3. TCP -------------------------------------------------------------------------------
    async def rung_tcp(self) -> None:
        host, port, via_proxy = self._hop()
        start = self.now()
        try:
            sock, addr, errors = await connect_tcp(self.addresses, self.timeout)
        except NetFailure as exc:
            ms = f"{self.ms_since(start):.1f}"
            tried = exc.evidence.get("addresses") or []
            common = {
                "host": host,
                "port": port,
                "address": tried[0] if tried else f"{host}:{port}",
                "error": exc.error,
                "ms": ms,
                "tried": f"Tried: {exc.error}." if len(tried) > 1 else "",
            }
            if exc.kind == "refused":
                raise self.fail(
                    "tcp",
                    start,
                    f"refused: {exc.error}",
                    "connection_refused",
                    "proxy" if via_proxy else None,
                    **common,
                ) from None
            if via_proxy:
                raise self.fail(
                    "tcp",
                    start,
                    f"the proxy does not answer: {exc.error}",
                    "proxy_error",
                    None,
                    **common,
                ) from None
            raise self.fail(
                "tcp", start, f"no connection: {exc.error}", "connect_timeout", None, **common
            ) from None
        self.tcp_ms = self.ms_since(start)
        self.sock = sock
        extra = f" (after: {'; '.join(errors)})" if errors else ""
        self.record(
            "tcp",
            "ok",
            start,
            f"connected to {address_text(addr)}{' (the proxy)' if via_proxy else ''}{extra}",
            address=address_text(addr),
            failed_before=errors or None,
        )

    # -- 4. TLS -------------------------------------------------------------------------------
    async def rung_tls(self) -> None:
        sock, self.sock = self.sock, None
        if not self.target.tls:
            if sock is not None:
                await self._keep_for_http(sock)
            self.record("tls", "skip", None, "plain http: no TLS")
            return
        assert sock is not None
        start = self.now()
        if self.proxy:
            try:
                self.proxy_answer = await proxy_connect(
                    sock, self.target, self.proxy, self.timeout, {}
                )
            except NetFailure as exc:
                sock.close()
                raise self.fail(
                    "tls",
                    start,
                    f"no tunnel through the proxy: {exc.error}",
                    "proxy_error",
                    None,
                    error=exc.error,
                ) from None
            if not 200 <= self.proxy_answer.status < 300:
                sock.close()
                self.record(
                    "tls",
                    "skip",
                    start,
                    f"the proxy answered {self.proxy_answer.status_line} to CONNECT (see Proxy)",
                )
                return
        ctx = make_ssl_context(self.settings)
        try:
            reader, writer, info = await tls_handshake(sock, self.target.host, ctx, self.timeout)
        except ssl.SSLError as exc:
            await self._tls_failed(start, exc)
            return
        except NetFailure as exc:
            raise self.fail(
                "tls",
                start,
                f"TLS handshake failed: {exc.error}",
                "tls_error",
                None,
                error=exc.error,
                ms=f"{self.ms_since(start):.1f}",
            ) from None
        self.http.adopt(self.settings.url, reader, writer)  # it carries the first request
        cert = info.cert
        verified = "NOT verified (--insecure)" if not info.verified else "verified"
        status: Status = "warn" if not info.verified else "ok"
        self.record(
            "tls",
            status,
            start,
            f"{info.protocol}, certificate {cert.get('subject', '?')} issued by "
            f"{cert.get('issuer', '?')}, valid until {cert.get('not_after', '?')}, {verified}",
            **info.evidence(),
        )

    async def _keep_for_http(self, sock: socket.socket) -> None:
        """The TCP rung's connection carries the first HTTP request: one connection (and, for
        https, one TLS handshake) less per probe, for the target as much as for the probe."""
        try:
            reader, writer = await within(asyncio.open_connection(sock=sock), self.timeout)
        except (OSError, asyncio.TimeoutError):
            sock.close()
            return
        self.http.adopt(self.settings.url, reader, writer)

    async def _tls_failed(self, start: float, exc: ssl.SSLError) -> None:
        ms = self.ms_since(start)
        reason = classify_tls_error(exc)
        error = tls_error_text(exc)
        cert: dict[str, Any] = {}
        plain: str | None = None
        if reason == "default" and not self.proxy:
            plain = await sniff_plain_http(self.target.host, self.target.port, min(self.timeout, 3))
            if plain:
                reason = "plain_port"
        if reason in ("untrusted", "expired", "hostname"):
            with contextlib.suppress(NetFailure, ssl.SSLError, OSError, asyncio.TimeoutError):
                cert = await self._peek_cert()
        detail = {
            "plain_port": f"TLS to a plain HTTP port: {error}; the port answers {plain!r}",
            "untrusted": f"certificate not trusted: {error}",
            "expired": f"certificate expired: {error}",
            "hostname": f"certificate for another name: {error}",
        }.get(reason, f"TLS handshake failed: {error}")
        raise self.fail(
            "tls",
            start,
            detail,
            "tls_error",
            reason,
            error=error,
            ms=f"{ms:.1f}",
            plain_answer=plain,
            verify_code=getattr(exc, "verify_code", None),
            **cert,
        ) from None

    async def _peek_cert(self) -> dict[str, Any]:
        """Handshake again without verification, only to show the certificate."""
        from conndebug.core.probe.net import decode_der

        reader, writer = await open_stream(self.settings, min(self.timeout, 3), verify=False)
        try:
            obj = writer.get_extra_info("ssl_object")
            der = obj.getpeercert(binary_form=True) if obj is not None else None
            return decode_der(der)
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError, asyncio.TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1)
            del reader

    # -- 5. Proxy -----------------------------------------------------------------------------
    async def rung_proxy(self) -> None:
        if not self.proxy:
            variables = self.environment.get("proxy_variables") or {}
            names = [n for n in variables if "no_proxy" not in n.lower()]
            detail = "none in effect (direct connection)"
            if names:
                detail = (
                    f"none in effect: NO_PROXY covers {self.target.host} ({', '.join(names)} set)"
                )
            self.record("proxy", "skip", None, detail)
            return
        source = self.environment.get("proxy_source")
        shown = self.environment.get("proxy")
        start = self.now()
        if self.target.tls:
            answer = self.proxy_answer
            assert answer is not None
            request = f"CONNECT {self.target.hostport}"
            self._proxy_verdict(start, answer.status, answer.status_line, answer.headers, request)
            self.record(
                "proxy",
                "ok",
                None,
                f"{shown} (from {source}) opened a tunnel: {answer.status_line}",
                status=answer.status,
            )
            return
        url = eio_url(self.settings)
        try:
            got = await fetch(self.http, "GET", url, timeout=self.timeout)
        except HttpFailure as exc:
            raise self.fail(
                "proxy", start, f"{shown}: {exc.error}", "proxy_error", None, error=exc.error
            ) from None
        self._proxy_verdict(
            start, got.status, got.status_line, got.headers, f"GET {self._display_url(url)}"
        )
        self.first_answer = got
        self.record(
            "proxy",
            "ok",
            start,
            f"{shown} (from {source}) forwarded the request: {got.status_line}",
            status=got.status,
            via=got.headers.get("via"),
        )

    def _proxy_verdict(
        self, start: float, status: int, status_line: str, headers: Any, request: str
    ) -> None:
        ev = {
            "status": status,
            "status_line": status_line,
            "request": request,
            "target": self.target.hostport,
            "proxy_agent": headers.get("proxy-agent") or headers.get("server"),
        }
        if status == 407:
            challenge = headers.get("proxy-authenticate")
            raise self.fail(
                "proxy",
                start,
                f"{status_line}: the proxy needs credentials",
                "proxy_error",
                "auth",
                challenge=f" (it asks for: {challenge})" if challenge else "",
                **ev,
            )
        if status in (502, 503, 504):
            raise self.fail(
                "proxy",
                start,
                f"{status_line}: the proxy could not reach {self.target.hostport}",
                "proxy_error",
                "failed",
                **ev,
            )
        if self.target.tls and not 200 <= status < 300:
            raise self.fail(
                "proxy", start, f"{status_line} to CONNECT", "proxy_error", "refused", **ev
            )
        if status in (401, 403) and _from_proxy(headers):
            raise self.fail(
                "proxy",
                start,
                f"{status_line}: the proxy's policy refuses the request",
                "proxy_error",
                "refused",
                **ev,
            )

    # -- 6. Engine.IO handshake ---------------------------------------------------------------
    async def rung_handshake(self) -> None:
        start = self.now()
        answer = self.first_answer
        self.first_answer = None
        if answer is None:
            try:
                answer = await fetch(self.http, "GET", eio_url(self.settings), timeout=self.timeout)
            except HttpFailure as exc:
                await self._handshake_failed(start, exc)
                return
        hs = classify_handshake(answer)
        if hs.kind == "open":
            assert hs.open is not None
            self._opened(hs.open)
            self.polling = self._polling(hs.open)
            self.transport = self.polling
            o = hs.open
            self.record(
                "handshake",
                "ok",
                start,
                f"Engine.IO 4 open packet: sid {o.sid}, upgrades {list(o.upgrades)}, ping every "
                f"{_s(o.ping_interval_ms)} s, timeout {_s(o.ping_timeout_ms)} s, max payload "
                f"{o.max_payload if o.max_payload is not None else '?'} B",
                status=answer.status,
                sid=o.sid,
                upgrades=list(o.upgrades),
                ping_interval_ms=o.ping_interval_ms,
                ping_timeout_ms=o.ping_timeout_ms,
                max_payload=o.max_payload,
            )
            self.bus.emit(TransportChanged, transport="polling", how="direct")
            return
        await self._handshake_not_open(start, hs)

    def _polling(self, o: OpenPacket) -> PollingTransport:
        """The polling transport of a new session; bodies bounded by its maxPayload (≤ 1 MiB)."""
        limit = min(max(o.max_payload or 0, 64 * 1024), 1024 * 1024)
        return PollingTransport(self.http, self.settings, o.sid, self.timeout, limit=limit)

    def _opened(self, o: OpenPacket) -> None:
        self.open = o
        self.connection.update(
            engine_sid=o.sid,
            ping_interval_ms=o.ping_interval_ms,
            ping_timeout_ms=o.ping_timeout_ms,
            transport="polling",
        )

    def _answer_evidence(self, answer: HttpAnswer) -> dict[str, Any]:
        return {
            "status": answer.status,
            "status_line": answer.status_line,
            "content_type": answer.content_type or None,
            "server_header": answer.headers.get("server", "none"),
            "body_sample": answer.sample(),
            "truncated": answer.truncated or None,
        }

    async def _handshake_not_open(self, start: float, hs: Handshake) -> None:
        answer = hs.answer
        ev = self._answer_evidence(answer)
        if hs.kind == "eio3":
            raise self.fail(
                "handshake",
                start,
                f"Engine.IO 3 framing (Socket.IO v2): {hs.sample}",
                "protocol_mismatch",
                None,
                sample=hs.sample,
                **ev,
            )
        if hs.kind == "bad_open":
            if hs.open is not None and hs.open.unusable:
                error = (
                    f"an open packet with timings no client can use ({', '.join(hs.open.unusable)})"
                )
            elif answer.truncated:
                error = (
                    f"an open packet larger than the {len(answer.body) // 1024} KiB the probe "
                    "reads (an open packet is about 150 bytes)"
                )
            else:
                error = f"an open packet that is not a JSON object with a sid ({hs.sample})"
            raise self.fail(
                "handshake",
                start,
                f"{answer.status_line}, but {error}",
                "server_error",
                "protocol",
                error=error,
                stage="Engine.IO handshake",
                **ev,
            )
        if hs.kind == "engine_error":
            assert hs.error is not None
            err = hs.error
            ev.update(message=err.message, engine_code=err.code)
            if err.code == 5:
                await self._confirm_generation(start, err.message, ev)
                return
            if err.code == 0:
                self.websocket_only = True
                self.record(
                    "handshake",
                    "warn",
                    start,
                    f'{answer.status_line} "{err.message}" (code 0): the server refuses polling; '
                    "trying websocket only",
                    **ev,
                )
                return
            if err.code == 4:
                raise self.fail(
                    "handshake",
                    start,
                    f'{answer.status_line} "{err.message}" (code 4, Forbidden)',
                    "auth_rejected",
                    "engine_forbidden",
                    **ev,
                )
            if err.origin_rejected:
                raise self.fail(
                    "handshake",
                    start,
                    f'{answer.status_line} "{err.message}"',
                    "cors_rejected",
                    None,
                    origin=self.settings.origin or "this client",
                    answer=f'{answer.status_line} "{err.message}"',
                    **ev,
                )
            raise self.fail(
                "handshake",
                start,
                f'{answer.status_line} "{err.message}" (Engine.IO code {err.code})',
                "server_error",
                "protocol",
                stage="Engine.IO handshake",
                error=f'{answer.status_line} "{err.message}" (Engine.IO code {err.code})',
                **ev,
            )
        if hs.kind == "server_error":
            raise self.fail(
                "handshake",
                start,
                f"{answer.status_line} from the Engine.IO path",
                "server_error",
                None,
                body_note=f" ({answer.sample(60)})" if answer.body else "",
                time=_iso_now(self.clock),
                **ev,
            )
        if hs.kind == "redirect":
            location = answer.headers.get("location", "")
            hint = location
            if location.startswith("https://") and not self.settings.is_tls:
                hint = f"{location} — the server wants https: use https:// in the URL"
            raise self.fail(
                "handshake",
                start,
                f"{answer.status_line} → {location}",
                "not_socketio",
                "redirect",
                location=location,
                location_hint=hint,
                **ev,
            )
        if "plain http request was sent to https port" in answer.text.lower():
            raise self.fail(
                "handshake",
                start,
                "plain HTTP sent to a TLS port (the server says so)",
                "tls_error",
                "tls_port",
                error=f"{answer.status_line}: {answer.sample(60)}",
                https_url="https://" + self.settings.url.split("://", 1)[1],
                **ev,
            )
        hint, fix, found = await self._path_hint()
        content = "HTML" if hs.kind == "html" else (answer.content_type or "no content type")
        raise self.fail(
            "handshake",
            start,
            f"{answer.status_line} ({content}): not Engine.IO at {self.settings.path}"
            + (f"; Socket.IO answers at {found}" if found else ""),
            "not_socketio",
            None,
            content=content,
            path_hint=hint,
            path_fix=fix,
            found_path=found,
            **ev,
        )

    async def _confirm_generation(self, start: float, message: str, ev: dict[str, Any]) -> None:
        """EIO=4 refused as unsupported: ask with EIO=3 to tell a v2 server from another one."""
        try:
            answer3 = await fetch(
                self.http, "GET", eio_url(self.settings, eio=3), timeout=self.timeout
            )
        except HttpFailure as exc:
            eio3 = f"nothing ({exc.error})"
            hs3 = None
        else:
            hs3 = classify_handshake(answer3)
            eio3 = f"{answer3.status_line} {answer3.sample(60)}"
        if hs3 is not None and hs3.kind == "eio3":
            raise self.fail(
                "handshake",
                start,
                f'EIO=4 refused ("{message}"), EIO=3 opens a session: a Socket.IO v2 server',
                "protocol_mismatch",
                None,
                sample=hs3.sample,
                **ev,
            )
        raise self.fail(
            "handshake",
            start,
            f'EIO=4 refused ("{message}", code 5); EIO=3 answered {eio3}',
            "protocol_mismatch",
            "unsupported",
            eio3_answer=eio3,
            **ev,
        )

    async def _path_hint(self) -> tuple[str, str, str | None]:
        """Look for Socket.IO at the usual path when the given one is not it."""
        candidates = [p for p in ("/socket.io",) if p != self.settings.path.rstrip("/")]
        for path in candidates:
            url = eio_url(_with_path(self.settings, path))
            try:
                got = await fetch(self.http, "GET", url, timeout=min(self.timeout, 2.0))
            except HttpFailure:
                continue
            opened = parse_open(got.text) if got.status == 200 else None
            if opened is not None:
                await self._close_polling(path, opened.sid)
                return (
                    f"Socket.IO does answer at {path}.",
                    f"Use --path {path}.",
                    path,
                )
        given = self.settings.path
        hint = (
            f"Socket.IO servers can use another path than the default /socket.io (the server's "
            f"`path` option); nothing answered at {given}."
        )
        fix = (
            "Give the server's Engine.IO path with --path (e.g. --path /custom-path), or check "
            f"the port: {self.target.hostport} may be another web server. Remember that the URL's "
            "own path is the namespace, not the Engine.IO path."
        )
        return hint, fix, None

    async def _close_polling(self, path: str, sid: str) -> None:
        transport = PollingTransport(self.http, _with_path(self.settings, path), sid, 2.0)
        with contextlib.suppress(EngineRequestFailed):
            await transport.close()

    async def _handshake_failed(self, start: float, exc: HttpFailure) -> None:
        ev = {"error": exc.error, "kind": exc.kind}
        if exc.kind == "timeout":
            raise self.fail(
                "handshake",
                start,
                f"connected, then no answer: {exc.error}",
                "connect_timeout",
                "silent",
                what="Engine.IO handshake request",
                address=self.target.hostport,
                tcp_ms=f"{self.tcp_ms:.1f}",
                **ev,
            )
        if exc.kind == "connect_timeout":
            raise self.fail(
                "handshake",
                start,
                exc.error,
                "connect_timeout",
                None,
                address=self.target.hostport,
                **ev,
            )
        if exc.kind == "refused":
            raise self.fail(
                "handshake",
                start,
                f"refused: {exc.error}",
                "connection_refused",
                None,
                address=self.target.hostport,
                ms=f"{exc.ms:.1f}",
                tried="",
                **ev,
            )
        if exc.kind == "proxy":
            raise self.fail("handshake", start, exc.error, "proxy_error", None, **ev)
        if exc.kind == "tls":
            raise self.fail("handshake", start, exc.error, "tls_error", None, **ev)
        if not self.settings.is_tls and await self._speaks_tls():
            raise self.fail(
                "handshake",
                start,
                f"no HTTP answer ({exc.error}), but the port completes a TLS handshake",
                "tls_error",
                "tls_port",
                https_url="https://" + self.settings.url.split("://", 1)[1],
                **ev,
            )
        raise self.fail(
            "handshake",
            start,
            f"no valid HTTP answer: {exc.error}",
            "server_error",
            "protocol",
            stage="Engine.IO handshake",
            **ev,
        )

    async def _speaks_tls(self) -> bool:
        if self.proxy:
            return False
        try:
            addresses = await resolve(self.target.host, self.target.port, self.timeout)
            sock, _addr, _errors = await connect_tcp(addresses, min(self.timeout, 3))
            ctx = make_ssl_context(self.settings, verify=False)
            _reader, writer, _info = await tls_handshake(
                sock, self.target.host, ctx, min(self.timeout, 3), describe=False
            )
        except (NetFailure, ssl.SSLError, OSError):
            return False
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1)
        return True

    # -- 7. Session consistency -----------------------------------------------------------------
    async def rung_session(self) -> None:
        if self.websocket_only or self.polling is None:
            self.record("session", "skip", None, "no polling session (websocket only)")
            return
        polling = self.polling
        start = self.now()
        samples: list[float] = []
        for i in range(1, _ROUNDS + 1):
            t0 = self.now()
            try:
                await polling.send(sio_packet(0, PROBE_NAMESPACE))
                await self._await_namespace_answer(polling, PROBE_NAMESPACE, min(self.timeout, 5.0))
            except EngineRequestFailed as exc:
                self._session_failed(start, exc, i)
            except asyncio.TimeoutError:
                raise self.fail(
                    "session",
                    start,
                    f"round trip {i}: no answer to a namespace probe within "
                    f"{min(self.timeout, 5.0):g} s",
                    "server_error",
                    "protocol",
                    stage="polling round trips",
                    error="a namespace connect got no answer",
                ) from None
            samples.append(self.ms_since(t0))
        self.record(
            "session",
            "ok",
            start,
            f"{_ROUNDS} polling round trips on session {polling.sid}: same session every time "
            f"(median {_median(samples):.1f} ms)",
            rounds=_ROUNDS,
            samples_ms=[round(s, 2) for s in samples],
        )

    def _session_failed(self, start: float, exc: EngineRequestFailed, i: int) -> None:
        answer = exc.answer
        engine = exc.engine
        status_line = answer.status_line if answer else "no answer"
        ev = {
            "engine_sid": self.polling.sid if self.polling else None,
            "failed_at": i,
            "rounds": _ROUNDS,
            "status_line": status_line,
            "message": engine.message if engine else exc.error,
            "error": exc.error,
        }
        if engine is not None and engine.code == 1:
            self.polling = None
            self.transport = None
            raise self.fail(
                "session",
                start,
                f'round trip {i}: {status_line} "{engine.message}": another node answered',
                "sticky_session_missing",
                None,
                **ev,
            )
        raise self.fail(
            "session",
            start,
            f"round trip {i} failed: {exc.error}",
            "server_error",
            "protocol",
            stage="polling round trips",
            **ev,
        )

    async def _await_namespace_answer(
        self, transport: Transport, namespace: str, timeout: float
    ) -> Any:
        """Wait for CONNECT / CONNECT_ERROR of ``namespace``; returns the packet."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise asyncio.TimeoutError
            message = await transport.recv(remaining)
            pkt = parse_sio(message)
            if pkt is None:
                continue
            if pkt.namespace == namespace and pkt.type in (0, 4):
                if pkt.type == 0 and namespace == PROBE_NAMESPACE:
                    await transport.send(sio_packet(1, namespace))
                return pkt
            if pkt.type == 2 and self.events_in < _MAX_EVENTS_IN:
                self.events_in += 1
                self._event_in(pkt.namespace, pkt.data)

    def _event_in(self, namespace: str, data: Any) -> None:
        name = str(data[0]) if isinstance(data, list) and data else "?"
        args = data[1:] if isinstance(data, list) else []
        text = json.dumps(args, ensure_ascii=False, default=str)
        preview = self.redactor.text(text[:120] + ("…" if len(text) > 120 else ""))
        self.bus.emit(
            EventIn, name=name, size=len(text.encode()), preview=preview, namespace=namespace
        )

    # -- 8. Websocket -------------------------------------------------------------------------
    async def rung_websocket(self) -> None:
        s = self.settings
        if "websocket" not in s.transports:
            self.connection["upgrade"] = "not tried"
            self.record("websocket", "skip", None, "websocket is not in --transports")
            return
        if (
            not self.websocket_only
            and self.open is not None
            and "websocket" not in self.open.upgrades
        ):
            self.connection["upgrade"] = "not offered"
            self.record("websocket", "skip", None, "the server offers no websocket upgrade")
            return
        sid = None if self.websocket_only else (self.open.sid if self.open else None)
        ws_url = eio_url(s, transport="websocket", sid=sid, websocket=True)
        start = self.now()
        state: dict[str, Any] = {"stage": "connect"}
        try:
            ws = await within(self._websocket(ws_url, state), s.ws_timeout)
        except asyncio.TimeoutError:
            stage = state["stage"]
            if stage == "probe":
                self._ws_failed(
                    start,
                    "probe_failed",
                    ws_url,
                    f"101, then no 3probe within {s.ws_timeout:g} s",
                    error=f"no answer to 2probe within {s.ws_timeout:g} s",
                )
            self._ws_failed(
                start,
                "hang",
                ws_url,
                f"no answer to the upgrade within {s.ws_timeout:g} s (a black hole)",
                timeout_s=f"{s.ws_timeout:g}",
                error="no answer",
            )
            return
        except WsRefused as exc:
            self._ws_refused(start, ws_url, exc)
            return
        except NetFailure as exc:
            reason = "reset" if exc.kind in ("closed", "timeout") else "default"
            if exc.kind == "proxy":
                reason = "proxy_tunnel"
            self._ws_failed(start, reason, ws_url, exc.error, error=exc.error)
            return
        except WsClosed as exc:
            self._ws_failed(start, "probe_failed", ws_url, f"101, then {exc}", error=str(exc))
            return
        except ssl.SSLError as exc:
            self._ws_failed(
                start, "default", ws_url, tls_error_text(exc), error=tls_error_text(exc)
            )
            return
        except EngineRequestFailed as exc:
            self._ws_failed(start, "probe_failed", ws_url, exc.error, error=exc.error)
            return
        transport = WebSocketTransport(ws, sid or (self.open.sid if self.open else ""))
        self.transport = transport
        self.polling = None
        self.ws_worked = True
        self.connection.update(transport="websocket", upgrade="ok")
        how = "direct" if self.websocket_only else "upgraded"
        self.bus.emit(
            TransportChanged,
            transport="websocket",
            previous=None if self.websocket_only else "polling",
            how=how,
        )
        self.record(
            "websocket",
            "ok",
            start,
            "101 Switching Protocols, "
            + ("open packet received" if self.websocket_only else "2probe → 3probe, upgraded")
            + f" ({self._display_url(ws_url)})",
            url=self._display_url(ws_url),
        )

    async def _websocket(self, ws_url: str, state: dict[str, Any]) -> RawWebSocket:
        s = self.settings
        timeout = s.ws_timeout
        reader, writer = await open_stream(s, timeout)
        try:
            state["stage"] = "upgrade"
            parts = urllib.parse.urlsplit(ws_url)
            target = f"{parts.path}?{parts.query}"
            ws = await RawWebSocket.handshake(
                reader,
                writer,
                host=self.target.hostport,
                target=target,
                headers=dict(s.headers),
                timeout=timeout,
            )
        except WsRefused as exc:
            self.witness.websocket(exc.status, exc.headers, exc.body)
            writer.close()
            raise
        except BaseException:
            writer.close()
            raise
        self.witness.websocket(101, ws.response_headers)
        try:
            state["stage"] = "probe"
            if self.websocket_only:
                message = await ws.recv_text(timeout)
                opened = parse_open(message)
                if opened is None:
                    raise WsClosed(f"expected an open packet, got {message[:40]!r}")
                self._opened(opened)
            else:
                await ws.send_text("2probe")
                while True:
                    message = await ws.recv_text(timeout)
                    if message == "3probe":
                        break
                    if message in ("6", "2"):
                        continue
                    raise WsClosed(f"expected 3probe, got {message[:40]!r}")
                await ws.send_text("5")
        except BaseException:
            await ws.close()
            raise
        return ws

    def _ws_refused(self, start: float, ws_url: str, exc: WsRefused) -> None:
        answer = HttpAnswer(exc.status, exc.reason, exc.headers, exc.body, False, 0.0)
        engine = engine_error(answer)
        server = exc.headers.get("server")
        ev = {
            "status": exc.status,
            "status_line": str(exc),
            "server_note": f" (Server: {server})" if server else "",
            "message": engine.message if engine else answer.sample(60),
            "engine_code": engine.code if engine else None,
            "body_sample": answer.sample(),
        }
        if exc.status == 400 and engine is not None and engine.code in (0, 3):
            # Node answers code 3 "Bad request", python-engineio "Invalid transport": either way
            # the server saw a websocket request without its Upgrade header.
            code_note = f" (Engine.IO code {engine.code})" if b'"code"' in exc.body else ""
            self._ws_failed(
                start,
                "upgrade_stripped",
                ws_url,
                f'{exc} "{engine.message}"{code_note}: the Upgrade header did not reach the server',
                code_note=code_note,
                **ev,
            )
        self._ws_failed(start, "refused", ws_url, f"{exc} instead of 101", **ev)

    def _ws_failed(
        self, start: float, reason: str, ws_url: str, detail: str, **evidence: Any
    ) -> None:
        shown = self._display_url(ws_url)
        ms = f"{self.ms_since(start):.1f}"
        self.connection["upgrade"] = f"failed: {detail}"
        upgrades = ", ".join(self.open.upgrades) if self.open else "websocket"
        ev = {"ws_url": shown, "upgrades": upgrades, "ms": ms, **evidence}
        self.bus.emit(UpgradeFailed, why=self.redactor.text(detail))
        if self.websocket_only:
            ev["blocked_how"] = detail
            raise self.fail("websocket", start, detail, "websocket_blocked", "websocket_only", **ev)
        self.record("websocket", "warn", start, detail + "; staying on polling", **ev)
        self.warn("websocket_blocked", reason, **ev)
        raise _Stop(detail)

    # -- 9. Namespace connect -----------------------------------------------------------------
    async def _credentials(self) -> None:
        from conndebug.core.guest import create_guest_session, session_from_token

        s = self.settings
        if s.token:
            session = session_from_token(s.token, source="token")
            self.token, self.token_source = s.token, "token"
            self._session_event(session, "token")
            return
        if s.no_guest:
            self.guest_note = "no token (--no-guest)"
            return
        result = await create_guest_session(s, timeout=self.timeout, post=self._guest_post)
        if result.session is not None:
            self.token, self.token_source = result.session.token, "guest"
            self._session_event(result.session, "guest")
            return
        why = result.absent or result.error or "no session"
        self.guest_note = f"no guest session ({why})"
        self.bus.emit(
            Note,
            text=self.redactor.text(self.guest_note + "; connecting without a token"),
            level="warning" if result.error else "info",
            topic="guest",
        )

    async def _guest_post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> PostAnswer:
        """The guest session's POST over the wire layer's client (what guest.py reads), kept for
        a regeneration. The cookies it brings back (a sticky load balancer's) go to the probe's
        own client, as they would in a browser, for the Engine.IO requests after it."""
        from conndebug.core.guest import ANSWER_LIMIT, PostAnswer, PostFailed
        from conndebug.wire import HttpClient as WireHttpClient
        from conndebug.wire import WireError

        if self.guest_http is None:
            self.guest_http = WireHttpClient(self.settings, timeout=timeout)
        try:
            answer = await self.guest_http.request(
                "POST", url, headers=headers, body=body, timeout=timeout, limit=ANSWER_LIMIT
            )
        except WireError as exc:
            raise PostFailed(exc.kind, exc.message) from None
        for cookie in self.guest_http.cookies.cookies():
            jar = self.http.cookies.setdefault(cookie.domain, {})
            if len(jar) < 50:
                jar[cookie.name] = cookie.value
        return PostAnswer(answer.status, answer.header("content-type") or "", answer.body)

    def _session_event(self, session: Any, source: str) -> None:
        self.redactor.add(session.token)
        self.connection["user"] = session.username or session.user_id
        self.bus.emit(
            SessionCreated,
            username=session.username,
            user_id=session.user_id,
            session_id=session.session_id,
            expires_at=session.expires_at,
            token=self.redactor.secret(session.token, "token"),
            source=source,
        )
        problem = getattr(session, "problem", None)
        if problem is not None:  # unsigned, or (from a guest endpoint) not a JWT at all
            worrying = source == "guest" or "alg: none" in problem
            self.bus.emit(
                Note,
                text=self.redactor.text(
                    f"{'guest session' if source == 'guest' else '--token'}: {problem}"
                ),
                level="warning" if worrying else "info",
                topic="session",
            )

    def _auth(self) -> dict[str, Any] | None:
        auth = dict(self.settings.auth)
        if self.token:
            auth["token"] = self.token
        return auth or None

    async def _connect_namespace(self, transport: Transport) -> Any:
        await transport.send(sio_packet(0, self.settings.namespace, self._auth()))
        return await self._await_namespace_answer(transport, self.settings.namespace, self.timeout)

    async def rung_namespace(self) -> None:
        start = self.now()
        transport = self.transport
        if transport is None:
            raise self.fail(
                "namespace",
                start,
                "no Engine.IO session to connect on",
                "server_error",
                "protocol",
                stage="namespace connect",
                error="no session",
            )
        await self._credentials()
        ns = self.settings.namespace
        pkt = await self._namespace_attempt(start, transport)
        if pkt.type == 4:
            message = _message_of(pkt.data)
            self.bus.emit(
                ConnectError,
                message=self.redactor.text(message),
                data=self.redactor.value(pkt.data),
                source="server",
            )
            if is_expiry_message(message) and not self.settings.no_guest:
                pkt = await self._regenerate(start, message)
                if pkt.type == 4:
                    again = _message_of(pkt.data)
                    raise self.fail(
                        "namespace",
                        start,
                        f'refused "{message}"; a new guest session was refused too: "{again}"',
                        "session_expired",
                        None,
                        message=message,
                        regen_error=f'the new session was refused too ("{again}")',
                    )
            else:
                data = pkt.data if isinstance(pkt.data, dict) else {}
                extra = data.get("data")
                raise self.fail(
                    "namespace",
                    start,
                    f'refused by the server: "{message}"',
                    "auth_rejected",
                    None,
                    message=message,
                    with_token=self._with_token(),
                    data_note=f" (data: {json.dumps(extra, default=str)[:120]})" if extra else "",
                    auth_fix=self._auth_fix(message),
                )
        sid = pkt.data.get("sid") if isinstance(pkt.data, dict) else None
        self.connection.update(sid=sid)
        transport = self.transport
        assert transport is not None
        self.connection["transport"] = transport.name
        how = (
            "upgraded" if (transport.name == "websocket" and not self.websocket_only) else "direct"
        )
        self.bus.emit(
            Connected,
            transport=transport.name,
            sid=sid,
            engine_sid=self.connection["engine_sid"],
            namespace=ns,
            how=how,
            ping_interval_ms=self.connection["ping_interval_ms"],
            ping_timeout_ms=self.connection["ping_timeout_ms"],
            elapsed_ms=self.ms_since(start),
        )
        who = self.connection.get("user")
        self.record(
            "namespace",
            "ok",
            start,
            f"{ns} connected over {transport.name}, socket id {sid}"
            + (
                f", as {who} ({self.token_source} token)"
                if who
                else f", {self.guest_note or 'no token'}"
            )
            + (" after renewing the expired session" if self.regenerated else ""),
            sid=sid,
            user=who,
            token_source=self.token_source,
        )

    async def _namespace_attempt(self, start: float, transport: Transport) -> Any:
        try:
            return await self._connect_namespace(transport)
        except asyncio.TimeoutError:
            raise self.fail(
                "namespace",
                start,
                f"no answer to the namespace connect within {self.timeout:g} s",
                "server_error",
                "protocol",
                stage="namespace connect",
                error=f"no CONNECT answer within {self.timeout:g} s",
            ) from None
        except (EngineRequestFailed, WsClosed) as exc:
            raise self.fail(
                "namespace",
                start,
                f"the session broke: {exc}",
                "server_error",
                "protocol",
                stage="namespace connect",
                error=str(exc),
            ) from None

    def _with_token(self) -> str:
        if self.token_source == "token":
            return " with the given token"
        if self.token_source == "guest":
            return " with a new guest session's token"
        return f" without a token ({self.guest_note or 'none given'})"

    def _auth_fix(self, message: str) -> str:
        lowered = message.lower()
        if "required" in lowered:
            return (
                "The server wants a token in the Socket.IO auth object. Pass one with --token, or "
                f"let conndebug create a guest session ({self.guest_note or 'check --guest-endpoint'})."
            )
        if "invalid token" in lowered or "verification failed" in lowered:
            return (
                "The token is not signed with this server's key (a token from another "
                "environment, or damaged when copied). Get a fresh token from this server, or drop "
                "--token to use a guest session."
            )
        if "only guest" in lowered:
            return "The server accepts guest tokens only: create one at the guest endpoint."
        if "rate limit" in lowered:
            return "Too many handshakes for this user: wait a minute and probe again."
        return (
            "The server's connection middleware refused with its own message; give it what it "
            "expects in the auth object (--token, --auth-json) or the headers (--header)."
        )

    async def _regenerate(self, start: float, message: str) -> Any:
        """The web client's regeneration: a new guest session, then connect again."""
        from conndebug.core.guest import create_guest_session

        self.bus.emit(SessionExpired, message=self.redactor.text(message))
        old_user = self.connection.get("user")
        result = await create_guest_session(
            self.settings, timeout=self.timeout, post=self._guest_post
        )
        if result.session is None:
            why = result.absent or result.error or "no session"
            raise self.fail(
                "namespace",
                start,
                f'refused "{message}"; a new guest session failed: {why}',
                "session_expired",
                None,
                message=message,
                regen_error=f"creating a new guest session failed ({why})",
            )
        session = result.session
        self.redactor.add(session.token)
        self.token, self.token_source = session.token, "guest"
        self.connection["user"] = session.username or session.user_id
        self.bus.emit(
            SessionRegenerated,
            username=session.username,
            user_id=session.user_id,
            session_id=session.session_id,
            previous_session_id=None,
            count=1,
        )
        self.regenerated = {
            "message": message,
            "user": session.username or session.user_id,
            "previous_user": old_user,
        }
        transport = await self._new_session(start)
        return await self._namespace_attempt(start, transport)

    async def _new_session(self, start: float) -> Transport:
        """A fresh Engine.IO session on the transport that worked before."""
        old = self.transport
        self.transport = self.polling = None
        if old is not None:
            with contextlib.suppress(EngineRequestFailed, WsClosed, OSError, asyncio.TimeoutError):
                await asyncio.wait_for(old.close(), 2.0)
        try:
            if not self.websocket_only:
                answer = await fetch(self.http, "GET", eio_url(self.settings), timeout=self.timeout)
                opened = parse_open(answer.text) if answer.status == 200 else None
                if opened is None:
                    raise EngineRequestFailed(f"a new handshake answered {answer.status_line}")
                self._opened(opened)
                self.polling = self._polling(opened)
                self.transport = self.polling
            if self.ws_worked or self.websocket_only:
                sid = None if self.websocket_only else self.open.sid if self.open else None
                url = eio_url(self.settings, transport="websocket", sid=sid, websocket=True)
                ws = await within(self._websocket(url, {}), self.settings.ws_timeout)
                self.transport = WebSocketTransport(ws, sid or "")
                self.polling = None
                self.connection["transport"] = "websocket"
        except (
            HttpFailure,
            EngineRequestFailed,
            NetFailure,
            WsRefused,
            WsClosed,
            asyncio.TimeoutError,
            ssl.SSLError,
        ) as exc:
            raise self.fail(
                "namespace",
                start,
                f"a new session after regeneration failed: {exc}",
                "session_expired",
                None,
                message=self.regenerated.get("message") if self.regenerated else None,
                regen_error=f"a new Engine.IO session failed ({exc})",
            ) from None
        assert self.transport is not None
        return self.transport

    # -- 10. Round trips ----------------------------------------------------------------------
    async def rung_rtt(self) -> None:
        transport = self.transport
        assert transport is not None
        start = self.now()
        method = self.settings.rtt_event or "namespace-probe"
        samples: list[float] = []
        error = ""
        bound = min(self.timeout, 5.0)
        for i in range(_RTT_SAMPLES):
            t0 = self.now()
            try:
                if self.settings.rtt_event:
                    await transport.send(
                        sio_packet(
                            2, self.settings.namespace, [self.settings.rtt_event], ack_id=i + 1
                        )
                    )
                    await self._await_ack(transport, i + 1, bound)
                else:
                    await transport.send(sio_packet(0, PROBE_NAMESPACE))
                    await self._await_namespace_answer(transport, PROBE_NAMESPACE, bound)
            except asyncio.TimeoutError:
                error = f"sample {i + 1}: no answer within {bound:g} s"
                break
            except (EngineRequestFailed, WsClosed) as exc:
                error = f"sample {i + 1}: {exc}"
                break
            ms = self.ms_since(t0)
            samples.append(ms)
            self.bus.emit(Rtt, ms=ms, method=method)
        interval = self.connection.get("ping_interval_ms")
        timeout = self.connection.get("ping_timeout_ms")
        heartbeat = f"heartbeat: ping every {_s(interval)} s, timeout {_s(timeout)} s"
        if not samples:
            self.record(
                "rtt",
                "warn",
                start,
                f"no round trip measured ({error}); {heartbeat}",
                method=method,
                error=error,
            )
            return
        median = _median(samples)
        self.connection["rtt_ms"] = round(median, 2)
        status: Status = "warn" if error else "ok"
        self.record(
            "rtt",
            status,
            start,
            f"median {median:.1f} ms over {len(samples)} ({method}, min {min(samples):.1f}, "
            f"max {max(samples):.1f}); {heartbeat}" + (f"; {error}" if error else ""),
            method=method,
            samples_ms=[round(x, 2) for x in samples],
            transport=transport.name,
        )

    async def _await_ack(self, transport: Transport, ack_id: int, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise asyncio.TimeoutError
            pkt = parse_sio(await transport.recv(remaining))
            if pkt is None:
                continue
            if pkt.type == 3 and pkt.ack_id == ack_id:
                return pkt
            if pkt.type == 2 and self.events_in < _MAX_EVENTS_IN:
                self.events_in += 1
                self._event_in(pkt.namespace, pkt.data)

    # -- 11. CORS -----------------------------------------------------------------------------
    async def rung_cors(self) -> None:
        origin = self.settings.origin
        if not origin:
            self.record("cors", "skip", None, "no --origin given")
            return
        start = self.now()
        url = eio_url(self.settings)
        asked = ",".join(name for name, _ in self.settings.headers) or "content-type"
        try:
            pre = await fetch(
                self.http,
                "OPTIONS",
                url,
                timeout=self.timeout,
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": asked,
                },
            )
            actual = await self._cors_get(origin)
            made_up = f"https://not-your-site-{os.urandom(4).hex()}.example"
            other = await self._cors_get(made_up)
        except HttpFailure as exc:
            raise self.fail(
                "cors",
                start,
                f"no answer: {exc.error}",
                "server_error",
                "protocol",
                stage="CORS check",
                error=exc.error,
            ) from None
        acao = actual.headers.get("access-control-allow-origin")
        acac = actual.headers.get("access-control-allow-credentials")
        pre_acao = pre.headers.get("access-control-allow-origin")
        ev = {
            "origin": origin,
            "preflight": f"{pre.status_line}, allow-origin {pre_acao}, allow-methods "
            f"{pre.headers.get('access-control-allow-methods')}, allow-headers "
            f"{pre.headers.get('access-control-allow-headers')}",
            "actual": f"{actual.status_line}, allow-origin {acao}, allow-credentials {acac}",
        }
        allowed = actual.status == 200 and acao in (origin, "*")
        if not allowed:
            engine = engine_error(actual)
            if engine is not None:
                answer = f'{actual.status_line} "{engine.message}"'
            elif acao is None:
                answer = f"{actual.status_line} without an Access-Control-Allow-Origin header"
            else:
                answer = f"{actual.status_line} with Access-Control-Allow-Origin: {acao}"
            raise self.fail(
                "cors",
                start,
                f"{origin} is not allowed: {answer}",
                "cors_rejected",
                None,
                answer=answer,
                **ev,
            )
        credentials = acac == "true" and acao == origin
        o_acao = other.headers.get("access-control-allow-origin")
        o_acac = other.headers.get("access-control-allow-credentials")
        ev["made_up_origin"] = f"{made_up}: allow-origin {o_acao}, allow-credentials {o_acac}"
        base = f"{origin} allowed {'with' if credentials else 'without'} credentials (preflight {pre.status})"
        if o_acao == made_up and o_acac == "true":
            self.record(
                "cors",
                "warn",
                start,
                f"{base}; but the made-up origin {made_up} is allowed too, with credentials",
                **ev,
            )
            self.warn(
                "cors_permissive",
                None,
                random_origin=made_up,
                acao=o_acao,
                acac=o_acac,
                origin_list=f"'{origin}'",
            )
            return
        self.record("cors", "ok", start, f"{base}; a made-up origin is not allowed", **ev)

    async def _cors_get(self, origin: str) -> HttpAnswer:
        got = await fetch(
            self.http,
            "GET",
            eio_url(self.settings),
            timeout=self.timeout,
            headers={"Origin": origin},
        )
        opened = parse_open(got.text) if got.status == 200 else None
        if opened is not None:
            await self._close_polling(self.settings.path, opened.sid)
        return got

    # -- 12. Path: what answers in front of the server (conndebug.core.path) ----------------
    async def rung_path(self) -> None:
        status, detail, evidence = self.witness.summary(
            ping_interval_ms=self.connection.get("ping_interval_ms"),
            ping_timeout_ms=self.connection.get("ping_timeout_ms"),
        )
        self.record("path", status, None, detail, **evidence)


def _from_proxy(headers: Any) -> bool:
    """Whether an answer came from the forward proxy itself rather than the server."""
    server = str(headers.get("server") or "").lower()
    return (
        "x-squid-error" in headers
        or "proxy-agent" in headers
        or any(name in server for name in ("squid", "proxy", "privoxy"))
    )


def _message_of(data: Any) -> str:
    if isinstance(data, dict):
        return str(data.get("message", json.dumps(data, default=str)))
    if data is None:
        return "(no message)"
    return str(data)


def _median(samples: list[float]) -> float:
    """The median of a non-empty list (``statistics`` costs its imports at every start)."""
    ordered = sorted(samples)
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


def _s(ms: int | None) -> str:
    return f"{ms / 1000:g}" if isinstance(ms, (int, float)) else "?"


def _iso_now(clock: Clock) -> str:
    from conndebug.core.events import iso_utc

    return iso_utc(clock.time())


def _with_path(settings: Settings, path: str) -> Settings:
    from dataclasses import replace

    return replace(settings, path=path)


async def run_probe(
    settings: Settings, *, bus: EventBus | None = None, clock: Clock | None = None
) -> ProbeResult:
    """Probe ``settings.url`` layer by layer; emits a ``probe_step`` event per rung on ``bus``."""
    clock = clock or (bus.clock if bus is not None else SystemClock())
    bus = bus or EventBus(clock=clock)
    return await _Ladder(settings, bus, clock).run()
