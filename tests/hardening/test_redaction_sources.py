"""Every redactor of a session knows the secrets the user gave, in every form they can turn up in.

(The whole-session grep is test_secrets.py; these pin the rule down for any input.)
"""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from conndebug.config import Settings
from conndebug.core.redact import settings_redactor

# A prefix keeps a generated secret from being a word of the mask itself ("redacted", "secret").
values = st.text(
    alphabet=string.ascii_letters + string.digits + "-_.~+/", min_size=4, max_size=40
).map(lambda v: "S3-" + v)
names = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=10)


@given(cookies=st.lists(st.tuples(names, values), min_size=1, max_size=4))
def test_each_cookie_of_a_cookie_header_is_masked_alone(cookies: list[tuple[str, str]]) -> None:
    header = "; ".join(f"{k}={v}" for k, v in cookies)
    redactor = settings_redactor(Settings(url="http://x", headers=(("Cookie", header),)))
    for _name, value in cookies:
        assert value not in redactor.text(f"the server echoed {value} back")


@given(scheme=st.sampled_from(["Bearer", "Basic", "Token", "Digest"]), credential=values)
def test_the_credential_of_an_authorization_header_is_masked_alone(
    scheme: str, credential: str
) -> None:
    settings = Settings(url="http://x", headers=(("authorization", f"{scheme} {credential}"),))
    assert credential not in settings_redactor(settings).text(f"got {credential} in a reply")


@given(token=values, query=values, auth=values, admin=values)
def test_token_secret_query_auth_fields_and_extra_secrets_are_known(
    token: str, query: str, auth: str, admin: str
) -> None:
    settings = Settings(
        url="http://x",
        token=token,
        query=(("access_token", query), ("room", "lobby")),
        auth={"password": auth, "room": "lobby"},
    )
    redactor = settings_redactor(settings, admin)
    text = redactor.text(f"{token} {query} {auth} {admin} room lobby")
    for secret in (token, query, auth, admin):
        assert secret not in text
    assert "lobby" in text


def test_show_secrets_shows_them() -> None:
    settings = Settings(url="http://x", token="tok-123456", show_secrets=True)
    assert settings_redactor(settings).text("tok-123456") == "tok-123456"
