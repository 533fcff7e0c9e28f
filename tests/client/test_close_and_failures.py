"""Close reasons and failure phases taken from the wire: a close frame and its code, an EOF, the
server's CLOSE packet, an upgrade that got no 3probe or a close, a refused port, a bad name."""

from __future__ import annotations

import pytest

from conndebug.client.connecting import connect
from conndebug.client.engine import Target
from conndebug.client.failure import ClientError, CloseKind
from conndebug.core.failure import FailureKind
from conndebug.wire import HttpClient
from tests.client.fake_eio import fake_eio
from tests.client.helpers import recorded
from tests.hostile import Request, Response, http_server
from tests.infra import free_port

pytestmark = pytest.mark.timeout(30)

WS = ("websocket",)


async def test_a_close_frame_is_the_server_s_with_its_code() -> None:
    async with (
        fake_eio("close_after_connect", code=4000) as server,
        recorded(server.url, transports=WS) as rec,
    ):
        gone = await rec.disconnected()
        assert gone.close is not None
        assert gone.close.kind is CloseKind.WS_CLOSED
        assert (gone.close.ws_code, gone.close.ws_reason, gone.close.ws_who) == (
            4000,
            "bye",
            "server",
        )
        assert "close code 4000" in gone.close.message
        assert (gone.reason, gone.kicked) == ("transport close", False)


async def test_an_eof_is_a_connection_that_ended_without_a_goodbye() -> None:
    async with fake_eio("eof_after_connect") as server, recorded(server.url, transports=WS) as rec:
        gone = await rec.disconnected()
        assert gone.close is not None
        assert gone.close.kind in (CloseKind.EOF, CloseKind.RESET)
        assert gone.close.ws_code is None


async def test_the_server_s_close_packet_is_named() -> None:
    async with fake_eio("close_packet") as server, recorded(server.url, transports=WS) as rec:
        gone = await rec.disconnected()
        assert gone.close is not None
        assert gone.close.kind is CloseKind.SERVER_CLOSE


async def test_a_close_packet_over_polling_is_named() -> None:
    opening = (
        b'0{"sid":"S1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000}'
    )
    answers = [b'40{"sid":"A"}', b"1"]

    async def handler(request: Request) -> Response | None:
        if request.method == "POST":
            return Response(200, "OK", [], b"ok")
        if "sid=" not in request.target:
            return Response(200, "OK", [], opening)
        return Response(200, "OK", [], answers.pop(0)) if answers else None

    async with http_server(handler) as server, recorded(server.url, transports=("polling",)) as rec:
        gone = await rec.disconnected()
        assert gone.close is not None
        assert gone.close.kind is CloseKind.SERVER_CLOSE
        assert gone.reason == "transport close"


@pytest.mark.parametrize(
    ("mode", "reason", "kind"),
    [
        ("no_3probe", "no_3probe", FailureKind.PROTOCOL),
        ("close_on_probe", "closed", FailureKind.CLOSED),
    ],
)
async def test_an_upgrade_without_3probe_says_what_came_instead(
    mode: str, reason: str, kind: FailureKind
) -> None:
    async with (
        fake_eio(mode, code=4001) as server,
        recorded(server.url, transports=("polling", "websocket")) as rec,
    ):
        assert (rec.c.transport, rec.c.how) == ("polling", "direct")
        failure = rec.c.websocket_failure
        assert failure is not None
        assert (failure.phase, failure.reason, failure.kind) == ("upgrade", reason, kind)
        if mode == "no_3probe":
            assert "3nope" in failure.message
        else:
            assert failure.ws_code == 4001


async def test_a_refused_port_is_tcp_and_does_not_fall_back() -> None:
    port = free_port()
    async with HttpClient() as http:
        with pytest.raises(ClientError) as info:
            await connect(http, Target(f"http://127.0.0.1:{port}"))
    failure = info.value.failure
    assert (failure.phase, failure.kind, failure.transport) == (
        "tcp",
        FailureKind.REFUSED,
        "websocket",
    )
    assert "earlier_attempts" not in failure.evidence


async def test_a_name_that_does_not_resolve_is_dns() -> None:
    async with HttpClient() as http:
        with pytest.raises(ClientError) as info:
            await connect(http, Target("http://no-such-host.invalid"), connect_timeout=10)
    failure = info.value.failure
    assert (failure.phase, failure.kind) == ("dns", FailureKind.DNS)
    assert failure.elapsed_ms is not None


async def test_an_upgrade_whose_held_poll_is_never_released_stays_on_polling() -> None:
    # The scripted server answers 3probe but never answers the held GET with a noop.
    async with (
        fake_eio("normal") as server,
        recorded(server.url, transports=("polling", "websocket"), ws_timeout=0.5) as rec,
    ):
        assert (rec.c.transport, rec.c.how) == ("polling", "direct")
        failure = rec.c.websocket_failure
        assert failure is not None
        assert (failure.phase, failure.reason, failure.kind) == (
            "upgrade",
            "poll_not_released",
            FailureKind.TIMEOUT,
        )
        assert rec.c.client.engine.is_open
