"""`conndebug serve` as a user runs it: start, answer, Ctrl-C, and its one-line errors."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys

import pytest

from conndebug.cli import build_parser
from conndebug.commands.serve import config_from_args
from tests.conftest import ROOT, run_cli
from tests.server.helpers import http_client


async def test_serve_port_0_prints_the_port_answers_and_stops_on_sigint() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "conndebug",
        "serve",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "NO_PROXY": "*"},
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = re.search(r"listening on (http://127\.0\.0\.1:(\d+))$", first.strip())
        assert match, first
        url, port = match.group(1), int(match.group(2))
        assert port > 0
        async with http_client(url) as http:
            health = await http.get("/health")
        assert health.status_code == 200
        assert health.json()["message"] == "Server is running"
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        try:
            rest, err = await asyncio.wait_for(proc.communicate(), 15)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
    out = rest.decode()
    assert "admin key" in out
    assert "curl" in out
    assert "/_conndebug/faults" in out
    assert out.rstrip().endswith("stopped")


def test_serve_on_a_port_in_use_is_one_error_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("serve", "--port", str(port))
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "in use" in lines[0]
    assert "--port" in lines[0]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--host", "0.0.0.0", "--port", "0"], "admin key"),
        (["--port", "0", "--session-ttl", "soon"], "not a duration"),
        (["--port", "0", "--token-ttl", "0"], "out of range"),
        (["--port", "0", "--cors-origin", "localhost:3000"], "not an origin"),
        (["--port", "0", "--latency", "-4"], "out of range"),
        (["--port", "0", "--redis", "redis://127.0.0.1:1"], "redis"),
    ],
)
def test_serve_usage_errors(argv: list[str], needle: str) -> None:
    done = run_cli("serve", *argv)
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert needle.lower() in lines[0].lower()
    assert "Traceback" not in done.stderr


def test_serve_flags_make_the_config() -> None:
    args = build_parser("serve").parse_args(
        [
            "--port", "0", "--token-ttl", "2h", "--session-ttl", "90s", "--ping-interval", "5",
            "--cors-origin", "http://a.test", "--cors-origin", "https://b.test:8443",
            "--websocket", "reject", "--latency", "50", "--cors", "reflect",
            "--admin-key", "an-admin-key",
        ]
    )  # fmt: skip
    config = config_from_args(args)
    assert config.port == 0
    assert config.token_ttl == 7200
    assert config.session_ttl == 90
    assert config.ping_interval == 5
    assert config.cors_origins == ("http://a.test", "https://b.test:8443")
    assert config.websocket == "reject"
    assert config.latency_ms == 50
    assert config.cors == "reflect"
    assert config.admin_key == "an-admin-key"
