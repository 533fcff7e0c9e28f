"""Shared test fixtures.

Tests that need an outside component (Node peers, nginx, redis-server, tinyproxy) call
:func:`require`: on a developer's machine a missing component skips the test; in CI (``CI=true``)
it fails it, so a missing install step in ``.ci/run`` is caught. The closing summary of the run
names every component that was missing and the one command that installs it.

The Node peers install themselves: the first test that needs them runs ``npm ci`` in
``tests/node`` when npm exists and ``node_modules`` is missing or older than the lock file (once
per run; concurrent pytest processes wait for each other on a lock file). ``CONNDEBUG_NO_NPM=1``
turns that off.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "node"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
NPM_CI = "cd tests/node && npm ci"
"""The one command that installs the Node peers."""
NPM_TIMEOUT_S = 300.0
"""The longest ``npm ci`` (and the wait for another process's) may take."""

MISSING: dict[str, str] = {}
"""Components a test needed and did not find → how to install them (for the closing summary)."""
_npm_attempt: list[str] = []
"""What the one ``npm ci`` of this run said, if it ran and failed."""


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
    MISSING[what] = how
    message = f"{what} is missing: {how}"
    if IN_CI:
        pytest.fail(message + " (CI=true: .ci/run must install it)")
    pytest.skip(message)


def node_peers_stale(folder: Path = NODE_DIR) -> str | None:
    """Why ``folder``'s node_modules needs ``npm ci`` (missing, older than the lock), or None."""
    installed = folder / "node_modules" / ".package-lock.json"  # written by every npm ci
    if not (folder / "node_modules" / "socket.io").is_dir() or not installed.is_file():
        return "node_modules is missing"
    if installed.stat().st_mtime < (folder / "package-lock.json").stat().st_mtime:
        return "node_modules is older than package-lock.json"
    return None


@contextlib.contextmanager
def _exclusive(lock_path: Path, timeout: float) -> Iterator[bool]:
    """Hold an exclusive lock on ``lock_path`` (True), or give up after ``timeout`` (False)."""
    with open(lock_path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.2)
                continue
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
            return


def install_node_peers(folder: Path = NODE_DIR, *, npm: str | None = None) -> str | None:
    """Run ``npm ci`` in ``folder`` when its node_modules is missing or stale; returns why it
    could not (``None``: installed, or nothing to do). Safe to call from concurrent processes."""
    if node_peers_stale(folder) is None:
        return None
    npm = npm or shutil.which("npm")
    if npm is None or os.environ.get("CONNDEBUG_NO_NPM") == "1":
        return None
    with _exclusive(folder / ".npm-ci.lock", NPM_TIMEOUT_S) as locked:
        if not locked:
            return f"another process held {folder / '.npm-ci.lock'} for {NPM_TIMEOUT_S:.0f} s"
        if node_peers_stale(folder) is None:  # another process installed them meanwhile
            return None
        try:
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=NPM_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"npm ci did not finish: {exc}"
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"npm ci failed (exit {done.returncode}): {last[0]}"
    return None


@pytest.fixture(scope="session")
def node_dir() -> Path:
    """The folder of the Node Socket.IO peers, with node_modules installed (by this fixture,
    with ``npm ci``, when npm is there and they are missing or stale)."""
    require(
        shutil.which("node") is not None, "node", "install Node.js (apt-get install nodejs npm)"
    )
    problem = install_node_peers()
    if problem is not None and problem not in _npm_attempt:
        _npm_attempt.append(problem)
    why = node_peers_stale()
    require(
        why is None,
        "tests/node/node_modules",
        f"run `{NPM_CI}`" + (f" ({_npm_attempt[0]})" if _npm_attempt else f" ({why})"),
    )
    return NODE_DIR


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name every component a test needed and did not find, with the command that installs it."""
    if not MISSING:
        return
    terminalreporter.section("components missing (their tests were skipped)")
    for what, how in MISSING.items():
        terminalreporter.write_line(f"{what}: {how}")


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
