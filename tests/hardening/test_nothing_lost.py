"""Nothing lost: ``watch --log FILE`` killed with SIGKILL in the middle of an event storm leaves a
log whose every line is complete JSON, with no event missing up to the last one written.

The server storms every client from the moment it connects: numbered events (``{"i": n}``, n = 0,
1, 2, ...) without end. ``watch URL --jsonl --log FILE`` runs as a subprocess; once it has printed
a few thousand ``event_in`` lines it is killed with SIGKILL (no handler, no flush, no clean-up).
Then the log must parse line by line, its storm events must be numbered 0..n without a gap, and
it must hold every event the process printed before dying, in the same order: the log writes each
line with one system call as the event happens, while ``watch`` gathers its printed lines for up to
10 ms, so the log is ahead of stdout by at most that burst — never behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.hardening.peers import sio_peer
from tests.hardening.storm_peer import storm

pytestmark = pytest.mark.timeout(90)

KILL_AFTER = 3000
"""Storm events printed before the kill."""
_NUMBER = re.compile(r'"i":(\d+)')


def numbers(events: list[dict[str, Any]]) -> list[int]:
    out = []
    for event in events:
        if event["kind"] == "event_in" and event["name"] == "storm":
            match = _NUMBER.search(event["preview"])
            assert match, event
            out.append(int(match.group(1)))
    return out


async def test_sigkill_mid_storm_leaves_every_log_line_whole_and_none_missing(
    tmp_path: Path,
) -> None:
    log = tmp_path / "storm.jsonl"
    async with sio_peer(on_connect=storm) as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "conndebug",
            "watch",
            server.url,
            "--jsonl",
            "--log",
            str(log),
            "--no-guest",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NO_PROXY": "*"},
            cwd=ROOT,
        )
        assert proc.stdout is not None
        printed: list[bytes] = []
        seen = 0
        try:
            while seen < KILL_AFTER:
                line = await asyncio.wait_for(proc.stdout.readline(), 20)
                assert line, "watch ended before the storm"
                printed.append(line)
                if b'"kind":"event_in"' in line:
                    seen += 1
            os.kill(proc.pid, signal.SIGKILL)
            rest, _err = await asyncio.wait_for(proc.communicate(), 20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == -signal.SIGKILL
        sent = server.sent
    # Everything the process wrote to stdout before it died (a last line may be cut off).
    out_lines = b"".join([*printed, rest]).decode("utf-8", "replace").split("\n")
    whole_out = [json.loads(line) for line in out_lines[:-1] if line]

    raw = log.read_bytes()
    assert raw.endswith(b"\n"), raw[-200:]
    logged = [json.loads(line) for line in raw.decode("utf-8").splitlines()]

    in_log = numbers(logged)
    in_out = numbers(whole_out)
    assert len(in_out) >= KILL_AFTER
    assert in_log == list(range(len(in_log))), "a storm event is missing or out of order"
    assert len(in_log) >= len(in_out)  # everything printed was logged first
    assert logged[: len(whole_out)] == whole_out  # the same events, in the same order
    assert sent > len(in_log)  # it was killed mid-storm, not after it
