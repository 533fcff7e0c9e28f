"""Secrets found by their names, and every secret value the user passed, in every output.

The names of the issue (``auth_token``, ``api-key``, ``client_secret``, ``id_token``,
``signature``, ``X-Amz-Signature``, ``passwd``…) in any case, with ``-`` or ``_``, inside longer
names: a value under such a name — a ``--query`` parameter, a header, a JSON key, a ``name=value``
in free text — is masked, and so is every value the user passed that way (and every ``--auth-json``
value) wherever it turns up on its own. Property tests generate the names; one real session
(``probe`` human, ``--json``, ``--log``, the Markdown and JSON reports, ``watch --jsonl``) greps
the values, with a harmless ``--query`` value as the control that shows the grep bites.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conndebug.cli import build_parser
from conndebug.config import settings_from_args
from conndebug.core.redact import Redactor, is_secret_name, settings_redactor
from tests.cli import cli
from tests.servers import reference_server

pytestmark = pytest.mark.timeout(180)

ISSUE_NAMES = [
    "auth_token",
    "api-key",
    "client_secret",
    "id_token",
    "signature",
    "X-Amz-Signature",
    "passwd",
    "password",
    "apiKey",
    "x-api-key",
    "sessionToken",
    "session",
    "credentials",
    "sig",
    "Authorization",
    "access_token",
    "refreshToken",
    "private_key",
]
HARMLESS_NAMES = ["room", "lang", "user", "transport", "EIO", "sid", "t", "mode", "version"]

WORDS = ["token", "secret", "key", "signature", "password", "passwd", "auth", "credential",
         "session", "sig", "apikey", "jwt"]  # fmt: skip


@st.composite
def secret_names(draw: st.DrawFn) -> str:
    """A name holding one of the secret words as people write names: words joined by ``-`` or
    ``_`` in any one case (``auth_token``, ``X-AMZ-SIGNATURE``, ``Api-Key``), or camelCase."""
    word = draw(st.sampled_from(WORDS))
    prefix = draw(st.sampled_from(["", "x", "client", "id", "X-Amz", "my", "upload"]))
    suffix = draw(st.sampled_from(["", "v2", "value", "id" if word != "session" else ""]))
    parts = [p for p in (prefix, word, suffix) if p]
    sep = draw(st.sampled_from(["-", "_", ""]))
    if sep == "" and len(parts) > 1:  # camelCase
        return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
    case = draw(st.sampled_from([str.lower, str.upper, str.title, lambda p: p]))
    return sep.join(case(p) for p in parts)


values = st.text(alphabet=string.ascii_letters + string.digits + "-._~", min_size=6, max_size=40)
MASK = re.compile(r"‹redacted [^›]*›")


def shown(text: str) -> str:
    """What a reader sees outside the masks (a secret may spell the mask's own words)."""
    return MASK.sub("‹›", text)


def settings_of(*argv: str) -> object:
    return settings_from_args(
        build_parser("watch").parse_args(["http://127.0.0.1:9", *argv]), "http://127.0.0.1:9"
    )


@pytest.mark.parametrize("name", ISSUE_NAMES)
def test_the_issues_names_are_secret(name: str) -> None:
    assert is_secret_name(name)
    assert is_secret_name(name.upper())
    assert is_secret_name(name.replace("-", "_"))


@pytest.mark.parametrize("name", HARMLESS_NAMES)
def test_ordinary_names_are_not(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("token_expires", False),
        ("tokenExpiry", False),
        ("token_source", False),
        ("token_type", False),
        ("session_ttl", False),
        ("token", True),
        ("refresh_token", True),
        ("expires", False),
        ("tokentype", True),  # one word: the name itself says token
    ],
)
def test_a_name_that_describes_a_secret_is_not_one(name: str, secret: bool) -> None:
    # A report's "token_expires" is a time: masking it hid when the token expires.
    assert is_secret_name(name) is secret


@settings(max_examples=300, deadline=None)
@given(name=secret_names(), value=values)
def test_a_secret_named_query_value_is_masked_everywhere(name: str, value: str) -> None:
    redactor = settings_redactor(settings_of("--query", f"{name}={value}"))  # type: ignore[arg-type]
    url = f"ws://h/socket.io/?EIO=4&transport=websocket&{name}={value}&room=lobby"
    for text in (url, f"the server said: {value}", f'{{"{name}": "{value}"}}', value):
        assert value not in shown(redactor.text(text)), text
    assert "room=lobby" in redactor.text(url)
    # Without knowing it: by its name alone, in a URL and under a JSON key.
    assert value not in shown(Redactor().text(url))
    assert value not in shown(json.dumps(Redactor().value({"data": [{name: value}]})))


@settings(max_examples=200, deadline=None)
@given(name=secret_names(), value=values)
def test_a_secret_named_header_is_masked(name: str, value: str) -> None:
    redactor = settings_redactor(settings_of("--header", f"{name}: {value}"))  # type: ignore[arg-type]
    assert value not in shown(redactor.text(f"echoed back: {value}"))
    assert value not in shown(json.dumps(Redactor().headers({name: value})))


@settings(max_examples=200, deadline=None)
@given(key=st.text(alphabet=string.ascii_letters, min_size=1, max_size=12), value=values)
def test_every_auth_json_value_is_a_secret(key: str, value: str) -> None:
    auth = json.dumps({key: value, "nested": {"deeper": [value + "-2"]}})
    redactor = settings_redactor(settings_of("--auth-json", auth))  # type: ignore[arg-type]
    text = shown(redactor.text(f"CONNECT sent {value} and {value}-2"))
    assert value not in text


async def test_no_output_of_a_session_shows_a_secret_named_value(tmp_path: Path) -> None:
    secrets = {name: f"{name.replace('-', '').replace('_', '')[:8]}-S3cret-{i:04d}" for i, name in
               enumerate(["auth_token", "api-key", "client_secret", "id_token", "signature",
                          "X-Amz-Signature", "passwd"])}  # fmt: skip
    header_secret = "hdr-S3cret-7777"
    auth_secret = "auth-S3cret-8888"
    control = "lobby-Visible-9999"
    flags = [f"--query={name}={value}" for name, value in secrets.items()]
    flags += [
        "--query",
        f"room={control}",
        "--header",
        f"X-Upload-Signature: {header_secret}",
        "--auth-json",
        json.dumps({"clientSecret": auth_secret, "room": "lobby"}),
        "--ws-timeout",
        "1",
    ]
    outputs: dict[str, str] = {}
    async with reference_server() as server:
        env = {"NO_PROXY": "*", "NO_COLOR": "1", "COLUMNS": "300"}
        _code, out, err = await cli(
            "probe", server.url, *flags, "--log", str(tmp_path / "p.jsonl"),
            "--report", str(tmp_path / "r.md"), env=env,
        )  # fmt: skip
        outputs |= {"probe": out + err}
        _code, out, err = await cli(
            "probe", server.url, *flags, "--json", "--report", str(tmp_path / "r.json"), env=env
        )
        outputs |= {"probe --json": out + err}
        _code, out, err = await cli(
            "watch", server.url, *flags, "--jsonl", "--duration", "2",
            "--log", str(tmp_path / "w.jsonl"), env=env,
        )  # fmt: skip
        outputs |= {"watch --jsonl": out + err}
    for name in ("p.jsonl", "r.md", "r.json", "w.jsonl"):
        outputs[name] = (tmp_path / name).read_text()
    # The grep bites: the harmless value is in the probe's outputs (in the URLs it shows).
    for name in ("probe --json", "p.jsonl", "r.md", "r.json"):
        assert control in outputs[name], name
    for secret in [*secrets.values(), header_secret, auth_secret]:
        shown = [name for name, text in outputs.items() if secret in text]
        assert not shown, f"{secret} shown in {shown}"


def test_a_structure_under_a_secret_looking_name_is_looked_into_not_hidden() -> None:
    """conndebug's own reports have a ``session`` block (user, id, the token): it stays readable,
    its token is masked; a string under ``session`` is a secret; ``cookies: {...}`` is hidden."""
    token = "tok-S3cret-4242"
    shown = Redactor().value(
        {
            "session": {"username": "SwiftTiger42", "token": token},
            "x": {"session": "sess-S3cret-1"},
            "cookies": {"a": "1"},
        }
    )
    assert shown["session"]["username"] == "SwiftTiger42"
    assert token not in json.dumps(shown)
    assert "sess-S3cret-1" not in json.dumps(shown)
    assert isinstance(shown["cookies"], str)
