"""What a probe loads: a whole ladder against a healthy server (guest session, websocket, round
trips) imports no HTTP library, no Socket.IO client, no JWT library and no Textual; piped human
output does not load Rich either; the websocket, which only carries whole messages and its close,
never needs wsproto. Each of these cost ten milliseconds of start-up or more."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from tests.conftest import ROOT
from tests.servers import reference_server

HEAVY = (
    "aiohttp",
    "httpx",
    "httpcore",
    "socketio",
    "engineio",
    "jwt",
    "textual",
    "rich",
    "wsproto",
)

CODE = """
import json, sys
from conndebug.cli import main
rc = main(sys.argv[1:])
loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set(json.loads({heavy!r})))
print(json.dumps({{"rc": rc, "loaded": loaded}}), file=sys.stderr)
"""


async def run(*args: str) -> tuple[str, dict[str, object]]:
    env = {**os.environ, "NO_PROXY": "*", "NO_COLOR": "1"}
    for name in ("TTY_COMPATIBLE", "FORCE_COLOR"):
        env.pop(name, None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CODE.format(heavy=json.dumps(HEAVY)),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return out.decode(), json.loads(err.decode().strip().splitlines()[-1])


@pytest.mark.parametrize("json_out", [True, False], ids=["json", "piped-human"])
async def test_a_whole_probe_loads_none_of_the_heavy_libraries(json_out: bool) -> None:
    async with reference_server() as server:
        out, seen = await run("probe", server.url, *(["--json"] if json_out else []))
    assert seen == {"rc": 0, "loaded": []}, out
    if json_out:
        result = json.loads(out)
        namespace = next(s for s in result["steps"] if s["name"] == "namespace")
        assert "guest token" in namespace["detail"]  # the guest POST went over the probe's client
    else:
        assert "✓ Namespace connect" in out
        assert "╭─ ok (exit 0) ─" in out
        assert "\x1b[" not in out
