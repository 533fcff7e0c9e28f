"""A minute of the soak benchmark (``bench/soak.py``): ``conndebug serve`` restarts every 10 s and
expires every session every 7 s; ``watch`` must be connected again after every restart (each one
after an expiry means a new guest session: the regeneration guard must never stop it), and
neither process may keep descriptors. The 10-minute run and its RSS figures: ``python -m bench
--only soak`` (bench/RESULTS.md)."""

from __future__ import annotations

import pytest

from bench.soak import soak

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


async def test_a_minute_of_restarts_and_expiries_keeps_watch_connected() -> None:
    result = await soak(60.0)
    assert result["restarts"] >= 5, result
    assert result["kept"] == result["restarts"], result["reconnect_s"]
    assert result["alive"], result["summary"]
    assert result["reconnect_failed"] == 0
    assert result["regenerations"] >= 3, result  # the expiries did make it regenerate
    assert result["regenerations"] == result["session_expired"], result
    watch_fds, server_fds = result["watch"]["fds"], result["server"]["fds"]
    assert max(watch_fds[-2:]) <= watch_fds[0] + 4, watch_fds
    assert max(server_fds[-2:]) <= server_fds[0] + 4, server_fds
