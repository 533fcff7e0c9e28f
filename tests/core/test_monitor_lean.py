"""What ``watch`` loads, and what the monitor never does to a library.

A whole ``watch --jsonl`` against a healthy server (guest session, websocket, round trips)
imports no HTTP library, no Socket.IO library (python-socketio runs the reference server only),
no JWT library, no Textual and no Rich: each cost tens of milliseconds of start-up, aiohttp and
python-socketio ~300 ms together. And nothing under ``conndebug/`` but the reference server
imports python-socketio, python-engineio or aiohttp, patches their attributes or reads their log
records (the monitor once recovered reasons from python-engineio's log lines); ``explain``
reads such logs when a customer sends one, which is its job.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys

import pytest

from tests.conftest import ROOT
from tests.servers import reference_server

pytestmark = pytest.mark.timeout(60)

HEAVY = ("aiohttp", "httpx", "httpcore", "socketio", "engineio", "jwt", "textual", "rich", "redis")

CODE = """
import json, sys
from conndebug.cli import main
rc = main(sys.argv[1:])
loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set(json.loads({heavy!r})))
print(json.dumps({{"rc": rc, "loaded": loaded}}), file=sys.stderr)
"""


async def test_a_whole_watch_loads_none_of_the_heavy_libraries() -> None:
    env = {**os.environ, "NO_PROXY": "*", "NO_COLOR": "1"}
    async with reference_server() as server:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CODE.format(heavy=json.dumps(HEAVY)),
            "watch",
            server.url,
            "--jsonl",
            "--duration",
            "1.5",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    seen = json.loads(err.decode().strip().splitlines()[-1])
    assert seen == {"rc": 0, "loaded": []}, err.decode()[-2000:]
    kinds = [json.loads(line)["kind"] for line in out.decode().splitlines()]
    assert "connected" in kinds
    assert "rtt" in kinds  # round trips ran too


_LIBRARIES = re.compile(r"^\s*(?:import|from)\s+(socketio|engineio)\b", re.MULTILINE)
_AIOHTTP = re.compile(r"^\s*(?:import|from)\s+aiohttp\b", re.MULTILINE)
_CLIENT_PATH = (
    "conndebug/core/",
    "conndebug/client/",
    "conndebug/wire/",
    "conndebug/commands/watch",
)
"""Where aiohttp has no business (the exporter serves HTTP with it, as the reference server)."""
_PATCH = re.compile(r"\b(?:socketio|engineio|eio|sio)\.[A-Za-z_][\w.]*\s*=[^=]")
_LOG_TEXT = re.compile(r"Server sent|packet queue is empty|WebSocket upgrade failed|aborting")


def test_only_the_reference_server_uses_python_socketio_or_engineio() -> None:
    offenders = []
    for path in sorted((ROOT / "conndebug").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(("conndebug/server/", "conndebug/core/explain/")):
            continue  # the server runs on them; explain reads logs customers send, by design
        text = path.read_text(encoding="utf-8")
        patterns = [_LIBRARIES, _PATCH, _LOG_TEXT]
        if relative.startswith(_CLIENT_PATH):
            patterns.append(_AIOHTTP)
        for pattern in patterns:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{relative}:{line}: {match.group(0).strip()}")
    assert offenders == []
