"""Pilot tests: every key changes the state (through the monitor or the server) and says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Checkbox, Input

from conndebug.config import Settings
from conndebug.core.errors import ConnectFailed
from conndebug.core.events import EventBus, Note, ProbeStep
from conndebug.core.model import State
from conndebug.ui.app import DemoApp
from conndebug.ui.screens import EmitScreen, HelpScreen
from conndebug.ui.screens.probe_screen import ProbeScreen
from conndebug.ui.widgets import HistoryLog, StatusPanel
from tests.ui.fakes import URL
from tests.ui.helpers import SIZE, SMALL, build, history, text, until


def has_line(app: Any, *needles: str) -> bool:
    return any(all(n in line for n in needles) for line in history(app))


async def test_start_shows_connected_socket_id_and_history() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected", "SocketId0001"))
        assert monitor.calls == ["start"]
        assert "Connected" in text(app, "#badge")
        assert app.query_one(StatusPanel).has_class("-connected")
        conn = text(app, "#connection")
        assert "SocketId0001xxxxxxxxA" in conn
        assert "EngineId0001yyyyyyyyB" in conn
        assert "websocket · direct" in conn
        assert "SwiftTiger42" in text(app, "#session")
        assert "http://127.0.0.1:3001" in text(app, "#target")
        assert has_line(app, "session_created", "SwiftTiger42")


async def test_r_reconnects_cleanly() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("r")
        await until(pilot, lambda: "reconnect" in monitor.calls)
        await until(pilot, lambda: "SocketId0002xxxxxxxxA" in text(app, "#connection"))
        assert has_line(app, "key", "r: clean reconnect")
        assert has_line(app, "disconnected", "io client disconnect")
        assert has_line(app, "connected", "SocketId0002")


async def test_d_drops_the_transport_and_shows_the_countdown() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("d")
        await until(pilot, lambda: monitor.snap.state is State.RECONNECTING)
        await until(pilot, lambda: "Reconnecting 1/10 in 3.2 s" in text(app, "#badge"))
        assert app.query_one(StatusPanel).has_class("-reconnecting")
        assert "reconnecting automatically" in text(app, "#status")
        assert has_line(app, "key", "d: dropping the transport")
        assert has_line(app, "reconnect_scheduled", "attempt 1/10")
        monitor.clock.advance(1.0)
        await until(pilot, lambda: "Reconnecting 1/10 in 2.2 s" in text(app, "#badge"))


async def test_x_regenerates_the_session() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("x")
        await until(pilot, lambda: "CalmOtter7" in text(app, "#session"))
        assert "simulate_expiry" in monitor.calls
        assert has_line(app, "key", "x: simulating session expiry")
        assert has_line(app, "session_expired", "Guest session not found or expired")
        assert has_line(app, "session_regenerated", "CalmOtter7")
        assert "regenerated 1×" in text(app, "#session")


async def test_c_disconnects_then_connects() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("c")
        await until(pilot, lambda: "Disconnected" in text(app, "#badge"))
        assert has_line(app, "key", "c: disconnecting")
        assert "press c to connect" in text(app, "#status")
        await pilot.press("c")
        await until(pilot, lambda: "Connected" in text(app, "#badge"))
        assert has_line(app, "key", "c: connecting")
        assert monitor.calls.count("toggle") == 2


async def test_e_emits_with_ack_and_rejects_bad_json_inline() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EmitScreen))
        screen = app.screen
        screen.query_one("#emit-name", Input).value = "chat:message"
        screen.query_one("#emit-payload", Input).value = '{"text": "hi"'
        await pilot.click("#emit-send")
        await until(pilot, lambda: "not valid JSON" in text(app.screen, "#emit-error"))
        assert isinstance(app.screen, EmitScreen), "the dialog stays open on bad JSON"
        assert monitor.emitted == []
        screen.query_one("#emit-payload", Input).value = '{"text": "hi"}'
        assert screen.query_one("#emit-ack", Checkbox).value is True
        screen.query_one("#emit-payload", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: monitor.emitted != [])
        assert monitor.emitted == [("chat:message", {"text": "hi"}, True)]
        await until(pilot, lambda: has_line(app, "event_out", "chat:message"))
        assert has_line(app, "key", "e: emitting chat:message")
        assert "chat:message" in text(app, "#events")
        await until(pilot, lambda: any("ack in" in n.message for n in app._notifications))


async def test_e_escape_cancels() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EmitScreen))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, EmitScreen))
        assert monitor.emitted == []


SECRET = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJndWVzdF8xIn0.c2lnbmF0dXJlc2lnbmF0dXJl"


async def test_s_saves_a_redacted_report(tmp_path: Path) -> None:
    app, monitor, _ = build(report_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        # An event that (wrongly) carries a raw token: the report must still mask it.
        monitor.bus.emit(Note, text=f"a line with token={SECRET}")
        await pilot.press("s")
        await until(pilot, lambda: has_line(app, "key", "report saved"))
    check_report(tmp_path)


def check_report(tmp_path: Path) -> None:
    (json_file,) = tmp_path.glob("conndebug-report-*.json")
    (md_file,) = tmp_path.glob("conndebug-report-*.md")
    report = json.loads(json_file.read_text(encoding="utf-8"))
    assert report["kind"] == "monitor"
    (section,) = report["sections"]
    assert section["title"] == URL
    assert section["connection"]["state"] == "connected"
    assert section["connection"]["sid"] == "SocketId0001xxxxxxxxA"
    assert section["connection"]["session"]["username"] == "SwiftTiger42"
    assert any(e["kind"] == "connected" for e in section["history"])
    for body in (json_file.read_text(encoding="utf-8"), md_file.read_text(encoding="utf-8")):
        assert SECRET not in body
    assert "‹redacted" in json_file.read_text(encoding="utf-8")
    assert "SwiftTiger42" in md_file.read_text(encoding="utf-8")


async def test_l_cycles_the_history_filter() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        monitor.flood(4)
        await until(pilot, lambda: app.query_one(HistoryLog).seen >= 8)
        assert not has_line(app, "rtt"), "round trips are hidden by default"
        log = app.query_one(HistoryLog)
        assert "rtt and events in hidden" in str(log.border_subtitle)
        await pilot.press("l")
        await until(pilot, lambda: has_line(app, "rtt", "round trip"))
        assert has_line(app, "event_in", "realtime:stats")
        assert has_line(app, "key", "l: history filter: everything")
        assert "everything" in str(log.border_subtitle)
        await pilot.press("l")
        await until(pilot, lambda: "problems" in str(log.border_subtitle))
        assert not has_line(app, "connected")
        assert has_line(app, "key", "history filter: problems")
        await pilot.press("l")
        await until(pilot, lambda: "rtt and events in hidden" in str(log.border_subtitle))


@pytest.mark.parametrize("key", ["question_mark", "f1"])
async def test_help_lists_every_key_with_its_id(key: str) -> None:
    app, _, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = text(app.screen, "#help-keys")
        for binding_id in (
            "conndebug.reconnect",
            "conndebug.drop_transport",
            "conndebug.simulate_expiry",
            "conndebug.toggle",
            "conndebug.emit",
            "conndebug.save_report",
            "conndebug.history_filter",
            "conndebug.quit",
        ):
            assert binding_id in keys
        assert "demo.firewall" not in keys
        assert "probe the target" in keys
        assert "(not available)" in keys
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_q_stops_the_monitor_and_exits() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("q")
        await until(pilot, lambda: "stop" in monitor.calls)
    assert app.return_code == 0


async def test_p_is_hidden_until_the_probe_exists() -> None:
    app, _, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        footer_actions = {b.action for (_, b, _, _) in app.screen.active_bindings.values()}
        assert "probe" not in footer_actions
        assert app.check_action("probe", ()) is False
        await pilot.press("p")
        await pilot.pause()
        assert not isinstance(app.screen, ProbeScreen)


class _Verdict:
    code = "websocket_blocked"
    title = "Websockets are blocked"
    explanation = "the upgrade was answered 403"
    fix = "forward the Upgrade header"
    exit_code = 1


class _Result:
    verdict = _Verdict()


async def fake_probe(settings: Settings, *, bus: EventBus | None = None) -> _Result:
    assert bus is not None
    bus.emit(ProbeStep, name="dns", status="ok", ms=1.0, info="127.0.0.1")
    bus.emit(ProbeStep, name="websocket", status="fail", ms=3.0, info="HTTP 403")
    return _Result()


async def test_p_runs_the_probe_and_shows_the_ladder_and_verdict() -> None:
    app, _, _ = build(probe=fake_probe)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ProbeScreen))
        screen = app.screen
        await until(pilot, lambda: "Websockets are blocked" in text(screen, "#probe-verdict"))
        ladder = text(screen, "#probe-ladder")
        assert "✓ dns" in ladder
        assert "✗ websocket" in ladder
        assert "HTTP 403" in ladder
        await until(pilot, lambda: has_line(app, "probe verdict: websocket_blocked"))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ProbeScreen))


async def test_monitor_errors_become_notifications_not_tracebacks() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        monitor.fail_next = ConnectFailed("Server unreachable", "is it running?")
        await pilot.press("r")
        await until(pilot, lambda: has_line(app, "reconnect: Server unreachable"))
        assert any("is it running?" in n.message for n in app._notifications)
        monitor.fail_next = RuntimeError("boom")
        await pilot.press("d")
        await until(pilot, lambda: has_line(app, "drop transport failed: RuntimeError: boom"))
        assert app.is_running


async def test_a_flood_of_events_stays_bounded_and_responsive() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("l")  # everything: every event would be a line
        monitor.flood(20_000)
        await until(pilot, lambda: app.query_one(HistoryLog).seen >= 20_000, timeout=30)
        log = app.query_one(HistoryLog)
        assert len(log.lines) <= HistoryLog.MAX_LINES * 3  # wrapped lines at most
        assert len(log.shown) <= HistoryLog.MAX_LINES
        assert log.skipped > 0
        assert "not drawn" in str(log.border_subtitle)
        assert any("a burst of events" in strip.text for strip in log.lines)
        assert app.pending == []
        await pilot.press("c")
        await until(pilot, lambda: "toggle" in monitor.calls)


async def test_a_growing_log_shows_its_newest_line_and_a_true_scrollbar() -> None:
    """The logs grow without a layout pass: the bottom row and the scrollbar must still follow."""
    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        log = app.query_one(HistoryLog)
        layouts: list[object] = []
        relayout = app.screen._refresh_layout

        def counted(*args: object, **kwargs: object) -> None:
            layouts.append(args)
            relayout(*args, **kwargs)  # type: ignore[arg-type]

        app.screen._refresh_layout = counted  # type: ignore[method-assign]
        for i in range(60):
            monitor.bus.emit(Note, text=f"line number {i:03d}", topic="ui")
            app.refresh_panels()  # a tick per line: the worst case for layout passes
            await pilot.pause()
        await until(pilot, lambda: any("line number 059" in line for line in log.shown))
        await pilot.pause(0.2)
        bottom = log.render_line(log.scrollable_content_region.height - 1).text
        assert "line number 059" in bottom
        assert log.max_scroll_y > 0
        assert log.scroll_y == log.max_scroll_y
        assert log.vertical_scrollbar.window_virtual_size == len(log.lines)
        assert len(layouts) <= 10, f"{len(layouts)} layout passes for 60 lines (one per tick?)"


async def test_round_trips_turned_off_say_so_instead_of_unknown() -> None:
    from textual.widgets import Sparkline

    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        spark = app.query_one("#rtt-spark", Sparkline)
        assert spark.styles.display == "block"
        monitor.set(rtt_off=True, rtt_ms=None, rtt_recent=())
        app.refresh_panels()
        await pilot.pause()
        assert "RTT         off (--rtt-interval 0" in text(app, "#connection")
        assert "RTT off" in text(app, "#status")
        assert spark.styles.display == "none", "no flat sparkline for samples never taken"


async def test_changing_the_filter_redraws_the_remembered_history_not_just_a_burst() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        log = app.query_one(HistoryLog)
        for i in range(60):
            monitor.bus.emit(Note, text=f"remembered line {i:03d}", topic="ui")
            app.refresh_panels()  # one tick each: no burst
        assert log.skipped == 0
        await pilot.press("l")
        await until(pilot, lambda: has_line(app, "l: history filter"))
        screen = max(HistoryLog.MAX_PER_TICK, log.scrollable_content_region.height)
        newest = range(60 - screen + 1, 60)  # the key's own line takes the last place
        assert all(has_line(app, f"remembered line {i:03d}") for i in newest)
        assert log.skipped == 0, "a change of filter is not a flood"
        assert not any("a burst of events" in strip.text for strip in log.lines)


async def test_demo_keys_are_absent_without_the_demo() -> None:
    app, _, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        actions = {b.action for (_, b, _, _) in app.screen.active_bindings.values()}
        assert "firewall" not in actions
        assert "kick" not in actions
        assert not app.query("#demo")


# -- demo keys ------------------------------------------------------------------------------------


async def test_f_cycles_the_websocket_firewall() -> None:
    app, _, server = build(demo=True)
    assert isinstance(app, DemoApp)
    assert server is not None
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("f")
        await until(pilot, lambda: server.faults.websocket == "reject")
        assert has_line(app, "fault", "firewall: websocket reject")
        await until(pilot, lambda: "reject (403 on upgrade)" in text(app, "#demo"))
        # The server's own line is in the History, under the key's note.
        await until(pilot, lambda: has_line(app, "fault", "server: websocket: reject"))
        await pilot.press("f")
        await until(pilot, lambda: server.faults.websocket == "blackhole")
        assert has_line(app, "fault", "firewall: websocket blackhole")
        await pilot.press("f")
        await until(pilot, lambda: server.faults.websocket == "allow")
        assert has_line(app, "fault", "firewall: websocket allow")
        assert [c for c in server.calls if c[0] == "set_websocket"] == [
            ("set_websocket", "reject"),
            ("set_websocket", "blackhole"),
            ("set_websocket", "allow"),
        ]


async def test_b_toggles_the_black_hole() -> None:
    app, _, server = build(demo=True)
    assert server is not None
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("b")
        await until(pilot, lambda: server.faults.blackhole)
        assert has_line(app, "fault", "black hole: ON")
        await until(pilot, lambda: "ON: nothing is answered" in text(app, "#demo"))
        await pilot.press("b")
        await until(pilot, lambda: not server.faults.blackhole)
        assert has_line(app, "fault", "black hole: off")


async def test_k_kicks_everyone() -> None:
    app, _, server = build(demo=True)
    assert server is not None
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("k")
        await until(pilot, lambda: ("kick_all", None) in server.calls)
        assert has_line(app, "fault", "kick: the server disconnects every socket")
        await until(pilot, lambda: has_line(app, "fault", "server: kicked 1 socket"))


async def test_t_restarts_the_server_with_a_countdown() -> None:
    app, monitor, server = build(demo=True)
    assert server is not None
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("t")
        await until(pilot, lambda: any(c[0] == "restart" for c in server.calls))
        assert has_line(app, "fault", "restart: the server drops everything")
        await until(pilot, lambda: "DOWN · back in 4.0 s" in text(app, "#demo"))
        monitor.clock.advance(5)
        await until(pilot, lambda: "server      up" in text(app, "#demo"))


async def test_plus_and_minus_step_the_latency() -> None:
    app, _, server = build(demo=True)
    assert server is not None
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("plus")
        await until(pilot, lambda: server.faults.latency_ms == 50)
        assert has_line(app, "fault", "latency: 50 ms")
        await pilot.press("plus")
        await until(pilot, lambda: server.faults.latency_ms == 200)
        await until(pilot, lambda: "200 ms" in text(app, "#demo"))
        await pilot.press("minus")
        await until(pilot, lambda: server.faults.latency_ms == 50)
        assert has_line(app, "fault", "latency: 50 ms")


async def test_demo_x_and_help_list_the_fault_keys() -> None:
    app, monitor, _ = build(demo=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("x")
        await until(pilot, lambda: "simulate_expiry" in monitor.calls)
        assert has_line(app, "key", "the server forgets the session")
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = text(app.screen, "#help-keys")
        for binding_id in (
            "demo.firewall",
            "demo.blackhole",
            "demo.kick",
            "demo.restart",
            "demo.latency_up",
            "demo.latency_down",
            "conndebug.drop_transport",
            "conndebug.emit",
        ):
            assert binding_id in keys


async def test_fault_keys_pressed_quickly_each_take_effect() -> None:
    app, _, server = build(demo=True)
    assert server is not None
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("f", "f", "plus", "plus", "plus")
        await until(pilot, lambda: server.faults.latency_ms == 500)
        assert server.faults.websocket == "blackhole"


async def test_small_screen_footer_shows_every_key_and_the_strip_every_fault_key() -> None:
    app, monitor, server = build(demo=True, probe=fake_probe)
    assert server is not None
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        shown = {b.action for (_, b, _, _) in app.screen.active_bindings.values() if b.show}
        enabled = {a for a in shown if app.check_action(a, ()) is not False}
        assert {
            "reconnect",
            "drop_transport",
            "simulate_expiry",
            "connect_toggle",
            "probe",
            "emit",
            "save_report",
            "history_filter",
            "help",
            "quit",
        } <= enabled
        strip = text(app, "#demo-strip")
        for key in ("f ws", "b blackhole", "+- lag", "t restart", "k kick"):
            assert key in strip
        await pilot.press("plus")
        await until(pilot, lambda: server.faults.latency_ms == 50)
        await until(pilot, lambda: "+- lag 50 ms" in text(app, "#demo-strip"))
        await pilot.press("d")
        await until(pilot, lambda: "drop_transport" in monitor.calls)
        await pilot.press("c")
        await until(pilot, lambda: "toggle" in monitor.calls)
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = text(app.screen, "#help-keys")
        assert "(not available)" not in keys
        assert "conndebug.reconnect" not in keys, "no room for binding ids on 80 columns"


async def test_megabyte_server_strings_are_cut_before_the_logs_draw_them() -> None:
    from conndebug.core.events import EventIn
    from conndebug.ui.widgets import EventsLog

    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: has_line(app, "connected"))
        await pilot.press("l")  # everything: the note and the event are lines
        history_log = app.query_one(HistoryLog)
        seen = history_log.seen
        huge = "\x1b" + "n" * 1_000_000
        monitor.bus.emit(EventIn, name=huge, size=3_000_000, preview="p" * 1_000_000)
        monitor.bus.emit(Note, text="t" * 3_000_000)
        await until(pilot, lambda: history_log.seen >= seen + 2, timeout=20)
        shown = list(history_log.shown)[-2:]
        assert all(len(line) < 5_000 for line in shown), [len(s) for s in shown]
        assert len(history_log.lines) < 500  # not the ~30,000 wrapped lines of 3 MB
        events_log = app.query_one(EventsLog)
        assert all(len(strip.text) <= SIZE[0] for strip in events_log.lines)
        assert app.is_running
