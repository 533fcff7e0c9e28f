"""Verdicts against the reference server's fault switches, on loopback (no mocks)."""

from __future__ import annotations

import time

from conndebug.core.events import EventBus, ProbeStep
from conndebug.core.probe import STEP_NAMES, ProbeResult, run_probe
from tests.hostile import reverse_proxy
from tests.probe.conftest import probe_settings
from tests.servers import reference_server


def kinds(result: ProbeResult) -> list[str]:
    return [e.kind for e in result.history]


def statuses(result: ProbeResult) -> dict[str, str]:
    return {s.name: s.status for s in result.steps}


async def test_healthy_server_is_ok_over_websocket_with_every_rung_and_a_live_step_stream() -> None:
    async with reference_server() as server:
        bus = EventBus()
        seen: list[str] = []
        bus.subscribe(lambda e: seen.append(e.name) if isinstance(e, ProbeStep) else None)
        result = await run_probe(probe_settings(server.url), bus=bus)
    assert result.verdict.code == "ok", result.verdict
    assert result.exit_code == 0
    assert [s.name for s in result.steps] == list(STEP_NAMES)
    assert seen == list(STEP_NAMES)
    assert statuses(result)["websocket"] == "ok"
    assert statuses(result)["namespace"] == "ok"
    conn = result.connection
    assert conn["transport"] == "websocket"
    assert conn["sid"]
    assert conn["engine_sid"]
    assert conn["sid"] != conn["engine_sid"]
    assert conn["ping_interval_ms"] == 1000
    assert conn["user"]
    assert isinstance(conn["rtt_ms"], float)
    assert kinds(result).count("rtt") == 5
    assert "session_created" in kinds(result)
    assert "connected" in kinds(result)


async def test_websocket_rejected_with_403_is_websocket_blocked() -> None:
    async with reference_server(websocket="reject") as server:
        result = await run_probe(probe_settings(server.url))
    assert result.verdict.code == "websocket_blocked"
    assert result.exit_code == 1
    assert "403" in result.verdict.title
    assert "403" in result.verdict.explanation
    assert statuses(result)["websocket"] == "warn"
    assert statuses(result)["namespace"] == "ok"
    assert result.connection["transport"] == "polling"
    assert "upgrade_failed" in kinds(result)


async def test_websocket_black_hole_is_websocket_blocked_within_the_ws_timeout() -> None:
    async with reference_server(websocket="blackhole") as server:
        result = await run_probe(probe_settings(server.url, "--ws-timeout", "0.5"))
    assert result.verdict.code == "websocket_blocked"
    assert "0.5 s" in result.verdict.explanation
    step = result.step("websocket")
    assert step is not None
    assert step.status == "warn"
    assert step.ms <= 500 + 1000  # the issue's bound: --ws-timeout + 1 s
    assert result.connection["transport"] == "polling"


async def test_proxy_not_forwarding_upgrade_is_told_apart_with_the_nginx_fix() -> None:
    async with (
        reference_server() as server,
        reverse_proxy([server.port], strip_upgrade=True) as proxy,
    ):
        result = await run_probe(probe_settings(proxy.url))
    assert result.verdict.code == "websocket_blocked"
    assert "Upgrade header" in result.verdict.title
    assert "400" in result.verdict.explanation
    assert 'proxy_set_header Connection "upgrade"' in result.verdict.fix


async def test_cors_reflecting_any_origin_is_cors_permissive() -> None:
    async with reference_server(cors="reflect") as server:
        result = await run_probe(probe_settings(server.url, "--origin", "http://localhost:3000"))
    assert result.verdict.code == "cors_permissive"
    assert result.exit_code == 1
    assert "not-your-site-" in result.verdict.explanation
    assert "http://localhost:3000" in result.verdict.fix
    assert "not-your-site-" not in result.verdict.fix  # the allow-list is yours, not the test's
    assert statuses(result)["cors"] == "warn"


async def test_cors_strict_with_a_foreign_origin_is_cors_rejected() -> None:
    async with reference_server() as server:
        allowed = await run_probe(probe_settings(server.url, "--origin", "http://localhost:3000"))
        result = await run_probe(probe_settings(server.url, "--origin", "http://evil.example"))
    assert allowed.verdict.code == "ok"
    assert allowed.step("cors") is not None
    assert result.verdict.code == "cors_rejected"
    assert result.exit_code == 2
    assert "http://evil.example" in result.verdict.title
    assert "http://evil.example" in result.verdict.fix


async def test_a_given_token_whose_session_the_server_dropped_is_judged_not_replaced() -> None:
    async with reference_server() as server:
        token, user = await server.create_guest()
        assert await server.expire(user["sessionId"]) == 1
        result = await run_probe(probe_settings(server.url, "--token", token))
    verdict = result.verdict
    assert verdict.code == "session_expired", verdict
    assert result.exit_code == 2
    assert "Guest session not found or expired" in verdict.explanation
    assert "has not expired" in verdict.explanation  # the JWT itself is valid
    assert "token has expired" not in (verdict.title + verdict.explanation).lower()
    history = kinds(result)
    assert "session_regenerated" not in history
    assert history.count("session_created") == 1  # the given token, nothing swapped in
    assert result.connection["user"] == user["username"]


async def test_a_given_token_whose_jwt_expired_is_told_apart() -> None:
    from conndebug.core.clock import FakeClock
    from conndebug.server.tokens import issue_token

    async with reference_server() as server:
        _token, user = await server.create_guest()
        an_hour_ago = FakeClock(start=time.time() - 3600)
        token = issue_token(
            secret=server.secret,
            clock=an_hour_ago,
            ttl=60,
            user_id=user["id"],
            session_id=user["sessionId"],
            username=user["username"],
        )
        result = await run_probe(probe_settings(server.url, "--token", token))
    verdict = result.verdict
    assert verdict.code == "session_expired", verdict
    assert "has expired" in verdict.title
    assert "Token has expired" in verdict.explanation
    assert "dropped the session" not in verdict.explanation
    assert "session_regenerated" not in kinds(result)


async def test_a_kept_guest_session_the_server_dropped_is_regenerated_as_the_web_client_does() -> (
    None
):
    async with reference_server() as server:
        first = await run_probe(probe_settings(server.url))
        kept = next(e for e in first.history if e.kind == "session_created")
        assert getattr(kept, "source", None) == "guest"
        again = await run_probe(probe_settings(server.url))
        reused = next(e for e in again.history if e.kind == "session_created")
        assert getattr(reused, "source", None) == "stored"
        assert getattr(reused, "session_id", None) == getattr(kept, "session_id", None)
        assert await server.expire(getattr(kept, "session_id", "")) == 1
        result = await run_probe(probe_settings(server.url))
    assert first.verdict.code == again.verdict.code == "ok"
    assert result.verdict.code == "ok", result.verdict
    assert "renewing an expired session" in result.verdict.title
    assert "Guest session not found or expired" in result.verdict.explanation
    history = kinds(result)
    for kind in ("connect_error", "session_expired", "session_regenerated", "connected"):
        assert kind in history
    assert history.index("session_regenerated") < history.index("connected")
    assert result.connection["user"] != getattr(kept, "username", None)


async def test_a_kept_session_that_cannot_be_renewed_is_session_expired() -> None:
    from conndebug.core import guest_store
    from conndebug.core.guest import session_from_token

    async with reference_server() as server:
        token, user = await server.create_guest()
        await server.expire(user["sessionId"])
        settings = probe_settings(server.url, "--guest-endpoint", "/api/nothing-here")
        guest_store.save(settings.guest_url, session_from_token(token, source="guest"))
        result = await run_probe(settings)
    assert result.verdict.code == "session_expired", result.verdict
    assert "Guest session not found or expired" in result.verdict.explanation
    assert "/api/nothing-here" in result.verdict.explanation


async def test_new_session_creates_a_guest_session_instead_of_reusing_the_kept_one() -> None:
    async with reference_server() as server:
        first = await run_probe(probe_settings(server.url))
        fresh = await run_probe(probe_settings(server.url, "--new-session"))
    made = [e for e in (*first.history, *fresh.history) if e.kind == "session_created"]
    assert [getattr(e, "source", None) for e in made] == ["guest", "guest"]
    assert getattr(made[0], "session_id", 1) != getattr(made[1], "session_id", 2)
    assert fresh.verdict.code == "ok", fresh.verdict


async def test_token_with_a_wrong_signature_is_auth_rejected_quoting_the_server() -> None:
    async with reference_server() as server:
        token, _user = await server.create_guest()
        head, payload, signature = token.split(".")
        forged = f"{head}.{payload}.{signature[::-1]}"
        result = await run_probe(probe_settings(server.url, "--token", forged))
    assert result.verdict.code == "auth_rejected"
    assert result.exit_code == 2
    assert '"Invalid token"' in result.verdict.title
    assert '"Invalid token"' in result.verdict.explanation
    assert forged not in repr(result.to_json_dict())


async def test_no_token_and_no_guest_is_auth_rejected_with_the_servers_message() -> None:
    async with reference_server() as server:
        result = await run_probe(probe_settings(server.url, "--no-guest"))
    assert result.verdict.code == "auth_rejected"
    assert "Authentication token required" in result.verdict.explanation
    assert "--token" in result.verdict.fix


async def test_two_servers_behind_round_robin_without_affinity_is_sticky_session_missing() -> None:
    async with (
        reference_server() as a,
        reference_server(secret=a.secret) as b,
        reverse_proxy([a.port, b.port]) as balancer,
    ):
        result = await run_probe(probe_settings(balancer.url))
        async with reverse_proxy([a.port, b.port], affinity=True) as sticky:
            fixed = await run_probe(probe_settings(sticky.url))
    assert result.verdict.code == "sticky_session_missing", result.verdict
    assert result.exit_code == 2
    assert "ip_hash" in result.verdict.fix
    assert result.step("session") is not None
    assert fixed.verdict.code == "ok", fixed.verdict


async def test_upgrade_cut_off_by_something_in_between_is_a_reset() -> None:
    async with (
        reference_server() as server,
        reverse_proxy([server.port], drop_upgrade=True) as proxy,
    ):
        result = await run_probe(probe_settings(proxy.url))
    assert result.verdict.code == "websocket_blocked"
    assert "cut off" in result.verdict.title
    assert result.connection["transport"] == "polling"
