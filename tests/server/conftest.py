"""Fixtures of the reference-server tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from conndebug.server import ReferenceServer
from tests.server.helpers import SECRET
from tests.servers import reference_server


@pytest.fixture
async def server() -> AsyncIterator[ReferenceServer]:
    """A running reference server on a free loopback port with a known JWT secret."""
    async with reference_server(secret=SECRET) as running:
        yield running
