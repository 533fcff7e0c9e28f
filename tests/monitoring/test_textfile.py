"""`conndebug watch --prom-textfile`: the node_exporter textfile, from the event stream, written
atomically; a real watch against the reference server through a restart and a kick."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from conndebug.commands.textfile import MAX_REASONS, TextfileWriter, check_textfile, drop_reason
from conndebug.core.errors import ConfigError
from conndebug.core.events import Connected, Disconnected, EventBus, Stall
from conndebug.core.model import Snapshot, State
from tests.conftest import ROOT
from tests.monitoring.helpers import Metrics, parse_metrics
from tests.servers import reference_server

pytestmark = pytest.mark.timeout(90)


def _read(path: Path) -> Metrics:
    return parse_metrics(path.read_text())


def _text(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_counts_come_from_the_event_stream(tmp_path: Path) -> None:
    bus = EventBus()
    snapshot = Snapshot(state=State.CONNECTED, url="http://h:1", transport="polling", rtt_ms=12.5)
    path = tmp_path / "socketio.prom"
    writer = TextfileWriter(path, bus=bus, snapshot=lambda: snapshot)

    bus.emit(Connected, transport="websocket", sid="s", engine_sid="e")
    bus.emit(Disconnected, reason="transport close (the proxy went away)", will_reconnect=True)
    bus.emit(Connected, transport="polling", sid="s", engine_sid="e")
    bus.emit(Disconnected, reason="ping timeout", will_reconnect=True)
    bus.emit(Disconnected, reason="transport close", will_reconnect=True)
    bus.emit(Disconnected, reason="io client disconnect (reconnect requested)")  # ours: no drop
    bus.emit(Connected, transport="polling", sid="s", engine_sid="e")
    bus.emit(Stall, silent_s=3.2, bound_s=3.0)
    writer.write()

    m = _read(path)
    assert m.one("conndebug_watch_connects_total") == 3
    assert m.one("conndebug_watch_drops_total", reason="transport close") == 2
    assert m.one("conndebug_watch_drops_total", reason="ping timeout") == 1
    assert len(m.values["conndebug_watch_drops_total"]) == 2
    assert m.one("conndebug_watch_state", state="connected") == 1
    assert sum(v for _labels, v in m.values["conndebug_watch_state"]) == 1
    assert len(m.values["conndebug_watch_state"]) == len(State)
    assert m.one("conndebug_watch_transport", transport="polling") == 1
    assert m.one("conndebug_watch_rtt_seconds") == 0.0125
    assert 0 <= m.one("conndebug_watch_up_seconds") < 60
    assert m.one("conndebug_watch_running_seconds") >= m.one("conndebug_watch_up_seconds")
    assert m.one("conndebug_watch_info", url="http://h:1", namespace="/") == 1

    # Not connected: no uptime, no transport, no round trip.
    bus.emit(Disconnected, reason="transport error: reset", will_reconnect=True)
    snapshot = dataclasses.replace(snapshot, state=State.RECONNECTING, transport=None)
    writer.write()
    m = _read(path)
    assert m.one("conndebug_watch_up_seconds") == 0
    assert m.one("conndebug_watch_state", state="reconnecting") == 1
    assert m.labels("conndebug_watch_transport", "transport") == []
    assert "conndebug_watch_rtt_seconds" not in m.values
    assert m.one("conndebug_watch_drops_total", reason="transport error") == 1


def test_drop_reasons_are_bounded_labels(tmp_path: Path) -> None:
    bus = EventBus()
    path = tmp_path / "x.prom"
    writer = TextfileWriter(path, bus=bus, snapshot=Snapshot)
    for n in range(MAX_REASONS + 5):
        bus.emit(Disconnected, reason=f"odd reason {n} (details)", will_reconnect=True)
    writer.write()
    reasons = _read(path).labels("conndebug_watch_drops_total", "reason")
    assert len(reasons) == MAX_REASONS + 1
    assert _read(path).one("conndebug_watch_drops_total", reason="other") == 5
    assert drop_reason("Transport close (nginx: proxy_read_timeout)") == "transport close"
    assert drop_reason("") == "unknown"


def test_each_write_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "socketio.prom"
    writer = TextfileWriter(path, bus=EventBus(), snapshot=Snapshot)
    writer.write()
    first = path.stat().st_ino
    writer.write()
    assert path.stat().st_ino != first  # a new file renamed over the old, never rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["socketio.prom"]  # no temporary left


def test_the_textfile_path_is_checked_before_anything_runs(tmp_path: Path) -> None:
    assert check_textfile(str(tmp_path / "a.prom")) == tmp_path / "a.prom"
    for path, words in (
        (tmp_path, "is a directory"),
        (tmp_path / "a.txt", "does not end in .prom"),
        (tmp_path / "missing" / "a.prom", "does not exist"),
    ):
        with pytest.raises(ConfigError, match=words):
            check_textfile(str(path))


async def _until(path: Path, check: object, timeout: float = 20.0) -> Metrics:
    """Poll the file until ``check(metrics)`` holds (bounded)."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        text = _text(path)
        if text is not None:
            last = text
            metrics = parse_metrics(last)
            try:
                if check(metrics):  # type: ignore[operator]
                    return metrics
            except AssertionError:
                pass
        assert time.monotonic() < deadline, f"not reached in time; the file:\n{last}"
        await asyncio.sleep(0.05)


async def test_a_real_watch_keeps_the_file_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "socketio.prom"
    async with reference_server() as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "conndebug",
            "watch",
            server.url,
            "--prom-textfile",
            str(path),
            "--prom-interval",
            "0.5",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NO_PROXY": "*"},
            cwd=ROOT,
        )
        try:
            m = await _until(path, lambda m: m.one("conndebug_watch_state", state="connected") == 1)
            assert m.labels("conndebug_watch_transport", "transport") == ["websocket"]
            assert m.one("conndebug_watch_connects_total") == 1

            await server.restart(down_s=0.5)  # a drop, then automatic reconnection
            m = await _until(
                path,
                lambda m: (
                    m.one("conndebug_watch_connects_total") == 2
                    and m.one("conndebug_watch_state", state="connected") == 1
                ),
            )
            assert sum(v for _l, v in m.values["conndebug_watch_drops_total"]) == 1

            await server.kick_all()  # the server disconnects us: no reconnection
            m = await _until(
                path, lambda m: m.one("conndebug_watch_state", state="disconnected") == 1
            )
            assert m.one("conndebug_watch_drops_total", reason="io server disconnect") == 1
            assert m.one("conndebug_watch_up_seconds") == 0
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            _out, err = await asyncio.wait_for(proc.communicate(), 30)
    m = _read(path)
    assert m.one("conndebug_watch_state", state="stopped") == 1  # the last write, at the end
    assert _names(tmp_path) == ["socketio.prom"]
    assert b"Traceback" not in err
