"""Real nginx whose ``proxy_read_timeout`` is below the heartbeat: periodic drops, and the rule.

nginx cuts an upgraded connection when the upstream side stays silent for ``proxy_read_timeout``.
The server pings every ``pingInterval``, so with a timeout below it every quiet connection is cut
after that timeout, again and again; ``watch`` shows each ``transport close`` and then a note that
names the rule (a proxy's read timeout must exceed ``pingInterval + pingTimeout``).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra import nginx
from tests.lab.helpers import NGINX_GOOD, nginx_location, watch_until
from tests.servers import reference_server

pytestmark = pytest.mark.system

# The heartbeat of this scenario: pings every 2 s, a client gives up after 2 + 3 = 5 s. nginx cuts
# an upgraded connection when the upstream side stays silent for proxy_read_timeout. The monitor
# itself asks for a round trip every second (the server's answer is upstream traffic), so the
# timeout must be below that second for the cut to be certain: 500 ms. A real web client sends
# nothing while idle, and meets the same cut with any timeout below pingInterval.
PING_INTERVAL_S = 2.0
PING_TIMEOUT_S = 3.0
READ_TIMEOUT = "500ms"


def _drop_note(events: list[dict[str, Any]]) -> bool:
    return any(e["kind"] == "note" and e.get("topic") == "drops" for e in events)


async def test_proxy_read_timeout_below_the_heartbeat_drops_periodically() -> None:
    timeout = f"proxy_read_timeout {READ_TIMEOUT};"
    async with reference_server(
        ping_interval=PING_INTERVAL_S, ping_timeout=PING_TIMEOUT_S
    ) as server:
        location = nginx_location(f"127.0.0.1:{server.port}", NGINX_GOOD, timeout)
        async with nginx(location) as proxy:
            watched = await watch_until(proxy.url, _drop_note, timeout=30)
    events = watched.events
    connected = watched.of("connected")
    assert connected, (events, watched.stderr)
    assert connected[0]["transport"] == "websocket"
    assert connected[0]["ping_interval_ms"] == 2000
    assert connected[0]["ping_timeout_ms"] == 3000
    cut = [d for d in watched.of("disconnected") if d["reason"].startswith("transport close")]
    assert len(cut) >= 2, events
    assert all(d["will_reconnect"] for d in cut)
    # each connection lived about the read timeout, far less than the heartbeat
    lifetimes = [d["t"] - max(c["t"] for c in connected if c["t"] < d["t"]) for d in cut]
    assert all(0.3 < life < PING_INTERVAL_S for life in lifetimes), lifetimes
    [note] = [e for e in events if e["kind"] == "note" and e.get("topic") == "drops"]
    assert note["level"] == "warning"
    text = note["text"]
    assert text.startswith("connections drop every ~0."), text
    assert "(2 in a row, transport close)" in text
    assert "shorter than pingInterval + pingTimeout = 5 s" in text
    assert "nginx proxy_read_timeout" in text
    assert "raise it above 5 s" in text
    # the note follows the connection after the second cut: it succeeded with no sign of a
    # restart in between (a refused port, the port listening again), so the cut counts
    second = events.index(cut[1])
    between = [e["kind"] for e in events[second : events.index(note)]]
    assert between.count("connected") == 1, between
    assert "connect_error" not in between, between


async def test_passive_watch_meets_the_cut_an_idle_browser_meets() -> None:
    """``--rtt-interval 0``: with a 1.5 s timeout (above the monitor's 1 s round trips, below the
    2 s heartbeat) the default ``watch`` would keep the connection busy enough to survive; the
    passive one is as quiet as an idle web client and is cut like one."""
    timeout = "proxy_read_timeout 1500ms;"
    async with reference_server(
        ping_interval=PING_INTERVAL_S, ping_timeout=PING_TIMEOUT_S
    ) as server:
        location = nginx_location(f"127.0.0.1:{server.port}", NGINX_GOOD, timeout)
        async with nginx(location) as proxy:
            watched = await watch_until(proxy.url, _drop_note, "--rtt-interval", "0", timeout=30)
    events = watched.events
    assert watched.of("rtt") == [], "no round trips were sent"
    cut = [d for d in watched.of("disconnected") if d["reason"].startswith("transport close")]
    assert len(cut) >= 2, events
    connected = watched.of("connected")
    lifetimes = [d["t"] - max(c["t"] for c in connected if c["t"] < d["t"]) for d in cut]
    assert all(1.2 < life < PING_INTERVAL_S for life in lifetimes), lifetimes
    [note] = [e for e in events if e["kind"] == "note" and e.get("topic") == "drops"]
    assert "nginx proxy_read_timeout" in note["text"]
    assert watched.of("stall") == [], "the heartbeat bound (pingInterval + 5 s) was not reached"
