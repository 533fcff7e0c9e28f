"""`conndebug demo` refuses bad input in one line before any screen opens."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import run_cli


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["demo", "--session-ttl", "soon"], "--session-ttl"),
        (["demo", "--ws-timeout", "-1"], "out of range"),
    ],
)
def test_demo_usage_errors_are_one_line_exit_3(argv: list[str], needle: str) -> None:
    done = run_cli(*argv)
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert needle in lines[0]
    assert "Traceback" not in done.stderr


def test_demo_on_a_busy_port_says_so() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli("demo", "--port", str(port))
    assert done.returncode == 3
    assert str(port) in done.stderr
    assert "Traceback" not in done.stderr
