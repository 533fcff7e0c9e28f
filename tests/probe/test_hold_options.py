"""``probe --hold`` on the command line: what it accepts, and what its help teaches."""

from __future__ import annotations

import pytest

from conndebug.cli import main
from tests.conftest import run_cli


def test_probe_help_teaches_the_hold(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["probe", "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--hold" in out
    assert "--max S" in out
    assert "Only the quiet one cut: an idle timeout" in out
    assert "Both cut at the same time: a lifetime cap" in out
    assert "a request timeout breaks long-polling" in out
    assert "default: 600" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["probe", "http://localhost:3001", "--max", "10"], "--max bounds --hold"),
        (["probe", "http://a.test:3001", "http://b.test:3001", "--hold"], "to one URL"),
        (["probe", "http://localhost:3001", "--hold", "--max", "0"], "out of range"),
        (["probe", "http://localhost:3001", "--hold", "--nagios"], "--hold takes minutes"),
    ],
)
def test_hold_usage_errors_are_one_line_exit_3(argv: list[str], needle: str) -> None:
    done = run_cli(*argv)
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert needle.lower() in lines[0].lower()
    assert "Traceback" not in done.stderr
