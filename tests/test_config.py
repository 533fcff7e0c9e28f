"""Settings: URLs normalised the way socket.io-client reads them; bad input is a ConfigError."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from conndebug.config import (
    Settings,
    add_connection_options,
    effective_proxy,
    normalize_url,
    settings_from_args,
)
from conndebug.core.errors import ConfigError


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_connection_options(p)
    return p.parse_args(list(argv))


@pytest.mark.parametrize(
    ("raw", "origin", "path"),
    [
        ("http://localhost:3001", "http://localhost:3001", None),
        ("ws://localhost:3001/", "http://localhost:3001", None),
        ("wss://example.com/admin", "https://example.com", "/admin"),
        ("localhost:3001", "http://localhost:3001", None),
        ("http://[::1]:3001", "http://[::1]:3001", None),
        ("HTTPS://Example.COM", "https://example.com", None),
    ],
)
def test_normalize_url(raw: str, origin: str, path: str | None) -> None:
    assert normalize_url(raw) == (origin, path)


def test_defaults_are_the_seed_policy() -> None:
    s = settings_from_args(parse(), "http://localhost:3001")
    assert s.transports == ("websocket", "polling")
    assert (s.reconnect_attempts, s.reconnect_delay, s.reconnect_delay_max, s.randomization) == (
        10,
        1.0,
        5.0,
        0.5,
    )
    assert s.connect_timeout == 20.0
    assert s.ws_timeout < 20.0
    assert s.guest_url == "http://localhost:3001/api/guest"


def test_url_path_is_the_namespace() -> None:
    s = settings_from_args(parse(), "http://localhost:3001/admin")
    assert s.namespace == "/admin"
    with pytest.raises(ConfigError):
        settings_from_args(parse("--namespace", "/other"), "http://localhost:3001/admin")


def test_log_must_be_writable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be written"):
        settings_from_args(parse("--log", str(tmp_path / "missing-dir" / "x.jsonl")), "http://h:1")
    ok = settings_from_args(parse("--log", str(tmp_path / "x.jsonl")), "http://h:1")
    assert ok.log is not None


def test_proxy_from_environment_honours_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:8888")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    assert effective_proxy(Settings(url="http://api.example.com")) == "http://127.0.0.1:8888"
    assert effective_proxy(Settings(url="http://internal.example")) is None
    assert effective_proxy(Settings(url="http://api.example.com", env_proxy=False)) is None
    assert (
        effective_proxy(Settings(url="http://internal.example", proxy="http://p:1")) == "http://p:1"
    )


def test_dialect_options_reach_the_settings() -> None:
    import argparse

    from conndebug.config import add_connection_options, settings_from_args

    parser = argparse.ArgumentParser()
    add_connection_options(parser)
    default = settings_from_args(parser.parse_args([]), "http://localhost:3001")
    assert (default.eio, default.parser) == (4, "json")
    old = settings_from_args(
        parser.parse_args(["--eio", "3", "--parser", "msgpack"]), "http://localhost:3001"
    )
    assert (old.eio, old.parser) == (3, "msgpack")
