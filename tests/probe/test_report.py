"""Reports from generic pieces: probe sections and monitor-session sections, always redacted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conndebug.core.errors import ConfigError
from conndebug.core.events import EventBus, Note, SessionCreated
from conndebug.core.redact import Redactor
from conndebug.core.report import (
    ReportSection,
    build_report,
    check_report_path,
    environment_info,
    redact_url,
    render_markdown,
    write_report,
)
from tests.probe.conftest import probe_settings

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJndWVzdF8xIn0.c2lnbmF0dXJlLXRoYXQtaXMtc2VjcmV0"


def monitor_section() -> ReportSection:
    bus = EventBus()
    bus.emit(SessionCreated, username="SwiftTiger42", user_id="guest_1", session_id="s1", token=JWT)
    bus.emit(Note, text=f"Authorization: Bearer {JWT}")
    return ReportSection(
        title="monitor session http://127.0.0.1:3001",
        connection={"transport": "websocket", "sid": "abc", "token": JWT},
        environment={"proxy": None, "python": "3.11"},
        history=list(bus.history),
    )


@pytest.mark.parametrize("ext", [".md", ".json"])
def test_monitor_session_report_without_verdict_or_steps_is_redacted(
    tmp_path: Path, ext: str
) -> None:
    path = write_report(tmp_path / f"session{ext}", [monitor_section()], kind="monitor")
    text = path.read_text(encoding="utf-8")
    assert JWT not in text
    assert "c2lnbmF0dXJl" not in text
    assert "SwiftTiger42" in text
    assert "session_created" in text
    if ext == ".json":
        data = json.loads(text)
        assert data["kind"] == "monitor"
        assert data["sections"][0]["verdict"] is None
    else:
        assert text.startswith("# conndebug monitor report")


def test_show_secrets_keeps_them_and_says_so() -> None:
    report = build_report([monitor_section()], redactor=Redactor(show_secrets=True))
    assert report["redacted"] is False
    assert JWT in json.dumps(report)
    assert "SECRETS SHOWN" in render_markdown(report)


@pytest.mark.parametrize("name", ["report.txt", "report", "report.html"])
def test_report_extension_must_be_md_or_json(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match=r"\.md or \.json"):
        check_report_path(tmp_path / name)


def test_report_into_a_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        check_report_path(tmp_path / "nope" / "r.md")


def test_proxy_credentials_are_masked_but_the_host_stays() -> None:
    masked = redact_url("http://alice:hunter22@proxy.example:3128")
    assert masked is not None
    assert "hunter22" not in masked
    assert masked.startswith("http://alice:‹redacted")
    assert masked.endswith("@proxy.example:3128")
    assert redact_url("http://proxy.example:3128") == "http://proxy.example:3128"


def test_environment_has_the_json_schema_keys_first_and_the_proxy_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://bob:pw-123456@proxy.example:8080")
    env = environment_info(probe_settings("http://127.0.0.1:3001"))
    assert list(env)[:5] == ["proxy", "tls_verify", "ca_bundle", "python", "conndebug"]
    assert env["proxy_source"] == "HTTP_PROXY"
    assert "pw-123456" not in json.dumps(env)
    assert env["proxy_variables"]["HTTP_PROXY"].endswith("@proxy.example:8080")
    assert env["python_socketio"]
