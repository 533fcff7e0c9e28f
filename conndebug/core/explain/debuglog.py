"""``DEBUG=socket.io-client:*,engine.io-client:*`` logs of the official JavaScript client.

The ``debug`` package writes one line per call: ``2026-12-07T08:38:30.932Z engine.io-client:socket
socket open`` when its stream is not a terminal, ``  engine.io-client:socket socket open +1ms`` (time
since that namespace's previous line) when it is; a browser console copy looks like the second.
The lines read here are the client's own (engine.io-client 6 / socket.io-client 4):

- ``manager opening URL`` / ``creating transport "websocket"``: an attempt (``probing transport``
  first: an upgrade);
- ``socket receive: type "open", data "{…}"`` and ``type "message", data "0{…}"``: packets in;
  ``writing packet {"type":0,"data":{…},"nsp":"/"}``: a Socket.IO packet out;
- ``socket error {"description":400,…,"responseText":"…"}``: a transport error (polling ones carry
  the HTTP status and the body; websocket ones carry nothing, ``{}``);
- ``connect attempt timed out after 3000``, ``will wait 870ms before reconnect attempt``,
  ``reconnect failed``, ``socket close with reason: "transport close"``, ``close (io server
  disconnect)``.

Lines of the application itself travel in the same paste (``node app.js 2>&1``); a few carry the
error the debug line leaves out (``connect ECONNREFUSED 127.0.0.1:3001``, ``Unexpected server
response: 403``, ``getaddrinfo ENOTFOUND``): they become the failure's ``cause``.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from conndebug.core.events import ReconnectFailed, ReconnectScheduled
from conndebug.core.explain.timeline import Replay, Timeline, engine_error, parse_sio
from conndebug.core.redact import Redactor

__all__ = ["looks_like_debug_log", "read_debug_log"]

_ISO_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)\s+"
    r"(?P<ns>(?:socket\.io-client|engine\.io-client|socket\.io-parser)(?::[\w-]+)?)\s(?P<msg>.*)$"
)
_TTY_LINE = re.compile(
    r"^\s*(?P<ns>(?:socket\.io-client|engine\.io-client|socket\.io-parser)(?::[\w-]+)?)\s"
    r"(?P<msg>.*?)(?:\s\+(?P<delta>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h))?\s*$"
)
_CAUSES = (
    (re.compile(r"Unexpected server response: (\d{3})"), "status"),
    (re.compile(r"\b(?:connect )?ECONNREFUSED[^\"'\n]*"), "network"),
    (re.compile(r"\b(?:getaddrinfo )?(?:ENOTFOUND|EAI_AGAIN)[^\"'\n]*"), "network"),
    (re.compile(r"\b(?:connect )?(?:ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)[^\"'\n]*"), "network"),
    (re.compile(r"\bECONNRESET[^\"'\n]*"), "network"),
    (
        re.compile(
            r"(?:self[- ]signed certificate|unable to verify the first certificate|"
            r"certificate has expired|Hostname/IP does not match)[^\"'\n]*"
        ),
        "tls",
    ),
)
_QUOTED = re.compile(r'"((?:\\.|[^"\\])*)"')


def looks_like_debug_log(text: str) -> bool:
    """Whether ``text`` holds lines of the ``debug`` package's socket.io-client namespaces."""
    hits = 0
    for line in text.splitlines()[:400]:
        if _ISO_LINE.match(line) or _TTY_LINE.match(line):
            hits += 1
            if hits >= 2:
                return True
    return False


@dataclass
class _Item:
    ts: float
    what: str
    args: dict[str, Any] = field(default_factory=dict)


def _iso(stamp: str) -> float:
    return _dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def read_debug_log(text: str, path: str, redactor: Redactor) -> Timeline:
    """The timeline of a socket.io-client / engine.io-client DEBUG log."""
    timeline = Timeline(source="debug-log", path=path, client="node")
    items: list[_Item] = []
    clock = 0.0
    stamped = False
    open_session = False
    url: str | None = None
    transport: str | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        match = _ISO_LINE.match(line)
        if match:
            stamped = True
            clock = _iso(match.group("ts"))
        else:
            match = _TTY_LINE.match(line)
            if match and match.group("delta"):
                factor = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[match.group("unit")]
                clock += float(match.group("delta")) * factor
        if not match:
            for pattern, kind in _CAUSES:
                found = pattern.search(line)
                if found:
                    items.append(_Item(clock, "cause", {"text": found.group(0), "kind": kind}))
                    break
            continue
        msg = match.group("msg")
        if msg.startswith("opening "):
            url = msg[len("opening ") :].strip()
            timeline.url = timeline.url or redactor.text(url)
            open_session = False
        elif msg.startswith("creating transport "):
            transport = msg.split('"')[1] if '"' in msg else msg.split()[-1]
            if not open_session:
                items.append(_Item(clock, "attempt", {"url": url or "?", "transport": transport}))
        elif msg.startswith("socket receive: type "):
            quoted = _QUOTED.findall(msg)
            kind = quoted[0] if quoted else ""
            data = msg.split(', data "', 1)[1][:-1] if ', data "' in msg else ""
            if kind == "open":
                open_session = True
                items.append(_Item(clock, "open", {"data": data, "transport": transport}))
            elif kind == "message":
                items.append(_Item(clock, "message", {"data": data, "transport": transport}))
            elif kind == "close":
                items.append(_Item(clock, "closed", {"reason": "the server closed the session"}))
        elif msg.startswith("writing packet "):
            items.append(_Item(clock, "packet_out", {"json": msg[len("writing packet ") :]}))
        elif msg.startswith("socket error "):
            payload = msg[len("socket error ") :]
            status = re.search(r'"description":(\d{3})\b', payload)
            body = re.search(r'"responseText":"((?:\\.|[^"\\])*)"', payload)
            response = json.loads(f'"{body.group(1)}"') if body else None
            items.append(
                _Item(
                    clock,
                    "error",
                    {
                        "status": int(status.group(1)) if status else None,
                        "body": response,
                        "transport": transport,
                        "session": open_session,
                    },
                )
            )
        elif msg.startswith("connect attempt timed out after "):
            items.append(_Item(clock, "timeout", {"ms": msg.rsplit(" ", 1)[-1]}))
        elif msg.startswith("will wait ") and "before reconnect attempt" in msg:
            delay = re.search(r"(\d+)ms", msg)
            items.append(_Item(clock, "reconnect", {"ms": int(delay.group(1)) if delay else 0}))
        elif msg.startswith("reconnect failed"):
            items.append(_Item(clock, "gave_up"))
        elif msg.startswith("probe transport ") and "failed" in msg:
            items.append(_Item(clock, "upgrade_failed", {"why": msg}))
        elif msg.startswith("changing transport and sending upgrade packet"):
            items.append(_Item(clock, "upgraded"))
        elif msg.startswith("socket close with reason: "):
            reason = _QUOTED.findall(msg)
            items.append(_Item(clock, "closed", {"reason": reason[0] if reason else msg}))
            open_session = False
        elif msg.startswith("close (") and msg.endswith(")"):
            items.append(_Item(clock, "sio_close", {"reason": msg[len("close (") : -1]}))

    # A cause line belongs to the transport error before it (the app logs connect_error after).
    for i, item in enumerate(items):
        if item.what != "cause":
            continue
        for previous in reversed(items[:i]):
            if previous.what == "error":
                previous.args.setdefault("cause", item.args)
                break

    replay = Replay(timeline, redactor)
    base = items[0].ts if items else 0.0
    attempts = 0
    connected = False
    for item in items:
        ts = item.ts if stamped else base + (item.ts - base)
        args = item.args
        if item.what == "attempt":
            replay.attempt(ts, str(args["url"]), str(args["transport"]))
        elif item.what == "open":
            try:
                replay.open_packet(ts, json.loads(args["data"]), str(args["transport"]))
            except json.JSONDecodeError:
                replay.note(ts, "unreadable open packet", level="warning")
        elif item.what == "message":
            packet = parse_sio(str(args["data"]))
            if packet is not None:
                replay.sio_packet(ts, packet, "in", str(args["transport"] or "?"))
                connected = connected or packet.type == 0
        elif item.what == "packet_out":
            try:
                data = json.loads(str(args["json"]))
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict) and isinstance(data.get("type"), int):
                from conndebug.core.explain.timeline import SioPacket

                replay.sio_packet(
                    ts,
                    SioPacket(
                        data["type"], str(data.get("nsp", "/")), data.get("id"), data.get("data")
                    ),
                    "out",
                    str(transport or "?"),
                )
        elif item.what == "error":
            _transport_error(replay, ts, args, timeline)
        elif item.what == "timeout":
            replay.failed(
                ts,
                "timeout",
                phase="timeout",
                transport=_last_transport(items, item),
                cause=f"no connection within {args['ms']} ms",
            )
        elif item.what == "reconnect":
            attempts += 1
            replay.emit(
                ReconnectScheduled,
                ts,
                attempt=attempts,
                max_attempts=0,
                delay_s=int(args["ms"]) / 1000,
            )
        elif item.what == "gave_up":
            replay.emit(ReconnectFailed, ts, attempts=attempts, reason="reconnect failed")
        elif item.what == "upgrade_failed":
            replay.upgrade_failed(ts, str(args["why"]))
        elif item.what == "upgraded":
            replay.upgraded(ts)
        elif (item.what == "closed" and replay.connected) or (
            item.what == "sio_close" and replay.connected
        ):
            replay.disconnected(ts, str(args["reason"]))

    if not items:
        timeline.gap("no line of socket.io-client or engine.io-client is recognised")
    elif not any(i.what == "attempt" for i in items):
        timeline.gap("the log starts after the connection was made: its start is not recorded")
    if not stamped:
        timeline.gap(
            "the log has no clock times (a terminal or browser console copy): times are "
            "added up from the +N ms of each line and may drift"
        )
    if any(i.what == "error" and not i.args.get("status") and "cause" not in i.args for i in items):
        timeline.gap(
            "the DEBUG log does not say why a websocket failed (the error is logged as {}): log "
            "the connect_error's description (err.description.message) beside it"
        )
    return timeline


def _last_transport(items: list[_Item], upto: _Item) -> str | None:
    transport = None
    for item in items:
        if item is upto:
            break
        if item.what == "attempt":
            transport = str(item.args["transport"])
    return transport


def _transport_error(replay: Replay, ts: float, args: dict[str, Any], timeline: Timeline) -> None:
    transport = args.get("transport")
    status = args.get("status")
    body = args.get("body")
    cause = args.get("cause") or {}
    if status:
        code, message = engine_error(int(status), body if isinstance(body, str) else None)
        shown = f' "{message}"' if message else ""
        replay.failed(
            ts,
            f"{'xhr' if transport == 'polling' else transport} error: HTTP {status}{shown}",
            transport=transport,
            phase="session" if args.get("session") else "handshake",
            status=int(status),
            code=code,
        )
        return
    found = re.search(r"(\d{3})", cause.get("text", "")) if cause.get("kind") == "status" else None
    if found:
        replay.failed(
            ts,
            f"{transport} error",
            transport=transport,
            phase="handshake",
            status=int(found.group(1)),
            cause=cause.get("text"),
        )
    elif cause:
        replay.failed(
            ts,
            f"{transport} error",
            transport=transport,
            phase="network" if cause.get("kind") == "network" else cause.get("kind"),
            cause=cause.get("text"),
        )
    else:
        replay.failed(ts, f"{transport} error", transport=transport)
