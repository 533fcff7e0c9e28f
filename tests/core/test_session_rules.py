"""The regeneration loop guard and payload previews, as pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from conndebug.core.preview import PREVIEW_CHARS, preview
from conndebug.core.redact import Redactor
from conndebug.core.session import RegenerationGuard


def test_the_guard_allows_three_per_minute_and_forgets_old_ones() -> None:
    guard = RegenerationGuard(limit=3, window_s=60.0)
    assert [guard.record(t) for t in (0.0, 10.0, 20.0)] == [1, 2, 3]
    assert not guard.allows(59.9)
    assert guard.allows(60.0)  # the first one left the window
    assert guard.recent(80.0) == 0
    assert guard.total == 3


def test_a_fresh_session_that_connected_resets_the_guard() -> None:
    guard = RegenerationGuard(limit=3, window_s=60.0)
    for t in range(20):  # a regeneration every second, each fresh session connecting
        assert guard.allows(float(t))
        guard.record(float(t))
        guard.connected()
    assert guard.total == 20
    assert guard.recent(20.0) == 0
    for t in (21.0, 22.0, 23.0):  # three fresh sessions in a row that did not connect
        guard.record(t)
    assert not guard.allows(24.0)


def test_a_preview_is_redacted_before_it_is_cut() -> None:
    secret = "s3cr3t-value-" + "x" * 200
    redactor = Redactor([secret])
    size, text = preview(redactor, {"note": secret, "password": "hunter22"})
    assert size > 200
    assert secret[:20] not in text
    assert "hunter22" not in text
    assert len(text) <= PREVIEW_CHARS


def test_a_long_payload_is_cut_with_an_ellipsis_and_sized_in_bytes() -> None:
    size, text = preview(Redactor(), {"pad": "é" * 500})
    assert size == len('{"pad":""}') + 2 * 500
    assert len(text) == PREVIEW_CHARS
    assert text.endswith("…")


def test_a_payload_that_is_not_json_still_previews() -> None:
    size, text = preview(Redactor(), {1, 2})
    assert size > 0
    assert text


def test_a_huge_payload_is_clipped_before_redaction_and_stays_truthful() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJndWVzdF8xIn0.c2lnbmF0dXJlLXZhbHVl"

    class Counting(Redactor):
        scanned = 0

        def text(self, text: str) -> str:
            Counting.scanned += len(text)
            return super().text(text)

    payload = {"token": token, "data": "x" * 10_000_000, "items": list(range(50_000))}
    size, text = preview(Counting([token]), payload)
    assert size > 10_000_000  # the size is the whole payload's, not the clipped one's
    assert token not in text
    assert len(text) <= PREVIEW_CHARS
    # the 10 MB string was cut before the redactor scanned it (it held the loop ~0.9 s before)
    assert 0 < Counting.scanned < 200_000


@pytest.mark.parametrize("depth", [500, 999, 5000, 100_000])
def test_a_preview_of_deep_json_never_overflows_the_stack(depth: int) -> None:
    """A hostile server's nesting (issue 18 item 5): shown cut, never a RecursionError."""
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    size, text = preview(Redactor(), value)
    assert text.startswith("[[[")
    assert len(text) <= 120
    assert size > 0


def test_binary_values_show_their_true_size_and_a_hex_start() -> None:
    size, text = preview(Redactor(), [7, b"\x00\x01\x02\x03"])
    assert text == '[7,"<binary 4 B> 00010203"]'
    assert size == len("[7,]") + 4
    size, text = preview(Redactor(), {"blob": bytes(range(40))})
    assert "<binary 40 B> 000102030405060708090a0b0c0d0e0f…" in text
    assert "b'" not in text
    assert size == len('{"blob":}') + 40


def test_a_huge_string_is_cut_before_anything_else_touches_it() -> None:
    size, text = preview(Redactor(["s3cret-token-value"]), {"x": "y" * 5_000_000})
    assert size == len('{"x":""}') + 5_000_000
    assert len(text) <= 120
