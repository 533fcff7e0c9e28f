"""Crafted Engine.IO servers: what a broken or hostile server sends becomes facts, never a crash
(deep JSON, huge names and ids, bad open packets, errors on a poll)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from conndebug.client.client import Event
from conndebug.client.connecting import connect
from conndebug.client.engine import Target
from conndebug.client.failure import ClientError, CloseKind
from conndebug.core.failure import FailureKind
from conndebug.wire import HttpClient
from tests.client.helpers import recorded, wait_until
from tests.hostile import Request, Response, http_server

pytestmark = pytest.mark.timeout(30)

OPEN = '0{"sid":"S1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'


def polling_server(
    answers: list[str | Response],
) -> Callable[[Request], Awaitable[Response | None]]:
    """The handshake, then each GET answered with the next of ``answers`` (then held); POSTs ok."""
    queue = list(answers)

    async def handler(request: Request) -> Response | None:
        if request.method == "POST":
            return Response(200, "OK", [("Content-Type", "text/plain")], b"ok")
        if "sid=" not in request.target:
            return Response(200, "OK", [("Content-Type", "text/plain")], OPEN.encode())
        if not queue:
            return None
        answer = queue.pop(0)
        if isinstance(answer, Response):
            return answer
        return Response(200, "OK", [("Content-Type", "text/plain")], answer.encode())

    return handler


async def test_a_poll_answered_with_session_id_unknown_ends_the_session_with_code_1() -> None:
    unknown = Response(
        400,
        "Bad Request",
        [("Content-Type", "application/json")],
        b'{"code":1,"message":"Session ID unknown"}',
    )
    async with (
        http_server(polling_server(['40{"sid":"A"}', unknown])) as server,
        recorded(server.url, transports=("polling",)) as rec,
    ):
        gone = await rec.disconnected()
        assert gone.close is not None
        assert gone.close.kind is CloseKind.HTTP_ERROR
        assert gone.close.status == 400
        assert gone.close.engine_error is not None
        assert (gone.close.engine_error.code, gone.close.engine_error.name) == (
            1,
            "Session ID unknown",
        )
        assert gone.reason == "transport error"
        assert "Session ID unknown" in gone.close.message


async def test_hostile_nesting_is_refused_and_the_session_goes_on() -> None:
    deep = '42["deep",' + "[" * 100_000 + "]" * 100_000 + "]"
    valid = '42["ok",' + "[" * 999 + "1" + "]" * 999 + "]"
    payload = "\x1e".join(['40{"sid":"A"}', deep, valid, '42["after"]'])
    async with (
        http_server(polling_server([payload])) as server,
        recorded(server.url, transports=("polling",)) as rec,
    ):
        await rec.event("after")
        assert rec.names() == ["ok", "after"]
        assert len(rec.problems) == 1
        assert "deeper than 1,000 levels" in rec.problems[0].message
        value = rec.named("ok")[0].args[0]
        depth = 0
        while isinstance(value, list):
            value = value[0]
            depth += 1
        assert (depth, value) == (999, 1)


async def test_huge_names_and_ids_are_clipped_at_the_edge() -> None:
    name = "n" * 1_000_000
    payload = '40{"sid":"' + "s" * 1_000_000 + '"}\x1e42["' + name + '",1]'
    async with (
        http_server(polling_server([payload])) as server,
        recorded(server.url, transports=("polling",)) as rec,
    ):
        await wait_until(lambda: len(rec.events) == 1, 5)
        event: Event = rec.events[0]
        assert len(event.name) < 260
        assert "1,000,000 in all" in event.name
        assert event.args == [1]
        assert rec.c.sid is not None
        assert len(rec.c.sid) < 260


async def test_a_huge_engine_sid_is_clipped_for_show_and_sent_whole() -> None:
    sid = "E" * 30_000  # the test server reads request heads up to 64 KiB
    opening = '0{"sid":"' + sid + '","upgrades":[],"pingInterval":25000,"pingTimeout":20000}'
    seen: list[str] = []

    async def handler(request: Request) -> Response | None:
        seen.append(request.target)
        if "sid=" not in request.target:
            return Response(200, "OK", [("Content-Type", "text/plain")], opening.encode())
        if request.method == "POST":
            return Response(200, "OK", [("Content-Type", "text/plain")], b"ok")
        if len(seen) < 4:
            return Response(200, "OK", [("Content-Type", "text/plain")], b'40{"sid":"A"}')
        return None

    async with http_server(handler) as server, recorded(server.url, transports=("polling",)) as rec:
        engine_sid = rec.c.engine_sid
        assert engine_sid is not None
        assert len(engine_sid) < 260
        assert any(f"sid={sid}" in target for target in seen)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('0{"sid":"a","upgrades":[],"pingInterval":0,"pingTimeout":5000}', "pingInterval 0"),
        ('0{"sid":"a","upgrades":[],"pingInterval":-1,"pingTimeout":5000}', "pingInterval -1"),
        ('0{"upgrades":[],"pingInterval":1,"pingTimeout":5000}', "sid is missing"),
        ("0" + "[" * 100_000, "deeper than 1,000"),
    ],
)
async def test_an_unusable_open_packet_is_a_protocol_failure_that_says_why(
    body: str, problem: str
) -> None:
    async def handler(request: Request) -> Response:
        return Response(200, "OK", [("Content-Type", "text/plain")], body.encode())

    async with http_server(handler) as server, HttpClient() as http:
        with pytest.raises(ClientError) as info:
            await connect(http, Target(server.url), transports=("polling",))
        failure = info.value.failure
        assert failure.phase == "handshake"
        assert failure.kind is FailureKind.PROTOCOL
        assert failure.reason == "bad_open"
        assert problem in failure.message


async def test_a_web_page_is_not_engineio() -> None:
    async def handler(request: Request) -> Response:
        return Response(
            200, "OK", [("Content-Type", "text/html")], b"<html><body>hello</body></html>"
        )

    async with http_server(handler) as server, HttpClient() as http:
        with pytest.raises(ClientError) as info:
            await connect(http, Target(server.url), transports=("polling",))
        failure = info.value.failure
        assert (failure.phase, failure.reason, failure.status) == ("handshake", "not_engineio", 200)
        assert failure.evidence["content_type"] == "text/html"


async def test_a_404_is_an_http_failure_with_its_status() -> None:
    async def handler(request: Request) -> Response:
        return Response(404, "Not Found", [("Content-Type", "text/html")], b"<h1>Not Found</h1>")

    async with http_server(handler) as server, HttpClient() as http:
        with pytest.raises(ClientError) as info:
            await connect(http, Target(server.url), transports=("polling",))
        failure = info.value.failure
        assert (failure.kind, failure.status, failure.engine_error) == (FailureKind.HTTP, 404, None)


async def test_a_broken_poll_answer_ends_the_session_as_a_protocol_error() -> None:
    async with (
        http_server(polling_server(['40{"sid":"A"}', "\x1e\x1e9zz"])) as server,
        recorded(server.url, transports=("polling",)) as rec,
    ):
        gone = await rec.disconnected()
        assert gone.close is not None
        assert gone.close.kind is CloseKind.PROTOCOL
        assert gone.reason == "parse error"


async def test_a_connect_error_message_that_is_huge_is_clipped() -> None:
    big = "m" * 100_000
    answer = "44" + json.dumps({"message": big, "data": {"k": 1}})

    async with http_server(polling_server([answer])) as server, HttpClient() as http:
        with pytest.raises(ClientError) as info:
            await connect(http, Target(server.url), transports=("polling",))
        failure = info.value.failure
        assert failure.server_message is not None
        assert len(failure.server_message) < 1100
        assert "100,000 in all" in failure.server_message
        assert failure.server_data == {"k": 1}
        # The poll loop had asked again (a 4th connection) before the refusal was read: let the
        # server take it before it stops, or asyncio warns about a socket accepted while closing.
        await wait_until(lambda: server.connections >= 4, 5, "the follow-up poll's connection")
