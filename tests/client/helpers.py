"""Helpers of the client's integration tests: a wire client, a connection that records."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from conndebug.client.client import Disconnect, Event, PacketProblem
from conndebug.client.connecting import Connected, connect
from conndebug.client.engine import Target
from conndebug.client.tap import PacketRecord
from conndebug.wire import HttpClient
from tests.core.helpers import wait_until

__all__ = ["Recorder", "recorded", "wait_until"]


@dataclass
class Recorder:
    """Everything one connection reported, in order."""

    events: list[Event] = field(default_factory=list)
    disconnects: list[Disconnect] = field(default_factory=list)
    problems: list[PacketProblem] = field(default_factory=list)
    packets: list[PacketRecord] = field(default_factory=list)
    conn: Connected | None = None

    def names(self) -> list[str]:
        return [e.name for e in self.events]

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.name == name]

    async def event(self, name: str, timeout: float = 5.0) -> Event:
        await wait_until(lambda: bool(self.named(name)), timeout, f"event {name}")
        return self.named(name)[-1]

    async def disconnected(self, timeout: float = 5.0) -> Disconnect:
        await wait_until(lambda: bool(self.disconnects), timeout, "a disconnect")
        return self.disconnects[-1]

    @property
    def c(self) -> Connected:
        assert self.conn is not None
        return self.conn


@contextlib.asynccontextmanager
async def recorded(
    url: str, *, tap: bool = False, eio: int = 4, path: str = "/socket.io", **options: Any
) -> AsyncIterator[Recorder]:
    """Connect to ``url`` (raises ClientError) and record everything until the block ends."""
    rec = Recorder()
    async with HttpClient() as http:
        conn = await connect(
            http,
            Target(url, path=path, eio=eio),
            on_event=rec.events.append,
            on_disconnect=rec.disconnects.append,
            on_problem=rec.problems.append,
            tap=rec.packets.append if tap else None,
            **options,
        )
        rec.conn = conn
        try:
            yield rec
        finally:
            await conn.client.close()


def elapsed_since(start: float) -> float:
    return time.monotonic() - start


Callback = Callable[..., None]
