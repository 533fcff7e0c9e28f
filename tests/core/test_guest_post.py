"""The guest-session contract is read in one place whatever carries the POST (an injected
``post``): the monitor's aiohttp, the probe's own client, or a fake here."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping

import pytest

from conndebug.core.failure import FailureKind
from conndebug.core.guest import PostAnswer, PostFailed, create_guest_session
from tests.conftest import ROOT
from tests.core.helpers import settings_for

CONTRACT = {
    "success": True,
    "data": {
        "token": "a.b.c",
        "user": {"id": "guest_1", "username": "CalmOwl7", "sessionId": "s-1"},
    },
}


class FakePost:
    def __init__(self, answer: PostAnswer | PostFailed) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, str], bytes, float]] = []

    async def __call__(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> PostAnswer:
        self.calls.append((url, dict(headers), body, timeout))
        if isinstance(self.answer, PostFailed):
            raise self.answer
        return self.answer


async def test_an_injected_post_carries_the_request_and_its_answer_is_read_here() -> None:
    post = FakePost(PostAnswer(201, "application/json", json.dumps(CONTRACT).encode()))
    settings = settings_for(
        "http://127.0.0.1:9", origin="http://app.example", headers=(("X-Trace", "t1"),)
    )
    result = await create_guest_session(settings, timeout=4.0, post=post)
    assert result.session is not None
    assert (result.session.username, result.session.user_id) == ("CalmOwl7", "guest_1")
    assert result.status == 201
    [(url, headers, body, timeout)] = post.calls
    assert (url, body, timeout) == ("http://127.0.0.1:9/api/guest", b"{}", 4.0)
    assert headers["Origin"] == "http://app.example"
    assert headers["X-Trace"] == "t1"
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("answer", "field", "words"),
    [
        (PostAnswer(404, "text/html", b"<html>nope</html>"), "absent", "HTTP 404: an HTML page"),
        (PostAnswer(503, "application/json", b'{"message":"busy"}'), "error", "HTTP 503 (busy)"),
        # by default the wait is --connect-timeout (5 s in these settings), never a fixed 10 s
        (PostFailed(FailureKind.TIMEOUT, "no answer in time"), "absent", "no answer within 5 s"),
        (PostFailed(FailureKind.REFUSED, "connection refused"), "error", "connection refused"),
    ],
)
async def test_every_outcome_is_sorted_the_same_whatever_the_transport(
    answer: PostAnswer | PostFailed, field: str, words: str
) -> None:
    result = await create_guest_session(settings_for("http://127.0.0.1:9"), post=FakePost(answer))
    assert result.session is None
    text = getattr(result, field)
    assert text is not None
    assert words in text
    if isinstance(answer, PostFailed):
        assert result.kind is answer.kind


def test_the_guest_module_loads_no_http_library() -> None:
    code = (
        "import sys, conndebug.core.guest\n"
        "print(sorted(m for m in ('aiohttp', 'httpx', 'jwt') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
