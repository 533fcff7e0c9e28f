"""Run ``python -m conndebug ARGS`` from an async test, without blocking the loop the test's
servers live on, and bounded in time."""

from __future__ import annotations

import asyncio
import os
import sys

from tests.conftest import ROOT


async def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    """The exit code, stdout and stderr of ``python -m conndebug ARGS`` (``env`` added to ours)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "conndebug",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
