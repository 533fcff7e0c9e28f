"""Helpers of the monitoring tests: the exporter in-process, metrics parsed, silent servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from conndebug.commands.exporter import EXPORTER_KEY, Exporter, make_exporter_app
from conndebug.commands.exporter_config import ExporterConfig

__all__ = ["Metrics", "exporter_client", "parse_metrics", "silent_server"]


@dataclass
class Metrics:
    """Samples of one exposition: ``values[name]`` is a list of ``(labels, value)``."""

    values: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)

    def one(self, name: str, **labels: str) -> float:
        """The value of the one sample called ``name`` with these labels (AssertionError if not)."""
        found = [
            v
            for lab, v in self.values.get(name, [])
            if all(lab.get(k) == w for k, w in labels.items())
        ]
        assert len(found) == 1, f"{name}{labels}: {found} in {sorted(self.values)}"
        return found[0]

    def labels(self, name: str, label: str) -> list[str]:
        """The values of ``label`` over the samples called ``name``."""
        return [lab[label] for lab, _v in self.values.get(name, [])]


def parse_metrics(text: str) -> Metrics:
    """Parse the Prometheus text format (prometheus_client's own parser)."""
    metrics = Metrics()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            metrics.values.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return metrics


@contextlib.asynccontextmanager
async def exporter_client(
    config: ExporterConfig | None = None,
) -> AsyncIterator[tuple[TestClient[Any, Any], Exporter]]:
    """The exporter's app on a free loopback port, with a client for it."""
    app = make_exporter_app(config or ExporterConfig())
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, app[EXPORTER_KEY]


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A TCP server that accepts and never answers (a black hole); yields its URL."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
