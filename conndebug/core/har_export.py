"""HAR 1.2 export: what the wire saw, as a file Chrome DevTools, HAR viewers and ``explain`` read.

A :class:`HarRecorder` is a :class:`~conndebug.wire.Observer` of the monitor's HTTP clients: it
keeps every Engine.IO polling request and its answer (headers, bodies, the wire's timings), each
websocket (its handshake, its messages in both directions, how it ended) and each websocket
attempt that was refused or got no answer. :func:`build_har` turns what it kept into a HAR 1.2
document the way Chrome DevTools' "Export HAR" writes one: polling requests as ``xhr`` entries, a
websocket as an entry with ``_resourceType: "websocket"`` and its messages in
``_webSocketMessages`` (``[{type: send|receive, time (epoch seconds), opcode, data}]``, binary
data in base64), a websocket that got no answer with status 0 and Chrome's ``error`` message.
Each polling entry carries ``_request_id``: the number the ``packet`` events (``watch --trace``,
the wire inspector) give the request that carried a packet (``GET #12``).

**Bounded**: a long session keeps the first and the last :data:`KEEP_ENTRIES` entries and
:data:`KEEP_MESSAGES` websocket messages (each side also bounded in bytes); bodies and messages
are cut at :data:`BODY_KEEP` bytes. What was left out is counted, and the HAR's ``comment`` says so.

**Redacted** (unless ``--show-secrets``): query parameters and JSON fields with secret names,
known secrets (the token, the auth object, the guest session's token), ``Cookie``,
``Set-Cookie``, ``Authorization`` and other secret headers, cookie values, and the same inside a
msgpack packet (decoded, masked, encoded again). The recorder keeps the
raw records; redaction happens when the document is built, with a copy of the session's redactor.

**Written safely**: :func:`write_har` writes a temporary file beside the target and renames it
over (a reader never sees half a file); :func:`save_har` builds and writes in a worker thread, so
the event loop never waits on the disk or on encoding a large document.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import json
import os
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from conndebug.core.events import iso_utc
from conndebug.core.redact import Redactor, is_secret_header
from conndebug.wire._observe import Observer

if TYPE_CHECKING:
    from conndebug.wire import (
        ConnectionOpened,
        HttpExchange,
        Timings,
        WireError,
        WsEnded,
        WsMessage,
        WsOpened,
    )

__all__ = [
    "BODY_KEEP",
    "KEEP_ENTRIES",
    "KEEP_MESSAGES",
    "HarRecorder",
    "build_har",
    "save_har",
    "write_har",
]

KEEP_ENTRIES = 1_000
"""HTTP entries kept at the start of a session, and as many at its end."""
KEEP_MESSAGES = 5_000
"""Websocket messages kept at the start of a session, and as many at its end."""
KEEP_BYTES = 16 * 1024 * 1024
"""Bytes of bodies and messages kept at the start, and as many at the end."""
BODY_KEEP = 256 * 1024
"""The longest body or message kept (a longer one is cut, its true size kept)."""

T = TypeVar("T")


class HeadTail(Generic[T]):
    """The first items (up to ``items`` or ``size`` bytes) and the last ones; the middle is
    counted, not kept."""

    def __init__(self, items: int, size: int) -> None:
        self.max_items = items
        self.max_size = size
        self.head: list[T] = []
        self._head_size = 0
        self._head_full = False
        self.tail: collections.deque[tuple[T, int]] = collections.deque()
        self._tail_size = 0
        self.dropped = 0
        """Items left out (between the head and the tail)."""

    def add(self, item: T, size: int) -> None:
        if not self._head_full:
            self.head.append(item)
            self._head_size += size
            if len(self.head) >= self.max_items or self._head_size >= self.max_size:
                self._head_full = True
            return
        tail = self.tail
        tail.append((item, size))
        self._tail_size += size
        while len(tail) > self.max_items or (self._tail_size > self.max_size and len(tail) > 1):
            _item, gone = tail.popleft()
            self._tail_size -= gone
            self.dropped += 1

    def __iter__(self) -> Iterator[T]:
        yield from self.head
        for item, _size in self.tail:
            yield item

    def __len__(self) -> int:
        return len(self.head) + len(self.tail)


@dataclass(frozen=True, slots=True)
class _Http:
    """An HTTP exchange as kept (bodies cut at :data:`BODY_KEEP`)."""

    record: HttpExchange
    request_body: bytes
    response_body: bytes


@dataclass(slots=True)
class _Socket:
    """A websocket: its handshake (or refusal), then how it ended."""

    started_at: float
    url: str
    opened: WsOpened | None = None
    refused: _Http | None = None
    ended: WsEnded | None = None
    messages: int = 0


@dataclass(frozen=True, slots=True)
class _Message:
    socket: _Socket
    direction: str
    data: str | bytes
    size: int
    at: float


@dataclass
class HarSnapshot:
    """What a recorder holds at one moment (lists copied: safe to build from in a thread)."""

    entries: list[_Http | _Socket]
    messages: list[_Message]
    peers: dict[int, str]
    dropped_entries: int
    dropped_messages: int
    cut: int
    body_keep: int = BODY_KEEP
    notes: list[str] = field(default_factory=list)


class HarRecorder(Observer):
    """Keeps what a HAR needs of every HTTP exchange and websocket, bounded (see the module)."""

    def __init__(
        self,
        *,
        keep_entries: int = KEEP_ENTRIES,
        keep_messages: int = KEEP_MESSAGES,
        keep_bytes: int = KEEP_BYTES,
        body_keep: int = BODY_KEEP,
    ) -> None:
        self._entries: HeadTail[_Http | _Socket] = HeadTail(keep_entries, keep_bytes)
        self._messages: HeadTail[_Message] = HeadTail(keep_messages, keep_bytes)
        self._sockets: dict[int, _Socket] = {}
        self._peers: dict[int, str] = {}
        self.body_keep = body_keep
        self.cut = 0
        """Bodies and messages cut at :attr:`body_keep` bytes."""
        self.started_at: float | None = None

    # -- the observer ---------------------------------------------------------------------------

    def connection_opened(self, record: ConnectionOpened) -> None:
        if len(self._peers) > 4 * KEEP_ENTRIES:
            self._peers.clear()  # a very long session: the oldest peers are in the HAR's head
        self._peers[record.connection_id] = record.peer

    def http_exchange(self, record: HttpExchange) -> None:
        kept = _Http(record, self._keep(record.request_body), self._keep(record.response_body))
        self._begin(record.started_at)
        self._entries.add(kept, len(kept.request_body) + len(kept.response_body) + 512)

    def ws_opened(self, record: WsOpened) -> None:
        self._begin(record.started_at)
        socket = _Socket(record.started_at, record.url, opened=record)
        if len(self._sockets) > 4 * KEEP_ENTRIES:
            self._sockets.clear()
        self._sockets[record.connection_id] = socket
        self._entries.add(socket, 512)

    def ws_message(self, record: WsMessage) -> None:
        socket = self._sockets.get(record.connection_id)
        if socket is None:
            return
        data = record.data
        size = len(data)
        if size > self.body_keep:
            size = record.size  # the true size in bytes (only a cut message needs it)
            data = data[: self.body_keep]
            self.cut += 1
        socket.messages += 1
        self._messages.add(
            _Message(socket, record.direction, data, size, record.at), len(data) + 64
        )

    def ws_ended(self, record: WsEnded) -> None:
        socket = self._sockets.pop(record.connection_id, None)
        if socket is not None:
            socket.ended = record

    def ws_refused(self, record: HttpExchange) -> None:
        self._begin(record.started_at)
        kept = _Http(record, b"", self._keep(record.response_body))
        self._entries.add(
            _Socket(record.started_at, record.url, refused=kept), len(kept.response_body) + 512
        )

    # -- reading it back ------------------------------------------------------------------------

    def snapshot(self) -> HarSnapshot:
        """A copy of what is kept now (cheap: lists of references)."""
        return HarSnapshot(
            entries=list(self._entries),
            messages=list(self._messages),
            peers=dict(self._peers),
            dropped_entries=self._entries.dropped,
            dropped_messages=self._messages.dropped,
            cut=self.cut,
            body_keep=self.body_keep,
        )

    @property
    def empty(self) -> bool:
        return not len(self._entries)

    def _keep(self, body: bytes) -> bytes:
        if len(body) > self.body_keep:
            self.cut += 1
            return body[: self.body_keep]
        return body

    def _begin(self, at: float) -> None:
        if self.started_at is None or at < self.started_at:
            self.started_at = at


# -- building the document ------------------------------------------------------------------------

_NET_ERRORS = {
    "dns_failure": "net::ERR_NAME_NOT_RESOLVED",
    "connection_refused": "net::ERR_CONNECTION_REFUSED",
    "connect_timeout": "net::ERR_TIMED_OUT",
    "closed": "net::ERR_CONNECTION_CLOSED",
    "tls_error": "net::ERR_SSL_PROTOCOL_ERROR",
    "proxy_error": "net::ERR_TUNNEL_CONNECTION_FAILED",
}
"""A wire failure as Chrome names it in ``response._error`` (the reader of ``explain`` knows them)."""


def _net_error(error: WireError | None) -> str:
    if error is None:
        return "net::ERR_FAILED"
    return _NET_ERRORS.get(error.kind.value, "net::ERR_CONNECTION_FAILED")


def _ms(value: float | None) -> float:
    return -1 if value is None else round(max(0.0, value), 3)


def _timings(t: Timings) -> dict[str, float]:
    connect_parts = [v for v in (t.tcp, t.proxy, t.tls) if v is not None]
    return {
        "blocked": -1,
        "dns": _ms(t.dns),
        "connect": _ms(sum(connect_parts)) if connect_parts else -1,
        "ssl": _ms(t.tls),
        "send": _ms(t.send),
        "wait": _ms(t.wait),
        "receive": _ms(t.receive),
    }


def _total(timings: dict[str, float]) -> float:
    return round(
        sum(max(0.0, timings[k]) for k in ("blocked", "dns", "connect", "send", "wait", "receive")),
        3,
    )


def _text(body: bytes) -> tuple[str, str | None]:
    """A body as HAR text: UTF-8 as is, anything else in base64."""
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


class _Builder:
    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor

    def url(self, url: str) -> str:
        return self.redactor.text(url)

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
        out = []
        for name, value in headers:
            if not self.redactor.show_secrets and is_secret_header(name):
                value = self.redactor.secret(value, "header") or ""
            else:
                value = self.redactor.text(value)
            out.append({"name": name, "value": value})
        return out

    def query(self, url: str) -> list[dict[str, str]]:
        query = urllib.parse.urlsplit(url).query
        return [
            {"name": k, "value": v}
            for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
        ]

    def cookies(self, headers: Iterable[tuple[str, str]], *, response: bool) -> list[Any]:
        out: list[dict[str, Any]] = []
        wanted = "set-cookie" if response else "cookie"
        for name, value in headers:
            if name.lower() != wanted:
                continue
            parts = [value.split(";")[0]] if response else value.split(";")
            for part in parts:
                key, sep, val = part.strip().partition("=")
                if sep:
                    shown = val if self.redactor.show_secrets else self.redactor.secret(val, key)
                    out.append({"name": key, "value": shown or ""})
        return out

    def body(self, body: bytes) -> tuple[str, str | None]:
        text, encoding = _text(body)
        if encoding is None:
            text = self.redactor.wire(text)
        return text, encoding

    def binary(self, data: bytes) -> bytes:
        """A binary message with its secrets masked: a msgpack Socket.IO packet
        (socket.io-msgpack-parser) is decoded, redacted and encoded again; other bytes as
        they are."""
        if self.redactor.show_secrets or not data or data[0] & 0xF0 not in (0x80, 0xD0):
            return data  # not a msgpack map (fixmap, map16, map32)
        try:
            import msgpack

            packet = msgpack.unpackb(data, raw=False, strict_map_key=False)
        except (ValueError, TypeError, UnicodeDecodeError, msgpack.ExtraData, msgpack.StackError):
            return data
        if not (isinstance(packet, dict) and "type" in packet and "nsp" in packet):
            return data
        masked = self.redactor.value(packet)
        if masked == packet:
            return data
        try:
            return bytes(msgpack.packb(masked, use_bin_type=True))
        except (ValueError, TypeError, OverflowError):
            return data

    def http(self, kept: _Http, peers: dict[int, str]) -> dict[str, Any]:
        r = kept.record
        timings = _timings(r.timings)
        req_text, req_encoding = self.body(kept.request_body)
        request: dict[str, Any] = {
            "method": r.method,
            "url": self.url(r.url),
            "httpVersion": f"HTTP/{r.http_version}",
            "cookies": self.cookies(r.request_headers, response=False),
            "headers": self.headers(r.request_headers),
            "queryString": self.query(self.url(r.url)),
            "headersSize": -1,
            "bodySize": r.request_body_size,
        }
        if r.request_body_size:
            mime = next(
                (v for k, v in r.request_headers if k.lower() == "content-type"), "text/plain"
            )
            post: dict[str, Any] = {"mimeType": mime, "text": req_text}
            if req_encoding:
                post["comment"] = "base64"
            request["postData"] = post
        entry = self._entry(r.started_at, timings, request, self.response(kept), "xhr")
        entry["_request_id"] = r.request_id
        self._connection(entry, r.connection_id, peers)
        return entry

    def response(self, kept: _Http) -> dict[str, Any]:
        r = kept.record
        text, encoding = self.body(kept.response_body)
        mime = next((v for k, v in r.response_headers if k == "content-type"), "x-unknown")
        content: dict[str, Any] = {"size": len(kept.response_body), "mimeType": mime}
        if kept.response_body:
            content["text"] = text
            if encoding:
                content["encoding"] = encoding
        if len(kept.response_body) < r.response_body_size or r.truncated:
            content["comment"] = f"cut: {r.response_body_size:,} bytes on the wire"
        response: dict[str, Any] = {
            "status": r.status or 0,
            "statusText": r.reason or "",
            "httpVersion": f"HTTP/{r.http_version}" if r.status else "",
            "cookies": self.cookies(r.response_headers, response=True),
            "headers": self.headers(r.response_headers),
            "content": content,
            "redirectURL": next((v for k, v in r.response_headers if k == "location"), ""),
            "headersSize": -1,
            "bodySize": r.response_body_size if r.status else -1,
        }
        if r.status is None:
            response["_error"] = _net_error(r.error)
            if r.error is not None:
                response["comment"] = self.redactor.text(r.error.message)
        return response

    def socket(
        self, socket: _Socket, messages: list[_Message], peers: dict[int, str]
    ) -> dict[str, Any]:
        frames = [self.frame(m) for m in messages]
        if socket.opened is not None:
            o = socket.opened
            timings = _timings(o.timings)
            ended = socket.ended
            if ended is not None:
                # The socket's life after the 101 is its "receive", as Chrome counts it.
                life = (ended.at - o.started_at) * 1000.0 - _total(timings)
                timings["receive"] = round(max(timings["receive"], life, 0.0), 3)
            request = self._ws_request(o.url, o.request_headers)
            response = {
                "status": o.status,
                "statusText": o.reason,
                "httpVersion": "HTTP/1.1",
                "cookies": self.cookies(o.response_headers, response=True),
                "headers": self.headers(o.response_headers),
                "content": {"size": 0, "mimeType": "x-unknown"},
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": 0,
            }
            entry = self._entry(o.started_at, timings, request, response, "websocket")
            if ended is not None:
                entry["_webSocketClose"] = {
                    "who": ended.who,
                    "code": ended.code,
                    "reason": self.redactor.text(ended.reason),
                    "clean": ended.clean,
                }
            self._connection(entry, o.connection_id, peers)
        else:
            kept = socket.refused
            assert kept is not None
            r = kept.record
            timings = _timings(r.timings)
            request = self._ws_request(r.url, r.request_headers)
            response = self.response(kept)
            if r.status is None:
                frames.append(
                    {
                        "type": "error",
                        "time": round(r.started_at + _total(timings) / 1000.0, 6),
                        "opcode": -1,
                        "data": _chrome_ws_error(r.error),
                    }
                )
            entry = self._entry(r.started_at, timings, request, response, "websocket")
            self._connection(entry, r.connection_id, peers)
        entry["_webSocketMessages"] = frames
        return entry

    def _ws_request(self, url: str, headers: Iterable[tuple[str, str]]) -> dict[str, Any]:
        headers = tuple(headers)
        shown = self.url(url)
        return {
            "method": "GET",
            "url": shown,
            "httpVersion": "HTTP/1.1",
            "cookies": self.cookies(headers, response=False),
            "headers": self.headers(headers),
            "queryString": self.query(shown),
            "headersSize": -1,
            "bodySize": 0,
        }

    def frame(self, message: _Message) -> dict[str, Any]:
        data = message.data
        if isinstance(data, str):
            shown, opcode = self.redactor.wire(data), 1
        else:
            shown, opcode = base64.b64encode(self.binary(data)).decode("ascii"), 2
        frame: dict[str, Any] = {
            "type": "send" if message.direction == "out" else "receive",
            "time": round(message.at, 6),
            "opcode": opcode,
            "data": shown,
        }
        if len(data) < message.size:
            frame["_size"] = message.size
        return frame

    @staticmethod
    def _entry(
        started_at: float,
        timings: dict[str, float],
        request: dict[str, Any],
        response: dict[str, Any],
        resource: str,
    ) -> dict[str, Any]:
        return {
            "_resourceType": resource,
            "pageref": "page_1",
            "startedDateTime": iso_utc(started_at),
            "time": _total(timings),
            "request": request,
            "response": response,
            "cache": {},
            "timings": timings,
        }

    @staticmethod
    def _connection(
        entry: dict[str, Any], connection_id: int | None, peers: dict[int, str]
    ) -> None:
        if connection_id is None:
            return
        entry["connection"] = str(connection_id)
        peer = peers.get(connection_id)
        if peer:
            host = peer.rsplit(":", 1)[0].strip("[]")
            entry["serverIPAddress"] = host


def _chrome_ws_error(error: WireError | None) -> str:
    """What Chrome's DevTools records for a websocket that got no answer."""
    if error is not None and error.kind.value == "connect_timeout":
        # The page gave up waiting (socket.io-client closes it after its own timeout).
        return "WebSocket is closed before the connection is established."
    return f"Error in connection establishment: {_net_error(error)}"


def build_har(
    snapshot: HarSnapshot,
    redactor: Redactor,
    *,
    title: str,
    version: str,
    started_at: float | None = None,
) -> dict[str, Any]:
    """The HAR 1.2 document of ``snapshot`` (redacted with ``redactor``)."""
    builder = _Builder(redactor)
    by_socket: dict[int, list[_Message]] = {}
    for message in snapshot.messages:
        by_socket.setdefault(id(message.socket), []).append(message)
    entries: list[tuple[float, dict[str, Any]]] = []
    for item in snapshot.entries:
        if isinstance(item, _Http):
            entries.append((item.record.started_at, builder.http(item, snapshot.peers)))
        else:
            messages = by_socket.get(id(item), [])
            entries.append((item.started_at, builder.socket(item, messages, snapshot.peers)))
    entries.sort(key=lambda pair: pair[0])
    first = entries[0][0] if entries else started_at
    notes = [
        "written by conndebug: the Engine.IO polling requests and the websockets of the session"
    ]
    if not redactor.show_secrets:
        notes.append(
            "secrets redacted (tokens, auth payloads, cookies, Authorization); "
            "--show-secrets keeps them"
        )
    if snapshot.dropped_entries:
        notes.append(
            f"long session: {snapshot.dropped_entries:,} entries between the first and the last "
            "ones kept are left out"
        )
    if snapshot.dropped_messages:
        notes.append(
            f"long session: {snapshot.dropped_messages:,} websocket messages between the first and "
            "the last ones kept are left out"
        )
    if snapshot.cut:
        notes.append(f"{snapshot.cut:,} bodies or messages cut at {snapshot.body_keep:,} bytes")
    notes.extend(snapshot.notes)
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "conndebug", "version": version},
            "pages": [
                {
                    "startedDateTime": iso_utc(first if first is not None else 0.0),
                    "id": "page_1",
                    "title": redactor.text(title),
                    "pageTimings": {"onContentLoad": -1, "onLoad": -1},
                }
            ],
            "entries": [entry for _at, entry in entries],
            "comment": "; ".join(notes),
        }
    }


def write_har(path: Path, har: dict[str, Any]) -> None:
    """Write ``har`` to ``path`` atomically: a temporary file beside it, then a rename (a reader
    never sees half a file). Raises ``OSError``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    text = json.dumps(har, ensure_ascii=False, indent=1)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


async def save_har(
    recorder: HarRecorder,
    path: Path,
    redactor: Redactor,
    *,
    title: str,
    timeout: float = 30.0,
) -> int:
    """Build and write the HAR of ``recorder`` in a worker thread (the loop only copies the
    lists); returns the number of entries. Raises ``OSError`` (or ``asyncio.TimeoutError``)."""
    from conndebug import __version__

    snapshot = recorder.snapshot()
    # The redactor learns secrets on the loop (a guest token): the thread gets a copy.
    copy = Redactor(redactor.known, show_secrets=redactor.show_secrets)

    def work() -> int:
        har = build_har(
            snapshot, copy, title=title, version=__version__, started_at=recorder.started_at
        )
        write_har(path, har)
        return len(har["log"]["entries"])

    return await asyncio.wait_for(asyncio.to_thread(work), timeout)
