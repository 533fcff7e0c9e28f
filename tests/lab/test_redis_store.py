"""`conndebug serve --redis`: the session store and its failures, against a real redis-server."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
import socketio

from conndebug.core.errors import ConfigError, ServerError
from conndebug.server import ReferenceServer, ServerConfig
from conndebug.server.redis_store import RedisSessionStore, display_url
from tests.conftest import ROOT, run_cli
from tests.infra import free_port, redis_server
from tests.servers import reference_server

pytestmark = pytest.mark.system


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    async with redis_server() as service:
        yield f"redis://127.0.0.1:{service.port}/0"


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_records_live_under_the_backends_key_with_their_ttl(
    redis_url: str, raw: aioredis.Redis
) -> None:
    store = RedisSessionStore(redis_url)
    try:
        record = {"id": "guest_1", "username": "SwiftTiger42", "sessionId": "s1", "location": None}
        await store.put("s1", record, 120.0)
        assert await store.get("s1") == record
        assert 118_000 < await raw.pttl("guest:s1") <= 120_000
        await store.put("s2", {"id": "guest_2"}, 0.2)
        assert await store.count() == 2
        # Redis expires it by itself
        deadline = asyncio.get_running_loop().time() + 5
        while await store.get("s2") is not None:
            assert asyncio.get_running_loop().time() < deadline, "the record did not expire"
            await asyncio.sleep(0.05)
        assert await store.count() == 1
        assert await store.delete("s1") is True
        assert await store.delete("s1") is False
        assert await raw.exists("guest:s1") == 0
    finally:
        await store.close()


async def test_delete_all_removes_only_guest_keys_and_foreign_values_read_as_absent(
    redis_url: str, raw: aioredis.Redis
) -> None:
    store = RedisSessionStore(redis_url)
    try:
        for i in range(3):
            await store.put(f"s{i}", {"id": f"guest_{i}"}, 60)
        await raw.set("other:key", "kept")
        await raw.set("guest:not-json", b"\xff\x00")
        assert await store.get("not-json") is None
        assert await store.delete_all() == 4
        assert await store.count() == 0
        assert await raw.get("other:key") == b"kept"
    finally:
        await store.close()


async def test_expire_kick_and_restart_keep_their_meaning_with_redis(
    redis_url: str, raw: aioredis.Redis
) -> None:
    async with reference_server(redis_url=redis_url) as server:
        token, user = await server.create_guest()
        key = f"guest:{user['sessionId']}"
        assert await raw.exists(key) == 1
        assert (await server.stats()).sessions == 1
        # restart drops connections, not sessions: they live in Redis
        await server.restart(down_s=0.2)
        await server.wait_listening(5)
        assert await raw.exists(key) == 1
        client = socketio.AsyncClient(reconnection=False)
        kicked = asyncio.Event()
        client.on("disconnect", lambda *args: kicked.set())
        await client.connect(server.url, auth={"token": token}, transports=["websocket"])
        try:
            assert await server.kick_all() == 1
            await asyncio.wait_for(kicked.wait(), 5)
        finally:
            await client.disconnect()
        # expire deletes the key; the token is still signed but its session is gone
        assert await server.expire(user["sessionId"]) == 1
        assert await raw.exists(key) == 0
        async with httpx.AsyncClient(timeout=5) as http:
            me = await http.get(
                f"{server.url}/api/guest/me", headers={"Authorization": f"Bearer {token}"}
            )
        assert me.status_code == 401
        assert me.json()["message"] == "Guest session not found or expired"


async def test_redis_dying_under_a_running_server_is_a_503_and_a_refusal_not_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with redis_server() as service:
        url = f"redis://127.0.0.1:{service.port}/0"
        async with reference_server(redis_url=url) as server:
            token, _user = await server.create_guest()
            service.process.terminate()
            await service.process.wait()
            async with httpx.AsyncClient(timeout=10) as http:
                created = await http.post(f"{server.url}/api/guest", json={})
            errors: list[str] = []
            client = socketio.AsyncClient(reconnection=False)
            client.on("connect_error", lambda data: errors.append(data["message"]))
            with pytest.raises(socketio.exceptions.ConnectionError):
                await client.connect(server.url, auth={"token": token}, transports=["websocket"])
            await client.disconnect()
    assert created.status_code == 503
    assert created.json() == {
        "success": False,
        "message": "Session store unavailable, please try again later.",
    }
    assert errors == ["Token verification failed"]  # the backend's catch-all
    assert not any(record.exc_info for record in caplog.records), [
        r.getMessage() for r in caplog.records if r.exc_info
    ]
    assert any("cannot reach Redis at" in r.getMessage() for r in caplog.records)


async def test_an_unreachable_redis_is_a_server_error_at_start() -> None:
    server = ReferenceServer(ServerConfig(port=0, redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    with pytest.raises(ServerError) as caught:
        await server.start()
    assert caught.value.title.startswith("cannot reach Redis at redis://127.0.0.1:")
    assert "start redis-server" in caught.value.hint
    await server.stop()  # nothing was left running


def test_serve_with_an_unreachable_redis_says_so_in_one_line() -> None:
    port = free_port()
    done = run_cli("serve", "--port", "0", "--redis", f"redis://:pw-secret@127.0.0.1:{port}/0")
    assert done.returncode == 3, done
    assert done.stderr.startswith(f"error: cannot reach Redis at redis://:***@127.0.0.1:{port}/0")
    assert "start redis-server there, or fix --redis" in done.stderr
    assert "pw-secret" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_serve_with_a_url_that_is_not_redis_is_a_config_error() -> None:
    done = run_cli("serve", "--port", "0", "--redis", "http://127.0.0.1:6379/0")
    assert done.returncode == 3
    assert "is not a Redis URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_without_the_redis_package_the_error_names_the_cluster_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)  # an import of it now fails
    with pytest.raises(ConfigError) as caught:
        ReferenceServer(ServerConfig(port=0, redis_url="redis://127.0.0.1:6379/0"))
    assert caught.value.title == "--redis needs the redis package, which is not installed"
    assert "pip install 'conndebug[cluster]'" in caught.value.hint


# `conndebug serve` in a process where the redis package cannot be imported (python-socketio
# itself imports it when it is installed, so "lazily" is proven by its absence).
_WITHOUT_REDIS = """
import sys
sys.modules["redis"] = None
from conndebug.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("with_redis", [False, True])
def test_serve_without_the_redis_package(with_redis: bool) -> None:
    flags = ["--redis", "redis://127.0.0.1:6379/0"] if with_redis else []
    process = subprocess.Popen(
        [sys.executable, "-c", _WITHOUT_REDIS, "serve", "--port", "0", "--quiet", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # the listening line, or nothing when it failed
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    if with_redis:
        assert process.returncode == 3
        assert err.startswith("error: --redis needs the redis package, which is not installed")
        assert "pip install 'conndebug[cluster]'" in err
    else:
        assert first.startswith("conndebug reference server listening on http://127.0.0.1:"), err
        assert process.returncode == 0, err
    assert "Traceback" not in err + out


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:pw@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("rediss://user:pw@[::1]:6380/2", "rediss://user:***@[::1]:6380/2"),
    ],
)
def test_display_url_masks_the_password(url: str, shown: str) -> None:
    assert display_url(url) == shown
