"""The packet tap against the real socket.io 4 server: every packet of a session, in wire order.

A session that starts over polling and upgrades shows: the open packet (GET), CONNECT out (POST)
and its answer (``40{sid}``), the upgrade's ``2probe``/``3probe`` and ``5``, events and their
acks (``42``/``43``), heartbeats (``2``/``3``, a short pingInterval) with their timing, and ``41``
when the monitor stops. ``watch --trace`` prints the same as readable lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conndebug.core.events import Packet
from conndebug.core.model import State
from conndebug.core.monitor import Monitor, make_monitor
from tests.core.helpers import events_of, settings_for, wait_until
from tests.node_peers import node_server

pytestmark = [pytest.mark.node, pytest.mark.timeout(60)]

PING_MS = 300


@contextlib.asynccontextmanager
async def traced(url: str, *, trace: bool = True, **overrides: Any) -> AsyncIterator[Monitor]:
    monitor = make_monitor(settings_for(url, **overrides), trace=trace)
    await monitor.start()
    try:
        await wait_until(lambda: monitor.state is State.CONNECTED, 10, "connected")
        yield monitor
    finally:
        await monitor.stop()


def packets(monitor: Monitor) -> list[Packet]:
    return [p for p in events_of(monitor.bus, "packet") if isinstance(p, Packet)]


def in_order(seen: list[Packet], wanted: list[tuple[str, str, str]]) -> list[Packet]:
    """The packets matching ``wanted`` (direction, transport, start of the wire text), found in
    this order in ``seen`` (others may come between them)."""
    found: list[Packet] = []
    index = 0
    for direction, transport, start in wanted:
        while index < len(seen):
            p = seen[index]
            index += 1
            if p.direction == direction and p.transport == transport and p.wire.startswith(start):
                found.append(p)
                break
        else:
            raise AssertionError(
                f"no {direction} {transport} {start!r} after the packets before it in: "
                + " | ".join(f"{p.direction} {p.transport} {p.wire[:30]}" for p in seen)
            )
    return found


async def test_a_session_that_upgrades_shows_every_packet_in_wire_order(node_dir: Path) -> None:
    async with (
        node_server("--ping-interval", str(PING_MS)) as server,
        traced(server.url, transports=("polling", "websocket"), token="tok-secret-123") as m,
    ):
        await m.emit("echo", {"hello": "world"}, ack=True)
        await wait_until(
            lambda: sum(p.eio_type == "PING" for p in packets(m)) >= 3, 5, "three heartbeats"
        )
    seen = packets(m)
    (open_, connect, connected, probe, probed, upgrade, event, ack, _ping, pong, bye) = in_order(
        seen,
        [
            ("in", "polling", "0{"),
            ("out", "polling", "40{"),
            ("in", "polling", '40{"sid"'),
            ("out", "websocket", "2probe"),
            ("in", "websocket", "3probe"),
            ("out", "websocket", "5"),
            ("out", "websocket", '420["echo"'),
            ("in", "websocket", "430["),
            ("in", "websocket", "2"),
            ("out", "websocket", "3"),
            ("out", "websocket", "41"),
        ],
    )
    assert seen[-1] is bye  # the goodbye is the last packet
    assert (open_.eio_type, connect.sio_type, connected.sio_type) == ("OPEN", "CONNECT", "CONNECT")
    assert '"pingInterval":300' in open_.wire
    assert "tok-secret-123" not in connect.wire
    assert "‹redacted" in connect.wire
    # Over polling, the request that carried each packet: GETs bring them, POSTs take them out.
    assert open_.request_id is not None
    assert connect.request_id is not None
    assert open_.carrier.startswith("GET #")
    assert connect.carrier.startswith("POST #")
    assert seen.index(connect) < seen.index(connected)  # a POST's packets before their answer
    assert probed.pong_ms is not None
    assert probed.pong_ms >= 0
    assert (event.sio_type, event.ack_id, ack.sio_type, ack.ack_id) == ("EVENT", 0, "ACK", 0)
    assert pong.pong_ms is not None
    assert pong.pong_ms < PING_MS
    intervals = [p.interval_ms for p in seen if p.eio_type == "PING" and p.interval_ms]
    assert intervals
    assert all(PING_MS * 0.5 < i < PING_MS * 3 for i in intervals)
    assert (bye.sio_type, upgrade.eio_type) == ("DISCONNECT", "UPGRADE")
    assert "2probe" in probe.detail
    assert "GET #" in open_.detail
    assert "after its ping" in pong.detail


async def test_websocket_first_and_the_tap_turned_on_and_off_live(node_dir: Path) -> None:
    async with (
        node_server("--ping-interval", str(PING_MS)) as server,
        traced(server.url, trace=False) as m,
    ):
        await asyncio.sleep(PING_MS * 1.5 / 1000)
        assert not packets(m)  # off: no records at all
        m.set_trace(True)
        await wait_until(lambda: any(p.eio_type == "PING" for p in packets(m)), 5, "a ping")
        m.set_trace(False)
        count = len(packets(m))
        await asyncio.sleep(PING_MS * 2 / 1000)
        assert len(packets(m)) <= count + 1  # a pong already under way at most
        m.set_trace(True)
    assert packets(m)[-1].wire == "41"
    assert all(p.transport == "websocket" and p.request_id is None for p in packets(m))


async def test_msgpack_packets_are_decoded_and_default_attachments_shown_in_hex(
    node_dir: Path,
) -> None:
    async with node_server("--msgpack") as server, traced(server.url, parser="msgpack") as m:
        await m.emit("echo", {"password": "pw-secret-1", "n": 1}, ack=True)
        await m.emit("mixed", {"count": 1})
        await wait_until(
            lambda: any("mixed:done" in (p.decoded or "") for p in packets(m)), 5, "mixed:done"
        )
    seen = [p for p in packets(m) if p.eio_type == "MESSAGE"]
    assert all(p.decoded and p.preview == f"<binary {p.binary_size:,} B>" for p in seen)
    echo = next(p for p in seen if p.sio_type == "EVENT" and '"echo"' in (p.decoded or ""))
    assert "pw-secret-1" not in echo.wire
    assert '"password":"‹redacted' in echo.wire
    assert echo.wire.startswith("<binary")
    assert " msgpack {" in echo.wire
    binary = next(p for p in seen if '"bin"' in (p.decoded or ""))
    assert '"<binary 4 B> 00010203"' in (binary.decoded or "")
    async with node_server() as server, traced(server.url) as m:
        await m.emit("mixed", {"count": 1})
        await wait_until(
            lambda: any(p.sio_type == "ATTACHMENT" for p in packets(m)), 5, "an attachment"
        )
    attachment = next(p for p in packets(m) if p.sio_type == "ATTACHMENT")
    assert attachment.wire == "<binary 4 B> 00010203"
    assert attachment.decoded is None


async def test_watch_trace_prints_every_packet_readably(node_dir: Path) -> None:
    async with node_server("--ping-interval", str(PING_MS)) as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "conndebug",
            "watch",
            server.url,
            "--trace",
            "--no-guest",
            "--transports",
            "polling,websocket",
            "--duration",
            "1",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NO_PROXY": "*", "NO_COLOR": "1"},
        )
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    lines = [line for line in out.decode().splitlines() if " packet " in line]
    text = "\n".join(lines)
    for needle in (
        "← polling GET #",
        "OPEN (",
        "→ polling POST #",
        ": 40",
        "→ websocket PING (6 B): 2probe",
        "← websocket PONG (6 B)",
        ": 3probe",
        "→ websocket UPGRADE (1 B): 5",
        "after the last: 2",
        "after its ping: 3",
        "→ websocket DISCONNECT (2 B): 41",
    ):
        assert needle in text, (needle, text, err.decode())
    assert proc.returncode == 0
