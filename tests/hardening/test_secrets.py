"""Secrets: one whole session, every output grepped for the token, a cookie and an Authorization
value — none without ``--show-secrets``, all of them with it (so the grep is known to bite).

The session, against the reference server on loopback, with ``--token``, ``--header
'Authorization: Bearer …'`` and ``--header 'Cookie: …'``:

- the TUI (Pilot, the real monitor): connect, ``e`` emits ``echo`` with a payload that carries the
  three values (as a user pasting them while debugging would; the server echoes it back, so it is
  on screen as the event out, the ack and its notification), ``s`` writes the report, ``p`` probes;
  everything on screen, the notifications, the report files and its ``--log`` file are collected;
- ``watch`` as text and as ``--jsonl``, each with ``--log``;
- ``probe`` human with ``--report x.md`` and ``--log``, and ``--json`` with ``--report x.json``;
- error paths: a token the server rejects (an opaque one, so only knowing the secret can mask it)
  through ``watch`` and ``probe``, and a bad flag next to the secrets.

Cookie values are searched alone (without their ``sid=``), as is the Bearer credential without the
word ``Bearer`` and the JWT's signature without the rest of the token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from textual.widgets import Input, RichLog, Static

from conndebug.cli import build_parser
from conndebug.config import Settings, settings_from_args
from conndebug.core.monitor import make_monitor
from conndebug.ui.app import ConndebugApp, make_app
from conndebug.ui.screens import EmitScreen
from conndebug.ui.screens.probe_screen import ProbeScreen
from tests.cli import cli as run_conndebug
from tests.servers import reference_server
from tests.ui.helpers import SIZE, until

pytestmark = pytest.mark.timeout(180)

OPAQUE_TOKEN = "opaque-Tok3n-S3cret-000111"
COOKIE = "ck-S3cret-Value-000222"
OTHER_COOKIE = "ck-S3cret-Other-000333"
AUTHZ = "az-S3cret-Value-000444"
HEADER_FLAGS = (
    "--header",
    f"Authorization: Bearer {AUTHZ}",
    "--header",
    f"Cookie: sid={COOKIE}; pref={OTHER_COOKIE}",
)
TIMING = ("--connect-timeout", "5", "--ws-timeout", "1", "--reconnect-attempts", "1")


@dataclass
class Outputs:
    """Every output of the session, by name."""

    texts: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, text: str) -> None:
        assert name not in self.texts, name
        self.texts[name] = text

    def add_file(self, name: str, path: Path) -> None:
        assert path.is_file(), f"{name}: {path} was not written"
        self.add(name, path.read_text(encoding="utf-8"))

    def hits(self, secret: str) -> list[str]:
        return [name for name, text in self.texts.items() if secret in text]


@dataclass
class Run:
    code: int
    out: str
    err: str


async def cli(*args: str) -> Run:
    env = {"NO_PROXY": "*", "NO_COLOR": "1", "COLUMNS": "200"}
    return Run(*await run_conndebug(*args, env=env))


def screen_text(app: ConndebugApp) -> str:
    """What the current screen shows: every Static, log line and input, plus notifications."""
    parts: list[str] = []
    for widget in [app.screen, *app.screen.query("*")]:
        if isinstance(widget, RichLog):
            parts.extend(strip.text for strip in widget.lines)
        elif isinstance(widget, Static):
            parts.append(str(widget.render()))
        elif isinstance(widget, Input):
            parts.append(widget.value)
    parts.extend(f"{n.title}: {n.message}" for n in app._notifications)
    return "\n".join(parts)


def tui_settings(url: str, token: str, log: Path, show: tuple[str, ...]) -> Settings:
    argv = ["--url", url, "--token", token, *HEADER_FLAGS, *TIMING, "--log", str(log), *show]
    return settings_from_args(build_parser(None).parse_args(argv), url)


async def tui_session(
    url: str, token: str, tmp: Path, show: tuple[str, ...], outputs: Outputs
) -> None:
    settings = tui_settings(url, token, tmp / "tui.jsonl", show)
    monitor = make_monitor(settings)
    reports = tmp / "tui-reports"
    app = make_app(settings, monitor=monitor, report_dir=reports)
    # Short values first: a preview keeps 120 characters, the token is long.
    payload = {"note": f"sid={COOKIE} {OTHER_COOKIE} Bearer {AUTHZ} {token}"}
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: monitor.snapshot().sid is not None, timeout=20)
            await pilot.press("e")
            await until(pilot, lambda: isinstance(app.screen, EmitScreen))
            screen = app.screen
            screen.query_one("#emit-name", Input).value = "echo"
            screen.query_one("#emit-payload", Input).value = json.dumps(payload)
            await pilot.click("#emit-send")
            await until(pilot, lambda: any("ack in" in n.message for n in app._notifications))
            await pilot.press("s")
            await until(pilot, lambda: len(list(reports.glob("*.md"))) == 1, timeout=10)
            outputs.add("tui: main screen", screen_text(app))
            await pilot.press("p")
            await until(pilot, lambda: isinstance(app.screen, ProbeScreen))
            await until(
                pilot,
                lambda: "probe verdict" in " ".join(e.detail for e in monitor.bus.history),
                timeout=30,
            )
            await pilot.pause(0.1)
            outputs.add("tui: probe screen", screen_text(app))
            outputs.add("tui: probe screen svg", app.export_screenshot())
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, ProbeScreen))
            outputs.add("tui: main screen svg", app.export_screenshot())
            await pilot.press("q")
    finally:
        await monitor.stop()
    (report_json,) = reports.glob("*.json")
    (report_md,) = reports.glob("*.md")
    outputs.add_file("tui: report json", report_json)
    outputs.add_file("tui: report md", report_md)
    outputs.add_file("tui: --log", tmp / "tui.jsonl")
    outputs.add("tui: history in memory", "\n".join(e.to_json() for e in monitor.bus.history))


async def headless_session(
    url: str, token: str, tmp: Path, show: tuple[str, ...], outputs: Outputs
) -> dict[str, Run]:
    secrets = ("--token", token, *HEADER_FLAGS)
    runs = {
        "watch text": await cli(
            "watch",
            url,
            "--duration",
            "1.5",
            "--log",
            str(tmp / "watch.jsonl"),
            *secrets,
            *TIMING,
            *show,
        ),
        "watch --jsonl": await cli(
            "watch",
            url,
            "--jsonl",
            "--duration",
            "1.5",
            "--log",
            str(tmp / "watch2.jsonl"),
            *secrets,
            *TIMING,
            *show,
        ),
        "probe human": await cli(
            "probe",
            url,
            "--report",
            str(tmp / "probe.md"),
            "--log",
            str(tmp / "probe.jsonl"),
            *secrets,
            *TIMING,
            *show,
        ),
        "probe --json": await cli(
            "probe", url, "--json", "--report", str(tmp / "probe.json"), *secrets, *TIMING, *show
        ),
        # Error paths: a token the server rejects, and a bad flag beside the secrets.
        "watch rejected": await cli(
            "watch",
            url,
            "--jsonl",
            "--duration",
            "0",
            "--token",
            OPAQUE_TOKEN,
            *HEADER_FLAGS,
            *TIMING,
            *show,
        ),
        "watch rejected text": await cli(
            "watch", url, "--duration", "0", "--token", OPAQUE_TOKEN, *HEADER_FLAGS, *TIMING, *show
        ),
        "probe rejected": await cli(
            "probe", url, "--token", OPAQUE_TOKEN, *HEADER_FLAGS, *TIMING, *show
        ),
        "probe rejected --json": await cli(
            "probe", url, "--json", "--token", OPAQUE_TOKEN, *HEADER_FLAGS, *TIMING, *show
        ),
        "bad flag": await cli(
            "watch", url, "--token", OPAQUE_TOKEN, *HEADER_FLAGS, "--query", "no-equals", *show
        ),
    }
    for name, run in runs.items():
        outputs.add(f"{name}: stdout", run.out)
        outputs.add(f"{name}: stderr", run.err)
    for name in ("watch text", "watch --jsonl", "probe human", "probe --json"):
        assert runs[name].code == 0, (name, runs[name].out[-2000:], runs[name].err[-2000:])
    for name in ("watch.jsonl", "watch2.jsonl", "probe.jsonl", "probe.md", "probe.json"):
        outputs.add_file(name, tmp / name)
    return runs


@pytest.mark.parametrize("show_secrets", [False, True], ids=["redacted", "show-secrets"])
async def test_no_output_of_a_whole_session_shows_a_secret(
    show_secrets: bool, tmp_path: Path
) -> None:
    show = ("--show-secrets",) if show_secrets else ()
    outputs = Outputs()
    async with reference_server() as server:
        token, _user = await server.create_guest()
        await tui_session(server.url, token, tmp_path, show, outputs)
        runs = await headless_session(server.url, token, tmp_path, show, outputs)

    # The session did what it should, or the grep proves nothing.
    assert runs["watch text"].code == 0, runs["watch text"].err
    assert runs["watch --jsonl"].code == 0, runs["watch --jsonl"].err
    assert runs["probe --json"].code == 0, runs["probe --json"].out
    assert "Invalid token" in runs["watch rejected"].out
    assert "Invalid token" in runs["probe rejected"].out
    assert runs["bad flag"].code == 3
    assert '"echo"' in outputs.texts["tui: --log"] or "echo" in outputs.texts["tui: --log"]

    secrets: dict[str, str] = {
        "token": token,
        "token signature": token.rsplit(".", 1)[1],
        "rejected token": OPAQUE_TOKEN,
        "cookie value": COOKIE,
        "second cookie value": OTHER_COOKIE,
        "authorization credential": AUTHZ,
    }
    found = {label: outputs.hits(secret) for label, secret in secrets.items()}
    if not show_secrets:
        leaks = {label: names for label, names in found.items() if names}
        assert leaks == {}, f"secrets found in outputs: {leaks}"
        assert any("‹redacted" in text for text in outputs.texts.values())
    else:
        missing = [label for label, names in found.items() if not names]
        assert missing == [], f"--show-secrets shows these nowhere: {missing}"
        assert "watch --jsonl: stdout" in found["token"]
        assert "probe --json: stdout" in found["token"]
        assert "tui: report json" in found["cookie value"]
        assert "watch rejected: stdout" in found["rejected token"]
