"""The matrix runs once per session, every selected case at once (a few at a time), and each check
of each case is then its own test that reads the results."""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

import pytest

from tests.conftest import require
from tests.realservers.cases import CASES, Case
from tests.realservers.matrix import CaseResult, run_matrix
from tests.realservers.servers import require_node_peers

_BY_ID = {case.id: case for case in CASES}


def case_available(case: Case) -> bool:
    """Whether this machine has what the case needs (without skipping or failing)."""
    try:
        require_case(case)
    except (pytest.skip.Exception, pytest.fail.Exception):
        return False
    return True


def require_case(case: Case) -> None:
    """Skip (developer machine) or fail (CI=true) when the case's components are missing: every
    case needs the Node peers (the official client is the oracle); some need nginx."""
    require_node_peers()
    if case.system:
        found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/bin")
        require(found is not None, "nginx", "install Debian's nginx-light package")


@pytest.fixture(scope="session")
def matrix(request: pytest.FixtureRequest) -> dict[str, CaseResult | BaseException]:
    """The results of the cases this session selected (``-k`` runs only those)."""
    wanted: list[Case] = []
    for item in request.session.items:
        callspec: Any = getattr(item, "callspec", None)
        case_id = callspec.params.get("case_id") if callspec is not None else None
        case = _BY_ID.get(case_id) if isinstance(case_id, str) else None
        if case is not None and case not in wanted and case_available(case):
            wanted.append(case)
    return asyncio.run(run_matrix(wanted))
