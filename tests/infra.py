"""Real infrastructure on loopback for integration tests: nginx, HAProxy, redis-server, tinyproxy.

Each runs in the foreground as a child process with its configuration in a temporary folder and
is ended by its own process id when the ``async with`` block ends. A missing binary skips the test
on a developer machine and fails it in CI (see :func:`tests.conftest.require`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import tempfile
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require

__all__ = ["Service", "free_port", "haproxy", "nginx", "redis_server", "tinyproxy", "wait_port"]


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_port(port: int, *, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    """Wait until something accepts TCP connections on ``port``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
        except (OSError, asyncio.TimeoutError):
            if loop.time() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s") from None
            await asyncio.sleep(0.02)
        else:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return


@dataclass
class Service:
    """A running child service."""

    name: str
    process: asyncio.subprocess.Process
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """The service's log files, for assertion messages."""
        parts = []
        for path in sorted(self.folder.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)


def _binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    require(path is not None, name, f"install Debian's {name} package (apt-get install {name})")
    assert path is not None
    return path


@contextlib.asynccontextmanager
async def _run(
    name: str, argv: list[str], port: int, folder: Path, *, stop_signal: int = signal.SIGTERM
) -> AsyncIterator[Service]:
    log = (folder / f"{name}.stdout.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=log, stderr=asyncio.subprocess.STDOUT, cwd=folder
    )
    service = Service(name=name, process=proc, port=port, folder=folder)
    try:
        try:
            await wait_port(port, timeout=15)
        except TimeoutError:
            raise RuntimeError(f"{name} did not start:\n{service.log()}") from None
        yield service
    finally:
        if proc.returncode is None:
            proc.send_signal(stop_signal)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except asyncio.TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


@contextlib.asynccontextmanager
async def nginx(
    server_block: str, *, port: int | None = None, http_extra: str = ""
) -> AsyncIterator[Service]:
    """Run nginx in the foreground with one ``server { ... }`` body listening on ``port``.

    ``server_block`` is the inside of the server block (``location`` etc.); ``{port}`` in it is
    replaced. ``http_extra`` goes into the ``http`` block (``upstream`` definitions).
    """
    binary = _binary("nginx")
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="conndebug-nginx-") as tmp:
        folder = Path(tmp)
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (folder / sub).mkdir()
        user = "user root;" if os.geteuid() == 0 else ""
        conf = textwrap.dedent(
            f"""
            {user}
            worker_processes 1;
            daemon off;
            pid {folder}/nginx.pid;
            error_log {folder}/error.log info;
            events {{ worker_connections 1024; }}
            http {{
                access_log {folder}/access.log;
                client_body_temp_path {folder}/client_body;
                proxy_temp_path {folder}/proxy;
                fastcgi_temp_path {folder}/fastcgi;
                uwsgi_temp_path {folder}/uwsgi;
                scgi_temp_path {folder}/scgi;
                {http_extra}
                server {{
                    listen 127.0.0.1:{port};
                    {server_block.replace("{port}", str(port))}
                }}
            }}
            """
        )
        (folder / "nginx.conf").write_text(conf)
        argv = [binary, "-p", str(folder), "-c", str(folder / "nginx.conf")]
        async with _run("nginx", argv, port, folder, stop_signal=signal.SIGQUIT) as service:
            yield service


@contextlib.asynccontextmanager
async def redis_server() -> AsyncIterator[Service]:
    """Run a throw-away redis-server on a free loopback port (no persistence)."""
    binary = _binary("redis-server")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="conndebug-redis-") as tmp:
        folder = Path(tmp)
        argv = [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ]
        async with _run("redis", argv, port, folder) as service:
            yield service


@contextlib.asynccontextmanager
async def tinyproxy(extra: str = "") -> AsyncIterator[Service]:
    """Run tinyproxy in the foreground on a free loopback port; ``extra`` adds config lines."""
    binary = _binary("tinyproxy")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="conndebug-tinyproxy-") as tmp:
        folder = Path(tmp)
        user = "User root\nGroup root\n" if os.geteuid() == 0 else ""
        conf = (
            f'{user}Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile "{folder}/tinyproxy.log"\n'
            f"LogLevel Info\nMaxClients 50\nAllow 127.0.0.1\nDisableViaHeader Yes\n{extra}\n"
        )
        (folder / "tinyproxy.conf").write_text(conf)
        argv = [binary, "-d", "-c", str(folder / "tinyproxy.conf")]
        async with _run("tinyproxy", argv, port, folder) as service:
            yield service


@contextlib.asynccontextmanager
async def haproxy(body: str, *, port: int | None = None) -> AsyncIterator[Service]:
    """Run HAProxy in the foreground (``-db``) with ``body`` after a ``global`` section.

    ``body`` holds the ``defaults`` / ``frontend`` / ``backend`` sections; ``{port}`` in it is
    replaced by the listening port (bind ``127.0.0.1:{port}``).
    """
    binary = _binary("haproxy")
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="conndebug-haproxy-") as tmp:
        folder = Path(tmp)
        conf = "global\n    maxconn 256\n\n" + textwrap.dedent(body).replace("{port}", str(port))
        (folder / "haproxy.cfg").write_text(conf)
        argv = [binary, "-db", "-f", str(folder / "haproxy.cfg")]
        # SIGTERM is HAProxy's hard stop: every connection ends at once (a soft stop would wait
        # for the long websocket tunnels of a scenario)
        async with _run("haproxy", argv, port, folder) as service:
            yield service
