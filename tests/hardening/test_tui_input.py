"""Bad input in the TUI's own dialog is a clear message in place, never a crash or a send.

(A bad ``--url`` and every other bad flag before the TUI starts: test_bad_input.py, ``tui-*``.)
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from conndebug.core.model import State
from conndebug.core.monitor import make_monitor
from conndebug.ui.app import make_app
from conndebug.ui.screens import EmitScreen
from tests.core.helpers import settings_for
from tests.hardening.peers import free_loopback_port
from tests.ui.helpers import SIZE, build, text, until

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("name", "payload", "message"),
    [
        ("", '{"room": "lobby"}', "give an event name"),
        ("   ", "", "give an event name"),
        ("chat:message", '{"text": "hi"', "not valid JSON"),
        ("chat:message", "{'single': 'quotes'}", "not valid JSON"),
        ("chat:message", "undefined", "not valid JSON"),
        ("chat:message", '{"n": NaN}', "NaN is not a JSON value"),
        ("chat:message", "[Infinity]", "Infinity is not a JSON value"),
        ("chat:message", "1 2", "not valid JSON"),
        ("connect", "", "reserved by Socket.IO"),
        ("disconnect", "", "reserved by Socket.IO"),
        ("connect_error", '{"x": 1}', "reserved by Socket.IO"),
    ],
    ids=[
        "empty-name",
        "blank-name",
        "unclosed-object",
        "single-quotes",
        "undefined",
        "nan",
        "infinity",
        "two-values",
        "reserved-connect",
        "reserved-disconnect",
        "reserved-connect-error",
    ],
)
async def test_the_emit_dialog_says_what_is_wrong_and_sends_nothing(
    name: str, payload: str, message: str
) -> None:
    app, monitor, _ = build()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: monitor.snapshot().state is State.CONNECTED)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EmitScreen))
        screen = app.screen
        screen.query_one("#emit-name", Input).value = name
        screen.query_one("#emit-payload", Input).value = payload
        screen.query_one("#emit-payload", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: message in text(app.screen, "#emit-error"))
        assert text(app.screen, "#emit-error").startswith("✗ ")
        assert isinstance(app.screen, EmitScreen), "the dialog stays open"
        assert monitor.emitted == []
        # Corrected in place, it goes out.
        screen.query_one("#emit-name", Input).value = "chat:message"
        screen.query_one("#emit-payload", Input).value = '{"text": "hi"}'
        await pilot.click("#emit-send")
        await until(pilot, lambda: monitor.emitted != [])
        assert monitor.emitted == [("chat:message", {"text": "hi"}, True)]
        assert app.is_running


async def test_emitting_while_not_connected_is_a_notification_not_an_error() -> None:
    settings = settings_for(
        f"http://127.0.0.1:{free_loopback_port()}", no_guest=True, reconnect_delay=5.0
    )
    monitor = make_monitor(settings)
    app = make_app(settings, monitor=monitor, find_probe=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: monitor.state is State.RECONNECTING, timeout=10)
            await pilot.press("e")
            await until(pilot, lambda: isinstance(app.screen, EmitScreen))
            await pilot.click("#emit-send")  # the default: get:stats, waiting for the ack
            await until(
                pilot, lambda: any("not connected" in n.message for n in app._notifications)
            )
            assert not isinstance(app.screen, EmitScreen)
            assert app.is_running
    finally:
        await monitor.stop()
