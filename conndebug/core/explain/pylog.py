"""python-socketio / python-engineio client logs (``logger=True, engineio_logger=True``).

The libraries log plain messages (with ``logging.basicConfig`` a ``LEVEL:name:`` or a time stamp
in front, both understood): ``Attempting WebSocket connection to URL``, ``WebSocket connection
accepted with {…}`` (the open packet as a Python dict), ``Sending packet MESSAGE data 0{…}`` /
``Received packet MESSAGE data 4{…}`` (Socket.IO packets without Engine.IO's ``4``), ``WebSocket
upgrade failed: …``, ``Unexpected status code 400 in server response, aborting``, ``HTTP GET request
to URL failed with error …``, ``Connection failed, new attempt in 0.98 seconds``, ``Maximum
reconnection attempts reached, giving up``, ``Engine.IO connection dropped``.

This reads a customer's file: the rule that conndebug never parses a library's log text is about
its own client at run time, where the events come from the client itself.

python-engineio does not log why a websocket connection failed (refused port, 403, hang): the
failure reaches the program as an exception. A traceback or a printed exception in the same paste
(``socketio.exceptions.ConnectionError: Connection error``, ``TimeoutError``) is read when present.
"""

from __future__ import annotations

import ast
import datetime as _dt
import re
from typing import Any

from conndebug.core.events import ReconnectFailed, ReconnectScheduled
from conndebug.core.explain.timeline import Replay, Timeline, parse_sio
from conndebug.core.redact import Redactor

__all__ = ["looks_like_python_log", "read_python_log"]

_PREFIX = re.compile(
    r"^(?:(?P<ts>\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?)\s*[-|]?\s*)?"
    r"(?:(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL)\s*[:|-]?\s*)?"
    r"(?:(?P<name>engineio\.client|socketio\.client)\s*[:|-]?\s*)?(?P<msg>.*)$"
)
_MARKERS = (
    "Attempting WebSocket connection to ",
    "Attempting polling connection to ",
    "WebSocket connection accepted with ",
    "Polling connection accepted with ",
    "Sending packet ",
    "Received packet ",
    "Engine.IO connection established",
    "Engine.IO connection dropped",
)


def looks_like_python_log(text: str) -> bool:
    """Whether ``text`` holds python-engineio / python-socketio client log lines."""
    for line in text.splitlines()[:400]:
        match = _PREFIX.match(line.strip())
        if match and match.group("msg").startswith(_MARKERS[:4]):
            return True
    hits = sum(1 for line in text.splitlines()[:400] if any(m in line for m in _MARKERS))
    return hits >= 2


def _stamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace(",", ".")).timestamp()
    except ValueError:
        return None


def read_python_log(text: str, path: str, redactor: Redactor) -> Timeline:
    """The timeline of a python-socketio / python-engineio client log."""
    timeline = Timeline(source="python-log", path=path, client="python")
    replay = Replay(timeline, redactor)
    clock = 0.0
    stamped = False
    transport: str | None = None
    session = False
    pending_ws: str | None = None
    """The URL of a websocket attempt that has not been accepted yet."""
    attempts_seen = 0
    reconnects = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _PREFIX.match(line)
        assert match is not None
        stamp = _stamp(match.group("ts"))
        if stamp is not None:
            clock, stamped = stamp, True
        else:
            clock += 0.001  # no clock: keep the order
        msg = match.group("msg")
        if msg.startswith(
            ("Attempting WebSocket connection to ", "Attempting polling connection to ")
        ):
            transport = "websocket" if "WebSocket" in msg else "polling"
            url = msg.rsplit(" ", 1)[-1]
            timeline.url = timeline.url or redactor.text(url.split("/socket.io")[0])
            replay.attempt(clock, url, transport)
            attempts_seen += 1
            session = False
            pending_ws = url if transport == "websocket" else None
        elif msg.startswith(
            ("WebSocket connection accepted with ", "Polling connection accepted with ")
        ):
            pending_ws = None
            session = True
            data = _literal(msg.split(" with ", 1)[1])
            replay.open_packet(clock, data, transport or "?")
        elif msg.startswith(("Sending packet ", "Received packet ")):
            direction = "out" if msg.startswith("Sending") else "in"
            rest = msg.split(" ", 2)[2]
            kind, _, data = rest.partition(" data ")
            if kind == "MESSAGE":
                packet = parse_sio(data)
                if packet is not None:
                    replay.sio_packet(clock, packet, direction, transport or "?")
            elif kind == "CLOSE" and direction == "in":
                replay.note(clock, "the server closed the Engine.IO session", topic="engineio")
        elif msg.startswith("WebSocket upgrade failed"):
            replay.upgrade_failed(clock, msg.split(":", 1)[-1].strip() or msg)
        elif msg.startswith("WebSocket upgrade was successful"):
            replay.upgraded(clock)
        elif msg.startswith("Unexpected status code "):
            status = int(re.findall(r"\d{3}", msg)[0]) if re.findall(r"\d{3}", msg) else None
            replay.failed(
                clock,
                f"HTTP {status}",
                transport=transport,
                phase="session" if session else "handshake",
                status=status,
            )
        elif msg.startswith("HTTP ") and " failed with error " in msg:
            cause = msg.split(" failed with error ", 1)[1].rstrip(".")
            lowered = cause.lower()
            phase = "timeout" if "timeout" in lowered else "network"
            replay.failed(
                clock, "HTTP request failed", transport="polling", phase=phase, cause=cause
            )
        elif msg.startswith("Connection refused by the server"):
            replay.failed(clock, msg, transport=transport, phase="handshake")
        elif msg.startswith("Connection failed, new attempt in "):
            reconnects += 1
            delay = re.search(r"in ([\d.]+) seconds", msg)
            replay.emit(
                ReconnectScheduled,
                clock,
                attempt=reconnects,
                max_attempts=0,
                delay_s=float(delay.group(1)) if delay else 0.0,
            )
        elif msg.startswith("Maximum reconnection attempts reached"):
            replay.emit(ReconnectFailed, clock, attempts=reconnects, reason=msg)
        elif msg.startswith("Engine.IO connection dropped") and replay.connected:
            replay.disconnected(clock, "Engine.IO connection dropped")
        elif pending_ws is not None and (printed := _exception(line)) is not None:
            exc_text, exc_phase = printed
            replay.failed(
                clock,
                "websocket error",
                transport="websocket",
                phase=exc_phase,
                cause=exc_text,
                url=pending_ws,
            )
            pending_ws = None

    if attempts_seen == 0:
        timeline.gap("the log starts after the connection was made: its start is not recorded")
    if pending_ws is not None:
        timeline.gap(
            "a websocket attempt has no outcome in the log: python-engineio does not log why a "
            "websocket connection failed (refused, HTTP 403, no answer); add the exception the "
            "program got, or run `conndebug probe` against the same URL"
        )
    if not stamped:
        timeline.gap("the log has no clock times: the order is kept, the times are not")
    return timeline


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return None


def _exception(line: str) -> tuple[str, str | None] | None:
    """A printed exception about the connection: (message, phase)."""
    if "TimeoutError" in line:
        return line, "timeout"
    lowered = line.lower()
    if "connectionerror" in lowered or "connection error" in lowered:
        if "refused" in lowered:
            return line, "network"
        return line, None
    return None
