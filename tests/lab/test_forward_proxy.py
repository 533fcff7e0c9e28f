"""A real forward proxy (tinyproxy) between the client and the reference server.

How the clients really cross an HTTP forward proxy to an ``http://`` server (seen in tinyproxy's
log): polling is an absolute-form ``GET http://host/socket.io/...``; the probe opens its websocket
through a ``CONNECT host:port`` tunnel, as browsers do for ``ws://`` behind a proxy (RFC 6455
§4.1). tinyproxy forwards both by default, refuses CONNECT to ports outside its ``ConnectPort``
list with ``403 Access violation``, and answers ``407`` to everything under ``BasicAuth``.

The monitor (``watch``, the live panel: python-socketio over aiohttp) does the same: aiohttp alone
would send ``ws://`` as an absolute-form ``GET ws://...`` with ``Upgrade`` headers, which tinyproxy
(like most forward proxies) does not pass on; conndebug's connector opens a ``CONNECT`` tunnel for
the websocket instead (``TunnellingConnector`` in ``conndebug/core/net.py``).
"""

from __future__ import annotations

import json
import re

import pytest

from conndebug.core.probe import run_probe
from tests.infra import Service, tinyproxy
from tests.lab.helpers import probe_settings, watch_until
from tests.servers import reference_server

pytestmark = pytest.mark.system


def _requests(proxy: Service) -> list[str]:
    """The request lines tinyproxy logged (``CONNECT host:port``, ``GET http://...``)."""
    log = (proxy.folder / "tinyproxy.log").read_text(errors="replace")
    return re.findall(r"Request \(file descriptor \d+\): (\S+ \S+)", log)


async def test_a_permissive_proxy_carries_both_transports() -> None:
    async with reference_server() as server, tinyproxy() as proxy:
        result = await run_probe(probe_settings(server.url, "--proxy", proxy.url))
        polling = await run_probe(
            probe_settings(server.url, "--proxy", proxy.url, "--transports", "polling")
        )
        seen = _requests(proxy)
    assert result.verdict.code == "ok", result.verdict
    assert result.connection["transport"] == "websocket"
    assert result.verdict.title == "Connected over websocket"
    assert f"{server.url} speaks Engine.IO 4 at /socket.io" in result.verdict.explanation
    steps = {step.name: step for step in result.steps}
    assert steps["proxy"].status == "ok"
    assert steps["proxy"].detail.startswith(f"{proxy.url} (from --proxy) forwarded the request")
    assert steps["websocket"].status == "ok"
    assert polling.verdict.code == "ok", polling.verdict
    assert polling.connection["transport"] == "polling"
    assert polling.verdict.title == "Connected over polling"
    # both really went through the proxy: polling as absolute-form requests, the websocket tunnelled
    assert f"GET {server.url}/socket.io/" in "\n".join(seen), seen
    assert f"CONNECT 127.0.0.1:{server.port}" in seen, seen


async def test_a_proxy_that_refuses_connect_blocks_the_websocket() -> None:
    async with reference_server() as server, tinyproxy("ConnectPort 443") as proxy:
        result = await run_probe(probe_settings(server.url, "--proxy", proxy.url))
    verdict = result.verdict
    assert verdict.code == "websocket_blocked", verdict
    assert verdict.exit_code == 1
    assert result.connection["transport"] == "polling"
    assert verdict.title == "The proxy refuses the websocket's tunnel: connected over polling only"
    assert f"Polling works through the proxy {proxy.url} (--proxy)" in verdict.explanation
    assert "the proxy answered HTTP 403 Access violation to CONNECT" in verdict.explanation
    assert f"allow CONNECT to 127.0.0.1:{server.port}" in verdict.fix
    assert "tinyproxy `ConnectPort`" in verdict.fix
    steps = {step.name: step.status for step in result.steps}
    assert (steps["proxy"], steps["websocket"], steps["namespace"]) == ("ok", "warn", "ok")


async def test_a_proxy_that_wants_credentials_is_proxy_error() -> None:
    async with reference_server() as server, tinyproxy("BasicAuth lab s3cret-pass") as proxy:
        refused = await run_probe(probe_settings(server.url, "--proxy", proxy.url))
        with_credentials = f"http://lab:s3cret-pass@127.0.0.1:{proxy.port}"
        allowed = await run_probe(probe_settings(server.url, "--proxy", with_credentials))
    verdict = refused.verdict
    assert verdict.code == "proxy_error", verdict
    assert verdict.exit_code == 2
    assert refused.connection["transport"] is None
    assert verdict.title == "The proxy needs authentication (HTTP 407)"
    assert "answered 407 Proxy Authentication Required to GET" in verdict.explanation
    assert 'it asks for: Basic realm="Tinyproxy"' in verdict.explanation
    assert "http://user:password@host:port" in verdict.fix
    failed = [step.name for step in refused.steps if step.status == "fail"]
    assert failed == ["proxy"]
    # with the credentials in the proxy URL both transports pass, and the password stays hidden
    assert allowed.verdict.code == "ok", allowed.verdict
    assert allowed.connection["transport"] == "websocket"
    assert "s3cret-pass" not in json.dumps(allowed.to_json_dict())


async def test_the_monitor_tunnels_its_websocket_through_a_forward_proxy() -> None:
    async with reference_server() as server, tinyproxy() as proxy:
        watched = await watch_until(
            server.url, lambda events: False, "--duration", "0", "--proxy", proxy.url
        )
        seen = _requests(proxy)
    assert f"CONNECT 127.0.0.1:{server.port}" in seen, seen
    assert not any(line.startswith("GET ws://") for line in seen), seen
    assert watched.of("fallback") == [], watched.events
    [connected] = watched.of("connected")
    assert connected["transport"] == "websocket", watched.events
    assert watched.exit_code == 0


async def test_the_monitor_falls_back_when_the_proxy_refuses_connect() -> None:
    async with reference_server() as server, tinyproxy("ConnectPort 443") as proxy:
        watched = await watch_until(
            server.url, lambda events: False, "--duration", "0", "--proxy", proxy.url
        )
        seen = _requests(proxy)
    assert f"CONNECT 127.0.0.1:{server.port}" in seen, seen
    [fallback] = watched.of("fallback")
    assert "answered HTTP 403 Access violation to CONNECT" in fallback["why"], fallback
    assert (fallback["phase"], fallback["failure"]) == ("proxy", "proxy_error"), fallback
    [connected] = watched.of("connected")
    assert connected["transport"] == "polling"
    verdict = watched.of("verdict")[-1]
    assert (verdict["code"], verdict["reason"], verdict["exit"]) == (
        "websocket_blocked",
        "proxy_tunnel",
        1,
    ), verdict
    assert f"GET {server.url}/socket.io/" in "\n".join(seen), "polling went through the proxy"


async def test_the_monitor_tunnels_with_proxy_credentials_and_hides_them() -> None:
    async with reference_server() as server, tinyproxy("BasicAuth lab s3cret-pass") as proxy:
        with_credentials = f"http://lab:s3cret-pass@127.0.0.1:{proxy.port}"
        watched = await watch_until(
            server.url, lambda events: False, "--duration", "0", "--proxy", with_credentials
        )
        seen = _requests(proxy)
    assert f"CONNECT 127.0.0.1:{server.port}" in seen, seen
    [connected] = watched.of("connected")
    assert connected["transport"] == "websocket", watched.events
    assert "s3cret-pass" not in json.dumps(watched.events)
