"""What the monitor can do since it runs on the one client, against real servers nobody here wrote.

- connection state recovery (socket.io 4 with ``connectionStateRecovery``): the pid and offset
  kept, asked for on the reconnection, ``connected`` says ``recovered`` and the missed events are
  replayed in the history; refused (after a kick) and said why;
- binary events in order on both transports, shown as ``<binary 4 B>`` with their true size
  (socket.io 4, its msgpack parser, python-socketio);
- the msgpack parser (``--parser msgpack``) and its mismatch named within a second;
- socket.io 2: never shown as connected with Engine.IO 4, connected with ``--eio 3``;
- kicks from the wire, the packet tap (only when asked), the verdict as it changes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from conndebug.core.model import State
from conndebug.core.monitor import Monitor, make_monitor
from conndebug.wire import HttpClient
from tests.client.pyserver import python_server
from tests.core.helpers import events_of, settings_for, wait_for_event, wait_until
from tests.node_peers import node_server

pytestmark = pytest.mark.timeout(60)

TRANSPORTS = [("websocket",), ("polling",)]
IDS = ["websocket", "polling"]


@asynccontextmanager
async def watching(url: str, *, trace: bool = False, **overrides: Any) -> AsyncIterator[Monitor]:
    values: dict[str, Any] = {"no_guest": True, "reconnect_delay": 0.2, "reconnect_delay_max": 0.4}
    values.update(overrides)
    monitor = make_monitor(settings_for(url, **values), trace=trace)
    await monitor.start()
    try:
        yield monitor
    finally:
        await monitor.stop()


async def connected(monitor: Monitor, count: int = 1) -> None:
    await wait_until(lambda: len(events_of(monitor.bus, "connected")) >= count, 10, "connected")


async def post(url: str, path: str) -> None:
    async with HttpClient() as http:
        answer = await http.request("POST", url + path)
        assert answer.status == 200


def named(monitor: Monitor, *names: str) -> list[Any]:
    return [e for e in events_of(monitor.bus, "event_in") if e.name in names]


# -- connection state recovery -------------------------------------------------------------------


@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
async def test_a_drop_is_recovered_and_the_missed_events_are_shown(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    async with (
        node_server("--recovery", "5000") as server,
        watching(server.url, transports=transports, reconnect_delay=1.0) as monitor,
    ):
        await connected(monitor)
        first = events_of(monitor.bus, "connected")[0]
        assert first.recovered is None  # nothing asked yet
        await post(server.url, "/_test/broadcast?count=2")
        await wait_until(lambda: len(named(monitor, "news")) == 2, 5, "two events")
        assert [e.preview for e in named(monitor, "news")] == ["0", "1"]  # the offset not shown
        await monitor.drop_transport()
        gone = await wait_for_event(monitor, "disconnected", 5)
        assert (gone.by, gone.will_reconnect) == ("user", True)
        await wait_until(
            lambda: any(line["event"] == "disconnect" for line in server.lines), 5, "server saw it"
        )
        await post(server.url, "/_test/broadcast?count=3")  # missed while away
        await connected(monitor, 2)
        again = events_of(monitor.bus, "connected")[1]
        assert again.recovered is True
        assert again.replayed == 3
        assert again.sid == first.sid
        assert "recovered: yes" in again.detail
        replayed = [e for e in named(monitor, "news") if e.replayed]
        assert [e.preview for e in replayed] == ["0", "1", "2"]
        history = list(monitor.bus.history)
        assert history.index(again) < history.index(replayed[0])  # connected first, then replay
        verdicts = events_of(monitor.bus, "verdict")
        assert verdicts[-1].code == "ok"  # a drop the user caused is no problem of the server


async def test_recovery_refused_after_a_kick_says_why(node_dir: Path) -> None:
    async with (
        node_server("--recovery", "5000") as server,
        watching(server.url) as monitor,
    ):
        await connected(monitor)
        await post(server.url, "/_test/broadcast?count=1")
        await wait_until(lambda: bool(named(monitor, "news")), 5, "an event")
        await post(server.url, "/_test/kick")
        gone = await wait_for_event(monitor, "disconnected", 5)
        assert (gone.kicked, gone.will_reconnect, gone.by) == (True, False, "server")
        await wait_until(lambda: monitor.state is State.DISCONNECTED, 5, "disconnected")
        await monitor.reconnect()
        await connected(monitor, 2)
        again = events_of(monitor.bus, "connected")[1]
        assert again.recovered is False
        assert again.recovery is not None
        assert "server disconnect" in again.recovery
        assert "recovered: no" in again.detail


async def test_a_server_without_recovery_never_claims_it(node_dir: Path) -> None:
    async with node_server() as server, watching(server.url) as monitor:
        await connected(monitor)
        await monitor.drop_transport()
        await connected(monitor, 2)
        assert [e.recovered for e in events_of(monitor.bus, "connected")] == [None, None]


# -- binary events ------------------------------------------------------------------------------


def _check_mixed(monitor: Monitor, count: int) -> None:
    arrived = named(monitor, "bin", "text")
    assert [(e.name, e.preview.split(",")[0].lstrip("[")) for e in arrived] == [
        pair for i in range(count) for pair in (("bin", str(i)), ("text", str(i)))
    ]
    for i, event in enumerate(e for e in arrived if e.name == "bin"):
        assert event.binaries == (4,)
        assert f"<binary 4 B> {i:02x}010203" in event.preview
        assert "b'" not in event.preview
        assert event.size == len(f"[{i},]") + 4  # the true size: 4 bytes, not a repr's


@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
async def test_binary_events_in_order_with_true_sizes_from_socketio_4(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    async with node_server() as server, watching(server.url, transports=transports) as monitor:
        await connected(monitor)
        await monitor.emit("mixed", {"count": 5})
        await wait_until(lambda: bool(named(monitor, "mixed:done")), 5, "mixed:done")
        _check_mixed(monitor, 5)
        assert "<binary 4 B>" in events_of(monitor.bus, "event_in")[0].detail


@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
async def test_binary_events_from_python_socketio(transports: tuple[str, ...]) -> None:
    async with python_server() as server, watching(server.url, transports=transports) as monitor:
        await connected(monitor)
        await monitor.emit("mixed", {"count": 3})
        await wait_until(lambda: bool(named(monitor, "mixed:done")), 5, "mixed:done")
        _check_mixed(monitor, 3)
        assert events_of(monitor.bus, "verdict")[-1].code == "ok"


async def test_an_ack_with_a_binary_answer(node_dir: Path) -> None:
    async with node_server() as server, watching(server.url) as monitor:
        await connected(monitor)
        result = await monitor.emit("echo", b"\x01\x02\x03", ack=True)
        assert result.acked
        assert result.value == b"\x01\x02\x03"
        out = events_of(monitor.bus, "event_out")[-1]
        assert out.ack is not None
        assert "<binary 3 B> 010203" in out.ack


# -- the msgpack parser -----------------------------------------------------------------------------


@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
async def test_msgpack_connects_and_carries_binary(
    node_dir: Path, transports: tuple[str, ...]
) -> None:
    async with (
        node_server("--msgpack") as server,
        watching(server.url, transports=transports, parser="msgpack") as monitor,
    ):
        await connected(monitor)
        assert events_of(monitor.bus, "connected")[0].parser == "msgpack"
        await monitor.emit("mixed", {"count": 3})
        await wait_until(lambda: bool(named(monitor, "mixed:done")), 5, "mixed:done")
        arrived = named(monitor, "bin", "text")
        assert [e.name for e in arrived] == ["bin", "text"] * 3
        assert all(e.binaries == (4,) for e in arrived if e.name == "bin")
        await wait_for_event(monitor, "rtt", 5)  # round trips work with msgpack too


async def test_a_msgpack_server_is_named_within_a_second(node_dir: Path) -> None:
    async with node_server("--msgpack") as server, watching(server.url) as monitor:
        started = time.monotonic()
        verdict = await wait_for_event(monitor, "verdict", 5)
        assert time.monotonic() - started < 1.0
        assert (verdict.code, verdict.exit) == ("parser_mismatch", 2)
        assert "--parser msgpack" in verdict.fix
        await wait_until(lambda: monitor.state is State.FAILED, 5, "failed")
        assert not events_of(monitor.bus, "reconnect_scheduled")  # retrying cannot help
        assert not events_of(monitor.bus, "connected")


# -- socket.io 2 ----------------------------------------------------------------------------------


async def test_a_socketio_2_server_is_never_shown_connected(node_dir: Path) -> None:
    async with node_server(v2=True) as server, watching(server.url) as monitor:
        verdict = await wait_for_event(monitor, "verdict", 10)
        assert verdict.code == "protocol_mismatch"
        await wait_until(lambda: monitor.state is State.FAILED, 5, "failed")
        assert not events_of(monitor.bus, "connected")


@pytest.mark.parametrize("transports", TRANSPORTS, ids=IDS)
async def test_eio_3_connects_to_socketio_2(node_dir: Path, transports: tuple[str, ...]) -> None:
    async with (
        node_server("--ping-interval", "1000", "--ping-timeout", "1000", v2=True) as server,
        watching(server.url, transports=transports, eio=3) as monitor,
    ):
        await connected(monitor)
        assert events_of(monitor.bus, "connected")[0].eio == 3
        await monitor.emit("mixed", {"count": 2})
        await wait_until(lambda: bool(named(monitor, "mixed:done")), 5, "mixed:done")
        assert [e.name for e in named(monitor, "bin", "text")] == ["bin", "text"] * 2
        mark = len(monitor.bus.history)
        await wait_for_event(monitor, "rtt", 5, after=mark)
        # Engine.IO 3: we ping, the server pongs: heartbeats keep it alive past pingInterval
        await wait_until(lambda: monitor.snapshot().pings_seen >= 2, 5, "two heartbeats")
        assert monitor.state is State.CONNECTED
        assert events_of(monitor.bus, "verdict")[-1].code == "ok"


# -- kicks, the tap, the verdict ------------------------------------------------------------------


async def test_a_kick_comes_from_the_wire_and_is_named(node_dir: Path) -> None:
    async with node_server() as server, watching(server.url) as monitor:
        await connected(monitor)
        result = await monitor.emit("kick-me", None, ack=True)
        assert result.value == "bye"
        gone = await wait_for_event(monitor, "disconnected", 5)
        assert gone.reason == "io server disconnect"
        assert gone.kicked is True
        verdict = await wait_for_event(monitor, "verdict", 5, match=lambda v: v.code != "ok")
        assert (verdict.code, verdict.exit) == ("server_disconnect", 2)
        assert monitor.state is State.DISCONNECTED


async def test_packets_are_traced_only_when_asked(node_dir: Path) -> None:
    async with node_server() as server:
        async with watching(server.url) as quiet:
            await connected(quiet)
            await quiet.emit("mixed", {"count": 1})
            await wait_until(lambda: bool(named(quiet, "mixed:done")), 5, "mixed:done")
        assert not events_of(quiet.bus, "packet")
        async with watching(server.url, trace=True, token="s3cret-token-value") as traced:
            await connected(traced)
            await traced.emit("mixed", {"count": 1})
            await wait_until(lambda: bool(named(traced, "mixed:done")), 5, "mixed:done")
        packets = events_of(traced.bus, "packet")
        out_connect = next(p for p in packets if p.direction == "out" and p.sio_type == "CONNECT")
        assert "s3cret-token-value" not in out_connect.preview  # the auth object is redacted
        attachment = next(p for p in packets if p.sio_type == "ATTACHMENT")
        assert attachment.binary_size == 4
        assert attachment.preview.startswith("<binary 4 B>")
        kinds = {(p.direction, p.eio_type) for p in packets}
        assert {("in", "OPEN"), ("out", "MESSAGE"), ("in", "MESSAGE")} <= kinds


async def test_err_data_of_a_middleware_refusal_is_shown(node_dir: Path) -> None:
    data = '{"content":"please retry later"}'
    async with (
        node_server("--require-token", "right", "--reject-data", data) as server,
        watching(server.url, token="wrong-token") as monitor,
    ):
        error = await wait_for_event(monitor, "connect_error", 10)
        assert error.message == "Invalid token"
        assert error.data == {"content": "please retry later"}
        assert "please retry later" in error.detail  # what a reader of watch's lines sees
        verdict = await wait_for_event(monitor, "verdict", 5)
        assert verdict.code == "auth_rejected"
        assert "please retry later" in verdict.explanation


def test_every_new_fact_is_left_out_while_unset() -> None:
    from conndebug.core.events import Connected, ConnectError, Disconnected

    for cls, required in (
        (Connected, {"transport": "websocket", "sid": "a", "engine_sid": "b"}),
        (ConnectError, {"message": "m"}),
        (Disconnected, {"reason": "r"}),
    ):
        event = cls(ts=0.0, t=0.0, **required)
        data = event.to_dict()
        for field in cls.optional:
            assert field not in data, (cls.kind, field)
        assert set(data) >= {"ts", "t", "kind", "detail"}
        assert dataclasses.is_dataclass(event)
