"""The --log file: complete JSON lines, appended, one write each, nothing lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conndebug.core.clock import FakeClock
from conndebug.core.errors import ConfigError
from conndebug.core.events import EventBus, EventIn, Note
from conndebug.core.jsonl import JsonlLog


def test_every_event_becomes_one_json_line_in_order(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text('{"kind":"note","detail":"from before"}\n')
    log = JsonlLog(str(path))
    bus = EventBus(clock=FakeClock(), history_size=10)
    bus.subscribe(log)
    for i in range(2000):
        bus.emit(EventIn, name="storm", size=i, preview=f"{{'i': {i}}}")
    log.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 2001  # appended, the old line kept
    events = [json.loads(line) for line in lines[1:]]
    assert [e["size"] for e in events] == list(range(2000))
    assert events[0]["kind"] == "event_in"
    assert events[0]["ts"].endswith("Z")
    assert log.lines == 2000


def test_lines_are_on_disk_before_the_process_dies(tmp_path: Path) -> None:
    path = tmp_path / "killed.jsonl"
    code = (
        "import os, signal\n"
        "from conndebug.core.events import EventBus, Note\n"
        "from conndebug.core.jsonl import JsonlLog\n"
        f"log = JsonlLog({str(path)!r})\n"
        "bus = EventBus()\n"
        "bus.subscribe(log)\n"
        "for i in range(500):\n"
        "    bus.emit(Note, text=f'line {i}')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=60, check=False)
    assert done.returncode == -9
    lines = path.read_text().splitlines()
    assert len(lines) == 500
    assert json.loads(lines[-1])["detail"] == "line 499"


def test_an_unwritable_log_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be opened"):
        JsonlLog(str(tmp_path / "missing-dir" / "x.jsonl"))


def test_a_failed_write_is_recorded_not_raised(tmp_path: Path) -> None:
    stopped: list[str | None] = []
    log = JsonlLog(str(tmp_path / "x.jsonl"), on_stop=lambda log: stopped.append(log.problem))
    os.close(log.output.fd)  # simulate the descriptor going bad underneath
    log.write_line("lost")
    assert log.error == "Bad file descriptor"
    bus = EventBus(clock=FakeClock())
    bus.subscribe(log)
    bus.emit(Note, text="after the failure")  # no exception
    assert log.lines == 0
    assert log.problem == "--log stopped after 0 events: Bad file descriptor (2 not written)"
    # told once, at the failure (no event loop here: at once)
    assert stopped == ["--log stopped after 0 events: Bad file descriptor (1 not written)"]


def test_a_write_cut_short_by_a_size_limit_leaves_whole_lines(tmp_path: Path) -> None:
    """A file size limit (RLIMIT_FSIZE) cuts a write in the middle of a line, as a full disk
    does: the line's start is removed again, the file ends on a whole line."""
    path = tmp_path / "limited.jsonl"
    code = (
        "import resource\n"
        "from conndebug.core.jsonl import JsonlLog\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))\n"
        f"log = JsonlLog({str(path)!r})\n"
        "for i in range(100):\n"
        '    log.write_line(\'{"i": %d, "pad": "%s"}\' % (i, \'x\' * 290))\n'
        "log.close()\n"
        "print(log.problem)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    raw = path.read_bytes()
    assert 9_000 < len(raw) <= 10_000
    assert raw.endswith(b"\n")
    lines = raw.splitlines()
    assert [json.loads(line)["i"] for line in lines] == list(range(len(lines)))
    assert done.stdout.strip() == (
        f"--log stopped after {len(lines)} events: File too large ({100 - len(lines)} not written)"
    )
