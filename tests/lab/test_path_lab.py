"""Who cut it: real boxes on loopback, each measured by conndebug and named by ``probe --hold``.

| box | class | what conndebug must say |
|---|---|---|
| nginx, ``proxy_read_timeout 3s`` | idle | quiet websocket cut after ~3 s, chatty one open: idle, nginx |
| relay cutting every connection after 3 s | lifetime | both cut at ~3 s: lifetime, within 3 + 2 s |
| HAProxy ``timeout server 2s`` + ``timeout tunnel 1h`` | request | held polling GET answered 504 after ~2 s; websockets open |
| HAProxy ``timeout tunnel 2s`` | idle | quiet websocket cut after ~2 s, chatty one open: idle, HAProxy |
| HAProxy ``cookie SERVERID insert`` over two nodes | cookie stickiness | sticks with its cookies, not without |
| HAProxy ``balance source`` / nginx ``ip_hash`` over two nodes | IP stickiness | sticks with and without cookies |

The measuring code is conndebug's (:mod:`conndebug.core.path.measure`, on its own client); the
verdicts are the probe's (``run_probe(..., hold=HoldPlan(...))``, and the command line for one
class). The reference server pings every 25 s here (its default) unless a scenario needs the
long-poll answered sooner, so within a hold only the chatty connection's round trips (one a
second) keep a connection busy. Lab timeouts are 2–3 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from conndebug.client import Target
from conndebug.core.path import identify, judge_stickiness
from conndebug.core.path.measure import hold_long_poll, hold_pair, stickiness
from conndebug.core.probe import ProbeResult, run_probe
from conndebug.core.probe.hold import HoldPlan
from conndebug.server import ReferenceServer
from conndebug.wire import HttpClient
from tests.conftest import ROOT
from tests.infra import Service, free_port, haproxy, nginx
from tests.lab.helpers import NGINX_GOOD, nginx_location, probe_settings, upstream, watch_until
from tests.proxies import tcp_relay
from tests.servers import reference_server

pytestmark = pytest.mark.system


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


async def _hold(url: str, max_s: float) -> ProbeResult:
    return await run_probe(probe_settings(url), hold=HoldPlan(max_s=max_s))


def _hold_step(result: ProbeResult) -> Any:
    step = result.step("hold")
    assert step is not None, [s.name for s in result.steps]
    return step


async def test_nginx_read_timeout_is_an_idle_timeout() -> None:
    async with _server() as server:
        location = nginx_location(f"127.0.0.1:{server.port}", NGINX_GOOD, "proxy_read_timeout 3s;")
        async with nginx(location) as proxy:
            result = await _hold(proxy.url, 10)
    hold = result.hold
    assert hold is not None
    # the box behaves as an idle timeout: traffic keeps a connection open
    assert hold["quiet_lived_s"] is not None, hold
    assert 2.5 < hold["quiet_lived_s"] < 4.0, hold
    assert hold["chatty_lived_s"] is None, hold
    assert result.verdict.code == "connection_unstable", result.verdict
    assert result.verdict.title.startswith("An idle timeout of 3 s cuts quiet connections (nginx")
    assert "proxy_read_timeout 60s;" in result.verdict.fix
    assert hold["cut"]["kind"] == "idle"
    assert abs(hold["cut"]["limit_s"] - 3) <= 1
    assert hold["cut"]["box"] == "nginx"
    assert "below it" in hold["cut"]["rule"]
    assert hold["boxes"] == ["nginx"]
    # nginx's read timeout bounds a held long-poll as well: it is cut (504) at the same time
    assert hold["long_poll"]["status"] == 504, hold["long_poll"]
    assert "Held long-polls are cut too, after 3 s." in result.verdict.explanation
    assert result.exit_code == 1


async def test_a_relay_cutting_every_connection_is_a_lifetime_cap() -> None:
    async with _server() as server, tcp_relay(server.port) as relay:
        relay.max_age = 3.0
        async with HttpClient(max_idle=0) as http:
            token, _user = await server.create_guest()
            pair = await hold_pair(http, Target(relay.url), max_s=10, auth={"token": token})
        result = await _hold(relay.url, 10)
    # measured: both cut at about the same time, whatever their traffic
    assert pair.quiet.lived_s is not None, pair
    assert pair.chatty.lived_s is not None, pair
    assert abs(pair.quiet.lived_s - pair.chatty.lived_s) < 1, pair
    assert 2.5 < pair.quiet.lived_s < 4.0, pair
    assert pair.round_trips >= 2
    # held until the first cut plus the grace: a cap of N s is named within N + 2 s
    assert pair.held_s < 3.0 + 2.0, pair.held_s
    assert result.verdict.code == "connection_unstable", result.verdict
    assert result.verdict.title == "A lifetime cap of 3 s cuts every connection"
    hold = result.hold
    assert hold is not None
    assert hold["cut"]["kind"] == "lifetime"
    assert abs(hold["cut"]["limit_s"] - 3) <= 1
    assert hold["held_s"] < 3.0 + 2.0


async def test_haproxy_server_timeout_cuts_held_long_polls_while_websockets_work() -> None:
    async with _server(ping_interval=6.0) as server:
        config = _haproxy_config(
            [server.port],
            timeouts="    timeout client 30s\n    timeout server 2s\n    timeout tunnel 1h\n",
        )
        async with haproxy(config) as proxy:
            async with HttpClient(max_idle=0) as http:
                polled = await hold_long_poll(http, Target(proxy.url))
            result = await _hold(proxy.url, 8)
    assert not polled.answered
    assert polled.status == 504, polled
    assert 1.5 < polled.ended_s < 3.0, polled
    hold = result.hold
    assert hold is not None
    # the websocket is under timeout tunnel (1 h): neither connection is cut
    assert (hold["quiet_lived_s"], hold["chatty_lived_s"]) == (None, None), hold
    assert result.verdict.code == "connection_unstable", result.verdict
    assert result.verdict.title == (
        "Held long-polls are cut after 2 s (HAProxy's timeout server): polling clients cannot stay"
    )
    assert "clients that keep to the websocket work" in result.verdict.explanation
    assert "timeout server 60s" in result.verdict.fix
    assert hold["long_poll_cut"]["kind"] == "request"
    assert abs(hold["long_poll_cut"]["limit_s"] - 2) <= 1
    assert hold["long_poll_cut"]["box"] == "haproxy"  # named by its own 504 page


async def test_haproxy_tunnel_timeout_is_an_idle_timeout_on_websockets() -> None:
    async with _server() as server:
        config = _haproxy_config(
            [server.port],
            timeouts="    timeout client 30s\n    timeout server 30s\n    timeout tunnel 2s\n",
            backend="    cookie SERVERID insert indirect nocache",
        )
        async with haproxy(config) as proxy:
            result = await _hold(proxy.url, 10)
    hold = result.hold
    assert hold is not None
    assert hold["quiet_lived_s"] is not None, hold
    assert 1.5 < hold["quiet_lived_s"] < 3.0, hold
    assert hold["chatty_lived_s"] is None, hold
    assert result.verdict.code == "connection_unstable", result.verdict
    assert result.verdict.title == (
        "An idle timeout of 2 s cuts quiet connections (HAProxy's timeout tunnel)"
    )
    assert "timeout tunnel 1h" in result.verdict.fix
    assert hold["cut"]["box"] == "haproxy"
    # the long-poll is held longer than the hold (pingInterval 25 s): not judged
    assert hold["long_poll"] is None
    step = _hold_step(result)
    assert step.evidence["long_poll_unfinished"]["why"] == "still held"


@contextlib.asynccontextmanager
async def _two_nodes() -> AsyncIterator[tuple[ReferenceServer, ReferenceServer]]:
    async with _server(ping_interval=1.0) as a, _server(ping_interval=1.0) as b:
        yield a, b


async def _sticks(proxy: Service) -> tuple[bool, bool, list[str]]:
    async with HttpClient() as with_http, HttpClient() as bare:
        found = await stickiness(with_http, bare, Target(proxy.url), sessions=2, rounds=3)
    return found.with_cookies.ok, found.without_cookies.ok, list(found.with_cookies.cookies)


async def test_haproxy_cookie_insert_is_cookie_stickiness() -> None:
    async with _two_nodes() as (a, b):
        config = _haproxy_config(
            [a.port, b.port],
            timeouts="    timeout client 30s\n    timeout server 30s\n",
            backend="    balance roundrobin\n    cookie SERVERID insert indirect nocache",
        )
        async with haproxy(config) as proxy:
            with_cookies, without, cookies = await _sticks(proxy)
            probed = await run_probe(probe_settings(proxy.url))
    assert with_cookies is True
    assert without is False  # round robin: the next request went to the other node
    assert cookies == ["SERVERID"]
    # the probe's path rung measures it too, because the answers set a cookie
    step = probed.step("path")
    assert step is not None
    assert step.evidence["stickiness"]["mechanism"] == "cookie", step.evidence
    assert "sticky by cookie SERVERID: browsers on another origin need withCredentials" in (
        step.detail
    )
    assert any("withCredentials" in w for w in step.evidence["stickiness"]["warnings"])


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
            with_cookies, without, _ = await _sticks(proxy)
            held = await _hold(proxy.url, 1)
        # and the same two nodes without affinity are not sticky at all
        plain = nginx(
            nginx_location("cluster", NGINX_GOOD), http_extra=upstream("cluster", [a.port, b.port])
        )
        async with plain as proxy:
            plain_with, plain_without, _ = await _sticks(proxy)
    assert (with_cookies, without) == (True, True)
    verdict = judge_stickiness(identify([]), with_cookies_ok=True, without_cookies_ok=True)
    assert verdict.mechanism == "ip"
    assert held.hold is not None
    assert held.hold["stickiness"]["mechanism"] == "ip", held.hold["stickiness"]
    assert "sticky by address (or one node)" in _hold_step(held).detail
    assert (plain_with, plain_without) == (False, False)


async def test_probe_names_the_path_with_its_limits_and_cookies() -> None:
    """The probe's path rung: the boxes named from every answer it read."""
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
    assert through_nginx.report_summary()["path"].startswith("nginx (Server: nginx/")
    assert [h["box"] for h in step.evidence["path"]] == ["nginx"]
    assert step.evidence["answers_read"] >= 3  # handshake, polling, websocket 101...
    hap = through_haproxy.step("path")
    assert hap is not None
    assert hap.detail.startswith("HAProxy (Set-Cookie SERVERID on "), hap.detail
    assert "→ server: aiohttp (python-engineio)" in hap.detail
    assert "affinity cookie SERVERID (HAProxy)" in hap.detail
    # one node behind the cookie: it sticks without the cookie as well
    assert hap.evidence["stickiness"]["mechanism"] == "ip", hap.evidence
    assert through_haproxy.report_summary()["stickiness"] == "ip"
    plain = direct.step("path")
    assert plain is not None
    assert plain.detail.startswith("server: aiohttp (python-engineio)"), plain.detail
    assert "stickiness" not in plain.evidence  # no cookie set: nothing to tell apart


async def test_probe_names_the_box_even_when_the_ladder_failed() -> None:
    """nginx in front of nothing: the handshake fails with nginx's 502, the path rung still
    names nginx (its error page), while every rung after the handshake is skipped; a hold asked
    for is not tried."""
    location = nginx_location(f"127.0.0.1:{free_port()}", NGINX_GOOD)
    async with nginx(location) as proxy:
        result = await _hold(proxy.url, 5)
    assert result.verdict.code == "server_error", result.verdict
    statuses = {s.name: s.status for s in result.steps}
    assert statuses["handshake"] == "fail"
    assert statuses["namespace"] == "skip"
    assert statuses["hold"] == "skip"
    assert result.hold is None
    step = result.step("path")
    assert step is not None
    assert step.status == "ok"
    assert step.detail.startswith("nginx (Server: nginx/"), step.detail
    evidence = step.evidence["path"][0]["evidence"]
    assert any("502 error page says '<center>nginx/" in e for e in evidence), evidence


# -- the command line -------------------------------------------------------------------------------


async def _probe_cli(
    url: str, *flags: str, interrupt_after: str | None = None, timeout: float = 60.0
) -> tuple[int | None, dict[str, Any], str]:
    """Run ``conndebug probe URL --json FLAGS``; with ``interrupt_after``, SIGINT once that text
    shows on stderr. Returns the exit code, the JSON and stderr."""
    with tempfile.TemporaryFile() as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "conndebug",
            "probe",
            url,
            "--json",
            *flags,
            stdout=out,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert process.stderr is not None
        err = b""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    line = await asyncio.wait_for(process.stderr.readline(), left)
                except asyncio.TimeoutError:
                    break
                if not line:
                    break
                err += line
                if interrupt_after is not None and interrupt_after.encode() in line:
                    process.send_signal(signal.SIGINT)
                    interrupt_after = None
            await asyncio.wait_for(process.wait(), max(1.0, deadline - loop.time()))
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        out.seek(0)
        text = out.read().decode()
    return process.returncode, json.loads(text) if text.strip() else {}, err.decode()


async def test_probe_hold_on_the_command_line_names_a_lifetime_cap(tmp_path: Path) -> None:
    report = tmp_path / "ticket.md"
    async with _server() as server, tcp_relay(server.port) as relay:
        relay.max_age = 3.0
        code, out, err = await _probe_cli(
            relay.url, "--hold", "--max", "10", "--report", str(report)
        )
    assert code == 1, (out.get("verdict"), err)
    assert out["schema"] == 1
    assert out["verdict"]["code"] == "connection_unstable"
    assert out["hold"]["cut"]["kind"] == "lifetime"
    assert abs(out["hold"]["cut"]["limit_s"] - 3) <= 1
    assert [s["name"] for s in out["steps"]][-1] == "hold"
    # piped: the start and the cuts, no line every few seconds
    lines = [line for line in err.splitlines() if line.startswith("hold:")]
    assert lines[0].startswith("hold: holding a quiet and a chatty connection for at most 10 s")
    assert "hold: the quiet connection was cut after 3 s" in lines
    assert not any(" s of at most " in line for line in lines), lines
    # the report's summary: the path, and what the hold saw
    text = report.read_text()
    assert "### Summary" in text
    assert "| path | server: aiohttp (python-engineio) |" in text
    assert "| hold | A lifetime cap of 3 s: every connection is cut, whatever its traffic" in text


async def test_ctrl_c_during_a_hold_judges_what_was_seen_so_far() -> None:
    async with _server() as server:
        code, out, err = await _probe_cli(
            server.url, "--hold", "--max", "120", interrupt_after="hold: holding"
        )
    assert code == 0, (out.get("verdict"), err)
    assert "hold: stopped by SIGINT; judging what was seen so far" in err
    assert out["verdict"]["code"] == "ok"
    assert out["hold"]["interrupted"] is True
    assert out["hold"]["held_s"] < 60
    assert out["hold"]["cut"]["kind"] == "none"


# -- watch: the drops it sees, told apart --------------------------------------------------------


def _cut_verdict(events: list[dict[str, Any]]) -> bool:
    return any(e["kind"] == "verdict" and e.get("reason") in ("idle", "lifetime") for e in events)


async def test_watch_names_an_idle_timeout_from_its_drops_and_the_box() -> None:
    """``--rtt-interval 0``: the connection carries only the server's ping (every 2 s); nginx
    cuts it after 1.5 s of quiet, again and again. Cut within the quiet stretch: an idle timeout,
    and the path watch read names nginx."""
    async with _server(ping_interval=2.0, ping_timeout=3.0) as server:
        location = nginx_location(
            f"127.0.0.1:{server.port}", NGINX_GOOD, "proxy_read_timeout 1500ms;"
        )
        async with nginx(location) as proxy:
            watched = await watch_until(proxy.url, _cut_verdict, "--rtt-interval", "0", timeout=40)
    [path] = [e for e in watched.events if e["kind"] == "note" and e.get("topic") == "path"][:1]
    assert path["text"].startswith("nginx (Server: nginx/"), path
    verdict = next(e for e in watched.of("verdict") if e.get("reason") in ("idle", "lifetime"))
    assert verdict["code"] == "connection_unstable"
    assert verdict["reason"] == "idle", verdict
    assert verdict["title"].startswith("An idle timeout of 1.5 s cuts quiet connections (nginx")
    assert "watch sent no round trips (--rtt-interval 0)" in verdict["explanation"]
    assert "probe URL --hold` tells them apart" in verdict["explanation"]
    assert "proxy_read_timeout 60s;" in verdict["fix"]


async def test_watch_names_a_lifetime_cap_from_drops_despite_its_round_trips() -> None:
    """The default watch sends a round trip every second; the relay cuts every connection after
    3 s anyway, again and again: traffic does not help, a lifetime cap."""
    async with _server() as server, tcp_relay(server.port) as relay:
        relay.max_age = 3.0
        watched = await watch_until(relay.url, _cut_verdict, timeout=40)
    verdict = next(e for e in watched.of("verdict") if e.get("reason") in ("idle", "lifetime"))
    assert verdict["code"] == "connection_unstable"
    assert verdict["reason"] == "lifetime", verdict
    assert verdict["title"] == "A lifetime cap of 3 s cuts every connection"
    assert "a round trip crossed each of them every 1 s" in verdict["explanation"]
