"""Redaction: known secrets and secret-shaped text are masked, with a stable fingerprint."""

from __future__ import annotations

from conndebug.core.redact import Redactor, fingerprint

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJndWVzdF8xIn0.c2lnbmF0dXJlLXZhbHVl"


def test_known_secret_is_masked_with_its_fingerprint() -> None:
    r = Redactor(["s3cr3t-cookie-value"])
    out = r.text("cookie was s3cr3t-cookie-value!")
    assert "s3cr3t-cookie-value" not in out
    assert fingerprint("s3cr3t-cookie-value") in out


def test_jwt_bearer_query_and_header_lines_are_masked_by_shape() -> None:
    r = Redactor()
    for text in (
        f"token {JWT} here",
        f"Authorization: Bearer {JWT}",
        "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        "GET /socket.io/?EIO=4&token=abcdef123456&transport=polling",
        "Cookie: io=abcdef; session=topsecretvalue",
    ):
        out = r.text(text)
        for secret in (JWT, "dXNlcjpwYXNzd29yZA==", "abcdef123456", "topsecretvalue"):
            assert secret not in out, (text, out)


def test_structures_mask_secret_keys_and_keep_the_rest() -> None:
    r = Redactor()
    out = r.value(
        {"token": "abc", "user": {"name": "SwiftTiger42", "password": "hunter22"}, "n": 3}
    )
    assert out["user"]["name"] == "SwiftTiger42"
    assert out["n"] == 3
    assert "abc" not in str(out["token"])
    assert "hunter22" not in str(out)


def test_headers_mask_secret_header_values() -> None:
    out = Redactor().headers({"Authorization": "Bearer x" * 3, "Accept": "text/plain"})
    assert out["Accept"] == "text/plain"
    assert "Bearer x" not in out["Authorization"]


def test_show_secrets_disables_everything() -> None:
    r = Redactor([JWT], show_secrets=True)
    assert r.text(f"t={JWT}") == f"t={JWT}"
    assert r.value({"token": "abc"}) == {"token": "abc"}
