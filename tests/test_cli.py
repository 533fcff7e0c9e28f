"""The CLI surface: help, version, usage errors as one line with exit 3, no traceback."""

from __future__ import annotations

import pytest

from conndebug import __version__
from conndebug.cli import main
from tests.conftest import run_cli


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"conndebug {__version__}"


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("demo", "probe", "watch", "serve", "exporter", "--nagios", "--url"):
        assert command in out
    for option in ("--transports", "--ws-timeout", "--insecure", "--show-secrets", "--log"):
        assert option in out


@pytest.mark.parametrize("command", ["demo", "probe", "watch", "serve", "exporter"])
def test_each_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"conndebug {command}" in capsys.readouterr().out


def test_python_m_runs_the_same_cli() -> None:
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"conndebug {__version__}"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["watch", "http://localhost:99999"], "port"),
        (["watch", "ftp://example.com"], "scheme"),
        (["watch", "http://localhost:3001", "--transports", "carrier-pigeon"], "Unknown transport"),
        (["watch", "http://localhost:3001", "--ws-timeout", "-1"], "out of range"),
        (["--url", "http://localhost:3001", "--bogus"], "unrecognized"),
        (["watch", "http://localhost:3001", "--eio", "2"], "invalid choice"),
        (["watch", "http://localhost:3001", "--parser", "bson"], "invalid choice"),
    ],
)
def test_usage_errors_are_one_line_exit_3(argv: list[str], needle: str) -> None:
    done = run_cli(*argv)
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert needle.lower() in lines[0].lower()
    assert "Traceback" not in done.stderr


def test_no_url_and_no_command_teaches() -> None:
    done = run_cli()
    assert done.returncode == 3
    assert "conndebug demo" in done.stderr + done.stdout
