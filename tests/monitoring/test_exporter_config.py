"""The exporter's configuration, without a network: --listen, --allow rules, TOML modules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conndebug.commands.exporter_config import (
    AllowRule,
    ExporterConfig,
    Module,
    load_config,
    parse_listen,
    refusal,
)
from conndebug.core.errors import ConfigError
from tests.conftest import ROOT


def readme_block(language: str, needle: str) -> str:
    """The README's fenced ``language`` block that contains ``needle`` (exactly one)."""
    text = (ROOT / "README.md").read_text()
    blocks = [b for b in re.findall(rf"```{language}\n(.*?)```", text, flags=re.S) if needle in b]
    assert len(blocks) == 1, f"{len(blocks)} README {language} blocks contain {needle!r}"
    return blocks[0]


@pytest.mark.parametrize(
    ("text", "host", "port", "loopback"),
    [
        ("127.0.0.1:9516", "127.0.0.1", 9516, True),
        ("127.8.9.10:0", "127.8.9.10", 0, True),
        ("[::1]:9516", "::1", 9516, True),
        ("localhost:80", "localhost", 80, True),
        ("0.0.0.0:9516", "0.0.0.0", 9516, False),
        (":9516", "0.0.0.0", 9516, False),
        ("[::]:9516", "::", 9516, False),
        ("10.1.2.3:9516", "10.1.2.3", 9516, False),
        ("monitor.internal:9516", "monitor.internal", 9516, False),
    ],
)
def test_listen_addresses(text: str, host: str, port: int, loopback: bool) -> None:
    listen = parse_listen(text)
    assert (listen.host, listen.port, listen.loopback) == (host, port, loopback)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("9516", "has no port"),
        ("127.0.0.1:", "is not a port"),
        ("127.0.0.1:http", "is not a port"),
        ("127.0.0.1:70000", "out of range"),
        ("::1:9516", "IPv6 address goes in brackets"),
        ("a/b:1", "is not an address"),
    ],
)
def test_bad_listen_addresses(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_listen(text)


def _allowed(pattern: str, target: str) -> bool:
    settings = Module.from_options("default", {}).settings(target)
    return refusal((AllowRule(pattern),), settings) is None


@pytest.mark.parametrize(
    ("pattern", "target", "allowed"),
    [
        # scheme://host[:port], the default port written out
        ("https://*.example.com", "https://chat.example.com", True),
        ("https://*.example.com", "wss://chat.example.com", True),
        ("https://*.example.com", "https://a.b.example.com/admin", True),
        ("https://*.example.com", "https://example.com", False),
        ("https://*.example.com", "http://chat.example.com", False),
        ("https://*.example.com", "https://chat.example.com:8443", False),
        ("https://*.example.com", "https://chat.example.com.evil.net", False),
        ("https://*.example.com:*", "https://chat.example.com:8443", True),
        ("http://127.0.0.1:*", "http://127.0.0.1:3001", True),
        ("http://127.0.0.1:*", "http://127.0.0.2:3001", False),
        ("ws://chat.example.com", "http://chat.example.com", True),
        # host or host:port, any scheme
        ("chat.example.com", "https://chat.example.com", True),
        ("chat.example.com", "http://chat.example.com:3001", True),
        ("CHAT.example.com", "https://chat.EXAMPLE.com", True),
        ("chat.example.com", "https://chat.example.com.evil.net", False),
        ("10.1.2.3:*", "http://10.1.2.3:3001", True),
        ("10.1.2.3:443", "https://10.1.2.3", True),
        ("10.1.2.3:443", "http://10.1.2.3", False),
        ("[::1]:*", "http://[::1]:3001", True),
        ("::1", "http://[::1]:3001", True),
        # networks: address literals only
        ("10.0.0.0/8", "http://10.200.0.1:3001", True),
        ("10.0.0.0/8", "http://11.0.0.1:3001", False),
        ("10.0.0.0/8", "http://ten.example.com", False),
        ("fd00::/8", "http://[fd12::1]:80", True),
    ],
)
def test_allow_rules(pattern: str, target: str, allowed: bool) -> None:
    assert _allowed(pattern, target) is allowed


def test_no_rule_allows_everything_and_refusals_say_why() -> None:
    settings = Module.from_options("default", {}).settings("http://10.0.0.5")
    assert refusal((), settings) is None
    why = refusal((AllowRule("*.example.com"), AllowRule("192.168.0.0/16")), settings)
    assert why == "the target http://10.0.0.5:80 matches none of the exporter's 2 --allow rules"


@pytest.mark.parametrize(
    ("pattern", "words"),
    [("", "empty"), ("a b", "spaces"), ("10.0.0.0/33", "not a network"), ("ftp://x", "scheme")],
)
def test_bad_allow_rules(pattern: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        AllowRule(pattern)


def test_a_module_takes_the_probes_options_and_checks_them_as_the_flags() -> None:
    module = Module.from_options(
        "chat",
        {
            "path": "/ws",
            "namespace": "/chat",
            "transports": ["polling", "websocket"],
            "token": "tok-0123456789",
            "no_guest": False,
            "insecure": True,
            "headers": {"X-Tenant": "acme", "Authorization": "Bearer abcdef123456"},
            "query": {"room": "lobby"},
            "auth": {"room": 1},
            "origin": "https://app.example.com",
            "connect_timeout": 5,
            "ws_timeout": 2.5,
            "rtt_event": "ping",
            "timeout": 8,
        },
    )
    settings = module.settings("https://chat.example.com")
    assert settings.url == "https://chat.example.com"
    assert (settings.path, settings.namespace) == ("/ws", "/chat")
    assert settings.transports == ("polling", "websocket")
    assert settings.token == "tok-0123456789"
    assert settings.insecure is True
    assert settings.headers == (("X-Tenant", "acme"), ("Authorization", "Bearer abcdef123456"))
    assert settings.query == (("room", "lobby"),)
    assert dict(settings.auth) == {"room": 1}
    assert settings.origin == "https://app.example.com"
    assert (settings.connect_timeout, settings.ws_timeout) == (5.0, 2.5)
    assert settings.rtt_event == "ping"
    assert module.timeout == 8.0
    fitted = module.budgeted(settings, 1.5)
    assert (fitted.connect_timeout, fitted.ws_timeout) == (1.5, 1.5)
    assert module.redactor.known >= {"tok-0123456789", "abcdef123456"}
    # The target's own path names the namespace, as with `conndebug probe`.
    other = Module.from_options("plain", {}).settings("http://h:1/admin")
    assert other.namespace == "/admin"


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"colour": "blue"}, "unknown option 'colour'"),
        ({"show_secrets": True}, "unknown option 'show_secrets'"),
        ({"path": 3}, "path must be a string"),
        ({"insecure": "yes"}, "insecure must be true or false"),
        ({"timeout": 0}, "out of range"),
        ({"connect_timeout": "5"}, "must be a number"),
        ({"transports": ["carrier pigeon"]}, "Unknown transport"),
        ({"headers": {"Bad Name": "x"}}, "Bad header name"),
        ({"headers": {"X": 1}}, "values must be strings"),
        ({"auth": "x"}, "auth must be a table"),
        ({"namespace": "chat"}, "Bad --namespace"),
        ({"insecure": True, "ca_bundle": "/x.pem"}, "contradict"),
        ({"token_env": "CONNDEBUG_TEST_UNSET_VARIABLE"}, "which is not set"),
    ],
)
def test_bad_modules_stop_with_one_line(options: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        Module.from_options("m", options)


def test_unknown_modules_and_the_builtin_default() -> None:
    config = ExporterConfig()
    assert config.module(None).name == "default"
    assert config.module("default").settings("http://h:1").transports == ("websocket", "polling")
    with pytest.raises(ConfigError, match="unknown module 'x'"):
        config.module("x")


def test_the_readmes_config_file_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_MONITOR_TOKEN", "tok-from-the-environment-42")
    path = tmp_path / "socketio.toml"
    path.write_text(readme_block("toml", "[modules.chat_admin]"))
    modules, allow = load_config(path)
    assert sorted(modules) == ["chat_admin", "default"]
    assert [rule.pattern for rule in allow] == ["https://*.example.com"]
    admin = modules["chat_admin"].settings("https://chat.example.com")
    assert admin.namespace == "/admin"
    assert admin.token == "tok-from-the-environment-42"
    assert admin.origin == "https://app.example.com"
    assert modules["chat_admin"].timeout == 8.0
    assert "tok-from-the-environment-42" in ExporterConfig(modules=modules).redactor.known


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[modules.a\n", "not valid TOML"),
        ("listen = 1\n", "unknown top-level key"),
        ("modules = 3\n", "modules must be tables"),
        ("allow = 'x'\n", "allow must be a list"),
        ("[modules.a]\nfoo = 1\n", "module 'a': unknown option 'foo'"),
    ],
)
def test_bad_config_files(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words):
        load_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
