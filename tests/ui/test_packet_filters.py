"""The wire inspector's filters know conndebug's own round trips: the namespace probes and, with
``--rtt-event`` (the demo's ``conndebug:ping``), its emits and the acks that answer them."""

from __future__ import annotations

from typing import Any

from conndebug.core.events import Packet
from conndebug.ui.packets import FILTERS, RoundTrips


def packet(direction: str, sio_type: str, ack_id: int | None, preview: str) -> Packet:
    fields: dict[str, Any] = {
        "ts": 0.0,
        "t": 0.0,
        "direction": direction,
        "transport": "websocket",
        "eio_type": "MESSAGE",
        "size": len(preview) + 1,
        "preview": preview,
        "sio_type": sio_type,
        "ack_id": ack_id,
    }
    return Packet(**fields)


PING_OUT = packet("out", "EVENT", 7, '27["conndebug:ping"]')
PING_ACK = packet("in", "ACK", 7, '37[{"serverTime":1}]')
APP_OUT = packet("out", "EVENT", 8, '28["get:stats"]')
APP_ACK = packet("in", "ACK", 8, '38[{"users":1}]')
ON_NS = packet("out", "EVENT", 9, '2/admin,9["conndebug:ping"]')
SAME_ID_LATER = packet("in", "ACK", 3, "33[]")


def test_the_rtt_event_and_its_ack_are_round_trips_and_the_app_s_are_not() -> None:
    quiet, socketio = FILTERS[1], FILTERS[2]
    for shown_by in (quiet, socketio):
        trips = RoundTrips("conndebug:ping")
        seen = [
            e for e in (PING_OUT, PING_ACK, APP_OUT, APP_ACK, ON_NS) if shown_by.shows(e, trips)
        ]
        assert seen == [APP_OUT, APP_ACK], shown_by.name
    assert FILTERS[0].shows(PING_OUT, RoundTrips("conndebug:ping"))  # every packet: all of them


def test_without_an_rtt_event_every_emit_is_the_app_s() -> None:
    trips = RoundTrips(None)
    assert not trips(PING_OUT)
    assert not trips(PING_ACK)
    assert not RoundTrips("conndebug:ping")(SAME_ID_LATER)  # an ack of no round trip


def test_a_packet_line_breaks_after_a_delimiter_not_inside_a_number() -> None:
    from conndebug.ui.widgets.wire_log import _hard_wrap

    text = '4310[{"serverTime":1796648062622,"users":["guest_00000001"]}]'
    chunks = _hard_wrap(text, 24, 24)
    assert "".join(chunks) == text  # every character, in order
    assert all(len(c) <= 24 for c in chunks)
    assert "1796648062622," in chunks[1]  # the number whole on one line
    assert _hard_wrap("x" * 50, 20, 20) == ["x" * 20, "x" * 20, "x" * 10]  # no delimiter: the width
