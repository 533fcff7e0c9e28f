"""TLS: verified by default on both transports; ``--insecure`` is loud on screen, in ``watch`` and
in reports.

The target is the reference server behind a TLS-terminating relay whose certificate comes from a
test CA the client is not told about (trustme), so only verification can make the difference.
Also proven elsewhere: the probe's TLS rung (tests/probe/test_network.py,
``test_certificate_problems_are_tls_error``), a trusted ``--ca-bundle`` on both transports and the
guest endpoint's certificate (tests/core/test_monitor_network.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from conndebug.config import Settings
from conndebug.core.guest import tls_verify_setting
from conndebug.core.model import State
from conndebug.core.monitor import make_monitor
from conndebug.ui.app import make_app
from conndebug.ui.widgets import InsecureBanner
from conndebug.wire import Route
from tests.cli import cli as run_conndebug
from tests.core.helpers import events_of, settings_for, wait_until
from tests.proxies import TcpRelay, tcp_relay
from tests.servers import reference_server
from tests.ui.helpers import SIZE, text, until

pytestmark = pytest.mark.timeout(90)

LOUD = "TLS CERTIFICATE VERIFICATION IS DISABLED"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@contextlib.asynccontextmanager
async def tls_target(ca: trustme.CA) -> AsyncIterator[TcpRelay]:
    """The reference server behind TLS with a certificate of ``ca`` (unknown to the client)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    async with reference_server() as server, tcp_relay(server.port, tls=context) as relay:
        yield relay


@pytest.fixture(autouse=True)
def _no_trust_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


def _verifies(setting: ssl.SSLContext | bool) -> bool:
    """A context must require a valid certificate (``True``: a library's own verifying one)."""
    if isinstance(setting, ssl.SSLContext):
        return setting.verify_mode is ssl.CERT_REQUIRED and setting.check_hostname
    return setting is True


def _wire(settings: Settings) -> ssl.SSLContext:
    """The TLS context the wire layer (the monitor's client, the guest POST) uses."""
    context = Route.for_url(settings, settings.url).context
    assert context is not None
    return context


def test_every_client_verifies_by_default() -> None:
    settings = Settings(url="https://example.org")
    assert _verifies(_wire(settings))  # both Socket.IO transports and the guest client
    assert _verifies(tls_verify_setting(settings))  # the admin client (session expiry)
    assert _verifies(Route.for_url(settings, settings.url).context)  # the probe (the wire)
    assert settings.tls_verify == "verified (system trust store)"
    insecure = Settings(url="https://example.org", insecure=True)
    assert not _verifies(_wire(insecure))  # the monitor, the guest POST and the probe alike


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_an_untrusted_certificate_fails_on_each_transport(
    transport: str, ca: trustme.CA
) -> None:
    async with tls_target(ca) as relay:
        monitor = make_monitor(
            settings_for(relay.url, no_guest=True, transports=(transport,), reconnect_attempts=1)
        )
        await monitor.start()
        try:
            await wait_until(
                lambda: bool(events_of(monitor.bus, "connect_error")), 15, "a connect error"
            )
        finally:
            await monitor.stop()
    assert not events_of(monitor.bus, "connected")
    error = events_of(monitor.bus, "connect_error")[0]
    assert "certificate" in error.message
    assert events_of(monitor.bus, "connecting")[0].transport == transport
    assert relay.websocket_requests == 0  # nothing got through the TLS layer


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_insecure_connects_on_each_transport_and_says_so(
    transport: str, ca: trustme.CA
) -> None:
    async with tls_target(ca) as relay:
        monitor = make_monitor(settings_for(relay.url, transports=(transport,), insecure=True))
        await monitor.start()
        try:
            await wait_until(lambda: monitor.state is State.CONNECTED, 15, "connected")
        finally:
            await monitor.stop()
    assert events_of(monitor.bus, "connected")[0].transport == transport
    first = events_of(monitor.bus, "note")[0]
    assert first.level == "warning"
    assert LOUD in first.text


async def cli(*args: str) -> tuple[int, str, str]:
    return await run_conndebug(*args, env={"NO_PROXY": "*", "NO_COLOR": "1"})


async def test_insecure_is_loud_in_watch_text_and_json_lines(ca: trustme.CA) -> None:
    async with tls_target(ca) as relay:
        text_run = await cli("watch", relay.url, "--insecure", "--duration", "0")
        jsonl_run = await cli("watch", relay.url, "--insecure", "--duration", "0", "--jsonl")
        refused = await cli("watch", relay.url, "--duration", "0", "--no-guest")
    assert text_run[0] == 0, text_run[2]
    assert LOUD in text_run[1].splitlines()[0]
    assert jsonl_run[0] == 0, jsonl_run[2]
    first = json.loads(jsonl_run[1].splitlines()[0])
    assert first["kind"] == "note"
    assert first["level"] == "warning"
    assert LOUD in first["detail"]
    assert refused[0] == 2
    assert "certificate" in refused[2]  # without --insecure: the summary names the certificate
    assert LOUD not in refused[1]


async def test_insecure_is_loud_in_probe_reports_md_and_json(
    ca: trustme.CA, tmp_path: Path
) -> None:
    async with tls_target(ca) as relay:
        code, _out, err = await cli(
            "probe", relay.url, "--insecure", "--report", str(tmp_path / "r.md")
        )
        assert code == 0, err
        code, out, err = await cli(
            "probe", relay.url, "--insecure", "--json", "--report", str(tmp_path / "r.json")
        )
        assert code == 0, err
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    environment = report["sections"][0]["environment"]
    assert environment["insecure"] is True
    assert environment["tls_verify"] == "DISABLED (--insecure)"
    assert json.loads(out)["environment"]["tls_verify"] == "DISABLED (--insecure)"
    markdown = (tmp_path / "r.md").read_text(encoding="utf-8")
    head = markdown.split("### Ladder", 1)[0]
    assert LOUD in head, head  # above everything else of the section, not only in a table


async def test_insecure_is_on_screen_and_in_the_tuis_report(ca: trustme.CA, tmp_path: Path) -> None:
    async with tls_target(ca) as relay:
        settings = settings_for(relay.url, insecure=True)
        monitor = make_monitor(settings)
        app = make_app(settings, monitor=monitor, report_dir=tmp_path, find_probe=False)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await until(pilot, lambda: monitor.state is State.CONNECTED, timeout=15)
                banner = app.query_one(InsecureBanner)
                assert banner.display
                assert banner.region.height == 1
                assert "--insecure" in str(banner.render())
                assert "DISABLED (--insecure)" in text(app, "#target")
                await pilot.press("s")
                await until(pilot, lambda: len(list(tmp_path.glob("*.md"))) == 1, timeout=10)
        finally:
            await monitor.stop()
    (markdown,) = await asyncio.to_thread(lambda: list(tmp_path.glob("*.md")))
    (report,) = await asyncio.to_thread(lambda: list(tmp_path.glob("*.json")))
    assert LOUD in markdown.read_text(encoding="utf-8").split("### Connection", 1)[0]
    assert (
        json.loads(report.read_text(encoding="utf-8"))["sections"][0]["environment"]["insecure"]
        is True
    )


async def test_no_banner_without_insecure(ca: trustme.CA, tmp_path: Path) -> None:
    settings = settings_for("https://127.0.0.1:9", no_guest=True)
    monitor = make_monitor(settings)
    app = make_app(settings, monitor=monitor, report_dir=tmp_path, find_probe=False)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.1)
            assert not app.query(InsecureBanner)
    finally:
        await monitor.stop()
