"""Shared test fixtures.

Tests that need an outside component (Node peers, nginx, redis-server, tinyproxy) call
:func:`require`: on a developer's machine a missing component skips the test; in CI (``CI=true``)
it fails it, so a missing install step in ``.ci/run`` is caught.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "node"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _own_data_folder(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Every test keeps its guest sessions (conndebug's user data) in a folder of its own, never
    in the developer's: ``XDG_DATA_HOME`` for this process and the commands it starts."""
    folder = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))
    return folder


def require(ok: bool, what: str, how: str) -> None:
    """Skip (developer machine) or fail (CI) when a needed component is missing."""
    if ok:
        return
    message = f"{what} is missing: {how}"
    if IN_CI:
        pytest.fail(message + " (CI=true: .ci/run must install it)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def node_dir() -> Path:
    """The folder of the Node Socket.IO peers, with node_modules installed."""
    require(shutil.which("node") is not None, "node", "install Node.js")
    require(
        (NODE_DIR / "node_modules" / "socket.io").is_dir(),
        "tests/node/node_modules",
        "run `npm ci` in tests/node",
    )
    return NODE_DIR


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m conndebug`` as a user would; bounded in time."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "conndebug", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=ROOT,
        check=False,
    )
