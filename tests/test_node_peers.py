"""The Node peers themselves work: the v4 client connects to the v4 server over websocket."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import conftest
from tests.conftest import install_node_peers, node_peers_stale
from tests.node_peers import node_server, run_client


@pytest.mark.node
async def test_node_client_connects_to_node_server(node_dir: Path) -> None:
    async with node_server() as server:
        lines = await run_client(server.url, "--max-ms", "10000")
    connects = [line for line in lines if line["event"] == "connect"]
    assert connects, lines
    assert connects[0]["transport"] == "websocket"
    assert server.version.startswith("4.")


@pytest.mark.node
async def test_v2_server_starts(node_dir: Path) -> None:
    async with node_server(v2=True) as server:
        assert server.version.startswith("2.")


FAKE_NPM = """#!/bin/sh
# A stand-in for npm: counts its calls, then installs what `npm ci` would.
echo run >> "$PWD/calls"
sleep 0.3
mkdir -p node_modules/socket.io
echo '{}' > node_modules/.package-lock.json
"""


def _peer_folder(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "node"
    folder.mkdir()
    (folder / "package-lock.json").write_text("{}", encoding="utf-8")
    npm = tmp_path / "npm"
    npm.write_text(FAKE_NPM, encoding="utf-8")
    npm.chmod(0o755)
    return folder, npm


def test_missing_peers_are_installed_once_even_by_concurrent_sessions(tmp_path: Path) -> None:
    import threading

    folder, npm = _peer_folder(tmp_path)
    assert node_peers_stale(folder) == "node_modules is missing"
    results: list[str | None] = []
    workers = [
        threading.Thread(target=lambda: results.append(install_node_peers(folder, npm=str(npm))))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert results == [None, None, None]
    assert (folder / "calls").read_text(encoding="utf-8").count("run") == 1
    assert node_peers_stale(folder) is None
    # A newer lock file makes them stale again: installed again.
    later = (folder / "node_modules" / ".package-lock.json").stat().st_mtime + 10
    os.utime(folder / "package-lock.json", (later, later))
    assert node_peers_stale(folder) == "node_modules is older than package-lock.json"
    assert install_node_peers(folder, npm=str(npm)) is None
    assert (folder / "calls").read_text(encoding="utf-8").count("run") == 2


def test_a_failing_npm_is_reported_in_words(tmp_path: Path) -> None:
    folder, npm = _peer_folder(tmp_path)
    npm.write_text("#!/bin/sh\necho 'npm ERR! network unreachable' >&2\nexit 1\n")
    problem = install_node_peers(folder, npm=str(npm))
    assert problem == "npm ci failed (exit 1): npm ERR! network unreachable"


def test_the_closing_summary_names_what_is_missing_and_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines: list[str] = []

    class Reporter:
        def section(self, title: str) -> None:
            lines.append(f"== {title}")

        def write_line(self, line: str) -> None:
            lines.append(line)

    monkeypatch.setattr(conftest, "MISSING", {"tinyproxy": "apt-get install tinyproxy"})
    conftest.pytest_terminal_summary(Reporter())  # type: ignore[arg-type]
    assert lines == [
        "== components missing (their tests were skipped)",
        "tinyproxy: apt-get install tinyproxy",
    ]
