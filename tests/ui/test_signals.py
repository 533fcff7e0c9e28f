"""The real ``conndebug --url`` in a pseudo-terminal, ended by signals: the terminal is restored
(alternate screen off, mouse reporting off, cursor shown) and the final ``disconnected`` reaches
the ``--log`` file. Without a terminal it refuses in one line that points to ``watch``."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.servers import reference_server

pytestmark = pytest.mark.timeout(90)

ALT_SCREEN_OFF = b"\x1b[?1049l"
MOUSE_OFF = b"\x1b[?1000l"
CURSOR_SHOWN = b"\x1b[?25h"


def _events(log: Path) -> list[dict[str, object]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
async def test_a_signal_restores_the_terminal_and_logs_the_end(
    sig: signal.Signals, tmp_path: Path
) -> None:
    log = tmp_path / "tui.jsonl"
    async with reference_server() as server:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 35, 120, 0, 0))
        screen = bytearray()
        loop = asyncio.get_running_loop()

        def drain() -> None:
            try:
                screen.extend(os.read(master, 65536))
            except OSError:
                loop.remove_reader(master)

        loop.add_reader(master, drain)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "conndebug",
            "--url",
            server.url,
            "--log",
            str(log),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "NO_PROXY": "*", "TERM": "xterm-256color"},
            cwd=ROOT,
            start_new_session=True,
        )
        os.close(slave)
        try:
            deadline = time.monotonic() + 40
            while not any(e["kind"] == "connected" for e in _events(log)):
                assert time.monotonic() < deadline, "the TUI did not connect"
                assert proc.returncode is None, bytes(screen[-500:])
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # a few screen refreshes
            mark = len(screen)
            proc.send_signal(sig)
            code = await asyncio.wait_for(proc.wait(), 20)
            await asyncio.sleep(0.2)  # the last bytes of the screen
            drain_end = time.monotonic() + 2
            while time.monotonic() < drain_end:
                before = len(screen)
                await asyncio.sleep(0.05)
                if len(screen) == before:
                    break
        finally:
            loop.remove_reader(master)
            with contextlib.suppress(OSError):
                os.close(master)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    after = bytes(screen[mark:])
    assert code == 128 + int(sig), after[-300:]
    assert ALT_SCREEN_OFF in after, after[-300:]
    assert MOUSE_OFF in after, after[-300:]
    assert CURSOR_SHOWN in after, after[-300:]
    assert b"Traceback" not in after
    events = _events(log)
    assert events[-1]["kind"] == "disconnected", events[-3:]


@pytest.mark.parametrize("where", ["stdout", "stdin"])
async def test_without_a_terminal_it_points_to_watch(where: str) -> None:
    async with reference_server() as server:
        master, slave = pty.openpty()
        try:
            # One of the two is a terminal, the other a pipe / /dev/null.
            stdin = subprocess.DEVNULL if where == "stdin" else slave
            stdout = asyncio.subprocess.PIPE if where == "stdout" else slave
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "conndebug",
                "--url",
                server.url,
                stdin=stdin,
                stdout=stdout,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "NO_PROXY": "*"},
                cwd=ROOT,
            )
            try:
                _out, err = await asyncio.wait_for(proc.communicate(), 20)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
        finally:
            os.close(master)
            os.close(slave)
    assert proc.returncode == 3
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert "needs a terminal" in lines[0]
    assert "conndebug watch" in lines[0]
