"""Record the fixtures of ``tests/explain/fixtures/`` from real clients against the lab's cases.

    uv run python -m tests.explain.record [CASE...]

For each case of :data:`tests.explain.capture.CASES`: ``CASE.har`` (headless Chromium),
``CASE.node.log`` (the Node client with ``DEBUG=``) and ``CASE.python.log`` (python-socketio with
its loggers on). The parser tests read these files; the capture tests make fresh ones each run.
"""

from __future__ import annotations

import asyncio
import sys
import urllib.parse
from pathlib import Path

from tests.conftest import ROOT
from tests.explain import capture

FIXTURES = Path(__file__).resolve().parent / "fixtures"


async def record(names: list[str]) -> None:
    FIXTURES.mkdir(exist_ok=True)
    async with capture.chromium() as endpoint, capture.page_server() as origin:
        for case in capture.CASES:
            if names and case.name not in names:
                continue
            async with case.start(origin) as target:
                query = urllib.parse.urlencode({"server": target.url, **target.page})
                page = await capture.capture_har(
                    endpoint, f"{origin}/?{query}", FIXTURES / f"{case.name}.har"
                )
                await capture.capture_node_log(target, FIXTURES / f"{case.name}.node.log")
                await capture.capture_python_log(target, FIXTURES / f"{case.name}.python.log")
            for path in FIXTURES.glob(f"{case.name}.*"):  # no machine paths in the fixtures
                path.write_text(path.read_text().replace(str(ROOT), "/srv/app"))
            print(case.name, page, flush=True)


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1:]))
