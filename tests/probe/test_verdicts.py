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
    "parser_mismatch": 2,
    "namespace_unknown": 2,
    "server_disconnect": 2,
    "transport_unavailable": 1,
    "rate_limited": 2,
    "connection_unstable": 1,
}
OUTSIDE_DESIGN = {"inconclusive": 3}
"""Codes that are not about a connection and so are not in design.md's table: ``explain``'s answer
when a customer's record does not say enough to name a cause (exit 3, UNKNOWN)."""
VARIANT_EXITS = {("transport_unavailable", "transport_unknown"): 2}
"""Ways of a code whose exit code differs from the code's (design.md writes "1/2")."""


def test_catalog_has_exactly_the_design_codes_and_exit_codes() -> None:
    assert list(CODES) == list(DESIGN_TABLE) + list(OUTSIDE_DESIGN)
    assert dict(EXIT_BY_CODE) == DESIGN_TABLE | OUTSIDE_DESIGN


def test_catalog_matches_design_md_when_it_is_beside_the_repo() -> None:
    design = ROOT.parent / "shared" / "docs" / "design.md"
    if not design.is_file():
        pytest.skip("shared/docs/design.md is not beside this checkout")
    rows = re.findall(r"^\| `(\w+)` \| .* \| (\d(?:/\d)*) \|$", design.read_text(), re.MULTILINE)
    design_exits = {code: {int(e) for e in exits.split("/")} for code, exits in rows}
    catalog_exits = {
        entry.code: {make_verdict(entry.code, v.reason).exit_code for v in entry.variants}
        for entry in CATALOG
        if entry.code not in OUTSIDE_DESIGN
    }
    assert design_exits == catalog_exits


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
        expected = VARIANT_EXITS.get(
            (entry.code, variant.reason), (DESIGN_TABLE | OUTSIDE_DESIGN)[entry.code]
        )
        assert verdict.exit_code == expected


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
