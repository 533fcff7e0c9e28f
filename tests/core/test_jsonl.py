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
    log = JsonlLog(str(tmp_path / "x.jsonl"))
    assert log._fd is not None
    os.close(log._fd)  # simulate the descriptor going bad underneath
    log.write_line("lost")
    assert log.error
    assert log._fd is None
    bus = EventBus(clock=FakeClock())
    bus.subscribe(log)
    bus.emit(Note, text="after the failure")  # no exception
    assert log.lines == 0
