"""`conndebug probe URL --nagios`: the output checked by a parser of the monitoring-plugin format
(written here from the Monitoring Plugins Development Guidelines, independent of the code), for
each threshold state and each kind of verdict, against real servers on loopback."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from dataclasses import dataclass

import pytest

from tests.conftest import ROOT
from tests.infra import free_port
from tests.servers import reference_server

pytestmark = pytest.mark.timeout(90)

# --- a parser of the plugin format ---------------------------------------------------------------

_STATUS = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
_NUMBER = r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^@?(?:(?:~|{_NUMBER})?:)?(?:{_NUMBER})?$")
_UOM = {"", "s", "ms", "us", "%", "B", "KB", "MB", "GB", "TB", "c"}
_PERF = re.compile(
    rf"^(?P<label>'[^'=]+'|[^'= ]+)=(?P<value>{_NUMBER})(?P<uom>[a-zA-Z%]*)(?P<rest>(?:;[^; ]*){{0,4}})$"
)


@dataclass(frozen=True)
class Perf:
    value: float
    uom: str
    warn: str
    crit: str
    min: str
    max: str


@dataclass(frozen=True)
class PluginOutput:
    status: str
    text: str
    perf: dict[str, Perf]


def parse_plugin_output(stdout: str) -> PluginOutput:
    """``[SERVICE ]STATUS: text | perfdata``; AssertionError on anything off the format."""
    lines = stdout.rstrip("\n").split("\n")
    assert len(lines) == 1, f"one line expected: {stdout!r}"
    line = lines[0]
    head, bar, perfdata = line.partition(" | ")
    assert "|" not in head, f"a '|' in the text: {line!r}"
    match = re.match(r"^(?:[A-Z][A-Z0-9_]* )?(OK|WARNING|CRITICAL|UNKNOWN)(?::| -) (\S.*)$", head)
    assert match, f"no STATUS: text in {head!r}"
    perf: dict[str, Perf] = {}
    if bar:
        items = re.findall(r"(?:'[^'=]+'|[^'= ]+)=\S+", perfdata)
        assert " ".join(items) == perfdata.strip(), (
            f"perfdata not space-separated items: {perfdata!r}"
        )
        for item in items:
            m = _PERF.match(item)
            assert m, f"bad perfdata item {item!r}"
            label = m["label"].strip("'")
            assert label not in perf, f"label {label!r} twice"
            assert m["uom"] in _UOM, f"unknown unit {m['uom']!r} in {item!r}"
            fields = ([*m["rest"].split(";")[1:], "", "", "", ""])[:4]
            for threshold in fields[:2]:
                assert _RANGE.match(threshold), f"bad threshold range {threshold!r} in {item!r}"
            for bound in fields[2:]:
                assert bound == "" or re.fullmatch(_NUMBER, bound), f"bad min/max in {item!r}"
            perf[label] = Perf(float(m["value"]), m["uom"], *fields)
    return PluginOutput(match[1], match[2], perf)


def test_the_parser_itself() -> None:
    out = parse_plugin_output("HTTP OK - fine | 'a b'=1.5s;2;5;0; c=3;;@1:2\n")
    assert out.status == "OK"
    assert out.perf["a b"] == Perf(1.5, "s", "2", "5", "0", "")
    assert out.perf["c"].crit == "@1:2"
    for bad in ("OK fine", "OK: a | b", "OK: x | t=1x", "OK: x | t=1s;a", "OK: a\nmore", "FINE: x"):
        with pytest.raises(AssertionError):
            parse_plugin_output(bad)


# --- the command -----------------------------------------------------------------------------------


@dataclass
class Run:
    code: int
    out: str
    err: str


async def nagios(*args: str) -> Run:
    """``python -m conndebug probe ARGS`` while this loop keeps serving; bounded in time."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "conndebug",
        "probe",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NO_PROXY": "*"},
        cwd=ROOT,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.communicate()
        raise
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


RUNGS = {"url", "dns", "tcp", "handshake", "session", "websocket", "namespace", "rtt"}


async def test_each_threshold_state_against_a_healthy_server() -> None:
    async with reference_server() as server:
        ok = await nagios(server.url, "--nagios", "-w", "1000", "-c", "2000")
        warning = await nagios(server.url, "--nagios", "-w", "0", "-c", "1000")
        critical = await nagios(server.url, "--nagios", "-w", "0", "-c", "0")
        below = await nagios(server.url, "--nagios", "-w", "1000:")  # alert when quicker than that
        plain = await nagios(server.url, "--nagios")

    out = parse_plugin_output(ok.out)
    assert (ok.code, out.status) == (0, "OK")
    assert "(ok)" in out.text
    time = out.perf["time"]
    assert (time.uom, time.warn, time.crit, time.min) == ("s", "1000", "2000", "0")
    assert 0 < time.value < 60
    assert {f"{rung}_time" for rung in RUNGS} <= set(out.perf)
    assert "tls_time" not in out.perf  # skipped rungs have no figure
    for rung in RUNGS:
        assert out.perf[f"{rung}_time"].uom == "s"
        assert out.perf[f"{rung}_time"].min == "0"
    assert 0 < out.perf["rtt"].value < 5
    assert out.perf["ping_interval"] == Perf(1.0, "s", "", "", "0", "")  # the fixture's heartbeat
    assert out.perf["ping_timeout"].value == 10.0

    out = parse_plugin_output(warning.out)
    assert (warning.code, out.status) == (1, "WARNING")
    assert "total time outside range 0:0 (-w)" in out.text
    assert out.perf["time"].warn == "0"

    out = parse_plugin_output(critical.out)
    assert (critical.code, out.status) == (2, "CRITICAL")
    assert "(-c)" in out.text

    out = parse_plugin_output(below.out)
    assert (below.code, out.status) == (1, "WARNING")
    assert out.perf["time"].warn == "1000:"

    out = parse_plugin_output(plain.out)
    assert (plain.code, out.status) == (0, "OK")
    assert (out.perf["time"].warn, out.perf["time"].crit) == ("", "")


async def test_the_verdict_and_the_thresholds_give_the_worse_state() -> None:
    async with reference_server(websocket="reject") as server:
        degraded = await nagios(server.url, "--nagios", "-w", "1000", "-c", "2000")
        slow_too = await nagios(server.url, "--nagios", "-c", "0")
    closed = await nagios(f"http://127.0.0.1:{free_port()}", "--nagios", "-w", "1000")

    out = parse_plugin_output(degraded.out)
    assert (degraded.code, out.status) == (1, "WARNING")  # verdict 1, thresholds 0
    assert "(websocket_blocked)" in out.text
    assert "websocket_time" in out.perf

    out = parse_plugin_output(slow_too.out)
    assert (slow_too.code, out.status) == (2, "CRITICAL")  # verdict 1, thresholds 2

    out = parse_plugin_output(closed.out)
    assert (closed.code, out.status) == (2, "CRITICAL")  # verdict 2, thresholds 0
    assert "(connection_refused)" in out.text
    assert set(out.perf) == {"time", "url_time", "dns_time", "tcp_time"}


async def test_usage_errors_are_unknown_plugin_lines() -> None:
    several = await nagios("http://127.0.0.1:1", "http://127.0.0.1:2", "--nagios")
    bad_range = await nagios("http://127.0.0.1:1", "--nagios", "-w", "5:1")
    bad_url = await nagios("ftp://x", "--nagios")
    for run, words in (
        (several, "--nagios checks one URL, 2 were given"),
        (bad_range, "-w '5:1' is not a threshold range"),
        (bad_url, "Unsupported URL scheme"),
    ):
        out = parse_plugin_output(run.out)
        assert (run.code, out.status) == (3, "UNKNOWN"), run
        assert words in out.text
    without = await nagios("http://127.0.0.1:1", "-w", "5")
    assert without.code == 3
    assert "-w and -c are thresholds of --nagios" in without.err
    both = await nagios("http://127.0.0.1:1", "--nagios", "--json")
    assert both.code == 3


async def test_no_secret_in_the_plugin_line() -> None:
    token = "tok-SeCrEt-nagios-0123456789"
    async with reference_server() as server:
        run = await nagios(server.url, "--nagios", "--token", token)
    out = parse_plugin_output(run.out)
    assert out.status == "CRITICAL"  # the server refuses a token it did not sign
    assert token not in run.out + run.err
