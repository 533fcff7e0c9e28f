"""The reference server holds its resources: descriptors (the relay closes what it half-closed)
and memory (``storm`` has caps and stops producing when its client does not read).

Each runs the server in a subprocess of its own (``python -m tests.server.resource_peer``), so
that its descriptor limit (``RLIMIT_NOFILE``), descriptor count and RSS are its own and nothing
of the test's process is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(300)


@dataclass
class Peer:
    proc: asyncio.subprocess.Process
    port: int
    pid: int
    admin_key: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def resource_peer(
    *, nofile: int | None = None, memory_mb: int | None = None
) -> AsyncIterator[Peer]:
    """The reference server in a subprocess (``RLIMIT_NOFILE`` = ``nofile``; ``RLIMIT_AS`` =
    ``memory_mb``, a safety net: a server that would grow without bound fails there instead of
    eating the shared machine's memory)."""
    args = [] if nofile is None else ["--nofile", str(nofile)]
    args += [] if memory_mb is None else ["--memory-mb", str(memory_mb)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.server.resource_peer",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line, "the server did not start"
        info = json.loads(line)
        yield Peer(proc, info["port"], proc.pid, info["admin_key"])
    finally:
        if proc.returncode is None:
            proc.kill()
        await asyncio.wait_for(proc.wait(), 10)


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _health_then_fin(port: int, *, half_close: bool) -> bytes:
    """``GET /health`` on a keep-alive connection; once the answer is read, the client ends the
    connection with a FIN: half-closed (then read to the end, as ``curl`` and HTTP/1.0 clients
    do) or closed outright. Returns the answer's head."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length and (chunk := sock.recv(65536)):
            body += chunk
        if half_close:
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
    return head


async def settle(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.1)
    return bool(predicate())  # type: ignore[operator]


async def test_a_thousand_half_closed_connections_under_ulimit_256() -> None:
    async with resource_peer(nofile=256) as peer:
        start = fd_count(peer.pid)
        answered = 0
        for i in range(1000):
            reply = await asyncio.to_thread(_health_then_fin, peer.port, half_close=i % 2 == 0)
            if reply.startswith(b"HTTP/1.1 200"):
                answered += 1
        assert answered == 1000
        back = await settle(lambda: fd_count(peer.pid) <= start, 20)
        assert back, f"descriptors: {start} at the start, {fd_count(peer.pid)} now"


# -- storm: caps and backpressure ----------------------------------------------------------------
def _guest_token(port: int) -> str:
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/guest",
        data=b"{}",
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        return str(json.loads(response.read())["data"]["token"])


def _frame(text: str) -> bytes:
    """A masked websocket text frame (as a client sends)."""
    payload = text.encode()
    mask = os.urandom(4)
    head = bytes([0x81])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class _Frames:
    """Reads the server's (unmasked) websocket frames from a plain socket."""

    def __init__(self, sock: socket.socket, rest: bytes) -> None:
        self.sock = sock
        self.buf = rest

    def _need(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def text(self) -> str:
        head = self._need(2)
        n = head[1] & 0x7F
        if n == 126:
            n = int.from_bytes(self._need(2), "big")
        elif n == 127:
            n = int.from_bytes(self._need(8), "big")
        return self._need(n).decode()


def _stormer_over_websocket(port: int, token: str) -> socket.socket:
    """A Socket.IO client over a raw websocket that asks for the storm and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    frames = _Frames(sock, rest)
    assert frames.text().startswith("0{")
    sock.sendall(_frame("40" + json.dumps({"token": token})))
    while not frames.text().startswith("40"):
        pass
    sock.sendall(_frame('42["storm",{"count":1000000,"size":1000000}]'))
    return sock


def _stormer_over_polling(port: int, token: str) -> socket.socket:
    """The same over long-polling: it asks for the storm and then never polls again."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    base = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
    with opener.open(base, timeout=10) as response:
        sid = json.loads(response.read().decode()[1:])["sid"]
    url = f"{base}&sid={sid}"

    def post(body: str) -> None:
        request = urllib.request.Request(url, data=body.encode(), method="POST")
        with opener.open(request, timeout=10) as response:
            response.read()

    post("40" + json.dumps({"token": token}))
    with opener.open(url, timeout=10) as response:
        assert response.read().decode().startswith("40")
    post('42["storm",{"count":1000000,"size":1000000}]')
    holder = socket.socket()  # nothing to hold: the client simply never polls again
    return holder


def _health_ms(port: int) -> float:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:100]
    return (time.monotonic() - started) * 1000


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_storm_nobody_reads_keeps_the_server_small_and_answering(transport: str) -> None:
    limit_mb = 300
    async with resource_peer(memory_mb=1500) as peer:
        baseline = rss_mb(peer.pid)
        token = await asyncio.to_thread(_guest_token, peer.port)
        start = _stormer_over_websocket if transport == "websocket" else _stormer_over_polling
        client = await asyncio.to_thread(start, peer.port, token)
        peak = baseline
        health: list[float] = []
        try:
            deadline = time.monotonic() + 12
            while time.monotonic() < deadline:
                peak = max(peak, rss_mb(peer.pid))
                assert peak < limit_mb, f"RSS {peak:.0f} MB (baseline {baseline:.0f} MB)"
                health.append(await asyncio.to_thread(_health_ms, peer.port))
                await asyncio.sleep(0.3)
        finally:
            client.close()
        assert max(health) < 1000, f"/health took {max(health):.0f} ms"
        # Memory given back once the client is gone (over polling, when its session times out).
        back = await settle(lambda: rss_mb(peer.pid) < baseline + 40, 30)
        assert back, f"RSS {rss_mb(peer.pid):.0f} MB after, {baseline:.0f} MB before"
    print(
        f"{transport}: baseline {baseline:.0f} MB, peak {peak:.0f} MB, /health max "
        f"{max(health):.0f} ms (n={len(health)})"
    )
