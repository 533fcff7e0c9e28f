"""A server cannot drive the terminal of whoever reads the history, the panel or a report.

Event names, payloads, user names and server messages are the server's bytes. Written raw, an
``ESC ]0;...BEL`` retitles the terminal, ``ESC [2J`` clears it, a C1 ``CSI`` does the same on
terminals that honour 8-bit controls, and a bidi override reorders what the reader sees. Every
human-readable output shows such characters as escapes (``\\x1b``); ``--jsonl`` and ``--json``
are JSON, whose own escaping covers the C0 controls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conndebug.core.model import State
from conndebug.core.monitor import make_monitor
from conndebug.core.text import visible
from conndebug.ui.app import make_app
from conndebug.ui.widgets import EventsLog, HistoryLog
from tests.cli import cli as run_conndebug
from tests.core.helpers import settings_for
from tests.hardening import peers
from tests.ui.helpers import SIZE, until

pytestmark = pytest.mark.timeout(60)

EVIL_NAME = "news\x1b]0;pwned\x07\x1b[2J"
EVIL_TEXT = "hello\x9b2J\u202eworld\x08\x08\r"
CONTROLS = ("\x1b", "\x07", "\x9b", "\u202e", "\x08", "\r")


async def _conndebug(*args: str, **env: str) -> tuple[str, str]:
    """stdout and stderr of ``python -m conndebug ARGS``."""
    _, out, err = await run_conndebug(*args, env={"NO_PROXY": "*", **env}, timeout=30)
    return out, err


def _reports(folder: Path) -> tuple[str, dict[str, Any]]:
    """The saved Markdown report's text and the JSON report."""
    [markdown] = list(folder.glob("*.md"))
    [saved] = list(folder.glob("*.json"))
    return markdown.read_text(), json.loads(saved.read_text())


async def _evil_event(sio: Any, sid: str, peer: peers.Peer) -> None:
    await sio.emit(EVIL_NAME, {"text": EVIL_TEXT}, to=sid)
    peer.sent += 1


@given(st.text())
def test_visible_leaves_nothing_a_terminal_acts_on(text: str) -> None:
    shown = visible(text)
    assert shown.isprintable()
    if text.isprintable():
        assert shown == text


def test_visible_names_what_it_escaped() -> None:
    assert visible(EVIL_NAME) == "news\\x1b]0;pwned\\x07\\x1b[2J"
    assert visible("a\u202eb\nc") == "a\\u202eb\\nc"


async def test_watch_prints_the_servers_controls_as_escapes() -> None:
    async with peers.sio_peer(on_connect=_evil_event) as peer:
        text, err = await _conndebug(
            "watch", peer.url, "--no-guest", "--duration", "2", FORCE_COLOR="1"
        )
    assert peer.sent == 1, err
    assert "news\\x1b]0;pwned\\x07\\x1b[2J" in text, text
    assert "\\x9b2J\\u202eworld" in text, text
    for control in CONTROLS[1:]:
        assert control not in text, repr(control)
    # with colours forced, the only ESC bytes are rich's own colour codes (ESC [ ... m)
    assert "\x1b]" not in text
    assert "\x1b[2J" not in text


async def test_the_panel_and_the_report_show_the_controls_as_escapes(tmp_path: Path) -> None:
    async with peers.sio_peer(on_connect=_evil_event) as peer:
        settings = settings_for(peer.url, no_guest=True, transports=("websocket",))
        monitor = make_monitor(settings)
        app = make_app(settings, monitor=monitor, find_probe=False, report_dir=tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: monitor.state is State.CONNECTED, timeout=15)
            await pilot.press("l")  # everything: event_in lines too
            events = app.query_one(EventsLog)
            await until(pilot, lambda: events.count_in >= 1, timeout=10)
            await pilot.pause(0.3)
            drawn = "\n".join(strip.text for strip in events.lines)
            drawn += "\n".join(app.query_one(HistoryLog).shown)
            await pilot.press("s")
            await until(pilot, lambda: any(tmp_path.glob("*.md")), timeout=10)
            await pilot.press("q")
    assert "news\\x1b]0;pwned" in drawn, drawn
    for control in CONTROLS:
        assert control not in drawn, repr(control)
    report, saved = _reports(tmp_path)
    assert "news\\x1b]0;pwned" in report
    for control in CONTROLS:
        assert control not in report, repr(control)
    [section] = saved["sections"]
    names = [e.get("name") for e in section["history"]]
    assert EVIL_NAME in names, "the JSON report keeps the true name (JSON escapes it)"


async def test_the_probe_shows_a_servers_controls_as_escapes() -> None:
    from tests import hostile

    reason = "Not\x1b[2J Found\x9b"
    async with hostile.plain_http_server(status=500, reason=reason) as server:
        out, err = await _conndebug("probe", server.url, "--no-guest")
    text = out + err
    assert "Not\\x1b[2J Found" in text, text
    for control in CONTROLS:
        assert control not in text, repr(control)
