"""Guest sessions kept per guest endpoint, as the browser keeps its token: where, how safely, how
long, and what ``guest_session`` does with them."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from conndebug.core import guest_store
from conndebug.core.guest import PostAnswer, guest_session, session_from_token
from tests.core.helpers import settings_for


def jwt(exp: float | None, session_id: str = "s-1") -> str:
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    claims: dict[str, object] = {"userId": "guest_1", "sessionId": session_id, "username": "Owl7"}
    if exp is not None:
        claims["exp"] = int(exp)
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


class Endpoint:
    """A guest endpoint that hands out a new session per POST and counts them."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> PostAnswer:
        self.calls += 1
        token = jwt(time.time() + 3600, f"s-{self.calls}")
        user = {"id": "guest_1", "username": "Owl7", "sessionId": f"s-{self.calls}"}
        data = {"success": True, "data": {"token": token, "user": user}}
        return PostAnswer(201, "application/json", json.dumps(data).encode())


def test_the_store_is_where_platformdirs_keeps_user_data() -> None:
    from platformdirs import user_data_path

    path = guest_store.store_path()
    assert path == user_data_path("conndebug", appauthor=False) / "guest-sessions.json"
    assert path.is_relative_to(Path(os.environ["XDG_DATA_HOME"]))  # this test's own folder


def test_a_kept_session_is_readable_by_its_owner_only_and_keyed_by_endpoint() -> None:
    token = jwt(time.time() + 3600)
    guest_store.save("http://a.example/api/guest", session_from_token(token, source="guest"))
    path = guest_store.store_path()
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    kept = guest_store.load("http://a.example/api/guest")
    assert kept is not None
    assert (kept.token, kept.source, kept.session_id) == (token, "stored", "s-1")
    assert guest_store.load("http://b.example/api/guest") is None
    guest_store.forget("http://a.example/api/guest")
    assert guest_store.load("http://a.example/api/guest") is None


def test_a_token_about_to_expire_is_not_reused_one_without_exp_is() -> None:
    now = 1_800_000_000.0
    soon = session_from_token(jwt(now + guest_store.MARGIN_S - 1))
    later = session_from_token(jwt(now + guest_store.MARGIN_S + 60))
    opaque = session_from_token("an-opaque-token")
    for url, session in (("http://soon/", soon), ("http://later/", later), ("http://o/", opaque)):
        guest_store.save(url, session, now=now)
    assert guest_store.load("http://soon/", now=now) is None
    assert guest_store.load("http://later/", now=now) is not None
    assert guest_store.load("http://o/", now=now) is not None


@pytest.mark.parametrize("content", [b"", b"not json", b"[1, 2]", b'{"sessions": 5}', b"\xff"])
def test_a_damaged_store_is_ignored(content: bytes) -> None:
    path = guest_store.store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    assert guest_store.load("http://a.example/api/guest") is None
    guest_store.save("http://a.example/api/guest", session_from_token(jwt(time.time() + 3600)))
    assert guest_store.load("http://a.example/api/guest") is not None


async def test_guest_session_reuses_the_kept_one_until_told_not_to() -> None:
    endpoint = Endpoint()
    settings = settings_for("http://127.0.0.1:9")
    first = await guest_session(settings, post=endpoint)
    again = await guest_session(settings, post=endpoint)
    assert first.session is not None
    assert again.session is not None
    assert (first.reused, again.reused) == (False, True)
    assert again.session.session_id == first.session.session_id
    assert endpoint.calls == 1
    fresh = await guest_session(settings_for("http://127.0.0.1:9", new_session=True), post=endpoint)
    assert fresh.session is not None
    assert not fresh.reused
    assert endpoint.calls == 2
    kept = guest_store.load(settings.guest_url)
    assert kept is not None
    assert kept.session_id == fresh.session.session_id
