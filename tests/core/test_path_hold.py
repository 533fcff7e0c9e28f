"""A hold's facts as a step's evidence, read back by the diagnosis: the verdict of ``probe --hold``.

The facts are what the measuring code hands over; no network here.
"""

from __future__ import annotations

from typing import Any

import pytest

from conndebug.commands.probe_hold import HoldPrinter
from conndebug.core.diagnosis import Diagnosis
from conndebug.core.events import Connected, EventBus, ProbeStep
from conndebug.core.path import Heartbeat, Held, PathReport, identify
from conndebug.core.path.cuts import HoldFacts, LongPollFacts
from conndebug.core.path.measure import HoldProgress
from conndebug.core.probe.hold import hold_object
from conndebug.core.verdicts import spec
from tests.core import path_recorded as rec
from tests.core.path_recorded import parse

HB = Heartbeat(ping_interval_s=25, ping_timeout_s=20)
URL = {"url": "http://127.0.0.1:3001", "host": "127.0.0.1", "port": 3001, "path": "/socket.io"}


def _path(*raws: str) -> PathReport:
    return identify([parse(raw, "handshake") for raw in raws])


def _facts(
    quiet: float | None,
    chatty: float | None,
    *,
    held: float = 10,
    long_poll: LongPollFacts | None = None,
    heartbeat: Heartbeat = HB,
    client_eio: int = 4,
) -> HoldFacts:
    return HoldFacts(
        Held("quiet", quiet, "transport close: cut" if quiet is not None else ""),
        Held("chatty", chatty, "transport close: cut" if chatty is not None else ""),
        held,
        600,
        heartbeat,
        client_eio,
        "websocket",
        long_poll,
        round_trips=9,
    )


def _verdict(facts: HoldFacts, path: PathReport | None = None) -> Any:
    bus = EventBus()
    diagnosis = Diagnosis()
    evidence: dict[str, Any] = {**facts.to_evidence(), **(path or identify([])).to_evidence()}
    for event in (
        bus.emit(ProbeStep, name="url", status="ok", ms=0.0, evidence=URL),
        bus.emit(Connected, transport="websocket", sid="s", engine_sid="e"),
        bus.emit(ProbeStep, name="hold", status="warn", ms=1.0, evidence=evidence),
    ):
        diagnosis.feed(event)
    return diagnosis.verdict


def test_hold_facts_survive_the_step_evidence() -> None:
    facts = _facts(3.04, None, long_poll=LongPollFacts(2.0, False, 25, 504, "HTTP 504"))
    back = HoldFacts.from_evidence(facts.to_evidence())
    assert back is not None
    assert back.quiet == Held("quiet", 3.04, "transport close: cut")
    assert back.chatty.lived_s is None
    assert back.heartbeat == HB
    assert back.long_poll == LongPollFacts(2.0, False, 25, 504, "HTTP 504")
    assert back.round_trips == 9
    assert HoldFacts.from_evidence({"no": "hold"}) is None
    assert HoldFacts.from_evidence("text") is None


def test_the_path_survives_the_step_evidence() -> None:
    path = _path(rec.NGINX_HANDSHAKE)
    back = PathReport.from_evidence(path.to_evidence())
    assert [(h.box.key, h.confidence) for h in back.hops] == [
        (h.box.key, h.confidence) for h in path.hops
    ]
    assert back.hops[0].because.startswith("Server: nginx/")
    assert PathReport.from_evidence({"path": [{"box": "no-such-box"}, "junk"]}).hops == ()


def test_quiet_cut_alone_is_an_idle_timeout_named_at_the_box() -> None:
    verdict = _verdict(_facts(3.04, None), _path(rec.NGINX_HANDSHAKE))
    assert verdict.code == "connection_unstable"
    assert verdict.exit_code == 1
    assert (
        verdict.title
        == "An idle timeout of 3 s cuts quiet connections (nginx's proxy_read_timeout)"
    )
    assert "only the server's heartbeat" in verdict.explanation
    assert "proxy_read_timeout 60s;" in verdict.fix


def test_both_cut_together_is_a_lifetime_cap_and_a_cut_long_poll_is_said_too() -> None:
    verdict = _verdict(_facts(3.0, 3.1, long_poll=LongPollFacts(3.0, False, 25, None, "closed")))
    assert verdict.code == "connection_unstable"
    assert verdict.title == "A lifetime cap of 3 s cuts every connection"
    assert verdict.explanation.endswith("Held long-polls are cut too, after 3 s.")
    assert "longest session" in verdict.fix


def test_a_cut_long_poll_beside_open_websockets_is_a_request_timeout() -> None:
    facts = _facts(None, None, long_poll=LongPollFacts(2.0, False, 6, 504, "HTTP 504"))
    verdict = _verdict(facts, _path(rec.HAPROXY_504))
    assert verdict.code == "connection_unstable"
    assert verdict.title == (
        "Held long-polls are cut after 2 s (HAProxy's timeout server): polling clients cannot stay"
    )
    assert "stayed open 10 s: clients that keep to the websocket work" in verdict.explanation
    assert "timeout server 60s" in verdict.fix


def test_generation_mix_is_the_heartbeat_mismatch() -> None:
    old = Heartbeat(ping_interval_s=25, ping_timeout_s=5, eio=3)
    verdict = _verdict(_facts(30.0, None, heartbeat=old))
    assert verdict.code == "protocol_mismatch"
    assert verdict.title.startswith("Quiet connections are cut after 30 s: a heartbeat mismatch")


def test_nothing_cut_leaves_the_connection_verdict() -> None:
    verdict = _verdict(_facts(None, None, long_poll=LongPollFacts(25.0, True, 25)))
    assert verdict.code == "ok"


def test_hold_object_carries_the_judgements_and_the_path() -> None:
    facts = _facts(3.0, None)
    out = hold_object(facts, _path(rec.NGINX_HANDSHAKE))
    assert out["cut"]["kind"] == "idle"
    assert out["cut"]["box"] == "nginx"
    assert out["cut"]["documented"] == {
        "setting": "proxy_read_timeout",
        "seconds": 60,
        "default": True,
    }
    assert out["boxes"] == ["nginx"]
    assert out["path"].startswith("nginx (Server: nginx/")
    assert out["quiet_lived_s"] == 3.0
    assert out["long_poll_cut"] is None


@pytest.mark.parametrize("reason", ["idle", "lifetime", "request", "busy_cut"])
def test_every_cut_variant_exits_1(reason: str) -> None:
    assert spec("connection_unstable").variant(reason).reason == reason
    assert spec("connection_unstable").exit_code == 1


def _at(elapsed: float, quiet: float | None = None, chatty: float | None = None) -> HoldProgress:
    return HoldProgress(elapsed, 600, quiet, chatty, int(elapsed), 0.4)


def test_progress_when_piped_is_the_start_and_each_change() -> None:
    printer = HoldPrinter(terminal=False)
    printer(_at(0), None)
    for second in range(1, 30):
        printer(_at(second), None)
    printer(_at(30, quiet=30.0), None)
    printer(_at(31, quiet=30.0), "answered after 25 s")
    printer(_at(32, quiet=30.0), "answered after 25 s")
    assert printer.lines == [
        "hold: holding a quiet and a chatty connection for at most 600 s, a long-poll beside "
        "them (Ctrl-C ends it and judges what was seen so far)",
        "hold: the quiet connection was cut after 30 s",
        "hold: the held long-poll: answered after 25 s",
    ]


def test_progress_on_a_terminal_adds_a_line_every_few_seconds() -> None:
    printer = HoldPrinter(terminal=True, every_s=0.0)
    printer(_at(0), None)
    printer(_at(5), None)
    assert len(printer.lines) == 2
    assert printer.lines[1].startswith("hold: 5 s of at most 600 s — quiet open, chatty open")
    assert "5 round trips, last 0.4 ms" in printer.lines[1]
