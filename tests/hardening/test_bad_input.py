"""Bad input of every kind ends in exit 3 with one line (title + hint) and no traceback.

Each case runs the real CLI in a subprocess, for the headless commands `watch` and `probe`, for
the TUI entry point (`--url`), which validates its settings before Textual is ever imported, and
for `demo` (its connection options are checked before the server starts or a screen opens; it
takes no URL, so the URL cases do not apply to it). ``{tmp}`` in a case is replaced by a fresh
temporary directory; ``URL=`` replaces the target URL. The TUI's own inputs (the emit dialog) are
in test_tui_input.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

GOOD_URL = "http://127.0.0.1:9"

CASES: list[tuple[str, list[str], str]] = [
    # (id, arguments, a word the one-line error must contain)
    ("empty-url", ["URL="], "empty"),
    ("scheme-ftp", ["URL=ftp://example.com"], "scheme"),
    ("scheme-file", ["URL=file:///etc/passwd"], "scheme"),
    ("scheme-javascript", ["URL=javascript://alert(1)"], "scheme"),
    ("port-too-big", ["URL=http://localhost:65536"], "port"),
    ("port-zero", ["URL=http://localhost:0"], "port"),
    ("port-negative", ["URL=http://localhost:-1"], "port"),
    ("port-letters", ["URL=http://localhost:http"], "port"),
    ("no-host", ["URL=http://:3001"], "host"),
    ("bad-ipv6", ["URL=http://[::g]:3001"], "ipv6"),
    ("unclosed-ipv6", ["URL=http://[::1:3001"], "url"),
    ("space-in-url", ["URL=http://local host:3001"], "spaces"),
    ("dash-label", ["URL=http://-bad-.example"], "host"),
    ("credentials-in-url", ["URL=http://user:pw@localhost:3001"], "credentials"),
    ("query-in-url", ["URL=http://localhost:3001/?token=abc"], "query"),
    ("header-no-colon", ["--header", "Authorization Bearer x"], "header"),
    ("header-empty-name", ["--header", ": value"], "header"),
    ("header-bad-name", ["--header", "Bad Name: v"], "header"),
    ("query-no-equals", ["--query", "token"], "query"),
    ("query-empty-key", ["--query", "=v"], "query"),
    ("query-reserved-eio", ["--query", "EIO=3"], "reserved"),
    ("query-reserved-transport", ["--query", "transport=polling"], "reserved"),
    ("auth-json-invalid", ["--auth-json", "{not json"], "json"),
    ("auth-json-array", ["--auth-json", "[1, 2]"], "object"),
    ("auth-json-string", ["--auth-json", '"token"'], "object"),
    ("ca-bundle-missing", ["--ca-bundle", "{tmp}/nope.pem"], "does not exist"),
    ("ca-bundle-dir", ["--ca-bundle", "{tmp}"], "does not exist"),
    ("log-in-missing-dir", ["--log", "{tmp}/missing/x.jsonl"], "cannot be written"),
    ("log-is-dir", ["--log", "{tmp}"], "directory"),
    ("log-in-proc", ["--log", "/proc/conndebug-test.jsonl"], "cannot be written"),
    ("connect-timeout-negative", ["--connect-timeout", "-1"], "out of range"),
    ("connect-timeout-zero", ["--connect-timeout", "0"], "out of range"),
    ("connect-timeout-absurd", ["--connect-timeout", "1e12"], "out of range"),
    ("connect-timeout-nan", ["--connect-timeout", "nan"], "finite"),
    ("connect-timeout-text", ["--connect-timeout", "soon"], "not a number"),
    ("ws-timeout-negative", ["--ws-timeout", "-3"], "out of range"),
    ("ws-timeout-inf", ["--ws-timeout", "inf"], "finite"),
    ("rtt-interval-negative", ["--rtt-interval", "-1"], "use 0 (no round trips)"),
    ("rtt-interval-too-small", ["--rtt-interval", "0.001"], "out of range"),
    ("reconnect-delay-negative", ["--reconnect-delay", "-1"], "out of range"),
    ("delay-max-below-delay", ["--reconnect-delay", "5", "--reconnect-delay-max", "1"], "smaller"),
    ("attempts-negative", ["--reconnect-attempts", "-2"], "out of range"),
    ("attempts-fraction", ["--reconnect-attempts", "2.5"], "whole number"),
    ("randomization-above-one", ["--randomization", "1.5"], "out of range"),
    ("transport-unknown", ["--transports", "websocket,carrier-pigeon"], "unknown transport"),
    ("transport-empty", ["--transports", ","], "empty"),
    ("transport-repeated", ["--transports", "polling,polling"], "repeats"),
    ("path-no-slash", ["--path", "socket.io"], "--path"),
    ("path-with-query", ["--path", "/socket.io?x=1"], "--path"),
    ("namespace-no-slash", ["--namespace", "chat"], "--namespace"),
    (
        "namespace-conflicts-url",
        ["URL=http://localhost:3001/admin", "--namespace", "/chat"],
        "namespace",
    ),
    ("origin-with-path", ["--origin", "http://localhost:3000/app"], "origin"),
    ("origin-no-scheme", ["--origin", "localhost:3000"], "origin"),
    ("proxy-bad-scheme", ["--proxy", "socks5://127.0.0.1:1080"], "proxy"),
    ("proxy-bad-port", ["--proxy", "http://127.0.0.1:99999"], "proxy"),
    ("insecure-and-ca-bundle", ["--insecure", "--ca-bundle", __file__], "contradict"),
    ("no-guest-and-endpoint", ["--no-guest", "--guest-endpoint", "/api/guest"], "contradict"),
    ("guest-endpoint-relative", ["--guest-endpoint", "api/guest"], "guest-endpoint"),
    ("api-url-bad", ["--api-url", "gopher://x"], "scheme"),
    ("unknown-flag", ["--frobnicate"], "unrecognized"),
    ("flag-missing-value", ["--path"], "expected one argument"),
]


COMMANDS = ("watch", "probe", "tui", "demo")


def _applies(command: str, case: list[str]) -> bool:
    return command != "demo" or not any(item.startswith("URL=") for item in case)


PARAMS = [
    pytest.param(command, case_id, case, needle, id=f"{command}-{case_id}")
    for command in COMMANDS
    for case_id, case, needle in CASES
    if _applies(command, case)
]


def _argv(command: str, case: list[str], tmp: Path) -> list[str]:
    url = GOOD_URL
    rest: list[str] = []
    for item in case:
        if item.startswith("URL="):
            url = item[4:]
        else:
            rest.append(item.replace("{tmp}", str(tmp)))
    if command == "tui":
        return ["--url", url, *rest]
    if command == "demo":
        return [command, *rest]
    return [command, url, *rest]


@pytest.mark.parametrize(("command", "case_id", "case", "needle"), PARAMS)
def test_bad_input_is_one_line_exit_3(
    command: str, case_id: str, case: list[str], needle: str, tmp_path: Path
) -> None:
    done = run_cli(*_argv(command, case, tmp_path), timeout=30)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 3, (case_id, done.stdout, done.stderr)
    assert len(lines) == 1, (case_id, done.stderr)
    assert lines[0].startswith("error: "), lines
    assert needle.lower() in lines[0].lower(), (case_id, lines[0])
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_there_are_at_least_forty_cases() -> None:
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)
    for command in COMMANDS:
        assert sum(1 for p in PARAMS if p.values[0] == command) >= 40, command


def test_secrets_in_bad_input_are_not_echoed() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzZWNyZXQiOiJ5ZXMifQ.c2lnbmF0dXJlc2lnbmF0dXJl"
    done = run_cli(
        "watch", GOOD_URL, "--header", f"Authorization Bearer {token}", "--query", f"token{token}"
    )
    assert done.returncode == 3
    assert token not in done.stderr + done.stdout
