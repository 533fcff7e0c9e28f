"""Engine.IO and Socket.IO on the wire, as much as the probe needs.

- :func:`classify_handshake` reads one raw polling answer: an EIO 4 open packet, EIO 3 framing
  (Socket.IO v2), an Engine.IO error (Node's ``{"code", "message"}`` or python-engineio's JSON
  string), HTML or anything else.
- :class:`PollingTransport` and :class:`WebSocketTransport` send and receive Engine.IO packets of
  one session, each read bounded; both answer the server's pings.
- :func:`sio_packet` / :func:`parse_sio` encode and decode Socket.IO packets.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import re
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from conndebug.config import Settings
from conndebug.core.probe.http import HttpAnswer, HttpClient, HttpFailure, fetch
from conndebug.core.probe.wsclient import RawWebSocket, WsClosed

__all__ = [
    "EngineError",
    "EngineRequestFailed",
    "OpenPacket",
    "PollingTransport",
    "SioPacket",
    "WebSocketTransport",
    "classify_handshake",
    "eio_url",
    "engine_error",
    "parse_sio",
    "sio_packet",
]

_SEP = "\x1e"


def eio_url(
    settings: Settings,
    *,
    eio: int = 4,
    transport: str = "polling",
    sid: str | None = None,
    websocket: bool = False,
) -> str:
    """The Engine.IO URL of the settings (``ws(s)://`` when ``websocket``)."""
    query = f"EIO={eio}&transport={urllib.parse.quote_plus(transport)}"
    if sid:
        query += f"&sid={urllib.parse.quote_plus(sid)}"
    if transport == "polling":
        query += f"&t={time.time_ns() // 1000:x}"
    query += _extra_query(settings.query)
    base = settings.url
    if websocket:
        base = "ws" + base[len("http") :]
    return f"{base}{settings.path.rstrip('/')}/?{query}"


@functools.lru_cache(maxsize=64)
def _extra_query(query: tuple[tuple[str, str], ...]) -> str:
    """``&k=v...`` of the settings' extra query parameters (encoded once, not per request)."""
    return "&" + urllib.parse.urlencode(query) if query else ""


@dataclass(frozen=True)
class OpenPacket:
    """The Engine.IO 4 open packet."""

    sid: str
    upgrades: tuple[str, ...]
    ping_interval_ms: int | None
    ping_timeout_ms: int | None
    max_payload: int | None
    rest: tuple[str, ...] = ()
    """Packets that came in the same payload after the open packet."""
    unusable: tuple[str, ...] = ()
    """Timing fields present with a value no client can use (not a positive finite number)."""


@dataclass(frozen=True)
class EngineError:
    """An Engine.IO error answer."""

    code: int | None
    """0–5 as Node sends them; python-engineio's messages are mapped; None if unknown."""
    message: str
    origin_rejected: bool = False


_PY_MESSAGES: tuple[tuple[str, int], ...] = (
    ("invalid session", 1),
    ("unsupported version", 5),
    ("invalid transport", 0),
    ("invalid websocket upgrade", 3),
    ("bad request", 3),
)


def engine_error(answer: HttpAnswer) -> EngineError | None:
    """The Engine.IO error in a 4xx answer, if it is one.

    Node answers ``{"code": 0..5, "message": ...}`` (400, or 403 for code 4); python-engineio
    answers 400 with a JSON string. Other JSON bodies (a REST API's 404) are not Engine.IO.
    """
    if answer.status not in (400, 403):
        return None
    data = answer.json()
    if isinstance(data, dict) and "message" in data:
        code = data.get("code")
        if isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 5:
            return EngineError(code, str(data.get("message")))
        return None
    if isinstance(data, str) and answer.status == 400:
        lowered = data.lower()
        if "not an accepted origin" in lowered:
            return EngineError(None, data, origin_rejected=True)
        for needle, code in _PY_MESSAGES:
            if needle in lowered:
                return EngineError(code, data)
        return EngineError(None, data)
    return None


def parse_open(text: str) -> OpenPacket | None:
    """The open packet at the start of an EIO 4 polling payload, if it is one."""
    packets = text.split(_SEP)
    first = packets[0]
    if not first.startswith("0{"):
        return None
    try:
        data = json.loads(first[1:])
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
        return None

    def num(key: str) -> int | None:
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return int(value) if math.isfinite(value) else None  # 1e400 and NaN parse as floats

    unusable = tuple(
        f"{key} {json.dumps(data[key])[:20]}"
        for key in ("pingInterval", "pingTimeout")
        if key in data and not (num(key) or 0) > 0
    )
    upgrades = data.get("upgrades")
    return OpenPacket(
        sid=data["sid"],
        upgrades=tuple(str(u) for u in upgrades) if isinstance(upgrades, list) else (),
        ping_interval_ms=num("pingInterval"),
        ping_timeout_ms=num("pingTimeout"),
        max_payload=num("maxPayload"),
        rest=tuple(packets[1:]),
        unusable=unusable,
    )


_EIO3_TEXT = re.compile(r"^\d{1,9}:0\{")


def eio3_sample(body: bytes) -> str | None:
    """A printable sample if ``body`` uses Engine.IO 3 payload framing (text or binary)."""
    text = body[:200].decode("utf-8", "replace")
    if _EIO3_TEXT.match(text):
        return text[:60] + ("…" if len(text) > 60 else "")
    # Binary framing: <0|1> <length digits as bytes 0-9> 0xFF <packet>
    if len(body) > 3 and body[0] in (0, 1):
        i = 1
        while i < len(body) and i < 12 and body[i] <= 9:
            i += 1
        if i > 1 and i < len(body) and body[i] == 0xFF and body[i + 1 : i + 2] == b"0":
            sample = body[i + 1 : i + 61].decode("utf-8", "replace")
            return f"binary payload: {sample}"
    return None


@dataclass(frozen=True)
class Handshake:
    """One polling handshake answer, classified."""

    kind: str
    """``open``, ``bad_open`` (starts like an open packet but cannot be used: broken JSON, no
    sid, timings no client can use, or cut off at the read limit), ``eio3``, ``engine_error``, ``html``, ``redirect``,
    ``server_error``, ``other``."""
    answer: HttpAnswer
    open: OpenPacket | None = None
    error: EngineError | None = None
    sample: str | None = None


def classify_handshake(answer: HttpAnswer) -> Handshake:
    """What a server answered to ``GET <path>/?EIO=4&transport=polling``."""
    if answer.status == 200:
        opened = parse_open(answer.text)
        if opened is not None and opened.unusable:
            return Handshake("bad_open", answer, open=opened, sample=answer.sample(60))
        if opened is not None:
            return Handshake("open", answer, open=opened)
        sample = eio3_sample(answer.body)
        if sample is not None:
            return Handshake("eio3", answer, sample=sample)
        if answer.body.startswith(b"0{"):
            return Handshake("bad_open", answer, sample=answer.sample(60))
    if 300 <= answer.status < 400 and "location" in answer.headers:
        return Handshake("redirect", answer)
    if answer.status >= 500:
        return Handshake("server_error", answer)
    error = engine_error(answer)
    if error is not None:
        return Handshake("engine_error", answer, error=error)
    if "html" in answer.content_type or answer.body.lstrip()[:1] == b"<":
        return Handshake("html", answer)
    return Handshake("other", answer)


@dataclass(frozen=True)
class SioPacket:
    """A Socket.IO packet (protocol v5)."""

    type: int
    """0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5/6 binary."""
    namespace: str = "/"
    ack_id: int | None = None
    data: Any = None


def sio_packet(
    type_: int, namespace: str = "/", data: Any = None, ack_id: int | None = None
) -> str:
    """An Engine.IO message carrying a Socket.IO packet: ``4`` + type + ns + ack + JSON."""
    out = f"4{type_}"
    if namespace != "/":
        out += namespace + ","
    if ack_id is not None:
        out += str(ack_id)
    if data is not None:
        out += json.dumps(data, separators=(",", ":"))
    return out


def parse_sio(message: str) -> SioPacket | None:
    """Decode the Socket.IO packet of an Engine.IO message (``4…``); None if it is not one."""
    if len(message) < 2 or message[0] != "4" or not message[1].isdigit():
        return None
    type_ = int(message[1])
    rest = message[2:]
    if type_ in (5, 6):
        _count, _, rest = rest.partition("-")
    namespace = "/"
    if rest.startswith("/"):
        comma = rest.find(",")
        if comma < 0:
            namespace, rest = rest, ""
        else:
            namespace, rest = rest[:comma], rest[comma + 1 :]
    digits = ""
    while rest[:1].isdigit():
        digits, rest = digits + rest[0], rest[1:]
    data: Any = None
    if rest:
        try:
            data = json.loads(rest)
        except json.JSONDecodeError:
            data = rest
    return SioPacket(type_, namespace, int(digits) if digits else None, data)


class EngineRequestFailed(Exception):
    """A request of an open session failed: an HTTP error answer or no answer."""

    def __init__(
        self,
        error: str,
        *,
        answer: HttpAnswer | None = None,
        engine: EngineError | None = None,
        failure: HttpFailure | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.answer = answer
        self.engine = engine
        self.failure = failure


class Transport(Protocol):
    """An Engine.IO session's transport, as the namespace and round-trip rungs use it."""

    name: str
    sid: str

    async def send(self, packet: str) -> None: ...

    async def recv(self, timeout: float) -> str: ...

    async def close(self) -> None: ...


@dataclass
class PollingTransport:
    """The polling side of an Engine.IO session: POST to send, GET to receive."""

    client: HttpClient
    settings: Settings
    sid: str
    timeout: float
    limit: int = 64 * 1024
    name: str = "polling"
    buffered: list[str] = field(default_factory=list)
    requests: int = 0

    def _url(self) -> str:
        return eio_url(self.settings, sid=self.sid)

    def _check(self, answer: HttpAnswer, what: str) -> None:
        if answer.status == 200:
            return
        engine = engine_error(answer)
        message = engine.message if engine else answer.sample()
        raise EngineRequestFailed(
            f"{what} answered {answer.status_line}: {message}", answer=answer, engine=engine
        )

    async def post(self, packets: list[str]) -> HttpAnswer:
        self.requests += 1
        try:
            answer = await fetch(
                self.client,
                "POST",
                self._url(),
                timeout=self.timeout,
                content=_SEP.join(packets).encode("utf-8"),
                headers={"Content-Type": "text/plain;charset=UTF-8"},
                limit=self.limit,
            )
        except HttpFailure as exc:
            raise EngineRequestFailed(f"POST: {exc.error}", failure=exc) from None
        self._check(answer, "POST")
        return answer

    async def get(self, timeout: float) -> list[str]:
        self.requests += 1
        try:
            answer = await fetch(self.client, "GET", self._url(), timeout=timeout, limit=self.limit)
        except HttpFailure as exc:
            raise EngineRequestFailed(f"GET: {exc.error}", failure=exc) from None
        self._check(answer, "GET")
        packets = [p for p in answer.text.split(_SEP) if p]
        out: list[str] = []
        for pkt in packets:
            if pkt == "2":
                await self.post(["3"])
            elif pkt == "6":
                continue
            elif pkt == "1":
                raise EngineRequestFailed("the server closed the session (close packet)")
            else:
                out.append(pkt)
        return out

    async def send(self, packet: str) -> None:
        await self.post([packet])

    async def recv(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while not self.buffered:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise asyncio.TimeoutError
            self.buffered.extend(await self.get(remaining))
        return self.buffered.pop(0)

    async def close(self) -> None:
        try:
            await fetch(
                self.client,
                "POST",
                self._url(),
                timeout=min(self.timeout, 2.0),
                content=b"1",
                headers={"Content-Type": "text/plain;charset=UTF-8"},
                limit=1024,
            )
        except HttpFailure:
            return


@dataclass
class WebSocketTransport:
    """The websocket side of an Engine.IO session."""

    ws: RawWebSocket
    sid: str
    name: str = "websocket"

    async def send(self, packet: str) -> None:
        await self.ws.send_text(packet)

    async def recv(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise asyncio.TimeoutError
            message = await self.ws.recv_text(remaining)
            if message == "2":
                await self.ws.send_text("3")
            elif message == "6":
                continue
            elif message == "1":
                raise EngineRequestFailed("the server closed the session (close packet)")
            else:
                return message

    async def close(self) -> None:
        if not self.ws.closed:
            with contextlib.suppress(WsClosed):
                await self.ws.send_text("1")
        await self.ws.close()


def headers_of(settings: Settings) -> Mapping[str, str]:
    """The extra headers of the settings as a mapping."""
    return dict(settings.headers)
