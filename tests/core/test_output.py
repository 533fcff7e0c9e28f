"""LineOutput: whole lines, a bounded wait for a reader, every failure counted and said."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conndebug.core.errors import ConfigError
from conndebug.core.output import LineOutput, aopen_for_writing, open_for_writing

pytestmark = pytest.mark.timeout(30)


@contextlib.contextmanager
def pipe(size: int = 4096) -> Iterator[tuple[int, int]]:
    read_fd, write_fd = os.pipe()
    with contextlib.suppress(OSError):
        fcntl.fcntl(write_fd, 1031, size)  # F_SETPIPE_SZ
    try:
        yield read_fd, write_fd
    finally:
        for fd in (read_fd, write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def line(i: int, width: int = 100) -> str:
    return f"{i:06d} " + "x" * (width - 8) + "\n"


def test_a_pipe_nobody_reads_stalls_after_a_bounded_wait_and_counts_the_rest() -> None:
    with pipe() as (_read_fd, write_fd):
        out = LineOutput(write_fd, name="stdout", max_pending=64 * 1024, stall_s=0.3)
        started = time.monotonic()
        for i in range(5000):
            out.write(line(i))
        took = time.monotonic() - started
        out.close(0.2)
    assert out.stalled
    assert out.error is not None
    assert out.error.startswith("stalled")
    assert out.lines + out.lost == 5000
    assert 0 < out.lines < 5000
    assert out.problem == (
        f"stdout stopped after {out.lines} lines: {out.error} ({out.lost} not written)"
    )
    assert took < 10  # one bounded wait (0.3 s), then every later line is only counted


def test_a_slow_reader_loses_nothing_and_gets_only_whole_lines() -> None:
    with pipe() as (read_fd, write_fd):
        got = bytearray()

        def reader() -> None:
            while chunk := os.read(read_fd, 700):  # small, slow reads
                got.extend(chunk)
                time.sleep(0.001)

        thread = threading.Thread(target=reader)
        thread.start()
        out = LineOutput(write_fd, name="stdout", max_pending=16 * 1024, stall_s=5.0)
        lines = [line(i, width=150 + i % 7000) for i in range(400)]  # some longer than a pipe write
        for text in lines:
            out.write(text)
        out.close(10)
        os.close(write_fd)
        thread.join(10)
    assert out.error is None
    assert out.lines == 400
    assert bytes(got) == "".join(lines).encode()


def test_a_reader_that_went_away_is_gone_not_stalled() -> None:
    told: list[LineOutput] = []
    with pipe() as (read_fd, write_fd):
        os.close(read_fd)
        out = LineOutput(write_fd, name="stdout", on_stop=told.append)
        out.write("one\n")
        deadline = time.monotonic() + 5
        while not out.stopped and time.monotonic() < deadline:
            time.sleep(0.01)
    assert out.gone
    assert out.error == "Broken pipe"
    assert told == [out]


def test_closing_waits_at_most_its_timeout() -> None:
    with pipe() as (_read_fd, write_fd):
        out = LineOutput(write_fd, name="--log", unit="events")
        out.write("".join(line(i) for i in range(200)))  # 20 KB: more than the pipe holds
        started = time.monotonic()
        out.close(0.3)
        took = time.monotonic() - started
    assert took < 5
    assert out.stalled
    assert out.lost > 0
    assert out.problem is not None
    assert out.problem.startswith(f"--log stopped after {out.lines} events: stalled")


async def test_stop_is_told_on_the_event_loop_not_inside_the_write() -> None:
    told: list[str] = []
    said = asyncio.Event()

    def on_stop(_out: LineOutput) -> None:
        told.append(threading.current_thread().name)
        said.set()

    fd = os.open("/dev/full", os.O_WRONLY)
    out = LineOutput(fd, name="--log", unit="events", owns_fd=True, on_stop=on_stop)
    out.write("a\n")
    await asyncio.wait_for(said.wait(), 5)
    await out.aclose()
    assert told == [threading.main_thread().name]
    assert out.problem == "--log stopped after 0 events: No space left on device (1 not written)"


def test_a_fifo_without_a_reader_is_a_bounded_wait_then_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "f"
    os.mkfifo(path)
    started = time.monotonic()
    with pytest.raises(ConfigError, match="FIFO that nobody reads"):
        open_for_writing(str(path), name="--log", wait_s=0.2)
    assert time.monotonic() - started < 5


async def test_a_fifo_whose_reader_comes_late_is_opened(tmp_path: Path) -> None:
    path = tmp_path / "f"
    os.mkfifo(path)

    async def late_reader() -> int:
        await asyncio.sleep(0.2)
        return os.open(path, os.O_RDONLY | os.O_NONBLOCK)

    reader = asyncio.ensure_future(late_reader())
    fd = await aopen_for_writing(str(path), name="--report", wait_s=5)
    read_fd = await reader
    try:
        assert os.write(fd, b"ok\n") == 3
        assert os.read(read_fd, 10) == b"ok\n"
    finally:
        os.close(fd)
        os.close(read_fd)
