"""The verdict catalog is data: every code of design.md, its exit code, texts that render."""

from __future__ import annotations

import re

import pytest

from conndebug.core.verdicts import (
    CATALOG,
    CODES,
    EXIT_BY_CODE,
    make_verdict,
    spec,
    template_fields,
)
from tests.conftest import ROOT

# The table of design.md ("Verdicts (stable codes in --json output)"): code → exit code.
DESIGN_TABLE = {
    "ok": 0,
    "websocket_blocked": 1,
    "cors_permissive": 1,
    "dns_failure": 2,
    "connection_refused": 2,
    "connect_timeout": 2,
    "tls_error": 2,
    "proxy_error": 2,
    "not_socketio": 2,
    "protocol_mismatch": 2,
    "cors_rejected": 2,
    "sticky_session_missing": 2,
    "auth_rejected": 2,
    "session_expired": 2,
    "server_error": 2,
    "inconclusive": 3,
}


def test_catalog_has_exactly_the_design_codes_and_exit_codes() -> None:
    assert list(CODES) == list(DESIGN_TABLE)
    assert dict(EXIT_BY_CODE) == DESIGN_TABLE


def test_catalog_matches_design_md_when_it_is_beside_the_repo() -> None:
    design = ROOT.parent / "shared" / "docs" / "design.md"
    if not design.is_file():
        pytest.skip("shared/docs/design.md is not beside this checkout")
    rows = re.findall(r"^\| `(\w+)` \| .* \| (\d) \|$", design.read_text(), re.MULTILINE)
    assert {code: int(exit_code) for code, exit_code in rows} == dict(EXIT_BY_CODE)


@pytest.mark.parametrize("entry", CATALOG, ids=lambda e: e.code)
def test_every_variant_renders_from_its_evidence(entry: object) -> None:
    from conndebug.core.verdicts import VerdictSpec

    assert isinstance(entry, VerdictSpec)
    assert entry.variants, entry.code
    assert sum(v.reason == "default" for v in entry.variants) == 1
    for variant in entry.variants:
        names = (
            template_fields(variant.title)
            | template_fields(variant.explanation)
            | template_fields(variant.fix)
        )
        evidence = {name: f"<{name}>" for name in names}
        verdict = make_verdict(entry.code, variant.reason, **evidence)
        for text in (verdict.title, verdict.explanation, verdict.fix):
            assert text.strip()
            assert "unknown" not in text, (entry.code, variant.reason, text)
            assert not re.search(r"\{[a-z_]+\}", text), text  # nothing left unformatted
        for name in names - {"nginx"}:
            joined = verdict.title + verdict.explanation + verdict.fix
            assert f"<{name}>" in joined
        assert verdict.exit_code == DESIGN_TABLE[entry.code]


def test_missing_evidence_reads_unknown_instead_of_failing() -> None:
    verdict = make_verdict("connection_refused", None, host="example.test")
    assert "example.test" in verdict.title
    assert "unknown" in verdict.explanation


def test_unknown_reason_falls_back_to_the_default_text() -> None:
    assert spec("tls_error").variant("no-such-reason").reason == "default"


def test_explanations_quote_the_evidence() -> None:
    verdict = make_verdict("auth_rejected", None, message="Invalid token", namespace="/")
    assert '"Invalid token"' in verdict.title
    assert '"Invalid token"' in verdict.explanation
    ws = make_verdict("websocket_blocked", "upgrade_stripped", status=400, message="Bad request")
    assert "proxy_set_header Upgrade $http_upgrade" in ws.fix
    assert "400" in ws.explanation
