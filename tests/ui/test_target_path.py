"""The Target panel shows what answers in front of the server once the answers named it (issue 16)."""

from __future__ import annotations

from tests.ui.helpers import build, history, text, until


async def test_the_target_panel_names_the_boxes_in_front_once_known() -> None:
    app, monitor, _ = build()
    async with app.run_test(size=(120, 35)) as pilot:
        await until(pilot, lambda: any(" connected " in line for line in history(app)))
        app.refresh_panels()
        await pilot.pause()
        assert "in front" not in text(app, "#target")  # nothing read yet: no line at all
        monitor.set(in_front="nginx → server: aiohttp (python-engineio)")
        app.refresh_panels()
        await pilot.pause()
        target = text(app, "#target").splitlines()
        # Two rows, each whole in the panel's 44 columns at 120×35: the boxes, then the server.
        assert "in front    nginx" in target
        assert "server      aiohttp (python-engineio)" in target
        monitor.set(in_front="none named → server")  # the server did not say what it is
        app.refresh_panels()
        await pilot.pause()
        target = text(app, "#target").splitlines()
        assert "in front    none named" in target
        assert "server      not named by its answers" in target
        monitor.set(in_front="none named (a direct connection, or boxes that say nothing)")
        app.refresh_panels()
        await pilot.pause()
        target = text(app, "#target").splitlines()
        room = app.query_one("#target").content_region.width
        assert all(len(line) <= room for line in target[1:])  # wrapped under itself, not cut
        joined = " ".join(" ".join(target).split())
        assert "in front none named (a direct connection, or boxes that say nothing)" in joined
        assert not any(line.startswith("server") for line in target)


def test_the_report_summary_names_the_boxes_in_front() -> None:
    from conndebug.config import Settings
    from conndebug.core.model import Snapshot
    from conndebug.ui.report_files import monitor_section

    settings = Settings(url="http://127.0.0.1:3001")
    named = monitor_section(settings, Snapshot(in_front="HAProxy → server"), [])
    assert named.summary["in_front"] == "HAProxy → server"
    unknown = monitor_section(settings, Snapshot(), [])
    assert unknown.summary["in_front"] == "not named (no answer read names a box)"
