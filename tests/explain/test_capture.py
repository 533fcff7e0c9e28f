"""Fresh records from real clients against the lab's cases, explained.

For each case: a headless Chromium (Debian's ``chromium``, driven through its DevTools protocol)
opens a page that loads the real socket.io-client and connects with the seed's options; the HAR it
leaves is explained. The Node client's ``DEBUG=`` log and the python-socketio client's log of the
same case are explained too. Needs chromium and the Node peers (and nginx + redis-server for the
sticky-session case): skipped on a machine without them, failed in CI.
"""

from __future__ import annotations

import shutil
import urllib.parse
from pathlib import Path

import pytest

from conndebug.commands.explain import explain_file
from conndebug.core.redact import Redactor
from tests.explain.capture import (
    CASES,
    Case,
    capture_har,
    capture_node_log,
    capture_python_log,
    chromium,
    chromium_binary,
    page_server,
)

pytestmark = [pytest.mark.timeout(240)]


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=[pytest.mark.system] if c.system else [], id=c.name) for c in CASES],
)
async def test_real_clients_records_are_explained(
    case: Case, node_dir: Path, tmp_path: Path
) -> None:
    chromium_binary()
    if case.system:
        for binary in ("nginx", "redis-server"):
            assert shutil.which(binary) or shutil.which(binary, path="/usr/sbin"), binary
    async with chromium() as endpoint, page_server() as origin, case.start(origin) as target:
        query = urllib.parse.urlencode({"server": target.url, **target.page})
        page = await capture_har(endpoint, f"{origin}/?{query}", tmp_path / "case.har")
        await capture_node_log(target, tmp_path / "case.node.log")
        await capture_python_log(target, tmp_path / "case.python.log")
    assert page["entries"] > 0, page
    for suffix, expected in (
        ("har", case.har),
        ("node.log", case.node),
        ("python.log", case.python),
    ):
        timeline, diagnosis = explain_file(str(tmp_path / f"case.{suffix}"), Redactor())
        assert diagnosis.verdict.code == expected, (
            suffix,
            page,
            diagnosis.verdict,
            [e.detail for e in timeline.events],
            timeline.gaps,
        )
