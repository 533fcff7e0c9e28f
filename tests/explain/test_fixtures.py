"""Records captured from real clients against the lab's cases (``tests/explain/fixtures/``, made by
``python -m tests.explain.record``): each gives the case's verdict through ``explain``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conndebug.commands.explain import explain_file, to_json
from conndebug.core.redact import Redactor
from tests.explain.capture import CASES, Case
from tests.explain.record import FIXTURES

CLIENTS = (("har", "har"), ("node", "node.log"), ("python", "python.log"))
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]+")


def _cases() -> list[tuple[Case, str, Path]]:
    return [
        (case, client, FIXTURES / f"{case.name}.{suffix}")
        for case in CASES
        for client, suffix in CLIENTS
    ]


@pytest.mark.parametrize(
    ("case", "client", "path"), _cases(), ids=lambda v: v.name if isinstance(v, Case) else None
)
def test_recorded_case_gives_its_verdict(case: Case, client: str, path: Path) -> None:
    assert path.is_file(), f"missing fixture {path.name}: run `python -m tests.explain.record`"
    timeline, diagnosis = explain_file(str(path), Redactor())
    expected = getattr(case, client)
    assert diagnosis.verdict.code == expected, (
        path.name,
        diagnosis.verdict,
        [e.detail for e in timeline.events],
        timeline.gaps,
    )
    source = {"har": "chrome-har", "node": "debug-log", "python": "python-log"}[client]
    assert timeline.source == source


@pytest.mark.parametrize(
    ("case", "client", "path"), _cases(), ids=lambda v: v.name if isinstance(v, Case) else None
)
def test_no_token_of_the_record_reaches_the_output(case: Case, client: str, path: Path) -> None:
    raw = path.read_text()
    timeline, diagnosis = explain_file(str(path), Redactor())
    out = json.dumps(to_json(timeline, diagnosis))
    for token in set(JWT.findall(raw)):
        assert token not in out
    if "not-a-valid-token" in raw:
        assert "not-a-valid-token-0123456789" not in out
