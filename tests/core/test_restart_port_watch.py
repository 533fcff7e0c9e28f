"""After a drop, a closed port is watched: a restarted server is reconnected as soon as it listens.

A server that dropped the connection but still listens gets the policy's backoff as before (no
reconnect storm against a live server). Found by the restart benchmark: with a restart shorter than
the first reconnection delay, the monitor waited out the whole delay after the port was back.
"""

from __future__ import annotations

import random
import time

import pytest

from conndebug.core.model import State
from conndebug.core.monitor import make_monitor
from tests.core.helpers import events_of, settings_for, wait_until
from tests.servers import reference_server

pytestmark = pytest.mark.timeout(30)

SLOW = {"reconnect_delay": 3.0, "reconnect_delay_max": 5.0, "randomization": 0.0}


async def test_a_restart_shorter_than_the_delay_reconnects_when_the_port_listens() -> None:
    async with reference_server() as server:
        monitor = make_monitor(settings_for(server.url, **SLOW), rng=random.Random(1))
        await monitor.start()
        try:
            await wait_until(lambda: monitor.state is State.CONNECTED, 10, "connected")
            started = time.monotonic()
            await server.restart(down_s=0.4)
            await wait_until(lambda: len(events_of(monitor.bus, "connected")) == 2, 10, "back")
            took = time.monotonic() - started
            assert took < 2.0, f"reconnected {took:.2f} s after the restart (delay 3 s)"
            scheduled = events_of(monitor.bus, "reconnect_scheduled")
            assert [e.delay_s for e in scheduled] == [3.0]
            notes = [e.text for e in events_of(monitor.bus, "note") if "listens again" in e.text]
            assert notes, "the history says why the wait was cut short"
        finally:
            await monitor.stop()


async def test_a_drop_from_a_listening_server_waits_for_the_backoff() -> None:
    async with reference_server() as server:
        settings = settings_for(server.url, **{**SLOW, "reconnect_delay": 1.0})
        monitor = make_monitor(settings, rng=random.Random(1))
        await monitor.start()
        try:
            await wait_until(lambda: monitor.state is State.CONNECTED, 10, "connected")
            started = time.monotonic()
            await monitor.drop_transport()
            await wait_until(lambda: len(events_of(monitor.bus, "connected")) == 2, 10, "back")
            assert time.monotonic() - started >= 1.0
            assert not [e for e in events_of(monitor.bus, "note") if "listens again" in e.text]
        finally:
            await monitor.stop()
