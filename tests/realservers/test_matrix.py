"""The matrix of real servers: for every case, ``conndebug probe`` and ``watch`` against a server
nobody here wrote, with the official JavaScript client as the oracle.

Checks of every case:
- ``oracle``: the official client does what the case says (the ground truth the rest relies on);
- ``probe``: the probe's verdict code and exit code are the right ones;
- ``watch``: watch's exit code is the right one, and so is its final ``verdict`` event's code once
  it prints one;
- ``agree``: probe and watch agree (exit codes; verdict codes once watch prints them);
- ``consistent``: an exit 0 from either means the seed-options client connects (and stays);
- ``own-words``: neither quotes python-engineio's log lines nor prints placeholders ("unknown ms");
plus the case's own checks (``cases.py``). Wrong today: strict xfail with today's answer in the
reason, so the fixes of issues 12/13 flip them. ``python -m tests.realservers.matrix`` prints the
table of today's answers.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.realservers.cases import CASES, TODAY, Case
from tests.realservers.conftest import require_case
from tests.realservers.matrix import CaseResult

pytestmark = [pytest.mark.node, pytest.mark.slow, pytest.mark.timeout(600)]


def check_oracle(result: CaseResult) -> None:
    expect = result.case.client
    client = result.client
    what = f"the official client (seed options) on {result.case.id}: {client.summary()}"
    assert client.connected == expect.connects, what
    if expect.connects and expect.transport:
        assert client.transport == expect.transport, what
    if expect.connect_error:
        assert client.connect_error is not None, what
        assert client.connect_error.startswith(expect.connect_error), what
    assert client.server_disconnect == expect.server_disconnect, what
    if expect.connects_try_all is not None:
        assert result.client_try_all is not None
        also = f"with tryAllTransports: {result.client_try_all.summary()}"
        assert result.client_try_all.connected == expect.connects_try_all, also
        if expect.connects_try_all and expect.transport:
            assert result.client_try_all.transport == expect.transport, also


def _right(result: CaseResult) -> str:
    return f"right: {result.case.right} exit {result.case.exit} ({result.case.why})"


def check_probe(result: CaseResult) -> None:
    probe = result.probe
    assert (probe.code, probe.exit_code) == (result.case.right, result.case.exit), (
        f"probe says {probe.summary()}; {_right(result)}"
    )


def check_watch(result: CaseResult) -> None:
    watch = result.watch
    assert watch.exit_code == result.case.exit, f"watch: {watch.summary()}; {_right(result)}"
    if watch.code is not None:
        assert watch.code == result.case.right, f"watch: {watch.summary()}; {_right(result)}"


def check_agree(result: CaseResult) -> None:
    probe, watch = result.probe, result.watch
    assert probe.exit_code == watch.exit_code, f"probe: {probe.summary()}; watch: {watch.summary()}"
    if watch.code is not None:
        assert watch.code == probe.code, f"probe: {probe.summary()}; watch: {watch.summary()}"


def check_consistent(result: CaseResult) -> None:
    client = result.client
    connects = client.connected and client.server_disconnect is None
    for name, exit_code, said in (
        ("probe", result.probe.exit_code, result.probe.summary()),
        ("watch", result.watch.exit_code, result.watch.summary()),
    ):
        if exit_code == 0:
            assert connects, (
                f"{name} exits 0 ({said}) but the official client with the seed's options: "
                f"{client.summary()}"
            )


LIBRARY_WORDS = ("(library:", "Write loop", "Server sent", "packet data None", "unknown ms", "? B")
"""python-engineio's log lines quoted as reasons, and placeholders for numbers nobody measured."""


def check_own_words(result: CaseResult) -> None:
    for name, text in (("probe", result.probe.text()), ("watch", result.watch.text())):
        for words in LIBRARY_WORDS:
            at = text.find(words)
            assert at < 0, f"{name} prints {words!r}: …{text[max(0, at - 120) : at + 60]}…"


CORE: dict[str, Callable[[CaseResult], None]] = {
    "oracle": check_oracle,
    "probe": check_probe,
    "watch": check_watch,
    "agree": check_agree,
    "consistent": check_consistent,
    "own-words": check_own_words,
}


def _params() -> list[object]:
    params: list[object] = []
    for case in CASES:
        names = [*CORE, *(check.name for check in case.checks)]
        for name in names:
            marks: list[pytest.MarkDecorator] = []
            if case.system:
                marks.append(pytest.mark.system)
            if name in case.today:
                marks.append(
                    pytest.mark.xfail(
                        strict=True,
                        raises=AssertionError,
                        reason=f"issue 12/13: today: {case.today[name]}",
                    )
                )
            params.append(pytest.param(case.id, name, marks=marks, id=f"{case.id}:{name}"))
    return params


_BY_ID: dict[str, Case] = {case.id: case for case in CASES}


@pytest.mark.parametrize(("case_id", "check"), _params())
def test_matrix(case_id: str, check: str, matrix: dict[str, CaseResult | BaseException]) -> None:
    case = _BY_ID[case_id]
    require_case(case)
    result = matrix[case_id]
    if isinstance(result, BaseException):
        raise RuntimeError(f"case {case_id} could not run") from result
    if check in CORE:
        CORE[check](result)
    else:
        (own,) = [c for c in case.checks if c.name == check]
        own.run(result)


def test_cases_are_distinct() -> None:
    """Ids and check names are unique (a duplicate would silently shadow a check)."""
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert set(TODAY) <= set(ids), "TODAY names an unknown case"
    for case in CASES:
        names = [*CORE, *(check.name for check in case.checks)]
        assert len(names) == len(set(names)), case.id
        assert set(case.today) <= set(names), f"{case.id}: today names an unknown check"
