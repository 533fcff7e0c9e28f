"""Redaction runs over text a hostile server controls: it must take time linear in that text.

Before the fix, a run of newlines or of ``eyJ`` made the redactor's patterns rescan the rest of the
text from every position: ``"\\n" * 20_000`` took 16 s, ``"\\n" * 40_000`` 69 s — an event of a
megabyte of newlines would have frozen the monitor and the TUI for hours. Each input below is
about 200 KB; linear redaction takes well under a second for it, the quadratic one took minutes,
so the bound is generous. (The same bomb sent as an event: test_hostile.py, ``redaction-bomb``.)
"""

from __future__ import annotations

import time

import pytest

from conndebug.core.redact import Redactor

BOMBS = {
    "newlines": "\n",
    "spaces-and-newlines": " \n",
    "tabs": "\t",
    "jwt-starts": "eyJ",
    "jwt-heads": "eyJaaaa.",
    "jwt-short-segments": "eyJa.",
    "dotted-words": "a.",
    "url-schemes": "http://",
    "url-userinfo": "a://b:",
    "bearer-lines": "bearer\n",
    "basic-words": "basic ",
    "query-keys": "?token",
    "header-names": "Authorization:",
    "cookie-lines": "cookie: \n",
}
SIZE = 200_000
BOUND_S = 5.0


@pytest.mark.parametrize(("pattern"), list(BOMBS.values()), ids=list(BOMBS))
def test_redacting_a_pathological_text_takes_linear_time(pattern: str) -> None:
    text = pattern * (SIZE // len(pattern))
    redactor = Redactor(["a-known-secret-value"])
    started = time.perf_counter()
    redactor.text(text)
    assert time.perf_counter() - started < BOUND_S


def test_the_anchored_patterns_still_mask_what_they_should() -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJndWVzdF8xIn0.c2lnbmF0dXJl"
    text = Redactor().text(
        f"auth {jwt}; (Bearer abcdefgh12345678) ?token=t0ps3cret&x=1 "
        "http://user:pa55word@proxy:3128\nCookie: sid=abc123\n  authorization:\tBasic dXNlcjpwYXNz"
    )
    for secret in (jwt, "abcdefgh12345678", "t0ps3cret", "pa55word", "sid=abc123", "dXNlcjpwYXNz"):
        assert secret not in text
