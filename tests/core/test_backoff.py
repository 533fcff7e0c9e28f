"""The reconnection delays match socket.io-client's Backoff exactly (injected randomness)."""

from __future__ import annotations

import random

import pytest

from conndebug.core.backoff import Backoff


class FixedRandom(random.Random):
    """A Random whose ``random()`` returns the given values in turn."""

    def __init__(self, *values: float) -> None:
        super().__init__(0)
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)


def test_without_jitter_the_delay_doubles_up_to_the_cap() -> None:
    backoff = Backoff(min_s=1.0, max_s=5.0, jitter=0.0)
    assert [backoff.duration() for _ in range(6)] == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert backoff.attempts == 6


def test_jitter_is_subtracted_for_even_tenths_and_added_for_odd_ones() -> None:
    # rand 0.25: floor(2.5) = 2, even → ms - floor(0.25 × 0.5 × ms): 1000 → 875, 4000 → 3500
    # rand 0.15: floor(1.5) = 1, odd  → ms + floor(0.15 × 0.5 × ms): 2000 → 2150, 8000 → cap
    backoff = Backoff(
        min_s=1.0, max_s=5.0, jitter=0.5, rng=FixedRandom(0.25, 0.15, 0.25, 0.15, 0.25)
    )
    assert [backoff.duration() for _ in range(5)] == [0.875, 2.15, 3.5, 5.0, 5.0]


def test_the_cap_applies_after_the_jitter_and_ms_are_truncated() -> None:
    backoff = Backoff(min_s=0.333, max_s=10.0, jitter=0.5, rng=FixedRandom(0.19))
    # 333 + floor(0.19 × 0.5 × 333) = 333 + 31 = 364
    assert backoff.duration() == 0.364
    capped = Backoff(min_s=4.0, max_s=5.0, jitter=0.5, rng=FixedRandom(0.99))
    # 4000 + floor(0.99 × 0.5 × 4000) = 5980 → capped to 5000
    assert capped.duration() == 5.0


def test_reset_starts_again_from_the_first_delay() -> None:
    backoff = Backoff(min_s=1.0, max_s=5.0, jitter=0.0)
    backoff.duration()
    backoff.duration()
    backoff.reset()
    assert backoff.attempts == 0
    assert backoff.duration() == 1.0


def test_a_huge_attempt_number_does_not_overflow() -> None:
    backoff = Backoff(min_s=1.0, max_s=5.0, jitter=0.5, rng=random.Random(7))
    backoff.attempts = 10_000
    assert backoff.duration() == 5.0


@pytest.mark.parametrize("seed", range(20))
def test_seeded_delays_stay_within_the_policy(seed: int) -> None:
    backoff = Backoff(min_s=1.0, max_s=5.0, jitter=0.5, rng=random.Random(seed))
    first, second, third = backoff.duration(), backoff.duration(), backoff.duration()
    assert 0.5 <= first <= 1.5
    assert 1.0 <= second <= 3.0
    assert 2.0 <= third <= 5.0
