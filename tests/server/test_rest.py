"""Every REST answer of the contract, as a real HTTP client sees it."""

from __future__ import annotations

import re
import uuid
from typing import Any

import jwt
import pytest

from conndebug.core.clock import FakeClock
from conndebug.server import ReferenceServer
from tests.server.helpers import SECRET, claims_of, guest_claims, http_client, sign, unsigned
from tests.servers import reference_server

USERNAME = re.compile(r"^[A-Z][a-z]+[A-Z][a-z]+([1-9][0-9]{0,3})$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


async def test_create_guest_answers_201_with_the_contract_shape(server: ReferenceServer) -> None:
    async with http_client(server.url) as http:
        response = await http.post("/api/guest", json={})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"success", "message", "data"}
    assert body["success"] is True
    assert body["message"] == "Guest session created successfully"
    assert set(body["data"]) == {"token", "user"}
    user = body["data"]["user"]
    assert set(user) == {
        "id",
        "username",
        "isGuest",
        "sessionId",
        "location",
        "gender",
        "language",
    }
    assert user["isGuest"] is True
    assert user["location"] is None
    assert user["gender"] is None
    assert user["language"] is None
    assert user["id"].startswith("guest_")
    assert UUID4.match(user["id"][len("guest_") :])
    assert UUID4.match(user["sessionId"])
    match = USERNAME.match(user["username"])
    assert match
    assert 1 <= int(match.group(1)) <= 9999


async def test_the_token_carries_the_contract_claims(server: ReferenceServer) -> None:
    token, user = await server.create_guest()
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    claims = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience="realtime-chat-users",
        issuer="realtime-chat-app",
    )
    assert claims["userId"] == user["id"]
    assert claims["sessionId"] == user["sessionId"]
    assert claims["username"] == user["username"]
    assert claims["isGuest"] is True
    assert claims["exp"] - claims["iat"] == 7 * 86400


async def test_create_guest_keeps_the_given_fields(server: ReferenceServer) -> None:
    fields = {"username": "Alice", "location": "Paris", "gender": "female", "language": "fr"}
    async with http_client(server.url) as http:
        response = await http.post("/api/guest", json=fields)
    assert response.status_code == 201
    user = response.json()["data"]["user"]
    assert {k: user[k] for k in fields} == fields


async def test_create_guest_without_a_body_works(server: ReferenceServer) -> None:
    async with http_client(server.url) as http:
        response = await http.post("/api/guest")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("content", "status", "needle"),
    [
        (b"{not json", 400, "Invalid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"username": 42}', 400, "username"),
        (b'{"username": "' + b"x" * 51 + b'"}', 400, "username"),
        (b'{"language": ["fr"]}', 400, "language"),
        (b'{"username": "' + b"x" * (200 * 1024) + b'"}', 413, "too large"),
    ],
    ids=["bad-json", "array", "number-name", "long-name", "list-language", "oversized"],
)
async def test_create_guest_refuses_bad_bodies(
    server: ReferenceServer, content: bytes, status: int, needle: str
) -> None:
    async with http_client(server.url) as http:
        response = await http.post(
            "/api/guest", content=content, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == status
    body = response.json()
    assert body["success"] is False
    assert needle.lower() in body["message"].lower()


async def test_guest_me_answers_the_user(server: ReferenceServer) -> None:
    token, user = await server.create_guest()
    async with http_client(server.url) as http:
        response = await http.get("/api/guest/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "data": {"user": {k: user[k] for k in ("id", "username", "isGuest", "sessionId")}},
    }


def _me_cases() -> list[Any]:
    expired = guest_claims(iat=1_000_000, exp=1_000_100)
    return [
        pytest.param(None, "Access token is required", id="no-header"),
        pytest.param("Basic dXNlcjpwYXNz", "Access token is required", id="basic-auth"),
        pytest.param("Bearer", "Access token is required", id="bare-bearer"),
        pytest.param("Bearer not-a-jwt", "Invalid token", id="garbage"),
        pytest.param(f"Bearer {unsigned(guest_claims())}", "Invalid token", id="alg-none"),
        pytest.param(
            f"Bearer {sign(guest_claims(), 'another-secret-that-is-long-enough-xx')}",
            "Invalid token",
            id="wrong-secret",
        ),
        pytest.param(f"Bearer {sign(guest_claims(aud='x'))}", "Invalid token", id="wrong-aud"),
        pytest.param(f"Bearer {sign(guest_claims(iss='x'))}", "Invalid token", id="wrong-iss"),
        pytest.param(f"Bearer {sign(expired)}", "Token has expired", id="expired"),
        pytest.param(
            f"Bearer {sign(guest_claims(isGuest=False))}",
            "Only guest sessions are supported",
            id="not-guest",
        ),
        pytest.param(
            f"Bearer {sign(guest_claims())}", "Guest session not found or expired", id="no-session"
        ),
    ]


@pytest.mark.parametrize(("authorization", "message"), _me_cases())
async def test_guest_me_refusals_are_401_with_the_backend_message(
    server: ReferenceServer, authorization: str | None, message: str
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with http_client(server.url) as http:
        response = await http.get("/api/guest/me", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"success": False, "message": message}


async def test_guest_session_lookup(server: ReferenceServer) -> None:
    _token, user = await server.create_guest(username="Bob")
    async with http_client(server.url) as http:
        found = await http.get(f"/api/guest/{user['sessionId']}")
        missing = await http.get(f"/api/guest/{uuid.uuid4()}")
    assert found.status_code == 200
    session = found.json()["data"]["session"]
    assert session["sessionId"] == user["sessionId"]
    assert session["username"] == "Bob"
    assert missing.status_code == 404
    assert missing.json() == {"success": False, "message": "Guest session not found or expired"}


async def test_health(server: ReferenceServer) -> None:
    async with http_client(server.url) as http:
        response = await http.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "message", "timestamp", "uptime", "version"}
    assert body["success"] is True
    assert body["message"] == "Server is running"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", body["timestamp"])
    assert body["uptime"] >= 0


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nope", 404), ("GET", "/api/nothing/here/at/all", 404), ("DELETE", "/health", 405)],
)
async def test_unknown_routes_answer_json(
    server: ReferenceServer, method: str, path: str, status: int
) -> None:
    async with http_client(server.url) as http:
        response = await http.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["success"] is False


async def test_api_rate_limit_answers_429_with_the_backend_body() -> None:
    async with (
        reference_server(api_rate_limit=(3, 900.0)) as server,
        http_client(server.url) as http,
    ):
        statuses = [(await http.get("/api/guest/me")).status_code for _ in range(3)]
        limited = await http.get("/api/guest/me")
        health = await http.get("/health")
    assert statuses == [401, 401, 401]
    assert limited.status_code == 429
    assert limited.json() == {
        "success": False,
        "message": "Too many API requests, please try again later.",
    }
    assert 0 < int(limited.headers["Retry-After"]) <= 900
    assert health.status_code == 200  # only /api/ is limited


async def test_session_record_expires_while_the_token_stays_valid() -> None:
    clock = FakeClock()
    async with reference_server(clock=clock, session_ttl=120.0) as server:
        token, user = await server.create_guest()
        async with http_client(server.url) as http:
            auth = {"Authorization": f"Bearer {token}"}
            assert (await http.get("/api/guest/me", headers=auth)).status_code == 200
            clock.advance(121)
            me = await http.get("/api/guest/me", headers=auth)
            lookup = await http.get(f"/api/guest/{user['sessionId']}")
    assert me.status_code == 401
    assert me.json()["message"] == "Guest session not found or expired"
    assert lookup.status_code == 404
    assert claims_of(token)["exp"] > clock.time()  # the token itself is still good


async def test_token_lifetime_is_its_own_setting() -> None:
    clock = FakeClock()
    async with reference_server(clock=clock, token_ttl=60.0, session_ttl=3600.0) as server:
        token, _user = await server.create_guest()
        clock.advance(61)
        async with http_client(server.url) as http:
            me = await http.get("/api/guest/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert me.json()["message"] == "Token has expired"
