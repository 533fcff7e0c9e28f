"""`conndebug probe` as a user runs it: JSON schema, human output, reports, several URLs."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conndebug.commands.probe_render import print_result
from conndebug.core.probe import run_probe
from tests.cli import cli
from tests.conftest import ROOT
from tests.hostile import silent_server
from tests.probe.conftest import probe_settings
from tests.servers import reference_server

SCHEMA_STEP_KEYS = {"name", "status", "ms", "detail"}
CONNECTION_KEYS = {
    "transport",
    "sid",
    "engine_sid",
    "upgrade",
    "ping_interval_ms",
    "ping_timeout_ms",
    "rtt_ms",
    "user",
}
ENVIRONMENT_KEYS = {"proxy", "tls_verify", "ca_bundle", "python", "conndebug"}


def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


async def test_json_output_is_exactly_the_design_schema() -> None:
    async with reference_server(websocket="reject") as server:
        code, out, err = await cli("probe", server.url, "--json")
    assert code == 1, err
    lines = out.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert list(data) == [
        "schema",
        "url",
        "verdict",
        "steps",
        "connection",
        "environment",
        "history",
    ]
    assert data["schema"] == 1
    assert data["url"] == server.url
    assert set(data["verdict"]) == {"code", "title", "explanation", "fix"}
    assert data["verdict"]["code"] == "websocket_blocked"
    assert [s["name"] for s in data["steps"]] == [
        "url",
        "dns",
        "tcp",
        "tls",
        "proxy",
        "handshake",
        "session",
        "websocket",
        "namespace",
        "rtt",
        "cors",
        "path",
    ]
    for step in data["steps"]:
        assert set(step) == SCHEMA_STEP_KEYS
        assert step["status"] in ("ok", "warn", "fail", "skip")
        assert isinstance(step["ms"], (int, float))
    assert set(data["connection"]) == CONNECTION_KEYS
    assert data["connection"]["transport"] == "polling"
    assert set(data["environment"]) == ENVIRONMENT_KEYS
    kinds = [e["kind"] for e in data["history"]]
    assert kinds.count("probe_step") == 12
    for event in data["history"]:
        assert {"ts", "t", "kind", "detail"} <= set(event)
        assert event["ts"].endswith("Z")


async def test_human_output_has_the_ladder_and_the_verdict_without_colour_codes_when_piped() -> (
    None
):
    url = closed_url()
    code, out, err = await cli("probe", url)
    assert code == 2, err
    assert "\x1b[" not in out
    assert "✗ TCP connect" in out
    assert "- Engine.IO handshake" in out
    assert "connection_refused" in out
    assert "Fix:" in out


def test_verdict_panel_has_colour_on_a_terminal_and_none_with_no_color(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rich.console import Console

    result = asyncio.run(run_probe(probe_settings(closed_url())))
    coloured = io.StringIO()
    print_result(Console(file=coloured, force_terminal=True, color_system="standard"), result)
    assert "\x1b[" in coloured.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    plain = io.StringIO()
    print_result(Console(file=plain, force_terminal=True, color_system="standard"), result)
    assert "\x1b[3" not in plain.getvalue()  # no foreground colours
    assert "connection_refused" in plain.getvalue()


async def test_several_urls_are_probed_concurrently_and_the_exit_code_is_the_worst() -> None:
    bad = closed_url()
    async with reference_server() as ok_server, reference_server(websocket="reject") as warn_server:
        code, out, err = await cli("probe", ok_server.url, warn_server.url, bad, "--json")
        human_code, human, _ = await cli("probe", warn_server.url, ok_server.url)
    assert code == 2, err
    results = [json.loads(line) for line in out.strip().splitlines()]
    assert [r["url"] for r in results] == [ok_server.url, warn_server.url, bad]
    assert [r["verdict"]["code"] for r in results] == [
        "ok",
        "websocket_blocked",
        "connection_refused",
    ]
    assert human_code == 1
    assert human.index(warn_server.url) < human.index(ok_server.url)
    assert human.count("conndebug probe") == 2


async def test_several_urls_overlap_in_time() -> None:
    async with silent_server() as a, silent_server() as b:
        code, out, err = await cli("probe", a.url, b.url, "--json", "--connect-timeout", "1")
    assert code == 2, err
    first, second = (json.loads(line)["history"] for line in out.strip().splitlines())
    # Each probe waits ~1 s on its silent server; run one after the other, the second would
    # start after the first ended. Concurrently, each starts before the other ends.
    assert second[0]["ts"] < first[-1]["ts"]
    assert first[0]["ts"] < second[-1]["ts"]


@pytest.mark.parametrize("ext", [".md", ".json"])
async def test_report_is_redacted_and_complete(tmp_path: Path, ext: str) -> None:
    report = tmp_path / f"ticket{ext}"
    async with reference_server() as server:
        token, _user = await server.create_guest()
        code, out, err = await cli(
            "probe",
            server.url,
            "--token",
            token,
            "--report",
            str(report),
            env={"HTTPS_PROXY": "http://someone:hunter22@proxy.invalid:3128", "NO_PROXY": "*"},
        )
    assert code == 0, out + err
    text = report.read_text(encoding="utf-8")
    assert token not in text
    assert token.split(".")[2] not in text
    assert "hunter22" not in text
    assert "‹redacted" in text
    assert server.url in text
    for word in ("websocket", "namespace", "session_created", "HTTPS_PROXY", "python_socketio"):
        assert word in text
    if ext == ".json":
        data = json.loads(text)
        assert data["schema"] == 1
        assert data["redacted"] is True
        section = data["sections"][0]
        assert section["verdict"]["code"] == "ok"
        assert len(section["steps"]) == 12
        assert section["environment"]["proxy_variables"]["HTTPS_PROXY"].startswith(
            "http://someone:"
        )
    else:
        assert text.startswith("# conndebug probe report")
        assert "| ✓ | handshake |" in text


async def test_bad_report_name_and_bad_url_end_in_one_line_and_exit_3(tmp_path: Path) -> None:
    code, out, err = await cli("probe", closed_url(), "--report", str(tmp_path / "report.txt"))
    assert code == 3
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert ".md or .json" in err
    code, out, err = await cli("probe", "http://ok.example", "ftp://nope")
    assert code == 3
    assert len(err.strip().splitlines()) == 1


def test_probe_command_never_imports_textual() -> None:
    code = (
        "import sys\n"
        "from conndebug.cli import main\n"
        f"rc = main(['probe', '{closed_url()}', '--json'])\n"
        "print('TEXTUAL' if 'textual' in sys.modules else 'NO-TEXTUAL', rc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.stdout.strip().splitlines()[-1] == "NO-TEXTUAL 2", done.stdout + done.stderr


async def test_log_file_receives_the_history_as_json_lines(tmp_path: Path) -> None:
    log = tmp_path / "probe.jsonl"
    code, _out, err = await cli("probe", closed_url(), "--log", str(log), "--json")
    assert code == 2, err
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["kind"] for e in events].count("probe_step") == 12
    assert events[2]["name"] == "tcp"
    assert events[2]["status"] == "fail"


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP", "SIGINT"])
async def test_a_signal_ends_the_probe_with_a_summary_of_what_was_done(sig: str) -> None:
    import os
    import signal
    import time

    async with silent_server() as silent:  # accepts, never answers: the probe waits
        url = silent.url
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "conndebug",
            "probe",
            url,
            "--connect-timeout",
            "60",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NO_PROXY": "*"},
            cwd=ROOT,
        )
        try:
            await asyncio.sleep(2.0)  # well into the wait for the handshake
            assert proc.returncode is None
            started = time.monotonic()
            proc.send_signal(getattr(signal, sig))
            _out, err = await asyncio.wait_for(proc.communicate(), 20)
            took = time.monotonic() - started
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    number = int(getattr(signal, sig))
    assert proc.returncode == 128 + number, err
    text = err.decode()
    assert "Traceback" not in text
    line = text.strip().splitlines()[-1]
    assert line.startswith(f"probe: interrupted by {sig} — {url}: no verdict (done: "), line
    assert "tcp ok" in line
    assert took < 10
