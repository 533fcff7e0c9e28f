"""The live panel at 80×24, 120×35 and 200×50 and across resizes (issue 14).

Every reason is whole (or points to the detail view), the logs re-wrap and follow their tail,
the footer never ends in a cut word, the clocks agree, and the report reads like a ticket.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len
from textual.content import Content
from textual.widgets import Footer, Static
from textual.widgets._footer import FooterKey

from conndebug.core.events import EventBus, Note, ProbeStep, Rtt
from conndebug.core.model import AckResult, State
from conndebug.core.verdicts import Verdict
from conndebug.ui.app import ConndebugApp, footer_fit
from conndebug.ui.reason import MORE
from conndebug.ui.screens.probe_screen import ProbeScreen
from conndebug.ui.screens.reason_screen import ReasonScreen
from conndebug.ui.widgets import EventsLog, HistoryLog, StatusPanel
from tests.ui.helpers import build, history, text, until

SIZES = [(80, 24), (120, 35), (200, 50)]

LONG_EXPLANATION = (
    "The websocket handshake to http://127.0.0.1:3001/socket.io/ was answered HTTP 403 "
    "Forbidden (“Forbidden: websocket upgrades are blocked here”) before any upgrade, as a proxy "
    "that forbids websockets answers; the client fell back to HTTP long-polling, which works, "
    "but every message now costs a request and the latency doubles under load."
)
LONG_FIX = (
    "Allow websocket upgrades on the path: in nginx, proxy_http_version 1.1; proxy_set_header "
    "Upgrade $http_upgrade; proxy_set_header Connection “upgrade”; then press r."
)
DIAGNOSIS = Verdict(
    code="websocket_blocked",
    title="Websocket blocked: the upgrade is answered 403",
    explanation=LONG_EXPLANATION,
    fix=LONG_FIX,
    exit_code=1,
)
VERDICT_LINE = (
    "connected over polling only: the websocket failed (HTTP 403 Forbidden to the websocket "
    "handshake: “Forbidden: websocket upgrades are blocked here”)"
)


def words(value: str) -> str:
    return " ".join(value.split())


def status_reason(app: ConndebugApp) -> str:
    return words(text(app, "#status-reason"))


async def settle(app: ConndebugApp, pilot: Any) -> None:
    await until(pilot, lambda: any(" connected " in line for line in history(app)))
    app.refresh_panels()
    await pilot.pause()


# -- 1. the whole reason -------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_a_verdict_line_is_shown_whole_at_every_size(size: tuple[int, int]) -> None:
    app, monitor, _ = build(demo=True)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        monitor.set(transport="polling", how="fell back: HTTP 403", verdict=VERDICT_LINE)
        app.refresh_panels()
        await pilot.pause()
        assert words(VERDICT_LINE) in status_reason(app)
        assert not app.query_one(StatusPanel).cut


@pytest.mark.parametrize("size", SIZES)
async def test_a_diagnosis_is_whole_or_points_to_the_detail_view(size: tuple[int, int]) -> None:
    app, monitor, _ = build(demo=True)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        monitor.set(diagnosis=DIAGNOSIS, verdict=VERDICT_LINE, transport="polling")
        app.refresh_panels()
        await pilot.pause()
        shown = status_reason(app)
        status = app.query_one(StatusPanel)
        assert shown.startswith("⚠ " + DIAGNOSIS.title)
        if status.cut:
            assert shown.endswith(MORE.strip())
        else:
            assert words(LONG_EXPLANATION) in shown
            assert words("Fix: " + LONG_FIX) in shown
        if size == (200, 50):
            assert not status.cut, "a big screen shows all of it"
        if size == (80, 24):
            assert status.cut, "four rows cannot hold it: the pointer must be there"
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, ReasonScreen))
        body = words(text(app.screen, "#reason-body"))
        assert words(LONG_EXPLANATION) in body
        assert words(LONG_FIX) in body
        assert "websocket_blocked" in body
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ReasonScreen))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReasonScreen))


async def test_the_reason_follows_resizes_and_never_cuts_silently() -> None:
    app, monitor, _ = build(demo=True)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        monitor.set(diagnosis=DIAGNOSIS)
        for size in [(80, 24), (200, 50), (100, 30), (80, 24), (120, 35)]:
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
            app.refresh_panels()
            await pilot.pause()
            status = app.query_one(StatusPanel)
            reason = app.query_one("#status-reason", Static)
            for line in text(app, "#status-reason").splitlines():
                assert len(line) <= reason.content_region.width, (size, line)
            shown = status_reason(app)
            assert status.cut == shown.endswith(MORE.strip()), size
            if not status.cut:
                assert words(LONG_FIX) in shown, size


# -- 2. History and Events: re-wrap, follow, "↓ N new" ------------------------------------------


LONG_NOTE = "a long line " + " ".join(f"word{i:02d}" for i in range(40))


@pytest.mark.parametrize("start", SIZES)
async def test_the_logs_rewrap_to_the_new_width_and_keep_following(start: tuple[int, int]) -> None:
    app, monitor, _ = build(demo=True)
    async with app.run_test(size=start) as pilot:
        await settle(app, pilot)
        for i in range(40):
            monitor.bus.emit(Note, text=f"{LONG_NOTE} #{i}", topic="ui")
        app.refresh_panels()
        await pilot.pause()
        log = app.query_one(HistoryLog)
        for size in [s for s in [*SIZES, start] if s != start]:
            await pilot.resize_terminal(*size)
            await until(pilot, lambda: log.drawn_width == log.scrollable_content_region.width)
            await pilot.pause(0.1)
            width = log.scrollable_content_region.width
            assert all(strip.cell_length <= width for strip in log.lines)
            # Drawn for this width: the widest wrapped line uses most of it (not left narrow).
            assert max(len(strip.text.rstrip()) for strip in log.lines) >= width - 12
            assert log.following
            await until(pilot, lambda: log.scroll_y == log.max_scroll_y)
            assert "#39" in " ".join(s.text for s in log.lines[-6:])


async def test_scrolling_up_stops_following_and_counts_new_lines() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        for i in range(60):
            monitor.bus.emit(Note, text=f"old line {i}", topic="ui")
        app.refresh_panels()
        await pilot.pause()
        log = app.query_one(HistoryLog)
        log.focus()
        await until(pilot, lambda: log.scroll_y == log.max_scroll_y and log.max_scroll_y > 0)
        await pilot.press("pageup")
        await until(pilot, lambda: not log.following)
        top = log.scroll_y
        for i in range(3):
            monitor.bus.emit(Note, text=f"new line {i}", topic="ui")
        app.refresh_panels()
        await pilot.pause()
        assert log.scroll_y == top, "reading older lines: the view stays put"
        assert log.new_below == 3
        assert str(log.border_subtitle).startswith("↓ 3 new")
        await pilot.press("end")
        await until(pilot, lambda: log.following)
        assert log.new_below == 0
        assert not str(log.border_subtitle).startswith("↓")
        for i in range(5):  # lines keep coming: End must have resumed following for good
            monitor.bus.emit(Note, text=f"later line {i}", topic="ui")
            app.refresh_panels()
            await pilot.pause()
        await until(pilot, lambda: log.scroll_y == log.max_scroll_y)
        assert log.following
        assert log.new_below == 0


async def test_events_rewrap_and_count_new_lines_too() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(app, pilot)
        events = app.query_one(EventsLog)
        for _ in range(8):
            monitor.flood(20)
            app.refresh_panels()
            await pilot.pause()
        await until(pilot, lambda: len(events.lines) > 60)
        await pilot.resize_terminal(120, 35)
        await until(pilot, lambda: events.drawn_width == events.scrollable_content_region.width)
        assert all(s.cell_length <= events.scrollable_content_region.width for s in events.lines)
        events.focus()
        await pilot.press("home")
        await until(pilot, lambda: not events.following)
        monitor.flood(4)
        app.refresh_panels()
        await until(pilot, lambda: events.new_below > 0)
        assert "↓" in str(events.border_subtitle)


async def test_history_wrapping_never_splits_an_id() -> None:
    app, monitor, _ = build()
    ident = "guest_e9c40bbf-fee1-4117-be14-c86f9673dd43"
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        for n in range(1, 30):
            monitor.bus.emit(Note, text=f"{'x' * n} session ({ident}) created", topic="ui")
            app.refresh_panels()
            await pilot.pause()
        lines = [s.text for s in app.query_one(HistoryLog).lines]
        assert sum(ident in line for line in lines) == 29


@pytest.mark.parametrize("width", [40, 60, 70, 78, 80, 99, 100, 120, 200])
async def test_the_footer_never_ends_in_a_cut_word(width: int) -> None:
    app, _, _ = build(demo=True, probe=_fake_probe)
    async with app.run_test(size=(width, 30)) as pilot:
        await settle(app, pilot)
        await pilot.pause(0.2)
        keys = list(app.query_one(Footer).query(FooterKey))
        assert keys
        assert max(k.region.right for k in keys) <= width
        assert {"q", "?"} <= {k.key_display for k in keys}
        if width >= 80:
            assert {k.key_display for k in keys} >= set("rdxcpesl?q")


def test_footer_fit_keeps_the_most_important_keys() -> None:
    keys = [
        ("conndebug.reconnect", "r", "Reconnect"),
        ("conndebug.history_filter", "l", "Filter"),
        ("conndebug.help", "?", "Help"),
        ("conndebug.quit", "q", "Quit"),
    ]
    assert footer_fit(200, keys, compact=False) == {k for k, _, _ in keys}
    assert footer_fit(12, keys, compact=True) == {"conndebug.quit", "conndebug.help"}
    assert footer_fit(6, keys, compact=True) == {"conndebug.quit"}


# -- 4. clocks and figures ------------------------------------------------------------------------


async def test_a_stall_counts_live_and_badge_and_since_agree() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        clock = monitor.clock
        monitor.set(
            state=State.STALLED,
            state_since=clock.time(),
            last_life_at=clock.monotonic() - 3.1,
            stall_bound_s=3.0,
            verdict="the server went silent (nothing for more than 3.0 s): the path may be "
            "black-holed",
        )
        for elapsed in (0.0, 5.0, 21.0):
            clock.advance(elapsed - (clock.monotonic() - monitor.snap.last_life_at - 3.1))
            app.refresh_panels()
            await pilot.pause()
            silent = 3.1 + elapsed
            badge = text(app, "#badge")
            since = text(app, "#status-since")
            since_n = re.search(r"\((.*)\)", since)
            assert since_n is not None
            assert badge == f"Stalled {since_n.group(1)}"
            expected = f"{silent:.1f} s" if silent < 10 else f"{silent:.0f} s"
            assert f"No sign of life for {expected}" in status_reason(app)
            conn = text(app, "#connection")
            assert "stale (stalled)" in conn


async def test_rtt_is_not_shown_as_current_when_not_connected() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        assert "0.62 ms" in text(app, "#connection")
        await pilot.press("d")
        await until(pilot, lambda: monitor.snap.state is State.RECONNECTING)
        app.refresh_panels()
        await pilot.pause()
        conn = text(app, "#connection")
        assert "RTT         none (not connected)" in conn
        assert "0.62 ms" not in conn
        assert "RTT" not in text(app, "#status-summary")


async def test_since_moves_every_second_while_quietly_connected() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        monitor.set(state_since=monitor.clock.time())
        app.refresh_panels()
        await pilot.pause()
        assert "(0.0 s)" in text(app, "#status-since")
        monitor.clock.advance(1.0)
        # No event arrives: only the quiet refresh (once a second) can move it.
        await until(pilot, lambda: "(1.0 s)" in text(app, "#status-since"), timeout=3)


async def test_the_demo_guest_panel_counts_down_the_server_side_session() -> None:
    app, monitor, _ = build(demo=True)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        assert "2 min on the server" in text(app, "#session")
        monitor.clock.advance(75.0)
        app.refresh_panels()
        await pilot.pause()
        assert "45 s on the server" in text(app, "#session")
        monitor.clock.advance(50.0)
        app.refresh_panels()
        await pilot.pause()
        session = text(app, "#session")
        assert "expired on the server" in session
        assert "✅" not in session


async def test_the_guest_panel_never_shows_a_session_beside_no_session() -> None:
    app, _monitor, _ = build()
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        await pilot.press("x")
        await until(pilot, lambda: "CalmOtter7" in text(app, "#session"))
        session = text(app, "#session")
        assert "✅ CalmOtter7" in session
        assert "❌" not in session
        assert "regenerated 1×" in session


# -- 7. small screens, dialogs, toasts ----------------------------------------------------------


@pytest.mark.parametrize("demo", [False, True])
async def test_80x24_shows_eight_rows_of_newest_history(demo: bool) -> None:
    app, monitor, _ = build(demo=demo)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        monitor.set(transport="polling", verdict=VERDICT_LINE)
        for i in range(30):
            monitor.bus.emit(Note, text=f"line {i:02d}", topic="ui")
        app.refresh_panels()
        await pilot.pause(0.2)
        log = app.query_one(HistoryLog)
        assert log.scrollable_content_region.height >= 8
        await until(pilot, lambda: log.scroll_y == log.max_scroll_y)
        visible_rows = [
            log.render_line(y).text for y in range(log.scrollable_content_region.height)
        ]
        assert "line 29" in visible_rows[-1]
        assert sum("line " in row for row in visible_rows) >= 8


async def test_80x24_connection_values_are_not_cut() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        monitor.set(
            transport="polling",
            how="fell back: HTTP 403 Forbidden to the websocket handshake",
            rtt_ms=1520.0,
            rtt_recent=(230.0, 1200.0, 4520.0),
            verdict=VERDICT_LINE,
        )
        app.refresh_panels()
        await pilot.pause()
        main = app.query_one("#conn-main", Static)
        for line in text(app, "#conn-main").splitlines():
            assert "…" not in line
            assert len(line) <= main.content_region.width, line
        conn = text(app, "#connection")
        assert "timeout 1 min" in conn
        assert "p95 4.52" in conn


RUNGS = ["url", "dns", "tcp", "tls", "proxy", "handshake", "session", "websocket", "namespace"]
INFO = "fine here: the answer came back as expected, within the time allowed (70 chars)"


async def _fake_probe(settings: Any, *, bus: EventBus | None = None) -> Any:
    from conndebug.core.probe.result import Step

    assert bus is not None
    steps = []
    for rung in [*RUNGS, "rtt", "cors"]:
        bus.emit(ProbeStep, name=rung, status="ok", ms=1.0, info=f"{rung} {INFO}")
        steps.append(Step(name=rung, status="ok", ms=1.0, detail=f"{rung} {INFO}"))

    class _Result:
        verdict = DIAGNOSIS

    result = _Result()
    result.steps = tuple(steps)  # type: ignore[attr-defined]
    return result


async def test_the_probe_dialog_shows_every_rung_without_scrolling_at_120x35() -> None:
    app, _, _ = build(probe=_fake_probe)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ProbeScreen))
        screen = app.screen
        await until(pilot, lambda: "websocket_blocked" in text(screen, "#probe-verdict"))
        await pilot.pause(0.2)
        scroll = screen.query_one("#probe-scroll")
        assert scroll.max_scroll_y == 0
        assert "cors" in text(screen, "#probe-ladder")
        await pilot.press("escape")
    assert app.last_probe is not None


@pytest.mark.parametrize("size", SIZES)
async def test_a_rung_detail_wraps_under_itself(size: tuple[int, int]) -> None:
    app, _, _ = build(probe=_fake_probe)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ProbeScreen))
        screen = app.screen
        await until(pilot, lambda: "websocket_blocked" in text(screen, "#probe-verdict"))
        await pilot.pause(0.2)
        ladder = screen.query_one("#probe-ladder", Static)
        rows = text(screen, "#probe-ladder").splitlines()
        room = ladder.content_region.width
        assert all(len(row) <= room for row in rows), room  # no second wrap by the Static
        marks = [row for row in rows if not row.startswith(" ")]
        assert len(marks) == len(RUNGS) + 2  # one row per rung starts with its mark
        for row in rows:
            if row.startswith(" "):
                assert row.startswith(" " * 24), row  # under the detail, not the mark
        if size[0] == 80:
            assert len(rows) > len(marks), "at 80 columns some detail wraps"


async def test_the_probe_dialog_scrolls_at_80x24() -> None:
    app, _, _ = build(probe=_fake_probe)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ProbeScreen))
        screen = app.screen
        await until(pilot, lambda: "websocket_blocked" in text(screen, "#probe-verdict"))
        await pilot.pause(0.2)
        box = screen.query_one("#probe-box")
        assert box.region.bottom <= 24
        assert screen.query_one("#probe-foot").region.bottom <= 24
        scroll = screen.query_one("#probe-scroll")
        assert scroll.max_scroll_y > 0
        scroll.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        assert scroll.scroll_y == scroll.max_scroll_y


async def test_emit_toasts_show_json_and_not_sent_is_not_no_ack() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        monitor.ack = AckResult(acked=True, value={"a": 1, "b": None, "ok": True}, ms=1.0)
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: bool(app._notifications))
        note = list(app._notifications)[-1]
        assert '{"a":1,"b":null,"ok":true}' in note.message
        assert "None" not in note.message
        app.clear_notifications()
        monitor.set(state=State.DISCONNECTED)
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: bool(app._notifications))
        note = list(app._notifications)[-1]
        assert note.title == "Not sent"


async def test_help_documents_the_scroll_keys_and_probe_is_available() -> None:
    app, _, _ = build(probe=_fake_probe)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        keys = text(app.screen, "#help-keys")
        assert "(not available)" not in keys
        for key in ("PgUp PgDn", "Home", "End", "Tab", "↓ N new", "i, ⏎"):
            assert key in keys


@pytest.mark.parametrize("size", SIZES)
async def test_help_wraps_under_each_description_and_scrolls_to_its_end(
    size: tuple[int, int],
) -> None:
    app, _, _ = build(demo=True, probe=_fake_probe)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        table = app.screen.query_one("#help-keys", Static)
        rows = text(app.screen, "#help-keys").splitlines()
        assert all(len(row) <= table.content_region.width for row in rows)
        # Headings, key rows ("  r         …"), and continuations under the description
        # (column 12), never under the key.
        for row in rows:
            if row.startswith("   ") and row.strip():
                assert row.startswith(" " * 12), row
        assert sum(row.startswith(" " * 12) for row in rows) >= 1, "some description wraps"
        assert "websocket firewall" in words(" ".join(rows))
        box = app.screen.query_one("#help-box")
        assert box.has_focus
        await pilot.press("end")
        await until(pilot, lambda: box.scroll_y == box.max_scroll_y)
        foot = app.screen.query_one("#help-foot")
        assert foot.region.bottom <= box.region.bottom  # the last row is on screen


# -- 6. the report ---------------------------------------------------------------------------


async def test_the_report_reads_like_a_ticket(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("CONNDEBUG_REPORT_DIR", str(tmp_path / "reports"))
    app, monitor, _ = build(probe=_fake_probe)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        for i in range(50):
            monitor.bus.emit(Rtt, ms=0.5 + i / 3, method="conndebug:ping")
        monitor.set(rtt_misses=2)
        await pilot.press("p")
        await until(pilot, lambda: app.last_probe is not None)
        await pilot.press("escape")
        await pilot.press("s")
        await until(pilot, lambda: any("report saved" in line for line in history(app)))
        saved = [line for line in history(app) if "report saved" in line][-1]
    (json_file,) = (tmp_path / "reports").glob("conndebug-report-*.json")
    (md_file,) = (tmp_path / "reports").glob("conndebug-report-*.md")
    assert str(json_file.resolve()) in saved, "the path is shown in the panel"
    report = json.loads(json_file.read_text(encoding="utf-8"))
    (section,) = report["sections"]
    assert list(section)[:2] == ["title", "summary"]
    summary = section["summary"]
    assert summary["verdict"].startswith("websocket_blocked")
    assert summary["verdict_from"] == "the last probe (p)"
    assert summary["transport"] == "websocket (direct)"
    assert summary["fix"] == LONG_FIX
    assert section["verdict"]["code"] == "websocket_blocked"
    trips = section["round_trips"]
    assert trips["count"] == 50
    assert trips["misses"] == 2
    assert trips["min_ms"] == 0.5
    assert trips["max_ms"] == round(0.5 + 49 / 3, 2)
    assert "p50_ms" in trips
    assert "p95_ms" in trips
    assert not any(e["kind"] == "rtt" for e in section["history"])
    connection = section["connection"]
    assert connection["proxy"] == "direct (no proxy)"
    assert connection["upgrades"] == "none needed: websocket from the start"
    assert section["environment"]["proxy"] == "direct (no proxy)"
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    assert iso.match(connection["state_since"])
    assert iso.match(connection["session"]["token_expires"])
    assert iso.match(connection["session"]["created"])
    body = json_file.read_text(encoding="utf-8")
    assert not re.search(r"\d\.\d{4,}", body), "no long floats"
    md = md_file.read_text(encoding="utf-8")
    assert md.index("### Summary") < md.index("### Ladder") < md.index("### Round trips")
    assert md.index("### Round trips") < md.index("### Connection") < md.index("### History")
    assert "| False |" not in md
    assert "| True |" not in md
    assert "| insecure | false |" in md
    assert "round trip" not in md.split("### History")[1]
    assert not re.search(r"\d\.\d{4,}", md)


async def test_reports_go_to_the_user_data_folder_by_default(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.delenv("CONNDEBUG_REPORT_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    app, _, _ = build()
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        await pilot.press("s")
        await until(pilot, lambda: any("report saved" in line for line in history(app)))
    assert _reports(tmp_path / "data" / "conndebug" / "reports")
    assert not _reports(tmp_path)


def _reports(folder: Path) -> list[Path]:
    return sorted(folder.glob("conndebug-report-*"))


# -- no value or sentence cut in the small panels -------------------------------------------------


def cut_lines(app: ConndebugApp, selector: str, *, allowed: tuple[str, ...] = ()) -> list[str]:
    """The lines of ``selector``'s unwrapped Statics wider than their room (drawn cut, with a
    trailing "…"); lines starting with one of ``allowed`` may be cut (a user's long URL)."""
    node = app.query_one(selector)
    cut = []
    for static in [node, *node.query(Static)]:
        if not isinstance(static, Static) or not static.display or not static.region.width:
            continue
        if static.styles.text_wrap != "nowrap":
            continue  # it wraps: nothing is cut
        content = static.content
        plain = content.plain if isinstance(content, Content) else str(content)
        room = static.content_region.width
        cut += [
            line
            for line in plain.splitlines()
            if cell_len(line.rstrip()) > room and not line.startswith(allowed)
        ]
    return cut


IN_FRONT = "nginx → HAProxy → server: aiohttp (python-engineio)"


@pytest.mark.parametrize("size", [*SIZES, (100, 30)])
@pytest.mark.parametrize("websocket", ["allow", "reject", "blackhole"])
async def test_no_panel_cuts_a_value_at_any_size(size: tuple[int, int], websocket: str) -> None:
    app, monitor, server = build(demo=True)
    assert server is not None
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        session = dataclasses.replace(monitor.snap.session, username="BrightFalcon8144")
        monitor.set(in_front=IN_FRONT, rtt_ms=14.38, session=session)
        server.faults.websocket = websocket
        server.faults.blackhole = websocket == "blackhole"
        app.refresh_panels()
        await pilot.pause()
        app.refresh_panels()  # the second draw knows each panel's width
        await pilot.pause()
        for panel in ("#status", "#target", "#demo", "#demo-strip"):
            assert cut_lines(app, panel, allowed=("URL ", " target http")) == [], (size, panel)
        status = words(text(app, "#status"))
        assert "RTT 14.4 ms" in status
        assert "as BrightFalcon8144" in status
        if size[0] >= 100:  # the Target panel (wide screens) names every box, whole
            target = words(text(app, "#target"))
            assert "nginx → HAProxy" in target
            assert "aiohttp (python-engineio)" in target
            demo = words(text(app, "#demo"))
            assert {"allow": "allow", "reject": "403", "blackhole": "no answer"}[websocket] in demo


@pytest.mark.parametrize("size", SIZES)
async def test_the_log_subtitles_fit_and_keep_their_counts(size: tuple[int, int]) -> None:
    from conndebug.ui.widgets._bounded_log import SUBTITLE_FRAME

    app, monitor, _ = build(demo=True)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("l", "l")  # "problems and your keys only": the longest label
        for i in range(120):
            monitor.bus.emit(Note, text=f"old line {i}", topic="ui")
            if i % 10 == 9:  # a few per refresh, so that all are drawn
                app.refresh_panels()
                await pilot.pause()
        log = app.query_one(HistoryLog)
        log.focus()
        await until(pilot, lambda: log.scroll_y == log.max_scroll_y and log.max_scroll_y > 0)
        await pilot.press("pageup")
        await until(pilot, lambda: not log.following)
        for i in range(12):
            monitor.bus.emit(Note, text=f"new line {i}", topic="ui")
        app.refresh_panels()
        await pilot.pause()
        subtitle = str(log.border_subtitle)
        assert len(subtitle) <= log.size.width - SUBTITLE_FRAME, subtitle
        assert subtitle.startswith("↓ 12 new")
        assert "problems and your keys only" in subtitle
        assert re.search(r"\d+ events( \(\d+ not drawn\))?$", subtitle), subtitle
        if size[0] >= 200:
            assert "End: follow" in subtitle  # room for the hints: they stay


async def test_a_resize_behind_a_dialog_refits_the_footer_under_it() -> None:
    from conndebug.ui.screens import EmitScreen

    app, _, _ = build(demo=True, probe=_fake_probe)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        main = app.screen
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EmitScreen))
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)
        footer = main.query_one(Footer)
        await until(
            pilot, lambda: max(k.region.right for k in footer.query(FooterKey)) <= 80, timeout=3
        )
        assert {"q", "?"} <= {k.key_display for k in footer.query(FooterKey)}


def test_a_cut_reason_ends_between_words() -> None:
    from conndebug.ui.reason import Reason, reason_lines

    reason = Reason(title="Websocket refused", explanation=LONG_EXPLANATION, fix=LONG_FIX)
    for width in range(40, 100, 7):
        kept, cut = reason_lines(reason, width, 3)
        assert cut
        last = kept[-1].plain
        assert last.endswith(MORE)
        before = last[: -len(MORE)]
        assert len(last) <= width
        if " " not in before.strip():
            continue  # a row of one long word (a URL) can only be truncated
        # The word before the pointer is whole: it is a word of the reason, as written.
        assert before.split()[-1] in words(f"Websocket refused — {LONG_EXPLANATION}").split()


async def test_the_report_toast_fits_a_small_screen(tmp_path: Path) -> None:
    app, _, _ = build(report_dir=tmp_path / "a-folder")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("s")
        await until(pilot, lambda: any(n.title == "Report saved" for n in app._notifications))
        (note,) = [n for n in app._notifications if n.title == "Report saved"]
        rows = note.message.splitlines()
        (json_file,) = (tmp_path / "a-folder").glob("conndebug-report-*.json")
        assert rows == [f"{json_file.parent.resolve()}/", json_file.stem, ".json and .md"]


async def test_the_narrow_guest_panel_cuts_no_state() -> None:
    app, monitor, _ = build(demo=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        session = dataclasses.replace(
            monitor.snap.session, username="BrightFalcon8144", source="stored"
        )
        monitor.set(session=session, state=State.RECONNECTING)
        app.clock.advance(65)
        app.refresh_panels()
        await pilot.pause()
        app.refresh_panels()
        await pilot.pause()
        panel = app.query_one("#session", Static)
        rows = text(app, "#session").splitlines()
        assert rows[0].startswith("✅ BrightFalcon8144")
        updated = next(row for row in rows if row.startswith("updated"))
        assert updated.endswith("ago")
        for row in (rows[0], updated):
            assert len(row) <= panel.content_region.width, row


async def test_a_new_round_trip_never_reflows_the_status_lines() -> None:
    app, monitor, _ = build(demo=True)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        session = dataclasses.replace(monitor.snap.session, username="BrightFalcon8144")
        firsts = set()
        for rtt in (0.5, 1.0, 9.99, 14.4, 120.0, 999.0):
            monitor.set(rtt_ms=rtt, session=session)
            app.refresh_panels()
            await pilot.pause()
            rows = text(app, "#status-summary").splitlines()
            firsts.add(tuple(rows[:-1]))
            assert rows[-1].endswith(" ms"), rows
        assert len(firsts) == 1, firsts  # only the last line moves


async def test_a_long_name_keeps_in_use_beside_it_at_120() -> None:
    app, monitor, _ = build(demo=True)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        session = dataclasses.replace(monitor.snap.session, username="CleverDolphin7184")
        monitor.set(session=session)
        app.refresh_panels()
        await pilot.pause()
        head = text(app, "#session").splitlines()[0]
        assert head.startswith("✅ CleverDolphin7184  in use")
        assert len(head) <= app.query_one("#session", Static).content_region.width


async def test_status_and_target_share_one_height_that_shrinks_again() -> None:
    app, monitor, _ = build(demo=True)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(app, pilot)
        status, target = app.query_one("#status"), app.query_one("#target")

        async def drawn() -> tuple[int, int]:
            app.refresh_panels()
            await pilot.pause()
            await pilot.pause()
            return status.region.height, target.region.height

        calm = await drawn()
        assert calm[0] == calm[1]
        monitor.set(diagnosis=DIAGNOSIS, verdict=VERDICT_LINE)
        long = await drawn()
        assert long[0] == long[1] > calm[0]  # the reason takes rows, Target follows
        monitor.set(diagnosis=None, verdict=None)
        assert await drawn() == calm  # and shrinks back
