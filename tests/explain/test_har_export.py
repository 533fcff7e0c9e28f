"""conndebug's own HAR (``--har``): HAR 1.2 as Chrome writes it, redacted, bounded, and read back
by ``explain`` with the verdict ``watch`` gave.

The lab cases run ``watch --jsonl --har`` against the reference server (healthy, websocket
refused, websocket black-holed, a token the middleware refuses); ``explain`` on the HAR must give
the last ``verdict`` event's code and exit code. Every HAR is checked against the HAR 1.2 JSON
Schema by ``tests/node/harcheck.js`` (har-validator).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from conndebug.commands.explain import explain_file
from conndebug.core.har_export import HarRecorder, HeadTail, build_har, write_har
from conndebug.core.redact import Redactor
from conndebug.wire import ConnectionOpened, HttpExchange, Timings, WsEnded, WsMessage, WsOpened
from conndebug.wire._errors import WireError
from tests.core.test_watch import watch
from tests.servers import reference_server

pytestmark = [pytest.mark.timeout(120)]

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


async def har_problems(*paths: Path) -> list[dict[str, Any]]:
    """The files ``harcheck.js`` finds invalid (with its errors)."""
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(NODE_DIR / "harcheck.js"),
        *map(str, paths),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=NODE_DIR,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    results = [json.loads(line) for line in out.decode().splitlines()]
    assert len(results) == len(paths), err.decode()
    return [r for r in results if not r["valid"]]


CASES = {
    "healthy": ({}, []),
    "websocket_refused": ({"websocket": "reject"}, []),
    "websocket_blackholed": ({"websocket": "blackhole"}, ["--ws-timeout", "1"]),
    "auth_rejected": ({}, ["--token", "not-a-token-the-server-signed"]),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_explain_gives_watch_s_verdict_from_conndebug_s_har(
    case: str, tmp_path: Path, node_dir: Path
) -> None:
    server_options, flags = CASES[case]
    har_path = tmp_path / f"{case}.har"
    async with reference_server(**server_options) as server:
        done = await watch(server.url, "--jsonl", "--duration", "2", "--har", str(har_path), *flags)
    events = [json.loads(line) for line in done.out]
    watched = [e for e in events if e["kind"] == "verdict"][-1]
    assert done.code == watched["exit"], done.err

    timeline, diagnosis = explain_file(str(har_path), Redactor())
    assert timeline.source == "conndebug-har"
    assert (diagnosis.verdict.code, diagnosis.verdict.exit_code) == (
        watched["code"],
        watched["exit"],
    )
    assert not await har_problems(har_path)

    har = json.loads(har_path.read_text(encoding="utf-8"))
    entries = har["log"]["entries"]
    sockets = [e for e in entries if e["_resourceType"] == "websocket"]
    assert sockets, "every case tries the websocket first"
    if case == "healthy":
        frames = sockets[0]["_webSocketMessages"]
        sent = [f["data"] for f in frames if f["type"] == "send"]
        received = [f["data"] for f in frames if f["type"] == "receive"]
        assert received[0].startswith("0{")  # the open packet
        assert sent[0].startswith("40")  # CONNECT (its auth object redacted below)
        assert any(r.startswith('40{"sid"') for r in received)
        assert all(isinstance(f["time"], float) and f["opcode"] == 1 for f in frames)
        assert sockets[0]["response"]["status"] == 101
    elif case == "websocket_refused":
        assert sockets[0]["response"]["status"] == 403
        assert any(e["_resourceType"] == "xhr" for e in entries)  # the fallback's polling
    elif case == "websocket_blackholed":
        assert sockets[0]["response"]["status"] == 0
        assert sockets[0]["_webSocketMessages"][-1]["type"] == "error"
    text = har_path.read_text(encoding="utf-8")
    assert "not-a-token-the-server-signed" not in text
    assert "‹redacted" in text  # the guest token or the given one, in the CONNECT packets


async def test_show_secrets_keeps_them_and_a_bad_har_path_fails_before_anything_runs(
    tmp_path: Path,
) -> None:
    har_path = tmp_path / "secret.har"
    token = "not-a-token-the-server-signed"
    async with reference_server() as server:
        shown = await watch(
            server.url,
            "--duration",
            "0",
            "--token",
            token,
            "--show-secrets",
            "--har",
            str(har_path),
        )
        missing = await watch(server.url, "--duration", "0", "--har", str(tmp_path / "no" / "x"))
        folder = await watch(server.url, "--duration", "0", "--har", str(tmp_path))
    assert shown.code == 2
    assert token in har_path.read_text(encoding="utf-8")
    assert missing.code == folder.code == 3
    assert "does not exist" in missing.err
    assert "is a directory" in folder.err
    assert "Traceback" not in missing.err + folder.err


# -- the recorder and the document, without a network ------------------------------------------

T0 = 1_800_000_000.0


def _timings(**values: float) -> Timings:
    return Timings(started_at=T0, send=0.1, wait=2.0, receive=0.3, total=3.0, **values)


def _exchange(
    request_id: int,
    *,
    method: str = "GET",
    url: str = "http://127.0.0.1:3000/socket.io/?EIO=4&transport=polling&token=tok-in-query",
    body: bytes = b"",
    answer: bytes = b"ok",
    status: int | None = 200,
    error: WireError | None = None,
) -> HttpExchange:
    return HttpExchange(
        request_id=request_id,
        connection_id=7 if status else None,
        started_at=T0 + request_id / 1000,
        method=method,
        url=url,
        http_version="1.1",
        request_headers=(
            ("Host", "127.0.0.1:3000"),
            ("Cookie", "io=abc; session=cookie-secret-value"),
            ("Authorization", "Bearer header-secret-value"),
        ),
        request_body=body,
        request_body_size=len(body),
        status=status,
        reason="OK" if status else None,
        response_headers=(("content-type", "text/plain"), ("set-cookie", "sid=set-secret; Path=/"))
        if status
        else (),
        response_body=answer,
        response_body_size=len(answer),
        truncated=False,
        timings=_timings(dns=1.0, tcp=0.5),
        error=error,
    )


def _socket_session(recorder: HarRecorder, messages: list[tuple[str, str | bytes]]) -> None:
    recorder.connection_opened(
        ConnectionOpened(9, "127.0.0.1:3000", "127.0.0.1:3000", "direct", False, T0)
    )
    recorder.ws_opened(
        WsOpened(
            9,
            T0 + 1,
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket",
            (("Host", "127.0.0.1:3000"), ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")),
            101,
            "Switching Protocols",
            (("upgrade", "websocket"),),
            _timings(),
        )
    )
    for n, (direction, data) in enumerate(messages):
        recorder.ws_message(WsMessage(9, direction, data, T0 + 1.5 + n / 1000))
    recorder.ws_ended(WsEnded(9, "us", 1000, "", True, T0 + 5, "closed by us", 10, 10))


def test_a_session_s_har_is_chrome_s_form_and_redacted() -> None:
    recorder = HarRecorder()
    recorder.http_exchange(_exchange(1, answer=b'0{"sid":"abc","upgrades":["websocket"]}'))
    recorder.http_exchange(
        _exchange(2, method="POST", body=b'40{"token":"auth-secret-value","room":"lobby"}')
    )
    _socket_session(
        recorder,
        [("out", '40{"password":"pw-secret-value"}'), ("in", '42["news",1]'), ("in", b"\x01\x02")],
    )
    har = build_har(recorder.snapshot(), Redactor(), title="t", version="1")
    text = json.dumps(har)
    for secret in (
        "tok-in-query",
        "cookie-secret-value",
        "header-secret-value",
        "set-secret",
        "auth-secret-value",
        "pw-secret-value",
    ):
        assert secret not in text, secret
    assert "dGhlIHNhbXBsZSBub25jZQ==" in text  # a websocket key is no secret
    log = har["log"]
    assert (log["version"], log["creator"]["name"]) == ("1.2", "conndebug")
    polling = [e for e in log["entries"] if e["_resourceType"] == "xhr"]
    assert [e["_request_id"] for e in polling] == [1, 2]
    assert polling[1]["request"]["postData"]["text"].startswith('40{"token":"‹redacted')
    assert '"room":"lobby"' in polling[1]["request"]["postData"]["text"]
    assert polling[0]["timings"]["dns"] == 1.0
    assert polling[0]["timings"]["connect"] == 0.5
    assert polling[0]["time"] == pytest.approx(1.0 + 0.5 + 0.1 + 2.0 + 0.3)
    (socket,) = [e for e in log["entries"] if e["_resourceType"] == "websocket"]
    frames = socket["_webSocketMessages"]
    assert [(f["type"], f["opcode"]) for f in frames] == [
        ("send", 1),
        ("receive", 1),
        ("receive", 2),
    ]
    assert frames[1]["data"] == '42["news",1]'
    assert frames[2]["data"] == "AQI="
    assert frames[1]["time"] == pytest.approx(T0 + 1.501)
    assert socket["serverIPAddress"] == "127.0.0.1"
    assert socket["time"] == pytest.approx(4000, abs=1)  # open to close: its life
    shown = build_har(recorder.snapshot(), Redactor(show_secrets=True), title="t", version="1")
    assert "pw-secret-value" in json.dumps(shown)
    assert "cookie-secret-value" in json.dumps(shown)


def test_a_websocket_without_an_answer_has_chrome_s_error_message() -> None:
    from conndebug.core.failure import FailureKind

    recorder = HarRecorder()
    for kind in (FailureKind.TIMEOUT, FailureKind.REFUSED):
        recorder.ws_refused(
            _exchange(
                0,
                url="ws://h/socket.io/?EIO=4",
                status=None,
                answer=b"",
                error=WireError(kind, "websocket", "no"),
            )
        )
    entries = build_har(recorder.snapshot(), Redactor(), title="t", version="1")["log"]["entries"]
    errors = [e["_webSocketMessages"][-1]["data"] for e in entries]
    assert errors == [
        "WebSocket is closed before the connection is established.",
        "Error in connection establishment: net::ERR_CONNECTION_REFUSED",
    ]
    assert {e["response"]["status"] for e in entries} == {0}


def test_a_long_session_keeps_its_start_and_its_end_and_says_what_it_left_out() -> None:
    recorder = HarRecorder(keep_entries=3, keep_messages=4, body_keep=10)
    for n in range(1, 11):
        recorder.http_exchange(_exchange(n, answer=b"x" * 20))
    _socket_session(recorder, [("in", f"42[{n}]") for n in range(20)])
    har = build_har(recorder.snapshot(), Redactor(), title="t", version="1")
    log = har["log"]
    kept = [e["_request_id"] for e in log["entries"] if e["_resourceType"] == "xhr"]
    assert kept == [1, 2, 3, 9, 10]  # the last 3 entries: requests 9, 10 and the websocket
    frames = next(e for e in log["entries"] if e["_resourceType"] == "websocket")[
        "_webSocketMessages"
    ]
    assert [f["data"] for f in frames] == ["42[0]", "42[1]", "42[2]", "42[3]"] + [
        f"42[{n}]" for n in range(16, 20)
    ]
    assert "5 entries" in log["comment"]
    assert "12 websocket messages" in log["comment"]
    assert "bodies or messages cut" in log["comment"]
    cut = next(e for e in log["entries"] if e["_resourceType"] == "xhr")["response"]["content"]
    assert cut["text"] == "x" * 10
    assert "20 bytes" in cut["comment"]


def test_head_tail_bounds_bytes_too() -> None:
    kept: HeadTail[int] = HeadTail(items=100, size=10)
    for n in range(50):
        kept.add(n, 4)
    assert list(kept) == [0, 1, 2, 48, 49]
    assert kept.dropped == 50 - 5


def test_write_har_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.har"
    path.write_text("old", encoding="utf-8")
    write_har(path, {"log": {"entries": []}})
    assert json.loads(path.read_text(encoding="utf-8")) == {"log": {"entries": []}}
    assert os.listdir(tmp_path) == ["a.har"]  # no temporary file left
    with pytest.raises(FileNotFoundError):
        write_har(tmp_path / "missing" / "b.har", {"log": {"entries": []}})
    assert os.listdir(tmp_path) == ["a.har"]


def test_a_msgpack_packet_s_secrets_are_masked_inside_it() -> None:
    import base64

    import msgpack

    packet = {"type": 2, "nsp": "/", "data": ["login", {"password": "pw-in-msgpack", "n": 1}]}
    recorder = HarRecorder()
    _socket_session(recorder, [("out", msgpack.packb(packet)), ("in", b"\x00\x01\x02\x03")])

    def frames(redactor: Redactor) -> list[Any]:
        har = build_har(recorder.snapshot(), redactor, title="t", version="1")
        entry = har["log"]["entries"][0]
        return [base64.b64decode(f["data"]) for f in entry["_webSocketMessages"]]

    masked, attachment = frames(Redactor())
    decoded = msgpack.unpackb(masked)
    assert decoded["data"][1]["password"].startswith("‹redacted")
    assert decoded["data"][1]["n"] == 1
    assert attachment == b"\x00\x01\x02\x03"  # not msgpack: as it was
    assert msgpack.unpackb(frames(Redactor(show_secrets=True))[0]) == packet
