"""A proxy's password (``--proxy http://user:password@host:port`` or ``HTTP_PROXY``) is never
shown: not in the history, ``watch``, the ``--log`` file, the snapshot or the TUI's target panel.

Before the fix the monitor's first note ("target ..., via proxy http://user:password@...") and
the panel's proxy field carried it in full. (The probe's report: tests/probe/test_network.py,
``test_proxy_credentials_are_sent_and_never_shown``.)
"""

from __future__ import annotations

import asyncio
import os
import string
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conndebug.core.model import State
from conndebug.core.monitor import make_monitor
from conndebug.core.redact import Redactor
from conndebug.ui.app import make_app
from tests.conftest import ROOT
from tests.core.helpers import settings_for
from tests.hardening.peers import free_loopback_port
from tests.ui.helpers import SIZE, text, until

pytestmark = pytest.mark.timeout(60)

PASSWORD = "pr0xy-Pa55word-777"


@given(
    user=st.text(alphabet=string.ascii_letters + string.digits + "-_.", max_size=12),
    password=st.text(
        alphabet=string.ascii_letters + string.digits + "-_.~!$&'()*+,;=%:", min_size=1, max_size=30
    ).map(lambda p: "P4-" + p),
    scheme=st.sampled_from(["http", "https", "socks5", "HTTP"]),
    before=st.sampled_from(["", "via proxy ", "error: ", "("]),
)
def test_any_password_in_a_url_is_masked(
    user: str, password: str, scheme: str, before: str
) -> None:
    url = f"{scheme}://{user}:{password}@proxy.example:3128/path"
    shown = Redactor().text(f"{before}{url} and more")
    assert password not in shown
    assert "proxy.example:3128" in shown


def test_a_password_someone_already_masked_is_left_as_it_is() -> None:
    assert Redactor().text("redis://:***@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"


@pytest.mark.parametrize("how", ["flag", "environment"])
async def test_the_proxy_password_is_in_no_output_of_watch(how: str, tmp_path: Path) -> None:
    dead_proxy = f"http://probe:{PASSWORD}@127.0.0.1:{free_loopback_port()}"
    target = f"http://127.0.0.1:{free_loopback_port()}"
    env = {**os.environ, "NO_COLOR": "1"}
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        env.pop(name, None)
    args = ["--proxy", dead_proxy] if how == "flag" else []
    if how == "environment":
        env["HTTP_PROXY"] = dead_proxy
    outputs = []
    for extra in (["--jsonl"], []):
        log = tmp_path / f"watch{len(outputs)}.jsonl"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "conndebug",
            "watch",
            target,
            "--duration",
            "0",
            "--no-guest",
            "--log",
            str(log),
            *args,
            *extra,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 40)
        assert proc.returncode == 2, err
        outputs += [out.decode(), err.decode(), log.read_text(encoding="utf-8")]
    everything = "\n".join(outputs)
    assert "via proxy http://probe:‹redacted" in everything  # the proxy is named...
    assert PASSWORD not in everything  # ...its password is not


async def test_the_proxy_password_is_not_on_screen() -> None:
    settings = settings_for(
        f"http://127.0.0.1:{free_loopback_port()}",
        proxy=f"http://probe:{PASSWORD}@127.0.0.1:{free_loopback_port()}",
        no_guest=True,
        reconnect_delay=5.0,
    )
    monitor = make_monitor(settings)
    app = make_app(settings, monitor=monitor, find_probe=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: monitor.state is State.RECONNECTING, timeout=10)
            await pilot.pause(0.2)
            panel = text(app, "#target")
            assert "probe:‹redacted" in panel
            assert PASSWORD not in panel
            assert all(PASSWORD not in e.to_json() for e in monitor.bus.history)
            assert PASSWORD not in (monitor.snapshot().proxy or "")
    finally:
        await monitor.stop()
