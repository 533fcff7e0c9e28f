"""The monitor's state machine and reconnect loop, with fake connections and a FakeClock.

No network and no real waiting: every delay goes through the FakeClock, so the backoff values and
the order of events are checked exactly. The seam is the monitor's connector: a :class:`Script`
hands out :class:`FakeLink` connections (or raises the client's ``ClientError``) as scripted.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from conndebug.client import ClientError, Failure
from conndebug.core.backoff import Backoff
from conndebug.core.clock import FakeClock
from conndebug.core.failure import FailureKind
from conndebug.core.guest import GuestResult, GuestSession
from conndebug.core.model import State
from conndebug.core.monitor import (
    REGENERATIONS_PER_WINDOW,
    AttemptRequest,
    Ending,
    LinkFacts,
    Monitor,
    is_expiry_message,
)
from tests.core.helpers import events_of, kinds, settings_for, wait_until

pytestmark = pytest.mark.timeout(10)


@dataclass(frozen=True)
class FellBack:
    """Connected over polling after this websocket failure (the client's fallback)."""

    failure: Failure


Outcome = Failure | FellBack | None


def fail(kind: FailureKind, message: str, transport: str = "websocket", **extra: Any) -> Failure:
    if kind is FailureKind.REJECTED:
        return Failure(
            phase="namespace",
            kind=kind,
            message=f"the server refused namespace /: “{message}”",
            transport=transport,
            reason="connect_error",
            server_message=message,
            **extra,
        )
    phase = "websocket" if transport == "websocket" else "handshake"
    return Failure(
        phase=extra.pop("phase", phase), kind=kind, message=message, transport=transport, **extra
    )


class FakeLink:
    """Connected as scripted; stays connected until told to drop or kick."""

    def __init__(self, request: AttemptRequest, *, how: str = "direct", ws: Failure | None = None):
        self.request = request
        self.transports = list(request.transports)
        self.auth = request.auth
        self.answers = True
        """Whether round trips are answered (an answer is a sign of life)."""
        self.ended: asyncio.Future[Ending] = asyncio.get_running_loop().create_future()
        self.connected = True
        self.graceful_close: bool | None = None
        self.tap = request.tap
        self.rtt_ms = 1.0
        self.reads = 0
        self.pings = 0
        self.sink: Callable[[Any], None] | None = None
        transport = "polling" if how == "fallback" else self.transports[0]
        self._facts = LinkFacts(
            transport=transport,
            how=how,
            sid="socket-id",
            engine_sid="engine-id",
            upgrades=(),
            ping_interval_ms=25000,
            ping_timeout_ms=20000,
            websocket_failure=ws,
        )

    @property
    def facts(self) -> LinkFacts:
        return self._facts

    @property
    def is_connected(self) -> bool:
        return self.connected

    @property
    def transport(self) -> str | None:
        return self._facts.transport if self.connected else None

    def marks(self) -> tuple[object, int]:
        return self.reads, self.pings

    def life(self, *, ping: bool = False) -> None:
        """Something arrives from the server (seen at the monitor's next tick)."""
        self.reads += 1
        self.pings += 1 if ping else 0

    def announce(self, sink: Callable[[Any], None]) -> None:
        self.sink = sink

    async def round_trip(self, event: str | None, timeout: float) -> float | None:
        await asyncio.sleep(0)
        if not self.answers:
            return None
        self.life()
        return self.rtt_ms

    async def emit(self, name: str, payload: Any, *, ack: bool, timeout: float) -> Any:
        return payload if ack else None

    async def drop(self) -> None:
        self.end(Ending("transport close (dropped on purpose)", by="user", close="client"))

    def end(self, ending: Ending) -> None:
        self.connected = False
        if not self.ended.done():
            self.ended.set_result(ending)

    async def close(self, *, graceful: bool) -> None:
        if self.graceful_close is None:
            self.graceful_close = graceful
        self.end(Ending("io client disconnect", by="client", close="client"))

    def recovery_state(self) -> Any:
        return None

    def set_tap(self, tap: Any) -> None:
        self.tap = tap


class Script:
    """A connector: attempts succeed or fail as a list says (the last outcome repeats)."""

    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes)
        self.made: list[FakeLink] = []
        self.requests: list[AttemptRequest] = []
        self.answers = True

    async def __call__(self, request: AttemptRequest) -> FakeLink:
        await asyncio.sleep(0)
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Failure):
            raise ClientError(outcome)
        if isinstance(outcome, FellBack):
            assert request.on_fallback is not None
            request.on_fallback(outcome.failure, "polling")
            link = FakeLink(request, how="fallback", ws=outcome.failure)
        else:
            link = FakeLink(request)
        link.answers = self.answers
        self.made.append(link)
        return link


def guest_factory(absent: bool = False) -> Callable[[Any], Any]:
    count = 0

    async def create(settings: Any) -> GuestResult:
        nonlocal count
        if absent:
            return GuestResult(absent="no guest endpoint at x (HTTP 404: Not Found)")
        count += 1
        return GuestResult(
            session=GuestSession(
                token=f"token-number-{count}",
                username=f"Guest{count}",
                user_id=f"guest_{count}",
                session_id=f"session-{count}",
            )
        )

    return create


def make(
    script: Script, *, seed: int = 3, guest: Any = None, **overrides: Any
) -> tuple[Monitor, FakeClock]:
    clock = FakeClock()
    values: dict[str, Any] = {"transports": ("websocket",), "no_guest": guest is None}
    trace = overrides.pop("trace", False)
    values.update(overrides)
    monitor = Monitor(
        settings_for("http://127.0.0.1:9", **values),
        clock=clock,
        rng=random.Random(seed),
        connector=script,
        create_guest=guest or guest_factory(),
        port_check=None,
        trace=trace,
    )
    return monitor, clock


async def settle(monitor: Monitor, state: State) -> None:
    await wait_until(lambda: monitor.state is state, 5, f"state {state.value}")


def delays(seed: int, count: int, first: float = 1.0, cap: float = 5.0) -> list[float]:
    backoff = Backoff(min_s=first, max_s=cap, jitter=0.5, rng=random.Random(seed))
    return [backoff.duration() for _ in range(count)]


async def test_failed_attempts_are_retried_with_socketio_client_delays() -> None:
    timeout = fail(FailureKind.TIMEOUT, "no answer to the websocket handshake in 5.0 s")
    script = Script(timeout, timeout, None)
    monitor, clock = make(script, seed=11)
    await monitor.start()
    await settle(monitor, State.CONNECTED)
    assert kinds(monitor.bus, verdicts=False)[1:10] == [
        "connecting",
        "connect_error",
        "reconnect_scheduled",
        "connecting",
        "connect_error",
        "reconnect_scheduled",
        "connecting",
        "transport",
        "connected",
    ]
    scheduled = events_of(monitor.bus, "reconnect_scheduled")
    assert [(e.attempt, e.max_attempts) for e in scheduled] == [(1, 10), (2, 10)]
    assert [e.delay_s for e in scheduled] == delays(11, 2)
    assert clock.sleeps[:2] == delays(11, 2)
    assert [e.attempt for e in events_of(monitor.bus, "connecting")] == [0, 1, 2]
    assert monitor.snapshot().reconnect_attempt == 0
    await monitor.stop()
    assert monitor.state is State.STOPPED


async def test_exhausted_attempts_end_in_reconnect_failed() -> None:
    script = Script(fail(FailureKind.TIMEOUT, "no answer"))
    monitor, _clock = make(script, reconnect_attempts=3)
    await monitor.start()
    await settle(monitor, State.FAILED)
    assert [e.attempt for e in events_of(monitor.bus, "reconnect_scheduled")] == [1, 2, 3]
    failed = events_of(monitor.bus, "reconnect_failed")
    assert [(e.attempts, e.reason) for e in failed] == [(3, "no answer")]
    assert len(script.requests) == 4
    assert "gave up after 3" in (monitor.snapshot().verdict or "")
    await monitor.stop()


async def test_an_unexpected_drop_reconnects_and_the_backoff_restarts_each_time() -> None:
    script = Script(None)
    monitor, _clock = make(script, seed=5)
    await monitor.start()
    await settle(monitor, State.CONNECTED)
    for round_ in (1, 2):
        await monitor.drop_transport()
        await wait_until(lambda r=round_: len(events_of(monitor.bus, "connected")) == r + 1, 5)
    dropped = events_of(monitor.bus, "disconnected")
    assert [(e.reason, e.will_reconnect) for e in dropped] == [
        ("transport close (dropped on purpose)", True)
    ] * 2
    scheduled = events_of(monitor.bus, "reconnect_scheduled")
    assert [e.attempt for e in scheduled] == [1, 1]
    first_delay = delays(5, 1)[0]
    assert scheduled[0].delay_s == first_delay
    assert monitor.state is State.CONNECTED
    await monitor.stop()


async def test_a_kick_ends_in_disconnected_without_reconnecting() -> None:
    script = Script(None)
    monitor, _clock = make(script)
    await monitor.start()
    await settle(monitor, State.CONNECTED)
    script.made[0].end(Ending("io server disconnect", kicked=True, by="server"))
    await settle(monitor, State.DISCONNECTED)
    task = monitor._cycle_task
    assert task is not None
    await wait_until(task.done, 5, "the cycle to end")
    assert not events_of(monitor.bus, "reconnect_scheduled")
    assert len(script.requests) == 1
    assert events_of(monitor.bus, "disconnected")[0].will_reconnect is False


async def test_a_refused_websocket_falls_back_with_the_reason() -> None:
    refused = fail(FailureKind.HTTP, "HTTP 403 Forbidden to the websocket handshake", status=403)
    script = Script(FellBack(refused))
    monitor, _clock = make(script, transports=("websocket", "polling"))
    await monitor.start()
    await settle(monitor, State.CONNECTED)
    fallback = events_of(monitor.bus, "fallback")[0]
    assert (fallback.from_transport, fallback.to_transport) == ("websocket", "polling")
    assert fallback.why == "HTTP 403 Forbidden to the websocket handshake"
    assert (fallback.status, fallback.failure, fallback.phase) == (403, "http_status", "websocket")
    assert script.requests[0].transports == ("websocket", "polling")
    assert kinds(monitor.bus).index("fallback") < kinds(monitor.bus).index("connected")
    snap = monitor.snapshot()
    assert snap.how == "fell back: HTTP 403 Forbidden to the websocket handshake"
    assert snap.verdict is not None
    assert "polling only" in snap.verdict
    assert events_of(monitor.bus, "connected")[0].how == "fallback"
    await monitor.stop()


async def test_refused_on_both_transports_is_one_error_with_the_real_reason() -> None:
    refused = fail(FailureKind.REFUSED, "connection refused (nothing listens there)", phase="tcp")
    script = Script(refused, None)
    monitor, _clock = make(script, transports=("websocket", "polling"))
    await monitor.start()
    await wait_until(lambda: bool(events_of(monitor.bus, "reconnect_scheduled")), 5)
    assert not events_of(monitor.bus, "fallback")
    errors = events_of(monitor.bus, "connect_error")
    assert [e.message for e in errors] == ["connection refused (nothing listens there)"]
    assert (errors[0].failure, errors[0].phase) == ("connection_refused", "tcp")
    await monitor.stop()


async def test_a_rejection_is_final_and_quoted() -> None:
    script = Script(fail(FailureKind.REJECTED, "Invalid token"))
    monitor, _clock = make(script, token="abcdefgh-not-a-jwt")
    await monitor.start()
    await settle(monitor, State.FAILED)
    assert monitor.snapshot().verdict == "the server rejected the connection: “Invalid token”"
    assert script.requests[0].auth == {"token": "abcdefgh-not-a-jwt"}
    error = events_of(monitor.bus, "connect_error")[0]
    assert (error.message, error.source, error.failure) == ("Invalid token", "server", "rejected")
    assert not events_of(monitor.bus, "reconnect_scheduled")
    created = events_of(monitor.bus, "session_created")[0]
    assert created.source == "token"
    assert created.token is not None
    assert "abcdefgh" not in created.token


async def test_expiries_regenerate_until_the_loop_guard_stops_them() -> None:
    script = Script(fail(FailureKind.REJECTED, "Guest session not found or expired"))
    monitor, clock = make(script, guest=guest_factory())
    await monitor.start()
    await settle(monitor, State.FAILED)
    regenerated = events_of(monitor.bus, "session_regenerated")
    assert [e.count for e in regenerated] == list(range(1, REGENERATIONS_PER_WINDOW + 1))
    assert [e.previous_session_id for e in regenerated] == ["session-1", "session-2", "session-3"]
    assert [r.auth for r in script.requests] == [
        {"token": f"token-number-{n}"} for n in range(1, REGENERATIONS_PER_WINDOW + 2)
    ]
    assert clock.sleeps == [0.1] * REGENERATIONS_PER_WINDOW
    assert "stopped to avoid a loop" in (monitor.snapshot().verdict or "")
    assert monitor.snapshot().session.regenerations == REGENERATIONS_PER_WINDOW


async def test_the_loop_guard_forgets_regenerations_older_than_a_minute() -> None:
    expired = fail(FailureKind.REJECTED, "Token has expired")
    script = Script(None)
    monitor, clock = make(script, guest=guest_factory())
    await monitor.start()
    await settle(monitor, State.CONNECTED)
    for n in range(1, 6):  # five expiries, each a minute apart: never a loop
        script.outcomes = [expired, None]
        clock.advance(61.0)
        script.made[-1].end(Ending("transport close (the server closed the websocket)"))
        await wait_until(lambda n=n: len(events_of(monitor.bus, "session_regenerated")) == n, 5)
        await settle(monitor, State.CONNECTED)
    assert monitor.snapshot().session.regenerations == 5
    await monitor.stop()


async def test_a_given_token_cannot_be_regenerated() -> None:
    script = Script(fail(FailureKind.REJECTED, "Token has expired"))
    monitor, _clock = make(script, token="eyJhbGciOiJIUzI1NiJ9.e30.sig")
    await monitor.start()
    await settle(monitor, State.FAILED)
    assert len(events_of(monitor.bus, "session_expired")) == 1
    assert not events_of(monitor.bus, "session_regenerated")
    assert "--token cannot be regenerated" in (monitor.snapshot().verdict or "")


async def test_an_absent_guest_endpoint_means_no_auth_and_a_note() -> None:
    script = Script(None)
    monitor, _clock = make(script, guest=guest_factory(absent=True))
    await monitor.start()
    await settle(monitor, State.CONNECTED)
    notes = [e for e in events_of(monitor.bus, "note") if e.topic == "guest"]
    assert notes[0].level == "warning"
    assert "connecting without auth" in notes[0].text
    assert script.requests[0].auth is None
    assert monitor.snapshot().session.source == "none"
    await monitor.stop()


async def test_a_failing_guest_endpoint_is_a_failed_attempt() -> None:
    calls = 0

    async def flaky(settings: Any) -> GuestResult:
        nonlocal calls
        calls += 1
        if calls == 1:
            return GuestResult(error="guest session at x: HTTP 500 (boom)", kind=FailureKind.HTTP)
        return await guest_factory()(settings)

    script = Script(None)
    monitor, _clock = make(script, guest=flaky)
    await monitor.start()
    await settle(monitor, State.CONNECTED)
    assert kinds(monitor.bus, verdicts=False)[1:4] == [
        "connect_error",
        "reconnect_scheduled",
        "session_created",
    ]
    assert "HTTP 500" in events_of(monitor.bus, "connect_error")[0].message
    await monitor.stop()


async def test_silence_is_a_stall_and_life_recovers_it() -> None:
    script = Script(None)
    script.answers = False  # no round trip is answered: silence
    monitor, clock = make(script, stall_after=3.0)
    await monitor.start()
    await settle(monitor, State.STALLED)
    stall = events_of(monitor.bus, "stall")[0]
    assert stall.bound_s == 3.0
    # Both the stall ticker (0.25 s) and the round-trip loop (1 s) move the fake clock.
    assert 3.0 < stall.silent_s <= 3.0 + 1.0 + 0.25
    conn = script.made[0]
    clock.advance(1.0)
    conn.life(ping=True)
    monitor.live.sample()  # what the next tick does
    assert monitor.state is State.CONNECTED
    back = events_of(monitor.bus, "stall")[-1]
    assert back.recovered
    assert back.silent_s > stall.silent_s
    assert monitor.snapshot().pings_seen == 1
    await monitor.stop()


async def test_round_trips_are_sampled_and_keep_the_connection_alive() -> None:
    script = Script(None)
    monitor, _clock = make(script, rtt_interval=1.0)
    await monitor.start()
    await settle(monitor, State.CONNECTED)
    script.made[0].rtt_ms = 12.5
    mark = len(events_of(monitor.bus, "rtt"))
    await wait_until(lambda: len(events_of(monitor.bus, "rtt")) >= mark + 3, 5, "three samples")
    sample = events_of(monitor.bus, "rtt")[mark]
    assert (sample.ms, sample.method) == (12.5, "namespace-probe")
    snap = monitor.snapshot()
    assert snap.rtt_ms == 12.5
    assert snap.rtt_method == "namespace-probe"
    assert snap.rtt_recent[-3:] == (12.5, 12.5, 12.5)
    await monitor.stop()


async def test_toggle_disconnects_and_connects_again() -> None:
    script = Script(None)
    monitor, _clock = make(script)
    await monitor.toggle()  # from idle: connect
    await settle(monitor, State.CONNECTED)
    await monitor.toggle()
    assert monitor.state is State.DISCONNECTED
    assert script.made[0].graceful_close is True
    gone = events_of(monitor.bus, "disconnected")[-1]
    assert (gone.reason, gone.will_reconnect) == ("io client disconnect (by you)", False)
    await monitor.toggle()
    await settle(monitor, State.CONNECTED)
    assert len(script.requests) == 2
    await monitor.stop()
    await monitor.stop()  # idempotent
    assert monitor.state is State.STOPPED


async def test_reconnect_is_a_clean_disconnect_then_a_new_cycle() -> None:
    script = Script(None)
    monitor, _clock = make(script)
    await monitor.start()
    await settle(monitor, State.CONNECTED)
    await monitor.reconnect()
    await settle(monitor, State.CONNECTED)
    assert script.made[0].graceful_close is True
    assert kinds(monitor.bus).count("connected") == 2
    gone = events_of(monitor.bus, "disconnected")[0]
    assert gone.reason == "io client disconnect (reconnect requested)"
    await monitor.stop()


async def test_emit_records_event_out_and_the_ack() -> None:
    script = Script(None)
    monitor, _clock = make(script)
    not_yet = await monitor.emit("hello", {"x": 1})
    assert not_yet.acked is False
    assert not_yet.error == "not connected"
    await monitor.start()
    await settle(monitor, State.CONNECTED)
    result = await monitor.emit("echo", {"token": "abcdefghijkl"}, ack=True)
    assert result.acked
    out = events_of(monitor.bus, "event_out")[0]
    assert out.name == "echo"
    assert "abcdefghijkl" not in out.preview
    assert "abcdefghijkl" not in (out.ack or "")
    assert monitor.snapshot().events_out == 1
    await monitor.stop()


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Token has expired", True),
        ("Guest session not found or expired", True),
        ("session not found", True),
        ("Your session EXPIRED", True),
        ("Invalid token", False),
        ("Authentication token required", False),
        ("Rate limit exceeded", False),
    ],
)
def test_the_web_clients_regeneration_rule(message: str, expected: bool) -> None:
    assert is_expiry_message(message) is expected


async def test_without_round_trips_the_heartbeat_sets_the_stall_bound() -> None:
    """``--rtt-interval 0``: no round trip is sent; silence counts as a stall only once the
    server's heartbeat (due every pingInterval = 25 s here) is 5 s late."""
    script = Script(None)
    script.answers = False  # a round trip would go unanswered: none may be sent
    monitor, _ = make(script, rtt_interval=0.0)
    await monitor.start()
    # The fake clock runs as fast as the stall checker sleeps: connected, then stalled.
    await settle(monitor, State.STALLED)
    assert monitor.snapshot().rtt_off
    assert monitor.snapshot().stall_bound_s == 30.0
    [connected] = events_of(monitor.bus, "connected")
    [stall] = events_of(monitor.bus, "stall")
    assert stall.bound_s == 30.0
    assert 30.0 <= stall.ts - connected.ts <= 30.5
    assert events_of(monitor.bus, "rtt") == []
    assert any(
        "round trips off (--rtt-interval 0)" in n.text for n in events_of(monitor.bus, "note")
    )
    await monitor.stop()


async def test_round_trips_keep_the_short_stall_bound() -> None:
    script = Script(None)
    monitor, _ = make(script)
    await monitor.start()
    await settle(monitor, State.CONNECTED)
    await wait_until(lambda: bool(events_of(monitor.bus, "rtt")), 5, "a round trip")
    snap = monitor.snapshot()
    assert not snap.rtt_off
    assert snap.stall_bound_s == 3.0
    await monitor.stop()


# -- the diagnosis, live --------------------------------------------------------------------------


def verdicts(monitor: Monitor) -> list[tuple[str, str | None]]:
    return [(e.code, e.reason) for e in events_of(monitor.bus, "verdict")]


def _drops(by: str, every: float = 30.0) -> list[Any]:
    """Connected for ``every`` s, then cut, three times: a timer below the 45 s heartbeat."""
    from conndebug.core.events import Connected, Disconnected

    events: list[Any] = []
    for n in range(3):
        start = n * (every + 1.0)
        events.append(
            Connected(
                ts=start,
                t=start,
                transport="websocket",
                sid="s",
                engine_sid="e",
                ping_interval_ms=25000,
                ping_timeout_ms=20000,
            )
        )
        events.append(
            Disconnected(
                ts=start + every,
                t=start + every,
                reason="transport close (the server closed the websocket)",
                will_reconnect=True,
                by=by,
                close="ws_closed" if by == "server" else "client",
            )
        )
    return events


def test_drops_on_a_timer_below_the_heartbeat_name_the_proxys_read_timeout() -> None:
    from conndebug.core.diagnosis import Diagnosis

    diagnosis = Diagnosis()
    for event in _drops("server", every=10.0):  # within the 25 s between two pings: idle
        diagnosis.feed(event)
    verdict = diagnosis.verdict
    assert (verdict.code, diagnosis.finding.reason) == ("connection_unstable", "idle")
    assert verdict.exit_code == 1
    assert "proxy_read_timeout 60s" in verdict.fix  # above 45 s, at least nginx's default
    assert verdict.title == "An idle timeout of 10 s cuts quiet connections"
    # cut at 30 s, after the server's ping at 25 s crossed the connection: traffic did not keep
    # it, so no idle timeout did this — every connection is cut at that age (GCP's 30 s default)
    later = Diagnosis()
    for event in _drops("server", every=30.0):
        later.feed(event)
    assert (later.verdict.code, later.finding.reason) == ("connection_unstable", "lifetime")
    assert later.verdict.title == "A lifetime cap of 30 s cuts every connection"
    assert "backend service timeout (default 30 s)" in later.verdict.fix
    mine = Diagnosis()
    for event in _drops("user"):  # the same drops, caused by the user (d): not a proxy
        mine.feed(event)
    assert mine.verdict.code != "connection_unstable"


async def test_drops_the_user_causes_are_never_a_proxys_timeout() -> None:
    script = Script(None)
    monitor, clock = make(script)
    await monitor.start()
    await settle(monitor, State.CONNECTED)
    for _ in range(3):  # `d` pressed three times, 2 s apart
        count = len(events_of(monitor.bus, "connected"))
        clock.advance(2.0)
        await monitor.drop_transport()
        await wait_until(lambda c=count: len(events_of(monitor.bus, "connected")) == c + 1, 5)
    assert [e.by for e in events_of(monitor.bus, "disconnected")] == ["user"] * 3
    drops = [(c, r) for c, r in verdicts(monitor) if r in ("default", "proxy_read_timeout")]
    assert ("connection_unstable", "proxy_read_timeout") not in drops, verdicts(monitor)
    assert ("connection_unstable", "default") not in drops, verdicts(monitor)
    assert verdicts(monitor)[0][0] == "ok"
    assert not [e for e in events_of(monitor.bus, "note") if e.topic == "drops"]
    await monitor.stop()


async def test_a_stall_is_named_and_its_end_too() -> None:
    script = Script(None)
    script.answers = False
    monitor, _clock = make(script, stall_after=3.0)
    await monitor.start()
    await settle(monitor, State.STALLED)
    assert verdicts(monitor)[-1] == ("connection_unstable", "stalled")
    assert monitor.verdict is not None
    assert monitor.verdict.exit_code == 1
    script.made[0].life()
    monitor.live.sample()
    assert monitor.state is State.CONNECTED
    assert verdicts(monitor)[-1][0] == "ok"
    await monitor.stop()


async def test_a_kick_long_after_connecting_is_named_and_final() -> None:
    script = Script(None)
    monitor, clock = make(script)
    await monitor.start()
    await settle(monitor, State.CONNECTED)
    clock.advance(60.0)
    script.made[0].end(Ending("io server disconnect", kicked=True, by="server"))
    await settle(monitor, State.DISCONNECTED)
    assert verdicts(monitor)[-1] == ("server_disconnect", "kicked")
    assert events_of(monitor.bus, "verdict")[-1].exit == 2


async def test_a_kick_seconds_after_connecting_is_a_kick_not_the_servers_habit() -> None:
    """One connection kicked 4 s in (the demo's `k`) says nothing about every socket."""
    script = Script(None)
    monitor, clock = make(script)
    await monitor.start()
    await settle(monitor, State.CONNECTED)
    clock.advance(4.0)
    script.made[0].end(Ending("io server disconnect", kicked=True, by="server"))
    await settle(monitor, State.DISCONNECTED)
    assert verdicts(monitor)[-1] == ("server_disconnect", "kicked")


def _lives(*spans: tuple[float, float, str]) -> list[Any]:
    """The monitor's target note, then a connection per (start, end, how it ended)."""
    from conndebug.core.events import Connected, Disconnected, Note

    events: list[Any] = [
        Note(ts=0.0, t=0.0, text="target", topic="target", facts={"url": "http://x:1"})
    ]
    for start, end, how in spans:
        events.append(Connected(ts=start, t=start, transport="websocket", sid="s", engine_sid="e"))
        kicked = how == "kick"
        events.append(
            Disconnected(
                ts=end,
                t=end,
                reason="io server disconnect"
                if kicked
                else "transport close (the server closed the websocket)",
                will_reconnect=not kicked,
                by="server",
                close="ws_closed",
            )
        )
    return events


def _judged(events: list[Any]) -> tuple[str, str]:
    from conndebug.core.diagnosis import Diagnosis

    diagnosis = Diagnosis()
    for event in events:
        diagnosis.feed(event)
    assert diagnosis.finding is not None
    return diagnosis.verdict.code, diagnosis.finding.reason


def test_every_connection_ended_at_once_is_the_servers_habit_one_among_held_ones_is_not() -> None:
    # the only connection kicked 50 ms in: "disconnects every socket right after connecting"
    assert _judged(_lives((0.0, 0.05, "kick"))) == ("server_disconnect", "default")
    # ... and kicked again at once after a reconnection by hand: still every connection
    assert _judged(_lives((0.0, 0.05, "kick"), (5.0, 5.1, "kick"))) == (
        "server_disconnect",
        "default",
    )
    # held a minute, then a new one (x) cut 0.7 s in by a restart: a kick / a drop, no habit
    assert _judged(_lives((0.0, 60.0, "drop"), (61.0, 61.7, "kick"))) == (
        "server_disconnect",
        "kicked",
    )
    assert _judged(_lives((0.0, 60.0, "drop"), (61.0, 61.7, "drop"))) == (
        "connection_unstable",
        "dropped",
    )
    # the only connection ending by itself at once: the server broke the first moments
    assert _judged(_lives((0.0, 0.3, "drop")))[0] == "server_error"


async def test_giving_up_keeps_the_failures_verdict_critical() -> None:
    script = Script(fail(FailureKind.TIMEOUT, "no answer within 5 s", phase="websocket"))
    monitor, _clock = make(script, reconnect_attempts=2)
    await monitor.start()
    await settle(monitor, State.FAILED)
    assert events_of(monitor.bus, "reconnect_failed")
    verdict = events_of(monitor.bus, "verdict")[-1]
    assert verdict.exit == 2
    assert verdict.code == "websocket_blocked"  # the websocket alone hung: blocked, never connected


async def test_a_guest_session_that_cannot_be_renewed_is_session_expired() -> None:
    script = Script(fail(FailureKind.REJECTED, "Guest session not found or expired"))
    monitor, _clock = make(script, guest=guest_factory())
    await monitor.start()
    await settle(monitor, State.FAILED)  # the loop guard stops it
    expired = events_of(monitor.bus, "session_expired")
    assert expired[-1].renewable is False
    assert verdicts(monitor)[-1][0] == "session_expired"


async def test_a_tls_failure_is_not_retried() -> None:
    tls = fail(
        FailureKind.TLS,
        "TLS spoken to a plain HTTP port",
        phase="tls",
        reason="plain_http",
        evidence={"plain_answer": "HTTP/1.1 404 Not Found"},
    )
    script = Script(tls)
    monitor, _clock = make(script)
    await monitor.start()
    await settle(monitor, State.FAILED)
    assert not events_of(monitor.bus, "reconnect_scheduled")
    assert verdicts(monitor)[-1] == ("tls_error", "plain_port")
    assert "not retried" in (monitor.snapshot().verdict or "")
