"""What the rungs of one probe share: the settings, the clock, the bus, the redactor, the time
limit, the wire's HTTP client, the Engine.IO session, and what earlier rungs learnt.

A rung reports what it saw, never a verdict: :meth:`ProbeContext.record` adds a
:class:`~conndebug.core.probe.result.Step` and emits its
:class:`~conndebug.core.events.ProbeStep` (with the evidence), and :meth:`ProbeContext.fail`
does the same for a failing rung and emits the failure's facts as a
:class:`~conndebug.core.events.ConnectError` (phase, failure kind, reason, HTTP status,
Engine.IO error code, facts). The verdict is the diagnosis's fold over those events
(:mod:`conndebug.core.diagnosis`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from conndebug.config import Settings, effective_proxy
from conndebug.core.clock import Clock
from conndebug.core.events import ConnectError, EventBus, EventIn, ProbeStep
from conndebug.core.path.witness import PathWitness
from conndebug.core.probe.result import Status, Step
from conndebug.core.redact import settings_redactor
from conndebug.core.report import environment_info
from conndebug.core.text import visible
from conndebug.wire import Origin

if TYPE_CHECKING:
    from conndebug.client import Disconnect, Failure, Namespace, SocketClient, Target
    from conndebug.client.client import Event as SioEvent
    from conndebug.client.eio import OpenPacket
    from conndebug.core.guest import GuestSession
    from conndebug.wire import (
        HttpClient,
        ProxyAnswer,
        ProxyError,
        Resolved,
        Response,
        Stream,
        WsRefused,
    )

__all__ = ["MAX_EVENTS_IN", "ProbeContext", "Recorder", "Stop"]

MAX_EVENTS_IN = 20
"""Server events kept in the probe's history (a flooding server cannot grow it)."""


class Stop(Exception):
    """A rung failed: the ladder stops climbing (only the path rung still runs)."""


class Recorder:
    """The probe's HTTP client: the wire's :class:`~conndebug.wire.HttpClient`, every answer it
    reads kept (what the Engine.IO client asks, the guest POST, the CORS requests).

    Each answer goes to the path witness, and the last one stays as evidence for the rung that
    asked (``last``; ``ws_refusal`` for a websocket upgrade answered with something but 101). It
    is what the Engine.IO client is given as its HTTP client (it has ``request`` and
    ``websocket``), so no observer records are built: an observer costs an import and a record
    per request, and a probe only needs the answers.
    """

    def __init__(self, ctx: ProbeContext, http: HttpClient) -> None:
        self.ctx = ctx
        self.client = http
        self.last: Response | None = None
        self.ws_refusal: WsRefused | None = None
        self.answered_101 = 0
        """101 answers so far (an upgrade that failed after its 101 failed at the probe)."""

    @property
    def cookies(self) -> Any:
        return self.client.cookies

    def adopt(self, url: str, stream: Stream) -> None:
        self.client.adopt(url, stream)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Any = None,
        body: bytes | None = None,
        timeout: float | None = None,
        limit: int = 1024 * 1024,
        request_id: int | None = None,
    ) -> Response:
        answer = await self.client.request(
            method,
            url,
            headers=headers,
            body=body,
            timeout=timeout,
            limit=limit,
            request_id=request_id,
        )
        self.last = answer
        self.ctx.witness.http(
            method,
            url,
            answer.status,
            _joined(answer.headers),
            answer.body,
            answer.set_cookies,
        )
        return answer

    async def websocket(
        self, url: str, *, headers: Any = None, timeout: float | None = None
    ) -> Any:
        from conndebug.wire import WsRefused

        try:
            ws = await self.client.websocket(url, headers=headers, timeout=timeout)
        except WsRefused as exc:
            self.ws_refusal = exc
            self.ctx.witness.websocket(exc.status, _joined(exc.headers), exc.body)
            raise
        self.answered_101 += 1
        self.ctx.witness.websocket(101, _joined(ws.response_headers))
        return ws

    async def aclose(self) -> None:
        await self.client.aclose()


def _joined(headers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


class ProbeContext:
    """The shared state of one probe (see the module's docstring)."""

    def __init__(self, settings: Settings, bus: EventBus, clock: Clock) -> None:
        self.settings = settings
        self.bus = bus
        self.clock = clock
        self.redactor = settings_redactor(settings)
        self.timeout = settings.connect_timeout
        self.origin = Origin.of(settings.url)
        self.proxy = effective_proxy(settings)
        self.environment = environment_info(settings, self.redactor)
        self._target: Target | None = None
        self.steps: list[Step] = []
        self.failed: str | None = None
        """The rung that failed (the ones above it are skipped)."""
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
        self.witness = PathWitness()
        """Every answer read (HTTP and the websocket upgrade), for the path rung."""
        self._http: Recorder | None = None
        # what the rungs learn, in ladder order
        self.resolved: Resolved | None = None
        self.stream: Stream | None = None
        """The TCP rung's connection (through TLS, or the proxy's tunnel), for the first request."""
        self.tcp_ms = 0.0
        self.proxy_answer: ProxyAnswer | None = None
        self.proxy_refusal: ProxyError | None = None
        """The proxy's non-2xx answer to the tunnel's CONNECT (judged at the proxy rung)."""
        self.client: SocketClient | None = None
        """The Engine.IO session (polling, upgraded or websocket only) the rungs above use."""
        self.opened: OpenPacket | None = None
        self.open_failure: Failure | None = None
        self.open_exchange: Response | None = None
        """The HTTP answer to the polling handshake (its evidence)."""
        self.handshake_tried = False
        self.websocket_only = False
        """The server refused polling (``Transport unknown``): the websocket is the only way."""
        self.upgraded = False
        self.namespace: Namespace | None = None
        """The connected namespace (set before ``connected`` is told)."""
        self.early_ends: list[Disconnect] = []
        """Ends of the namespace told by the client before ``connected`` was (same read)."""
        self.session: GuestSession | None = None
        self.token: str | None = None
        self.token_source: str | None = None
        self.guest_why: str | None = None
        """Why there is no guest session (the guest endpoint's answer), if there is none."""
        self.credentials_done = False
        self.held_rtt_ms: float | None = None
        """The namespace rung's round trip after ``connected`` (the first round-trip sample)."""
        self.events_in = 0
        self.others: list[SocketClient] = []
        """Other sessions made along the way (a path search, a parser check), closed at the end."""

    @property
    def target(self) -> Target:
        """The Engine.IO target of the settings (made when first needed: a probe that ends at DNS
        or TCP never loads the Engine.IO client)."""
        if self._target is None:
            from conndebug.client.connecting import target_from_settings

            self._target = target_from_settings(self.settings)
        return self._target

    @target.setter
    def target(self, value: Target) -> None:
        self._target = value

    # -- time and text -------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.monotonic()

    def ms_since(self, start: float) -> float:
        return max(0.0, (self.now() - start) * 1000)

    def display_url(self, url: str) -> str:
        """An Engine.IO URL without the cache-busting ``t`` parameter, redacted."""
        parts = urllib.parse.urlsplit(url)
        query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "t"]
        shown = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        return self.redactor.text(shown)

    # -- the wire's client ---------------------------------------------------------------------
    @property
    def http(self) -> Recorder:
        """The probe's HTTP client (the wire layer's, its answers kept), made on first use."""
        if self._http is None:
            from conndebug.wire import HttpClient

            client = HttpClient(self.settings, timeout=self.timeout, user_agent="conndebug-probe")
            self._http = Recorder(self, client)
        return self._http

    @property
    def seen(self) -> Recorder:
        """The answers read so far (the last one, a websocket's refusal, the 101s)."""
        return self.http

    def make_client(self, target: Target | None = None, *, parser: str | None = None) -> Any:
        """A Socket.IO client on the probe's HTTP client (the settings' parser)."""
        from conndebug.client import SocketClient

        return SocketClient(
            self.http,
            target or self.target,
            parser=(parser or self.settings.parser),  # type: ignore[arg-type]
        )

    # -- what a rung reports ---------------------------------------------------------------------
    def record(
        self, name: str, status: Status, start: float | None, detail: str, /, **evidence: Any
    ) -> Step:
        """Add a step and emit its ``probe_step`` event (with the evidence)."""
        ms = self.ms_since(start) if start is not None else 0.0
        shown = self.redactor.value({k: v for k, v in evidence.items() if v is not None})
        step = Step(
            name=name,
            status=status,
            ms=ms,
            detail=visible(self.redactor.text(detail)),
            evidence=shown,
        )
        self.steps.append(step)
        self.bus.emit(
            ProbeStep, name=name, status=status, ms=ms, info=step.detail, evidence=shown or None
        )
        if status == "fail" and self.failed is None:
            self.failed = name
        return step

    def fail(
        self,
        name: str,
        start: float | None,
        detail: str,
        /,
        *,
        failure: Failure | None = None,
        phase: str | None = None,
        kind: str | None = None,
        reason: str | None = None,
        status: int | None = None,
        code: int | None = None,
        transport: str | None = None,
        message: str | None = None,
        url: str | None = None,
        facts: dict[str, Any] | None = None,
        evidence: dict[str, Any] | None = None,
        emit: bool = True,
    ) -> Stop:
        """Record a failing step and emit the failure's facts; return the exception that stops
        the ladder. ``failure`` (the client's) gives the facts it has; the keywords add or
        override them."""
        all_facts: dict[str, Any] = {}
        if failure is not None:
            all_facts.update(failure.evidence)
            all_facts.pop("earlier_attempts", None)
            if failure.engine_error is not None:
                all_facts["message"] = failure.engine_error.message
                all_facts["engine_name"] = failure.engine_error.name
            if failure.ws_code is not None:
                all_facts["ws_code"] = failure.ws_code
            if failure.ws_who is not None:
                all_facts["ws_who"] = failure.ws_who
        all_facts.update({k: v for k, v in (facts or {}).items() if v is not None})
        self.record(name, "fail", start, detail, **(evidence or all_facts))
        if emit:
            self.emit_failure(
                failure,
                phase=phase or (failure.phase if failure else name),
                kind=kind,
                reason=reason,
                status=status,
                code=code,
                transport=transport,
                message=message or detail,
                url=url,
                facts=all_facts,
            )
        return Stop(detail)

    def emit_failure(
        self,
        failure: Failure | None,
        *,
        phase: str,
        kind: str | None = None,
        reason: str | None = None,
        status: int | None = None,
        code: int | None = None,
        transport: str | None = None,
        message: str | None = None,
        url: str | None = None,
        facts: dict[str, Any] | None = None,
    ) -> None:
        """Emit a ``connect_error`` with the facts of a failed attempt (not a rung's end)."""
        if failure is not None:
            kind = kind or failure.kind.value
            reason = reason or failure.reason
            status = status if status is not None else failure.status
            if code is None and failure.engine_error is not None:
                code = failure.engine_error.code
            transport = transport or failure.transport
            message = message or failure.message
        self.bus.emit(
            ConnectError,
            message=self.redactor.text(message or "the connection failed"),
            source="transport",
            status=status,
            code=code,
            transport=transport,
            phase=phase,
            failure=kind or "other",
            reason=reason,
            url=self.display_url(url) if url else None,
            facts=self.redactor.value(facts) if facts else None,
        )

    def exchange_facts(self, exchange: Response | WsRefused | None) -> dict[str, Any]:
        """The evidence of an HTTP answer: status line, content type, ``Server``, a sample."""
        if exchange is None:
            return {}
        headers = _joined(exchange.headers)
        body = exchange.body
        text = body[:80].decode("utf-8", "replace")
        sample = "".join(ch if ch.isprintable() else "." for ch in text)
        if len(body) > 80:
            sample += "…"
        ctype = (headers.get("content-type") or "").split(";")[0].strip().lower()
        return {
            "status": exchange.status,
            "status_line": exchange.status_line,
            "content_type": ctype or None,
            "server_header": headers.get("server", "none"),
            "body_sample": sample or None,
            "truncated": getattr(exchange, "truncated", False) or None,
            "location": headers.get("location"),
        }

    # -- server events ------------------------------------------------------------------------
    def event_in(self, event: SioEvent) -> None:
        """A server event: kept in the history (the first :data:`MAX_EVENTS_IN`), binary values
        as ``<binary N B>`` with the true size of the packet and its attachments."""
        if self.events_in >= MAX_EVENTS_IN:
            return
        self.events_in += 1
        from conndebug.core.preview import preview

        _size, shown = preview(self.redactor, event.args)
        self.bus.emit(
            EventIn,
            name=self.redactor.text(event.name),
            size=event.size,
            preview=shown,
            namespace=event.namespace,
        )

    # -- the end --------------------------------------------------------------------------------
    async def cleanup(self) -> None:
        """Close every session and connection the probe opened (bounded)."""
        stream, self.stream = self.stream, None
        if stream is not None:
            stream.abort()
        clients = [c for c in (self.client, *self.others) if c is not None]
        self.client = None
        self.others = []
        for client in clients:
            with contextlib.suppress(Exception):  # whatever the server does, the probe ends
                await asyncio.wait_for(client.close(timeout=0.5), 1.0)
            client.abort()
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def iso_now(clock: Clock) -> str:
    from conndebug.core.events import iso_utc

    return iso_utc(clock.time())


def monotonic() -> float:
    return time.monotonic()
