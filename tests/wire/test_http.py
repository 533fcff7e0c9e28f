"""HttpClient on h11: framing, keep-alive, concurrency, cookies, bounds in bytes and time, and
failures in plain words, against scripted and hostile peers on loopback."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib

import pytest

from conndebug.core.failure import FailureKind
from conndebug.wire import HttpClient, NotHttp, WireError
from tests.hostile import Response as HostileResponse
from tests.hostile import drip_server, flood_server, http_server, silent_server
from tests.wire.peers import Answer, ok, scripted

pytestmark = pytest.mark.timeout(30)


async def test_an_answer_comes_with_its_timings_peer_and_ids() -> None:
    hello = ok(b"hello", "Content-Type: text/plain")
    async with scripted(lambda r, i: hello) as peer, HttpClient(timeout=2) as http:
        got = await http.request("GET", peer.url + "/a?x=1")
        again = await http.request("GET", peer.url + "/b")
    assert (got.status, got.reason, got.http_version, got.body) == (200, "OK", "1.1", b"hello")
    assert got.content_type == "text/plain"
    assert got.peer == f"127.0.0.1:{peer.port}"
    t = got.timings
    assert t.reused is False
    assert t.dns is not None
    assert t.tcp is not None
    assert t.tls is None
    assert t.proxy is None
    assert t.ttfb is not None
    assert 0 < t.ttfb <= t.total
    assert abs(t.started_at - time.time()) < 10
    assert again.timings.reused is True
    assert again.timings.tcp is None
    assert again.connection_id == got.connection_id
    assert again.request_id != got.request_id
    assert [f"{r.method} {r.target}" for r in peer.requests] == ["GET /a?x=1", "GET /b"]
    assert peer.requests[0].header("host") == f"127.0.0.1:{peer.port}"
    assert peer.requests[0].header("user-agent") == "conndebug"


async def test_requests_share_one_kept_alive_connection_and_bodies_are_sent() -> None:
    answer: Answer = lambda r, i: ok(f"answer {i}".encode())  # noqa: E731
    async with scripted(answer) as peer, HttpClient(timeout=2) as http:
        first = await http.request("GET", peer.url + "/")
        second = await http.request("POST", peer.url + "/b", body=b"hi")
        empty = await http.request("POST", peer.url + "/c")
    assert (first.body, second.body, empty.body) == (b"answer 0", b"answer 1", b"answer 2")
    assert peer.connections == 1
    assert http.connections_opened == 1
    assert peer.requests[1].body == b"hi"
    assert peer.requests[2].header("content-length") == "0"


async def test_concurrent_requests_go_on_separate_connections_then_are_kept() -> None:
    async with scripted(lambda r, i: ok(b"x")) as peer, HttpClient(timeout=5) as http:
        results = await asyncio.gather(*(http.request("GET", peer.url + f"/{n}") for n in range(3)))
        ids = {r.connection_id for r in results}
        later = await asyncio.gather(*(http.request("GET", peer.url + "/") for _ in range(3)))
    assert len(ids) == 3
    assert {r.connection_id for r in later} <= ids  # kept alive and reused
    assert peer.connections == 3


async def test_a_held_request_does_not_block_another_one() -> None:
    gate = asyncio.Event()

    async def handler(request: object) -> HostileResponse:
        target = getattr(request, "target", "")
        if target == "/poll":
            await gate.wait()
            return HostileResponse(200, "OK", body=b"polled")
        return HostileResponse(200, "OK", body=b"posted")

    async with http_server(handler) as server, HttpClient(timeout=5) as http:
        poll = asyncio.create_task(http.request("GET", server.url + "/poll"))
        await asyncio.sleep(0.05)
        post = await http.request("POST", server.url + "/post", body=b"2")
        assert not poll.done()
        gate.set()
        polled = await poll
    assert (post.body, polled.body) == (b"posted", b"polled")
    assert post.connection_id != polled.connection_id


async def test_connection_close_is_honoured_and_a_new_one_opened() -> None:
    closing = ok(b"bye", "Connection: close")
    async with scripted(lambda r, i: closing) as peer, HttpClient(timeout=2) as http:
        for _ in range(3):
            assert (await http.request("GET", peer.url + "/")).body == b"bye"
    assert peer.connections == 3


async def test_a_kept_alive_connection_the_server_closed_is_retried_on_a_new_one() -> None:
    answer: Answer = lambda r, i: ok(b"once") if i % 2 == 0 else None  # noqa: E731
    async with scripted(answer) as peer, HttpClient(timeout=2) as http:
        await http.request("GET", peer.url + "/1")
        again = await http.request("GET", peer.url + "/2")
    assert again.body == b"once"
    assert peer.connections == 2


async def test_chunked_bodies_interim_answers_and_repeated_headers() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"
    interim = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 404 Not Found\r\nVia: a\r\nVIA: b\r\nContent-Length: 2\r\n\r\nno"
    )
    answers = [chunked, interim]
    async with scripted(lambda r, i: answers[i]) as peer, HttpClient(timeout=2) as http:
        first = await http.request("GET", peer.url + "/")
        second = await http.request("GET", peer.url + "/")
    assert (first.body, first.truncated) == (b"hello", False)
    assert (second.status, second.status_line, second.body) == (404, "HTTP 404 Not Found", b"no")
    assert second.header("via") == "a, b"
    assert second.header_list("via") == ["a", "b"]
    assert peer.connections == 1


async def test_a_redirect_is_returned_not_followed() -> None:
    redirect = ok(b"", "Location: http://127.0.0.1:1/elsewhere", status="302 Found")
    async with scripted(lambda r, i: redirect) as peer, HttpClient(timeout=2) as http:
        got = await http.request("POST", peer.url + "/here", body=b"token")
    assert got.status == 302
    assert got.header("location") == "http://127.0.0.1:1/elsewhere"
    assert len(peer.requests) == 1


async def test_cookies_are_kept_sent_back_and_reported() -> None:
    answers = [
        ok(b"", "Set-Cookie: AWSALB=node-2; Path=/", "Set-Cookie: other=1; Domain=example.com"),
        ok(b""),
        ok(b"", "Set-Cookie: AWSALB=gone; Max-Age=0"),
        ok(b""),
    ]
    async with scripted(lambda r, i: answers[i]) as peer, HttpClient(timeout=2) as http:
        first = await http.request("GET", peer.url + "/socket.io/")
        kept = [(c.name, c.value, c.domain) for c in http.cookies.cookies()]
        await http.request("POST", peer.url + "/socket.io/", body=b"x")
        await http.request("GET", peer.url + "/")
        await http.request("GET", peer.url + "/", headers={"Cookie": "mine=1"})
    assert first.set_cookies == ("AWSALB=node-2; Path=/", "other=1; Domain=example.com")
    assert kept == [("AWSALB", "node-2", "127.0.0.1")]  # another site's cookie is refused
    assert [r.header("cookie") for r in peer.requests] == [
        None,
        "AWSALB=node-2",
        "AWSALB=node-2",
        "mine=1",
    ]
    assert http.cookies.cookies() == []


async def test_a_body_without_end_is_cut_at_the_limit_in_bytes() -> None:
    async with flood_server() as server, HttpClient(timeout=5) as http:
        got = await http.request("GET", server.url + "/", limit=100_000)
    assert got.truncated is True
    assert len(got.body) == 100_000 == got.body_size


async def test_a_gzip_bomb_is_decoded_only_up_to_the_limit() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 kB on the wire, 50 MB decoded
    deflated = zlib.compress(b"abc" * 10)
    answers = [
        ok(bomb, "Content-Encoding: gzip"),
        ok(deflated, "Content-Encoding: deflate"),
        ok(b"not gzip at all", "Content-Encoding: gzip"),
    ]
    async with scripted(lambda r, i: answers[i]) as peer, HttpClient(timeout=5) as http:
        got = await http.request("GET", peer.url + "/", limit=1_000_000)
        small = await http.request("GET", peer.url + "/")
        with pytest.raises(NotHttp) as bad:
            await http.request("GET", peer.url + "/")
    assert (got.truncated, len(got.body), got.content_encoding) == (True, 1_000_000, "gzip")
    assert got.body_size == len(bomb)
    assert (small.body, small.truncated, small.content_encoding) == (b"abc" * 10, False, "deflate")
    assert "does not decode" in bad.value.message


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n", "the answer is not HTTP (illegal status line)"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc", "the answer is not HTTP (illegal status line)"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n", "the answer is not HTTP"),
        (b"HTTP/1.1 99999 Huh\r\n\r\n", "the answer is not HTTP"),
    ],
    ids=["ssh", "tls", "bad-length", "bad-status"],
)
async def test_garbage_is_not_http_and_no_h11_error_leaks(raw: bytes, words: str) -> None:
    async with scripted(lambda r, i: raw) as peer, HttpClient(timeout=2) as http:
        with pytest.raises(NotHttp) as failure:
            await http.request("GET", peer.url + "/")
    error = failure.value
    assert error.message.startswith(words)
    assert (error.kind, error.phase) == (FailureKind.PROTOCOL, "http")
    assert "bytearray" not in error.message
    assert error.__cause__ is None or not type(error.__cause__).__module__.startswith("h11")


async def test_a_huge_head_is_refused_at_the_head_limit() -> None:
    raw = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * 200_000 + b"\r\n\r\n"
    async with scripted(lambda r, i: raw) as peer, HttpClient(timeout=5) as http:
        with pytest.raises(NotHttp) as failure:
            await http.request("GET", peer.url + "/")
    assert "larger than 64 KiB" in failure.value.message


async def test_a_silent_server_times_out_in_the_http_phase() -> None:
    async with silent_server() as server, HttpClient(timeout=5) as http:
        started = time.monotonic()
        with pytest.raises(WireError) as failure:
            await http.request("GET", server.url + "/", timeout=0.5)
        took = time.monotonic() - started
    assert (failure.value.kind, failure.value.phase) == (FailureKind.TIMEOUT, "http")
    assert failure.value.message == "no answer within 0.5 s"
    assert took < 3


async def test_a_dripping_answer_is_bounded_in_time() -> None:
    async with drip_server(0.02) as server, HttpClient(timeout=5) as http:
        started = time.monotonic()
        with pytest.raises(WireError) as failure:
            await http.request("GET", server.url + "/", timeout=0.6)
        took = time.monotonic() - started
    assert failure.value.kind is FailureKind.TIMEOUT
    assert failure.value.message.startswith("no complete answer within 0.6 s")
    assert failure.value.reason == "incomplete"
    assert took < 3


async def test_the_end_of_the_connection_mid_answer_is_closed_not_a_crash() -> None:
    cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"
    answers = [cut, None]
    peer_ctx = scripted(lambda r, i: answers[min(i, 1)], close_after=True)
    async with peer_ctx as peer, HttpClient(timeout=2) as http:
        with pytest.raises(WireError) as mid_body:
            await http.request("GET", peer.url + "/")
        with pytest.raises(WireError) as nothing:
            await http.request("GET", peer.url + "/")
    assert mid_body.value.kind is FailureKind.CLOSED
    assert "in the middle of the body" in mid_body.value.message
    assert nothing.value.kind is FailureKind.CLOSED
    assert nothing.value.message == "the server closed the connection without answering"


async def test_nothing_listening_is_refused_and_a_bad_name_is_dns() -> None:
    async with HttpClient(timeout=2) as http:
        with pytest.raises(WireError) as refused:
            await http.request("GET", "http://127.0.0.1:1/")
        with pytest.raises(WireError) as dns:
            await http.request("GET", "http://no-such-host.invalid/")
    assert (refused.value.kind, refused.value.phase, refused.value.reason) == (
        FailureKind.REFUSED,
        "tcp",
        "refused",
    )
    assert refused.value.evidence["failed"] == ["127.0.0.1:1: connection refused"]
    assert (dns.value.kind, dns.value.phase) == (FailureKind.DNS, "dns")
    assert "no-such-host.invalid" in dns.value.message


async def test_a_header_that_cannot_be_sent_is_a_plain_error() -> None:
    async with scripted(lambda r, i: ok(b"")) as peer, HttpClient(timeout=2) as http:
        with pytest.raises(WireError) as failure:
            await http.request("GET", peer.url + "/", headers={"X-Bad": "a\r\nInjected: 1"})
    assert failure.value.reason == "bad_request"
    assert peer.requests == []


async def test_an_adopted_stream_carries_the_next_request() -> None:
    from conndebug.wire import connect_tcp, resolve

    async with scripted(lambda r, i: ok(b"adopted")) as peer, HttpClient(timeout=2) as http:
        connected = await connect_tcp(await resolve("127.0.0.1", peer.port, 2), 2)
        http.adopt(peer.url, connected.stream)
        got = await http.request("GET", peer.url + "/")
    assert got.body == b"adopted"
    assert got.connection_id == connected.stream.connection_id
    assert http.connections_opened == 0
    assert peer.connections == 1


async def test_connections_send_small_writes_at_once() -> None:
    """Nagle's algorithm is off on every connection the wire opens (TCP_NODELAY): a second small
    write must not wait for the peer's delayed ACK (40 ms on Linux)."""
    import socket

    from conndebug.wire import connect_tcp, resolve

    async with scripted(lambda r, i: ok(b"")) as peer:
        host, port = peer.url.removeprefix("http://").split(":")
        connected = await connect_tcp(await resolve(host, int(port), 2), 2)
        try:
            sock = connected.stream.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            connected.stream.abort()


async def test_a_held_request_cut_later_is_reported_not_sent_again() -> None:
    # A long-poll held by a proxy and cut after its request timeout: retrying on a new connection
    # would hide the cut (the monitor would never see why polling fails). Only a reused connection
    # that ends at once (closed while idle, a race every keep-alive client meets) is retried.
    requests: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            requests.append(head)
            if len(requests) == 1:
                writer.write(ok(b"first"))
                await writer.drain()
                continue
            await asyncio.sleep(0.8)  # held, then cut without a word
            writer.close()
            return

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with HttpClient(timeout=5) as http:
            first = await http.request("GET", f"http://127.0.0.1:{port}/a")
            assert first.body == b"first"
            with pytest.raises(WireError) as caught:
                await http.request("GET", f"http://127.0.0.1:{port}/held")
        assert caught.value.kind is FailureKind.CLOSED
        assert len(requests) == 2, "the cut request was sent again"
    finally:
        server.close()
        await server.wait_closed()


async def test_a_kept_connection_closed_while_idle_is_retried_once() -> None:
    requests: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        requests.append(head)
        writer.write(ok(b"answer %d" % len(requests)))
        await writer.drain()
        writer.close()  # keep-alive announced, then closed while idle

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with HttpClient(timeout=5) as http:
            await http.request("GET", f"http://127.0.0.1:{port}/a")
            again = await http.request("GET", f"http://127.0.0.1:{port}/b")
        assert again.body == b"answer 2"
    finally:
        server.close()
        await server.wait_closed()
