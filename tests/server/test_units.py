"""The reference server's small parts, exactly: durations, the session store, limits, faults."""

from __future__ import annotations

import pytest

from conndebug.core.clock import FakeClock
from conndebug.core.errors import ConfigError
from conndebug.server import Faults, MemorySessionStore, parse_duration
from conndebug.server.limits import WindowLimiter
from conndebug.server.tokens import AuthRejected, issue_token, random_username, verify_token


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90),
        ("90s", 90),
        ("1.5m", 90),
        ("2h", 7200),
        ("7d", 604800),
        ("250ms", 0.25),
        (30, 30),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "-5", "0", "5y", "1e3", "400d", float("nan")])
def test_parse_duration_refuses(text: str | float) -> None:
    with pytest.raises(ConfigError):
        parse_duration(text)


async def test_memory_store_expires_records_on_the_clock() -> None:
    clock = FakeClock()
    store = MemorySessionStore(clock)
    await store.put("a", {"n": 1}, ttl=10)
    await store.put("b", {"n": 2}, ttl=20)
    assert await store.count() == 2
    clock.advance(10)
    assert await store.get("a") is None
    assert await store.get("b") == {"n": 2}
    assert await store.delete("b") is True
    assert await store.delete("b") is False
    await store.put("c", {"n": 3}, ttl=5)
    assert await store.delete_all() == 1
    assert await store.count() == 0


async def test_memory_store_hands_out_copies() -> None:
    store = MemorySessionStore(FakeClock())
    record = {"tags": ["x"]}
    await store.put("a", record, ttl=10)
    record["tags"].append("changed")
    got = await store.get("a")
    assert got == {"tags": ["x"]}
    assert got is not None
    got["tags"].append("again")
    assert await store.get("a") == {"tags": ["x"]}


def test_window_limiter_counts_per_key_and_window() -> None:
    clock = FakeClock()
    limiter = WindowLimiter(2, 60, clock)
    assert [limiter.hit("u").allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("v").allowed  # another key
    clock.advance(59)
    verdict = limiter.hit("u")
    assert not verdict.allowed
    assert verdict.reset_s == 1
    clock.advance(1)
    assert limiter.hit("u").allowed  # a new window


def test_tokens_expire_on_the_injected_clock() -> None:
    clock = FakeClock()
    token = issue_token(
        secret="s", clock=clock, ttl=60, user_id="guest_x", session_id="sid", username="A1"
    )
    assert verify_token(token, secret="s", clock=clock)["sessionId"] == "sid"
    clock.advance(60)
    with pytest.raises(AuthRejected, match="Token has expired"):
        verify_token(token, secret="s", clock=clock)
    with pytest.raises(AuthRejected, match="Invalid token"):
        verify_token(token, secret="other", clock=clock)


def test_usernames_have_the_backend_shape() -> None:
    import random
    import re

    rng = random.Random(7)
    names = {random_username(rng) for _ in range(200)}
    assert all(re.fullmatch(r"[A-Z][a-z]+[A-Z][a-z]+[1-9]\d{0,3}", n) for n in names)
    assert len(names) > 150


def test_faults_json_shows_the_remaining_down_time() -> None:
    assert Faults().as_json(5.0)["down_remaining_s"] is None
    down = Faults(down_until=12.5).as_json(10.0)
    assert down["down"] is True
    assert down["down_remaining_s"] == 2.5
