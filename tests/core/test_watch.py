"""`conndebug watch` as a user runs it: JSON lines or readable lines, stops, exit codes, no Textual."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from conndebug.core.events import KINDS
from tests.conftest import ROOT
from tests.proxies import tcp_relay
from tests.servers import reference_server

pytestmark = pytest.mark.timeout(90)


@dataclass
class Done:
    code: int
    out: list[str]
    err: str


async def watch(*args: str, env: dict[str, str] | None = None, timeout: float = 40) -> Done:
    """Run ``python -m conndebug watch ARGS`` while this loop keeps serving; bounded in time."""
    full_env = {**os.environ, "NO_PROXY": "*", **(env or {})}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "conndebug",
        "watch",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=full_env,
        cwd=ROOT,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.communicate()
        raise
    assert proc.returncode is not None
    return Done(proc.returncode, out.decode().splitlines(), err.decode())


async def test_jsonl_prints_exactly_the_history_and_exits_0_when_connected() -> None:
    async with reference_server() as server:
        done = await watch(server.url, "--jsonl", "--duration", "0", "--ws-timeout", "1")
    assert done.code == 0, done.err
    events = [json.loads(line) for line in done.out]
    assert {e["kind"] for e in events} <= KINDS
    assert events[0]["kind"] == "note"
    assert events[0]["topic"] == "target"
    assert [e["kind"] for e in events].count("connected") == 1
    assert all(e["ts"].endswith("Z") and "detail" in e for e in events)
    assert events[-1]["kind"] == "disconnected"
    assert "Traceback" not in done.err
    assert "watch: connected over websocket" in done.err


async def test_readable_lines_without_colour_and_exit_1_when_degraded() -> None:
    async with reference_server(websocket="reject") as server:
        done = await watch(server.url, "--duration", "0", env={"NO_COLOR": "1"})
    assert done.code == 1, done.err
    text = "\n".join(done.out)
    assert "\x1b[" not in text
    kinds = [line.split()[1] for line in done.out]
    assert kinds[0] == "note"
    assert "fallback" in kinds
    assert "connected" in kinds
    first_time = done.out[0].split()[0]
    assert len(first_time) == len("12:34:56.789")
    assert first_time[8] == "."


async def test_nothing_listening_exits_2_quickly() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    done = await watch(f"http://127.0.0.1:{port}", "--duration", "0", "--no-guest", "--jsonl")
    assert done.code == 2
    assert time.monotonic() - started < 15
    kinds = [json.loads(line)["kind"] for line in done.out]
    assert "connect_error" in kinds
    assert "reconnect_scheduled" in kinds


async def test_a_duration_stops_the_watch(tmp_path: Path) -> None:
    log = tmp_path / "watch.jsonl"
    async with reference_server() as server:
        started = time.monotonic()
        done = await watch(server.url, "--duration", "1.5", "--jsonl", "--log", str(log))
        took = time.monotonic() - started
    assert done.code == 0, done.err
    assert 1.5 <= took < 15
    printed = [json.loads(line) for line in done.out]
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert logged == printed
    assert any(e["kind"] == "rtt" for e in printed)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
async def test_a_signal_stops_cleanly_with_the_summary_and_the_states_exit_code(
    sig: signal.Signals,
) -> None:
    async with reference_server() as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "conndebug",
            "watch",
            server.url,
            "--jsonl",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NO_PROXY": "*"},
            cwd=ROOT,
        )
        assert proc.stdout is not None
        lines: list[dict[str, object]] = []
        try:
            while not any(e["kind"] == "connected" for e in lines):
                raw = await asyncio.wait_for(proc.stdout.readline(), 20)
                assert raw, "watch ended before connecting"
                lines.append(json.loads(raw))
            proc.send_signal(sig)
            rest, err = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode == 0
    assert b"Traceback" not in err
    summary = err.decode().strip().splitlines()[-1]
    assert summary.startswith("watch: connected over websocket — ok: "), summary
    assert summary.endswith("(exit 0)"), summary
    assert json.loads(rest.decode().splitlines()[-1])["kind"] == "disconnected"


async def test_insecure_is_loud_on_the_first_line(tmp_path: Path) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    async with reference_server() as server, tcp_relay(server.port, tls=context) as relay:
        done = await watch(relay.url, "--insecure", "--duration", "0")
    assert done.code == 0, done.err
    assert "TLS CERTIFICATE VERIFICATION IS DISABLED" in done.out[0]


def test_bad_configuration_exits_3() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conndebug", "watch", "ftp://example.org"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 3
    assert done.stderr.startswith("error:")


@pytest.mark.parametrize("module", ["conndebug.core.monitor", "conndebug.commands.watch"])
def test_the_monitor_and_watch_do_not_import_textual(module: str) -> None:
    code = f"import sys, {module}; print('textual' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"


async def test_a_closed_stdout_ends_the_watch_quietly() -> None:
    read_fd, write_fd = os.pipe()
    async with reference_server() as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "conndebug",
            "watch",
            server.url,
            "--jsonl",
            stdout=write_fd,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NO_PROXY": "*"},
            cwd=ROOT,
        )
        os.close(write_fd)
        assert proc.stderr is not None
        try:
            with os.fdopen(read_fd, "rb") as reader:  # like `| head -1`: read a line, then close
                first = await asyncio.wait_for(asyncio.to_thread(reader.readline), 20)
            assert json.loads(first)["kind"] == "note"
            err = await asyncio.wait_for(proc.stderr.read(), 20)
            await asyncio.wait_for(proc.wait(), 20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    assert proc.returncode in (0, 1, 2)
    assert b"Traceback" not in err
    assert b"Exception ignored" not in err


async def test_trace_adds_the_packets_to_the_jsonl_and_ends_with_the_verdict() -> None:
    async with reference_server() as server:
        plain = await watch(server.url, "--jsonl", "--duration", "0")
        traced = await watch(server.url, "--jsonl", "--trace", "--duration", "0")
    assert plain.code == traced.code == 0
    plain_kinds = [json.loads(line)["kind"] for line in plain.out]
    events = [json.loads(line) for line in traced.out]
    assert "packet" not in plain_kinds  # only when asked
    packets = [e for e in events if e["kind"] == "packet"]
    assert {(p["direction"], p["eio_type"]) for p in packets} >= {
        ("in", "OPEN"),
        ("out", "MESSAGE"),
    }
    connect = next(p for p in packets if p["direction"] == "out" and p.get("sio_type") == "CONNECT")
    assert "‹redacted" in connect["preview"]  # the guest token in the auth object
    verdicts = [e for e in events if e["kind"] == "verdict"]
    assert verdicts[-1]["code"] == "ok"
    assert verdicts[-1]["exit"] == 0
    assert traced.err.strip().splitlines()[-1].startswith("watch: connected over websocket — ok")


async def test_text_output_ends_with_the_final_verdict() -> None:
    async with reference_server(websocket="reject") as server:
        done = await watch(server.url, "--duration", "0", env={"NO_COLOR": "1"})
    assert done.code == 1
    final = [i for i, line in enumerate(done.out) if line.startswith("verdict websocket_blocked")]
    assert final, done.out[-5:]
    assert done.out[final[-1] + 2].strip().startswith("fix: ")
