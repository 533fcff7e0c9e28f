"""The probe's own HTTP/1.1 client: framing, keep-alive, cookies, limits, failures.

Every peer is a small scripted server on loopback that answers each request with the bytes a test
gives it, on a connection it keeps open unless told to close it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from conndebug.core.probe.http import HttpClient, HttpFailure, fetch
from tests.hostile import Request, read_request
from tests.probe.conftest import probe_settings

pytestmark = pytest.mark.timeout(30)

Answer = Callable[[Request, int], bytes | None]
"""The raw bytes to send for a request (the request and its number from 0), or None to close the
connection without a word."""


@dataclass
class Scripted:
    url: str
    requests: list[Request] = field(default_factory=list)
    connections: int = 0


@contextlib.asynccontextmanager
async def scripted(answer: Answer, *, close_after: bool = False) -> AsyncIterator[Scripted]:
    """A server answering with ``answer``; ``close_after``: close each connection after one."""
    state = Scripted("")
    tasks: set[asyncio.Task[None]] = set()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)  # type: ignore[arg-type]
        state.connections += 1
        try:
            while (request := await read_request(reader)) is not None:
                number = len(state.requests)
                state.requests.append(request)
                data = answer(request, number)
                if data is None:
                    break
                writer.write(data)
                await writer.drain()
                if close_after or b"connection: close" in data.lower():
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            tasks.discard(task)  # type: ignore[arg-type]
            writer.close()
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1)

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield state
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 2)


def ok(body: bytes, *headers: str) -> bytes:
    head = ["HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@contextlib.asynccontextmanager
async def client_for(url: str, *flags: str, timeout: float = 2.0) -> AsyncIterator[HttpClient]:
    client = HttpClient(probe_settings(url, *flags), timeout)
    try:
        yield client
    finally:
        await client.aclose()


async def test_requests_share_one_kept_alive_connection() -> None:
    answer: Answer = lambda r, i: ok(f"answer {i}".encode())  # noqa: E731
    async with scripted(answer) as server, client_for(server.url) as client:
        first = await fetch(client, "GET", server.url + "/a?x=1", timeout=2)
        second = await fetch(client, "POST", server.url + "/b", timeout=2, content=b"hi")
    assert (first.status, first.body, second.body) == (200, b"answer 0", b"answer 1")
    assert server.connections == 1
    assert client.connections == 1
    assert [f"{r.method} {r.target}" for r in server.requests] == ["GET /a?x=1", "POST /b"]
    assert server.requests[1].body == b"hi"
    assert server.requests[0].header("host") == server.url.removeprefix("http://")
    assert server.requests[0].header("user-agent") == "conndebug-probe"


async def test_connection_close_is_honoured_and_a_new_one_opened() -> None:
    closing = ok(b"bye", "Connection: close")
    async with scripted(lambda r, i: closing) as server, client_for(server.url) as client:
        for _ in range(3):
            assert (await fetch(client, "GET", server.url + "/", timeout=2)).body == b"bye"
    assert server.connections == 3


async def test_a_kept_alive_connection_the_server_closed_is_retried_on_a_new_one() -> None:
    # The server closes each connection after one answer without saying so.
    answer: Answer = lambda r, i: ok(b"once") if i % 2 == 0 else None  # noqa: E731
    async with scripted(answer) as server, client_for(server.url) as client:
        await fetch(client, "GET", server.url + "/1", timeout=2)
        again = await fetch(client, "GET", server.url + "/2", timeout=2)
    assert again.body == b"once"
    assert server.connections == 2


async def test_chunked_body_with_extensions_and_trailers_is_decoded() -> None:
    body = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    async with scripted(lambda r, i: raw) as server, client_for(server.url) as client:
        first = await fetch(client, "GET", server.url + "/", timeout=2)
        second = await fetch(client, "GET", server.url + "/", timeout=2)
    assert (first.body, first.truncated, second.body) == (b"hello world", False, b"hello world")
    assert server.connections == 1


async def test_interim_answers_are_skipped_and_headers_merged() -> None:
    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 404 Not Found\r\nVia: a\r\nVIA: b\r\nContent-Length: 2\r\n\r\nno"
    )
    async with scripted(lambda r, i: raw) as server, client_for(server.url) as client:
        got = await fetch(client, "GET", server.url + "/", timeout=2)
    assert (got.status, got.status_line, got.body) == (404, "HTTP 404 Not Found", b"no")
    assert got.headers["via"] == "a, b"


async def test_cookies_set_by_the_server_go_back_to_it() -> None:
    def answer(request: Request, i: int) -> bytes:
        if i == 0:
            return ok(b"", "Set-Cookie: lb=node-2; Path=/; HttpOnly", "Set-Cookie: b=2")
        return ok(b"")

    async with scripted(answer) as server, client_for(server.url) as client:
        await fetch(client, "GET", server.url + "/", timeout=2)
        await fetch(client, "GET", server.url + "/", timeout=2)
    assert server.requests[0].header("cookie") is None
    assert server.requests[1].header("cookie") == "lb=node-2; b=2"


async def test_a_cookie_header_given_by_the_user_wins_over_the_jar() -> None:
    answer = ok(b"", "Set-Cookie: lb=node-2")
    async with (
        scripted(lambda r, i: answer) as server,
        client_for(server.url, "--header", "Cookie: mine=1") as client,
    ):
        await fetch(client, "GET", server.url + "/", timeout=2)
        await fetch(client, "GET", server.url + "/", timeout=2)
    assert [r.header("cookie") for r in server.requests] == ["mine=1", "mine=1"]


async def test_a_body_without_end_is_cut_at_the_limit() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1_000_000
    async with scripted(lambda r, i: raw) as server, client_for(server.url) as client:
        got = await fetch(client, "GET", server.url + "/", timeout=2, limit=1000)
        again = await fetch(client, "GET", server.url + "/", timeout=2, limit=10)
    assert (len(got.body), got.truncated) == (1000, True)
    assert (len(again.body), again.truncated) == (10, True)
    assert server.connections == 2  # a cut answer's connection is never reused


async def test_a_gzip_body_is_decoded_within_the_limit() -> None:
    small = gzip.compress(b"0{}")
    bomb = gzip.compress(b"x" * 5_000_000)

    def answer(request: Request, i: int) -> bytes:
        return ok(small if i == 0 else bomb, "Content-Encoding: gzip")

    async with scripted(answer) as server, client_for(server.url) as client:
        got = await fetch(client, "GET", server.url + "/", timeout=2)
        big = await fetch(client, "GET", server.url + "/", timeout=2, limit=4096)
    assert (got.body, got.truncated) == (b"0{}", False)
    assert (len(big.body), big.truncated) == (4096, True)


@pytest.mark.parametrize(
    ("raw", "kind", "words"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n", "protocol", "the answer is not HTTP (illegal status line)"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "protocol", "illegal status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "protocol", "illegal header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", "protocol", "bad Content-Length"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            "protocol",
            "a bad chunk size",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            "closed",
            "after 3 of 10 bytes",
        ),
        (b"HTTP/1.1 200 OK\r\nX-Cut: ", "closed", "in the middle of the answer"),
    ],
    ids=["not-http", "bad-status", "bad-header", "bad-length", "bad-chunk", "short-body", "cut"],
)
async def test_broken_answers_are_failures_of_a_clear_kind(
    raw: bytes, kind: str, words: str
) -> None:
    async with (
        scripted(lambda r, i: raw, close_after=True) as server,
        client_for(server.url) as client,
    ):
        with pytest.raises(HttpFailure) as caught:
            await fetch(client, "GET", server.url + "/", timeout=2)
    assert caught.value.kind == kind, caught.value.error
    assert words in caught.value.error


async def test_an_answer_head_without_end_is_refused_at_the_head_limit() -> None:
    raw = b"HTTP/1.1 200 OK\r\nX-Long: " + b"y" * 200_000
    async with scripted(lambda r, i: raw) as server, client_for(server.url) as client:
        with pytest.raises(HttpFailure) as caught:
            await fetch(client, "GET", server.url + "/", timeout=2)
    assert caught.value.kind == "protocol"
    assert "head larger than" in caught.value.error


async def test_an_answer_that_never_completes_is_bounded_in_time() -> None:
    partial = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"
    async with scripted(lambda r, i: partial) as server, client_for(server.url) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(HttpFailure) as caught:
            await fetch(client, "GET", server.url + "/", timeout=0.3)
        took = loop.time() - started
    assert caught.value.kind == "timeout"
    assert "no complete answer within 0.3 s" in caught.value.error
    assert took < 2.0


async def test_nothing_listening_is_refused() -> None:
    async with scripted(lambda r, i: None) as server:
        url = server.url
    async with client_for(url) as client:
        with pytest.raises(HttpFailure) as caught:
            await fetch(client, "GET", url + "/", timeout=2)
    assert (caught.value.kind, caught.value.cause) == ("refused", "refused")


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
async def test_the_tcp_rungs_connection_carries_the_first_request(tls: bool) -> None:
    from conndebug.core.probe import run_probe
    from tests.hostile import plain_http_server, tls_server

    server_cm = tls_server("good") if tls else plain_http_server()
    async with server_cm as server:
        flags = ("--ca-bundle", server.ca_file) if tls and server.ca_file else ()
        result = await run_probe(probe_settings(server.url, *flags))
    assert result.verdict.code == "not_socketio"
    # One connection: the TCP (and TLS) rung's, which the handshake request then used.
    assert len(server.requests) == 1
    assert server.connections == 1
