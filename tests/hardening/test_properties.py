"""Property-based tests: URL handling and redaction hold for any input, not just examples."""

from __future__ import annotations

import json
import re
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from conndebug.config import normalize_url
from conndebug.core.errors import ConfigError
from conndebug.core.redact import Redactor

# ---- URL handling -------------------------------------------------------------------------------

hosts = st.one_of(
    st.from_regex(r"\A[a-z][a-z0-9-]{0,20}[a-z0-9](\.[a-z][a-z0-9-]{0,10}[a-z0-9]){0,3}\Z"),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
)
schemes = st.sampled_from(["http", "https", "ws", "wss", "HTTP", "Wss"])
ports = st.one_of(st.none(), st.integers(min_value=1, max_value=65535))


@given(scheme=schemes, host=hosts, port=ports, path=st.sampled_from(["", "/", "/admin", "/a/b/"]))
def test_valid_urls_normalise_to_an_http_origin(
    scheme: str, host: str, port: int | None, path: str
) -> None:
    raw = f"{scheme}://{host}{'' if port is None else f':{port}'}{path}"
    origin, ns = normalize_url(raw)
    assert origin.startswith(("http://", "https://"))
    assert origin.startswith("https://") == (scheme.lower() in ("https", "wss"))
    assert not origin.endswith("/")
    if port is not None:
        assert origin.endswith(f":{port}")
    assert ns == (path.rstrip("/") or None)
    # normalising is idempotent
    assert normalize_url(origin) == (origin, None)


@settings(max_examples=300)
@given(st.text(max_size=80))
def test_any_text_is_either_a_url_or_a_config_error(raw: str) -> None:
    error: ConfigError | None = None
    try:
        origin, _ = normalize_url(raw)
    except ConfigError as exc:
        error = exc
    if error is not None:
        assert error.title
        assert error.exit_code == 3
    else:
        assert origin.startswith(("http://", "https://"))


# ---- redaction ----------------------------------------------------------------------------------

secret_text = st.text(
    alphabet=string.ascii_letters + string.digits + "-_.~+/=", min_size=8, max_size=60
)
b64url = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=8, max_size=80)
surrounding = st.text(max_size=40)
MASK = re.compile(r"‹redacted [^›]*›")


def unmasked(text: str) -> str:
    """``text`` without its masks: a secret such as ``redacted`` may match the mask's own words."""
    return MASK.sub("", text)


@given(secret=secret_text, before=surrounding, after=surrounding)
def test_a_known_secret_never_survives_in_text(secret: str, before: str, after: str) -> None:
    r = Redactor([secret])
    out = r.text(before + secret + after)
    assert secret not in unmasked(out)
    assert MASK.search(out)


@given(head=b64url, body=b64url, sig=b64url, before=surrounding, after=surrounding)
def test_any_jwt_shaped_value_is_masked(
    head: str, body: str, sig: str, before: str, after: str
) -> None:
    jwt = f"eyJ{head}.{body}.{sig}"
    out = Redactor().text(f"{before} {jwt} {after}")
    assert jwt not in unmasked(out)
    assert MASK.search(out)


@given(
    secret=secret_text,
    key=st.sampled_from(["token", "Authorization", "cookie", "password", "accessToken"]),
    depth=st.integers(0, 4),
)
def test_secret_keys_are_masked_at_any_depth(secret: str, key: str, depth: int) -> None:
    value: object = {key: secret}
    for _ in range(depth):
        value = {"nested": [value]}
    redacted = Redactor().value(value)
    assert secret not in unmasked(json.dumps(redacted, ensure_ascii=False))
    for _ in range(depth):
        assert isinstance(redacted, dict)
        redacted = redacted["nested"][0]
    assert isinstance(redacted, dict)
    assert MASK.fullmatch(redacted[key]), redacted


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_redaction_of_anything_stays_json_serialisable(value: object) -> None:
    json.dumps(Redactor().value(value))


@given(st.text(max_size=200))
def test_show_secrets_is_the_identity(text: str) -> None:
    assert Redactor(show_secrets=True).text(text) == text


def _every_pattern(redactor: Redactor, text: str) -> str:
    """Redactor.text without its shortcuts: every pattern run over every text."""
    from conndebug.core import redact as r

    for secret in sorted(redactor.known, key=len, reverse=True):
        if secret in text:
            text = text.replace(
                secret, r._mask(secret, "jwt" if r._JWT.fullmatch(secret) else "secret")
            )
    text = r._HEADER_LINE.sub(r._mask_header_line, text)
    text = r._BEARER.sub(lambda m: f"{m.group(1)} {r._mask(m.group(2), 'credential')}", text)
    text = r._JWT.sub(lambda m: r._mask(m.group(0), "jwt"), text)
    text = r._URL_PASSWORD.sub(r._mask_url_password, text)
    return r._NAME_VALUE.sub(r._mask_name_value, text)


_pieces = st.sampled_from(
    [
        "Authorization: ",
        "cookie:",
        "X-Api-Key:",
        "\n",
        "Bearer ",
        "BASIC ",
        "Basic dXNlcjpwYXNz",
        "bEaReR abcdefgh12345",
        "baſic ",  # the long s folds onto "s" under (?i)
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
        "eyJ",
        "4NTcx.Zm9v.YmFy",
        " eyJ4NTcx.Zm9v.YmFy",
        "https://user:pa55word@proxy:3128/",
        "token=",
        "access_token=abcdef123456&",
        "?sid=1&t=2",
        "@",
        "=",
        ":",
        "plain words ",
        "0123456789abcdefXYZ",
    ]
)


@settings(max_examples=400, deadline=None)
@given(
    parts=st.lists(st.one_of(_pieces, st.text(max_size=12)), max_size=12),
    known=st.lists(st.text(min_size=6, max_size=14), max_size=2),
)
def test_the_shortcuts_of_text_redaction_change_nothing(parts: list[str], known: list[str]) -> None:
    """Text redaction skips a pattern whose literal (``:``, ``=``, ``@``, ``eyJ``, ``bearer``)
    is not in the text: the same result as running every pattern over every text."""
    redactor = Redactor(known)
    text = "".join(parts)
    assert redactor.text(text) == _every_pattern(redactor, text)
