"""Real nginx in front of the reference server: websocket forwarding right and wrong.

1. the documented websocket settings → ``ok`` over websocket (probe and watch);
2. no ``Upgrade``/``Connection`` forwarding → ``websocket_blocked``, polling works, the fix shows
   the nginx lines.

A ``proxy_read_timeout`` below the heartbeat is in ``test_read_timeout.py``.
"""

from __future__ import annotations

import pytest

from conndebug.core.probe import run_probe
from conndebug.core.verdicts import NGINX_UPGRADE
from tests.infra import nginx
from tests.lab.helpers import (
    NGINX_GOOD,
    NGINX_NO_UPGRADE,
    nginx_location,
    probe_settings,
    watch_until,
)
from tests.servers import reference_server

pytestmark = pytest.mark.system


async def test_documented_nginx_settings_carry_the_websocket() -> None:
    async with (
        reference_server() as server,
        nginx(nginx_location(f"127.0.0.1:{server.port}", NGINX_GOOD)) as proxy,
    ):
        result = await run_probe(probe_settings(proxy.url))
        watched = await watch_until(proxy.url, lambda events: False, "--duration", "0")
    assert result.verdict.code == "ok", result.verdict
    assert result.connection["transport"] == "websocket"
    assert result.verdict.title == "Connected over websocket"
    assert f"{proxy.url} speaks Engine.IO 4 at /socket.io" in result.verdict.explanation
    assert "over websocket" in result.verdict.explanation
    steps = {step.name: step.status for step in result.steps}
    assert (steps["session"], steps["websocket"]) == ("ok", "ok"), result.steps
    # the monitor (what `watch` and the TUI run) goes through it over websocket too
    [connected] = watched.of("connected")
    assert connected["transport"] == "websocket", watched.events
    assert connected["how"] == "direct"
    assert not watched.of("fallback")
    assert watched.exit_code == 0, watched.stderr


async def test_nginx_without_upgrade_forwarding_blocks_the_websocket() -> None:
    async with (
        reference_server() as server,
        nginx(nginx_location(f"127.0.0.1:{server.port}", NGINX_NO_UPGRADE)) as proxy,
    ):
        result = await run_probe(probe_settings(proxy.url))
        watched = await watch_until(proxy.url, lambda events: False, "--duration", "0")
    verdict = result.verdict
    assert verdict.code == "websocket_blocked", verdict
    assert verdict.exit_code == 1
    assert result.connection["transport"] == "polling"
    assert verdict.title == "Websocket blocked: the Upgrade header does not reach the server"
    assert 'answered HTTP 400 "Invalid transport"' in verdict.explanation
    assert "does not forward them. Polling works." in verdict.explanation
    assert NGINX_UPGRADE in verdict.fix
    for line in (
        "proxy_http_version 1.1;",
        "proxy_set_header Upgrade $http_upgrade;",
        'proxy_set_header Connection "upgrade";',
    ):
        assert line in verdict.fix
    steps = {step.name: step.status for step in result.steps}
    assert (steps["session"], steps["websocket"], steps["namespace"]) == ("ok", "warn", "ok")
    # the monitor falls back to polling and says why; watch exits 1 (degraded)
    [fallback] = watched.of("fallback")
    assert "HTTP 400" in fallback["why"], fallback
    [connected] = watched.of("connected")
    assert connected["transport"] == "polling"
    assert connected["how"] == "fallback"
    assert watched.exit_code == 1, watched.stderr
