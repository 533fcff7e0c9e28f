"""A client loads python-socketio without the Redis client; a server gets its Redis manager back.

Each check runs in a fresh interpreter: which modules a process imports is the point.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("redis") is None, reason="only matters where redis is installed"
)


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_client_path_does_not_import_redis() -> None:
    out = run(
        "import sys, conndebug.core.monitor, conndebug.commands.watch, conndebug.core.probe\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('redis', 'valkey')))"
    )
    assert out == "[]"


def test_a_server_after_a_client_still_builds_its_redis_manager() -> None:
    out = run(
        "import conndebug.core.transport, socketio\n"
        "from conndebug.core.lean_socketio import restore_brokers\n"
        "assert socketio.async_redis_manager.aioredis is None\n"
        "restore_brokers()\n"
        "manager = socketio.AsyncRedisManager('redis://127.0.0.1:1', write_only=True)\n"
        "print(type(manager).__name__, socketio.redis_manager.redis is not None)"
    )
    assert out == "AsyncRedisManager True"


def test_a_server_imported_first_keeps_redis() -> None:
    out = run(
        "import socketio, conndebug.core.transport\n"
        "print(socketio.async_redis_manager.aioredis is not None)"
    )
    assert out == "True"
