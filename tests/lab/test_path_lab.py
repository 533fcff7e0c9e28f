"""Who cut it: real boxes on loopback, each checked to behave as its class, then judged.

| box | class | how it is checked |
|---|---|---|
| nginx, ``proxy_read_timeout 3s`` | idle | quiet websocket cut after ~3 s, chatty one still open |
| relay cutting every connection after 3 s | lifetime | both websockets cut at ~3 s |
| HAProxy ``timeout server 2s`` + ``timeout tunnel 1h`` | request | a held polling GET answered 504 after ~2 s; websockets stay open |
| HAProxy ``timeout tunnel 2s`` | idle | quiet websocket cut after ~2 s, chatty one still open |
| HAProxy ``cookie SERVERID insert`` over two nodes | cookie stickiness | a session sticks with its cookies, not without |
| HAProxy ``balance source`` / nginx ``ip_hash`` over two nodes | IP stickiness | a session sticks with and without cookies |

The reference server pings every 25 s here (its default), so within a hold only the chatty
connection's round trips (one a second) cross the quiet/chatty pair. Lab timeouts are 2–3 s.
Each scenario also reads the answers the path gave and checks the box it names.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from conndebug.core.path import Answer, Heartbeat, identify, judge_hold, judge_long_poll
from conndebug.core.path.cuts import judge_stickiness
from conndebug.server import ReferenceServer
from tests.infra import Service, haproxy, nginx
from tests.lab.helpers import NGINX_GOOD, nginx_location, upstream
from tests.lab.path_helpers import hold_long_poll, hold_pair, session_sticks
from tests.proxies import tcp_relay
from tests.servers import reference_server

pytestmark = pytest.mark.system

HEARTBEAT = Heartbeat(ping_interval_s=25, ping_timeout_s=20)


@contextlib.asynccontextmanager
async def _server(**overrides: float) -> AsyncIterator[ReferenceServer]:
    async with reference_server(
        **{"ping_interval": 25.0, "ping_timeout": 20.0, **overrides}
    ) as server:
        yield server


def _haproxy_config(servers: list[int], *, timeouts: str, backend: str = "") -> str:
    lines = "".join(
        f"    server s{i} 127.0.0.1:{port} cookie s{i}\n" for i, port in enumerate(servers, 1)
    )
    return f"""
defaults
    mode http
    timeout connect 2s
{timeouts}
frontend fe
    bind 127.0.0.1:{{port}}
    default_backend be
backend be
{backend}
{lines}"""


async def test_nginx_read_timeout_is_an_idle_timeout() -> None:
    async with _server() as server:
        location = nginx_location(f"127.0.0.1:{server.port}", NGINX_GOOD, "proxy_read_timeout 3s;")
        async with nginx(location) as proxy:
            quiet, chatty, held, seen = await hold_pair(proxy.url, max_s=10)
    # the box behaves as an idle timeout: traffic keeps a connection open
    assert quiet.lived_s is not None, (quiet, chatty)
    assert 2.5 < quiet.lived_s < 4.0, quiet
    assert chatty.lived_s is None, chatty
    path = identify(seen.answers)
    assert [h.box.key for h in path.hops] == ["nginx"]
    verdict = judge_hold(quiet, chatty, held_s=held, heartbeat=HEARTBEAT, path=path)
    assert verdict.kind == "idle"
    assert verdict.limit_s is not None
    assert abs(verdict.limit_s - 3) <= 1
    assert (verdict.box.key if verdict.box else None) == "nginx"
    assert "proxy_read_timeout 60s;" in verdict.fix
    assert "below it" in verdict.rule


async def test_a_relay_cutting_every_connection_is_a_lifetime_cap() -> None:
    async with _server() as server, tcp_relay(server.port) as relay:
        relay.max_age = 3.0
        quiet, chatty, held, seen = await hold_pair(relay.url, max_s=10)
    assert quiet.lived_s is not None, (quiet, chatty)
    assert chatty.lived_s is not None, (quiet, chatty)
    assert abs(quiet.lived_s - chatty.lived_s) < 1, (quiet, chatty)
    assert 2.5 < quiet.lived_s < 4.0, quiet
    verdict = judge_hold(
        quiet, chatty, held_s=held, heartbeat=HEARTBEAT, path=identify(seen.answers)
    )
    assert verdict.kind == "lifetime"
    assert verdict.limit_s is not None
    assert abs(verdict.limit_s - 3) <= 1
    # held until the first cut plus the tolerance: a cap of N s is named within N + 2 s
    assert held < 3.0 + 2.0, held


async def test_haproxy_server_timeout_cuts_held_long_polls_while_websockets_work() -> None:
    async with _server(ping_interval=6.0) as server:
        config = _haproxy_config(
            [server.port],
            timeouts="    timeout client 30s\n    timeout server 2s\n    timeout tunnel 1h\n",
        )
        async with haproxy(config) as proxy:
            ended, answered, status, seen = await hold_long_poll(proxy.url, max_s=10)
            quiet, chatty, _held, _ = await hold_pair(proxy.url, max_s=4)
    assert not answered
    assert status == 504, (ended, status)
    assert 1.5 < ended < 3.0, ended
    # the websocket is under timeout tunnel (1 h): neither connection is cut in 4 s
    assert (quiet.lived_s, chatty.lived_s) == (None, None)
    path = identify(seen.answers)
    assert [h.box.key for h in path.proxies] == ["haproxy"]
    verdict = judge_long_poll(
        ended_s=ended, answered=answered, ping_interval_s=6, status=status, path=path
    )
    assert verdict.kind == "request"
    assert verdict.limit_s is not None
    assert abs(verdict.limit_s - 2) <= 1
    assert (verdict.box.key if verdict.box else None) == "haproxy"
    assert "timeout server 60s" in verdict.fix


async def test_haproxy_tunnel_timeout_is_an_idle_timeout_on_websockets() -> None:
    async with _server() as server:
        config = _haproxy_config(
            [server.port],
            timeouts="    timeout client 30s\n    timeout server 30s\n    timeout tunnel 2s\n",
            backend="    cookie SERVERID insert indirect nocache",
        )
        async with haproxy(config) as proxy:
            quiet, chatty, held, seen = await hold_pair(proxy.url, max_s=10)
    assert quiet.lived_s is not None, (quiet, chatty)
    assert 1.5 < quiet.lived_s < 3.0, quiet
    assert chatty.lived_s is None, chatty
    path = identify(seen.answers)
    verdict = judge_hold(quiet, chatty, held_s=held, heartbeat=HEARTBEAT, path=path)
    assert verdict.kind == "idle"
    assert verdict.limit_s is not None
    assert abs(verdict.limit_s - 2) <= 1
    assert (verdict.box.key if verdict.box else None) == "haproxy"
    assert "timeout tunnel 1h" in verdict.fix


@contextlib.asynccontextmanager
async def _two_nodes() -> AsyncIterator[tuple[ReferenceServer, ReferenceServer]]:
    async with _server(ping_interval=1.0) as a, _server(ping_interval=1.0) as b:
        yield a, b


async def _sticks(proxy: Service) -> tuple[bool, bool, list[Answer]]:
    with_cookies, seen_with = await session_sticks(proxy.url, cookies=True)
    without, seen_without = await session_sticks(proxy.url, cookies=False)
    return with_cookies, without, [*seen_with.answers, *seen_without.answers]


async def test_haproxy_cookie_insert_is_cookie_stickiness() -> None:
    async with _two_nodes() as (a, b):
        config = _haproxy_config(
            [a.port, b.port],
            timeouts="    timeout client 30s\n    timeout server 30s\n",
            backend="    balance roundrobin\n    cookie SERVERID insert indirect nocache",
        )
        async with haproxy(config) as proxy:
            with_cookies, without, answers = await _sticks(proxy)
    assert with_cookies is True
    assert without is False  # round robin: the next request went to the other node
    path = identify(answers)
    verdict = judge_stickiness(path, with_cookies_ok=with_cookies, without_cookies_ok=without)
    assert verdict.mechanism == "cookie"
    assert verdict.cookie == "SERVERID"
    assert any("withCredentials" in w for w in verdict.warnings)


@pytest.mark.parametrize("box", ["haproxy balance source", "nginx ip_hash"])
async def test_address_affinity_is_ip_stickiness(box: str) -> None:
    async with _two_nodes() as (a, b):
        if box.startswith("haproxy"):
            config = _haproxy_config(
                [a.port, b.port],
                timeouts="    timeout client 30s\n    timeout server 30s\n",
                backend="    balance source",
            )
            running = haproxy(config)
        else:
            running = nginx(
                nginx_location("cluster", NGINX_GOOD),
                http_extra=upstream("cluster", [a.port, b.port], balance="ip_hash;"),
            )
        async with running as proxy:
            with_cookies, without, answers = await _sticks(proxy)
        # and the same two nodes without affinity are not sticky at all
        plain = nginx(
            nginx_location("cluster", NGINX_GOOD), http_extra=upstream("cluster", [a.port, b.port])
        )
        async with plain as proxy:
            plain_with, plain_without, _ = await _sticks(proxy)
    assert (with_cookies, without) == (True, True)
    verdict = judge_stickiness(
        identify(answers),
        with_cookies_ok=with_cookies,
        without_cookies_ok=without,
    )
    assert verdict.mechanism == "ip"
    assert (plain_with, plain_without) == (False, False)
    none = judge_stickiness(identify([]), with_cookies_ok=False, without_cookies_ok=False)
    assert none.mechanism == "none"


async def test_probe_names_the_path_with_its_limits_and_cookies() -> None:
    """The probe's last rung: the boxes named from every answer it read."""
    from conndebug.core.probe import run_probe
    from tests.lab.helpers import probe_settings

    async with _server() as server:
        location = nginx_location(f"127.0.0.1:{server.port}", NGINX_GOOD)
        async with nginx(location) as proxy:
            through_nginx = await run_probe(probe_settings(proxy.url))
        config = _haproxy_config(
            [server.port],
            timeouts="    timeout client 30s\n    timeout server 30s\n    timeout tunnel 1h\n",
            backend="    cookie SERVERID insert indirect nocache",
        )
        async with haproxy(config) as proxy:
            through_haproxy = await run_probe(probe_settings(proxy.url))
        direct = await run_probe(probe_settings(server.url))
    assert through_nginx.verdict.code == "ok", through_nginx.verdict
    step = through_nginx.step("path")
    assert step is not None
    assert step.status == "ok"
    assert step.detail.startswith("nginx (Server: nginx/"), step.detail
    assert "answers) → server; nginx: idle 60 s (proxy_read_timeout, a default)" in step.detail
    assert [h["box"] for h in step.evidence["path"]] == ["nginx"]
    assert step.evidence["answers_read"] >= 3  # handshake, polling, websocket 101...
    hap = through_haproxy.step("path")
    assert hap is not None
    assert hap.detail.startswith("HAProxy (Set-Cookie SERVERID on "), hap.detail
    assert "→ server: aiohttp (python-engineio)" in hap.detail
    assert "affinity cookie SERVERID (HAProxy)" in hap.detail
    plain = direct.step("path")
    assert plain is not None
    assert plain.detail.startswith("server: aiohttp (python-engineio)"), plain.detail


async def test_probe_names_the_box_even_when_the_ladder_failed() -> None:
    """nginx in front of nothing: the handshake fails with nginx's 502, the path rung still
    names nginx (its error page), while every rung after the handshake is skipped."""
    from conndebug.core.probe import run_probe
    from tests.infra import free_port
    from tests.lab.helpers import probe_settings

    location = nginx_location(f"127.0.0.1:{free_port()}", NGINX_GOOD)
    async with nginx(location) as proxy:
        result = await run_probe(probe_settings(proxy.url))
    assert result.verdict.code == "server_error", result.verdict
    statuses = {s.name: s.status for s in result.steps}
    assert statuses["handshake"] == "fail"
    assert statuses["namespace"] == "skip"
    step = result.step("path")
    assert step is not None
    assert step.status == "ok"
    assert step.detail.startswith("nginx (Server: nginx/"), step.detail
    evidence = step.evidence["path"][0]["evidence"]
    assert any("502 error page says '<center>nginx/" in e for e in evidence), evidence
