"""The record readers and the diagnosis fold, on small records made here."""

from __future__ import annotations

import json
from pathlib import Path

from conndebug.commands.explain import explain_file, to_json
from conndebug.core.diagnosis import Diagnosis, diagnose
from conndebug.core.events import Connected, ConnectError, Connecting, EventBus, Note
from conndebug.core.explain import detect, read_text
from conndebug.core.redact import Redactor
from tests.conftest import run_cli

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJndWVzdF8xIn0.c2lnbmF0dXJlLXZhbHVl"
SERVER = "https://chat.example.test"


def _entry(
    url: str,
    status: int,
    *,
    method: str = "GET",
    started: str = "2026-05-04T10:00:00.000+02:00",
    headers: list[dict[str, str]] | None = None,
    body: str | None = None,
) -> dict[str, object]:
    content: dict[str, object] = {"size": len(body or ""), "mimeType": "text/plain"}
    if body is not None:
        content["text"] = body
    return {
        "pageref": "page_1",
        "startedDateTime": started,
        "time": 12,
        "request": {
            "method": method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "headers": headers or [],
            "cookies": [],
            "queryString": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": [],
            "cookies": [],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"send": 0, "wait": 12, "receive": 0},
    }


def firefox_har(*entries: dict[str, object]) -> str:
    """A HAR as Firefox's network monitor saves it (no underscored fields, no frames)."""
    return json.dumps(
        {
            "log": {
                "version": "1.2",
                "creator": {"name": "Firefox", "version": "128.0"},
                "browser": {"name": "Firefox", "version": "128.0"},
                "pages": [
                    {
                        "startedDateTime": "2026-05-04T10:00:00.000+02:00",
                        "id": "page_1",
                        "title": "Chat",
                        "pageTimings": {"onContentLoad": -1, "onLoad": -1},
                    }
                ],
                "entries": [
                    _entry(
                        "https://app.example.test/",
                        200,
                        headers=[{"name": "Accept", "value": "text/html,*/*"}],
                    ),
                    *entries,
                ],
            }
        }
    )


def test_firefox_har_with_a_refused_websocket_upgrade_and_no_frames(tmp_path: Path) -> None:
    har = firefox_har(
        _entry(
            f"{SERVER}/socket.io/?EIO=4&transport=websocket&token={JWT}",
            403,
            started="2026-05-04T10:00:01.000+02:00",
            headers=[
                {"name": "Upgrade", "value": "websocket"},
                {"name": "Authorization", "value": f"Bearer {JWT}"},
            ],
            body="Forbidden",
        ),
    )
    path = tmp_path / "customer.har"
    path.write_text(har)
    timeline, diagnosis = explain_file(str(path), Redactor())
    assert timeline.source == "firefox-har"
    assert diagnosis.verdict.code == "websocket_blocked"
    assert diagnosis.verdict.exit_code == 2  # the client never connected
    assert "403" in diagnosis.verdict.title
    assert "No polling attempt is recorded." in diagnosis.verdict.explanation
    out = json.dumps(to_json(timeline, diagnosis), ensure_ascii=False)
    assert JWT not in out
    assert "token=‹redacted jwt #" in out  # masked once, the mask itself left alone


def test_har_with_a_101_websocket_but_no_messages_says_so() -> None:
    har = firefox_har(
        _entry(
            f"{SERVER}/socket.io/?EIO=4&transport=websocket",
            101,
            headers=[{"name": "Upgrade", "value": "websocket"}],
        ),
    )
    timeline = read_text(har, "x.har", Redactor())
    assert any("no websocket messages" in gap for gap in timeline.gaps)
    assert diagnose(timeline.events).code == "inconclusive"


def test_har_without_socketio_traffic_says_what_is_missing() -> None:
    timeline = read_text(firefox_har(), "x.har", Redactor())
    assert any("no Socket.IO request is recorded" in gap for gap in timeline.gaps)
    verdict = diagnose(timeline.events)
    assert verdict.code == "inconclusive"
    assert verdict.exit_code == 3
    assert "no connection attempt" in verdict.explanation


def test_polling_har_upgrade_refused_while_polling_works() -> None:
    sid = "AbCdEf123"
    open_packet = json.dumps(
        {
            "sid": sid,
            "upgrades": ["websocket"],
            "pingInterval": 25000,
            "pingTimeout": 20000,
            "maxPayload": 1000000,
        }
    )
    har = firefox_har(
        _entry(
            f"{SERVER}/socket.io/?EIO=4&transport=polling&t=a",
            200,
            body="0" + open_packet,
            started="2026-05-04T10:00:01.000+02:00",
        ),
        _entry(
            f"{SERVER}/socket.io/?EIO=4&transport=polling&t=b&sid={sid}",
            200,
            method="POST",
            body="ok",
            started="2026-05-04T10:00:01.010+02:00",
        ),
        _entry(
            f"{SERVER}/socket.io/?EIO=4&transport=polling&t=c&sid={sid}",
            200,
            body='40{"sid":"sock1"}',
            started="2026-05-04T10:00:01.020+02:00",
        ),
        _entry(
            f"{SERVER}/socket.io/?EIO=4&transport=websocket&sid={sid}",
            400,
            headers=[{"name": "Upgrade", "value": "websocket"}],
            body='{"code":3,"message":"Bad request"}',
            started="2026-05-04T10:00:01.030+02:00",
        ),
    )
    timeline = read_text(har, "x.har", Redactor())
    kinds = [e.kind for e in timeline.events]
    assert kinds.index("connected") < kinds.index("upgrade_failed")
    verdict = diagnose(timeline.events)
    assert verdict.code == "websocket_blocked"
    assert verdict.exit_code == 1  # connected, degraded
    assert "polling only" in verdict.title


DEBUG_TTY = f"""\
  socket.io-client:manager opening http://localhost:3001 +0ms
  engine.io-client:socket creating transport "websocket" +1ms
  socket.io-client:manager connect attempt will timeout after 20000 +2ms
  engine.io-client:socket socket receive: type "open", data "{{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}" +10ms
  socket.io-client:manager writing packet {{"type":0,"data":{{"token":"{JWT}"}},"nsp":"/"}} +1ms
  engine.io-client:socket socket receive: type "message", data "4{{"message":"Token has expired"}}" +3ms
"""


def test_debug_log_copied_from_a_terminal_or_console() -> None:
    assert detect(DEBUG_TTY) == "debug-log"
    timeline = read_text(DEBUG_TTY, "console.txt", Redactor())
    assert any("no clock times" in gap for gap in timeline.gaps)
    errors = [e for e in timeline.events if isinstance(e, ConnectError)]
    assert errors
    assert errors[0].source == "server"
    assert errors[0].phase == "namespace"
    assert abs(errors[0].t - 0.016) < 1e-6  # the +N ms added up since the attempt
    verdict = diagnose(timeline.events)
    assert verdict.code == "auth_rejected"
    assert "Token has expired" in verdict.title
    assert JWT not in json.dumps([e.to_dict() for e in timeline.events])


PYTHON_BASICCONFIG = """\
2026-05-04 10:00:00,100 INFO engineio.client: Attempting polling connection to http://h:1/socket.io/?transport=polling&EIO=4
2026-05-04 10:00:00,120 INFO engineio.client: Polling connection accepted with {'sid': 'e1', 'upgrades': ['websocket'], 'pingTimeout': 20000, 'pingInterval': 25000, 'maxPayload': 1000000}
2026-05-04 10:00:00,121 INFO engineio.client: Sending packet MESSAGE data 0{}
2026-05-04 10:00:00,130 INFO engineio.client: Received packet MESSAGE data 0{"sid":"x1"}
2026-05-04 10:00:00,131 INFO socketio.client: Namespace / is connected
2026-05-04 10:00:00,140 INFO engineio.client: Attempting WebSocket upgrade to ws://h:1/socket.io/?transport=websocket&EIO=4
2026-05-04 10:00:00,150 INFO engineio.client: WebSocket upgrade was successful
"""


def test_python_log_with_a_logging_format_and_an_upgrade() -> None:
    assert detect(PYTHON_BASICCONFIG) == "python-log"
    timeline = read_text(PYTHON_BASICCONFIG, "app.log", Redactor())
    assert not timeline.gaps
    connected = [e for e in timeline.events if isinstance(e, Connected)]
    assert connected
    assert connected[0].engine_sid == "e1"
    assert connected[0].sid == "x1"
    assert abs(connected[0].elapsed_ms - 9.0) < 0.01  # type: ignore[operator]
    verdict = diagnose(timeline.events)
    assert verdict.code == "ok"
    assert "websocket" in verdict.title


def test_conndebug_jsonl_round_trip(tmp_path: Path) -> None:
    bus = EventBus()
    bus.emit(Connecting, url="http://h:1", transport="websocket")
    bus.emit(
        ConnectError,
        message="websocket error",
        transport="websocket",
        status=403,
        phase="handshake",
        url="ws://h:1/socket.io/?EIO=4&transport=websocket",
    )
    text = "".join(e.to_json() + "\n" for e in bus.history)
    assert detect(text) == "jsonl"
    timeline = read_text(text, "watch.jsonl", Redactor())
    assert [e.to_dict() for e in timeline.events] == [e.to_dict() for e in bus.history]
    assert diagnose(timeline.events).code == "websocket_blocked"


def test_optional_event_fields_stay_out_of_the_json_until_set() -> None:
    bus = EventBus()
    plain = bus.emit(ConnectError, message="x")
    assert set(plain.to_dict()) == {"ts", "t", "kind", "detail", "message", "data", "source"}
    rich = bus.emit(ConnectError, message="x", status=400, code=1)
    assert rich.to_dict()["status"] == 400
    assert rich.to_dict()["code"] == 1


def test_the_fold_reports_each_change_of_verdict() -> None:
    bus = EventBus()
    diagnosis = Diagnosis()
    changes = []
    for event in (
        bus.emit(Connecting, url="http://h:1", transport="websocket"),
        bus.emit(
            ConnectError,
            message="timeout",
            transport="websocket",
            phase="timeout",
            cause="no answer in 3.0 s",
        ),
        bus.emit(
            Note,
            text="POST /api/guest → HTTP 201",
            topic="http",
            status=201,
            url="http://h:1/api/guest",
        ),
        bus.emit(Connecting, url="http://h:1", transport="websocket", attempt=1),
        bus.emit(Connected, transport="websocket", sid="a", engine_sid="b"),
    ):
        if diagnosis.feed(event):
            changes.append(diagnosis.verdict.code)
    assert changes == ["inconclusive", "connect_timeout", "websocket_blocked", "ok"]
    assert diagnosis.verdict.exit_code == 0


def test_unknown_file_is_said_plainly(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("the customer says it does not work\n")
    done = run_cli("explain", str(path))
    assert done.returncode == 3, done
    assert "not a format explain reads" in done.stdout
    assert "Traceback" not in done.stderr


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("explain", str(tmp_path / "nope.har"))
    assert done.returncode == 3
    assert "cannot be read" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_json_is_the_probe_schema_and_exit_is_the_worst_verdict() -> None:
    from tests.explain.record import FIXTURES

    done = run_cli(
        "explain",
        str(FIXTURES / "healthy.har"),
        str(FIXTURES / "auth_rejected.node.log"),
        "--json",
    )
    assert done.returncode == 2, done.stderr
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["verdict"]["code"] for o in objects] == ["ok", "auth_rejected"]
    for obj in objects:
        assert obj["schema"] == 1
        assert {"verdict", "steps", "connection", "history", "gaps", "source"} <= set(obj)
        assert obj["steps"] == []
        assert set(obj["verdict"]) == {"code", "title", "explanation", "fix"}
    assert objects[0]["connection"]["transport"] == "websocket"
