"""The monitoring commands' command line: help that teaches, usage errors in one line (exit 3),
the exporter's start line and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from conndebug.cli import main
from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.timeout(60)


def test_exporter_help_teaches_the_scrape_config(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["exporter", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for words in (
        "--listen",
        "--allow",
        "--config",
        "--max-concurrent",
        "--max-queued",
        "__param_target",
        "probe_success",
        "curl 'http://127.0.0.1:9516/probe?target=",
    ):
        assert words in out


def test_probe_help_explains_nagios(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["probe", "--help"])
    out = capsys.readouterr().out
    for words in ("--nagios", "-w S, --warning S", "-c S, --critical S", "One URL per check"):
        assert words in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["exporter", "--listen", "9516"], "has no port"),
        (["exporter", "--allow", "10.0.0.0/99"], "not a network"),
        (["exporter", "--config", "/nonexistent/conndebug.toml"], "does not exist"),
        (["exporter", "--max-concurrent", "0"], "out of range"),
        (
            ["watch", "http://127.0.0.1:1", "--prom-textfile", "/nonexistent/x.prom"],
            "does not exist",
        ),
        (["watch", "http://127.0.0.1:1", "--prom-textfile", "x.txt"], ".prom"),
        (["probe", "http://127.0.0.1:1", "-c", "3"], "thresholds of --nagios"),
    ],
)
def test_usage_errors_are_one_line_exit_3(argv: list[str], needle: str) -> None:
    done = run_cli(*argv)
    assert done.returncode == 3, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert needle in lines[0]


def test_a_port_in_use_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli("exporter", "--listen", f"127.0.0.1:{port}")
    assert done.returncode == 3
    assert done.stderr.strip().startswith(f"error: cannot listen on 127.0.0.1:{port}")


def test_a_bad_module_stops_the_exporter_at_start(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[modules.chat]\nnamespace = "/chat"\ncolour = "blue"\n')
    done = run_cli("exporter", "--config", str(config))
    assert done.returncode == 3
    assert "module 'chat': unknown option 'colour'" in done.stderr


async def test_the_exporter_says_where_it_listens_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "conndebug",
        "exporter",
        "--listen",
        "127.0.0.1:0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NO_PROXY": "*"},
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert first.startswith("conndebug exporter listening on http://127.0.0.1:")
        port = int(first.rsplit(":", 1)[1])
        assert port > 0
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200")
        assert b"GET /probe?target=URL" in answer
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert b"loopback only" in out
    assert b"Traceback" not in err
