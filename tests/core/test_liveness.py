"""Stall logic: silence longer than max(stall_after, k × p95 RTT) is a stall; life recovers it."""

from __future__ import annotations

import pytest

from conndebug.core.liveness import Liveness, LivenessChange, percentile


def test_percentile_is_nearest_rank() -> None:
    assert percentile([5.0], 0.95) == 5.0
    assert percentile(list(map(float, range(1, 21))), 0.95) == 19.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def test_silence_beyond_the_bound_is_one_stall_then_life_recovers() -> None:
    live = Liveness(stall_after=3.0)
    live.reset(100.0)
    assert live.check(102.9) is None
    assert live.check(103.0) is None  # exactly the bound is not yet a stall
    assert live.check(103.01) is LivenessChange.STALLED
    assert live.check(110.0) is None  # reported once
    assert live.stalled
    assert live.stalled_since_life == 100.0
    assert live.life(111.0) is LivenessChange.RECOVERED
    assert not live.stalled
    assert live.life(111.5) is None


def test_slow_round_trips_widen_the_bound() -> None:
    live = Liveness(stall_after=3.0, k=4.0)
    live.reset(0.0)
    assert live.bound == 3.0
    for ms in (900.0, 1000.0, 1200.0):
        live.rtt(ms)
    assert live.bound == pytest.approx(4.8)  # 4 × 1.2 s
    assert live.check(4.0) is None
    assert live.check(4.9) is LivenessChange.STALLED


def test_fast_round_trips_keep_the_floor() -> None:
    live = Liveness(stall_after=3.0)
    for _ in range(50):
        live.rtt(1.0)
    assert live.bound == 3.0
    assert len(live.rtts) == 30


def test_pings_are_counted_and_reset_per_connection() -> None:
    live = Liveness(stall_after=3.0)
    live.reset(0.0)
    live.ping(1.0)
    live.ping(2.0)
    assert (live.pings, live.last_ping) == (2, 2.0)
    live.reset(5.0)
    assert (live.pings, live.last_ping, live.last_life) == (0, None, 5.0)
    assert live.silence(7.5) == 2.5


def test_nothing_is_decided_before_the_first_life() -> None:
    live = Liveness(stall_after=3.0)
    assert live.check(1000.0) is None
    assert live.silence(1000.0) == 0.0


def test_a_round_trip_that_spanned_a_stall_stays_out_of_the_percentiles() -> None:
    live = Liveness(stall_after=3.0)
    live.reset(0.0)
    assert live.rtt(2.0, stalls_at_send=live.stalls)
    sent_with = live.stalls
    assert live.check(3.5) is LivenessChange.STALLED
    # The held round trip comes back with the first packet after the black hole: 4.52 s.
    assert live.life(4.6) is LivenessChange.RECOVERED
    assert not live.rtt(4520.0, stalls_at_send=sent_with)
    assert list(live.rtts) == [2.0]
    assert percentile(list(live.rtts), 0.95) == 2.0
    assert live.bound == 3.0
    # The next one, sent after the recovery, counts again.
    assert live.rtt(2.5, stalls_at_send=live.stalls)
    assert list(live.rtts) == [2.0, 2.5]
