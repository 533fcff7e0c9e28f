"""`conndebug exporter` in-process against real targets on loopback: the metrics, the allow rules,
the scrape's deadline, the bound on concurrent probes, its own metrics, and no secret served."""

from __future__ import annotations

import asyncio
import io
import time

import pytest
from aiohttp.test_utils import make_mocked_request

from conndebug.commands.exporter import TIMEOUT_HEADER, banner
from conndebug.commands.exporter_config import (
    AllowRule,
    ExporterConfig,
    Module,
    parse_listen,
)
from tests.infra import free_port
from tests.monitoring.helpers import exporter_client, parse_metrics, silent_server
from tests.servers import reference_server

pytestmark = pytest.mark.timeout(60)

PHASES = {"dns", "tcp", "handshake", "upgrade", "namespace", "rtt"}


async def _wait(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_three_real_targets_give_blackbox_metrics() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    async with (
        reference_server() as healthy,
        reference_server(websocket="reject") as refused,
        exporter_client() as (client, _exporter),
    ):
        answers = {}
        for name, url in (("healthy", healthy.url), ("refused", refused.url), ("closed", closed)):
            response = await client.get("/probe", params={"target": url})
            assert response.status == 200, await response.text()
            assert response.headers["Content-Type"].startswith("text/plain")
            answers[name] = parse_metrics(await response.text())

    ok = answers["healthy"]
    assert ok.one("probe_success") == 1
    assert ok.labels("conndebug_verdict", "code") == ["ok"]
    assert ok.one("conndebug_verdict", code="ok") == 1
    assert ok.labels("conndebug_transport", "transport") == ["websocket"]
    assert set(ok.labels("conndebug_probe_phase_duration_seconds", "phase")) == PHASES
    assert ok.one("conndebug_probe_phase_duration_seconds", phase="namespace") > 0
    assert 0 < ok.one("probe_duration_seconds") < 20
    assert 0 < ok.one("conndebug_rtt_seconds") < 5
    assert ok.one("conndebug_heartbeat_seconds", kind="interval") == 1.0  # the fixture's 1 s
    assert ok.one("conndebug_heartbeat_seconds", kind="timeout") == 10.0
    assert "conndebug_tls_cert_expiry_timestamp_seconds" not in ok.values  # plain http

    blocked = answers["refused"]
    assert blocked.one("probe_success") == 1  # degraded, still connected (exit 1)
    assert blocked.labels("conndebug_verdict", "code") == ["websocket_blocked"]
    assert blocked.labels("conndebug_transport", "transport") == ["polling"]
    assert "upgrade" in blocked.labels("conndebug_probe_phase_duration_seconds", "phase")

    down = answers["closed"]
    assert down.one("probe_success") == 0
    assert down.labels("conndebug_verdict", "code") == ["connection_refused"]
    assert down.labels("conndebug_transport", "transport") == []
    assert set(down.labels("conndebug_probe_phase_duration_seconds", "phase")) == {"dns", "tcp"}
    assert "conndebug_rtt_seconds" not in down.values


async def test_openmetrics_is_served_when_the_scraper_asks_for_it() -> None:
    async with reference_server() as server, exporter_client() as (client, _):
        response = await client.get(
            "/probe",
            params={"target": server.url},
            headers={"Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"},
        )
        text = await response.text()
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert text.rstrip().endswith("# EOF")
    assert "probe_success 1.0" in text


async def test_allow_rules_refuse_other_targets_with_403_and_the_reason() -> None:
    async with reference_server() as server:
        allowed_port = server.port
        config = ExporterConfig(allow=(AllowRule(f"http://127.0.0.1:{allowed_port}"),))
        async with exporter_client(config) as (client, _exporter):
            response = await client.get("/probe", params={"target": server.url})
            assert response.status == 200
            assert parse_metrics(await response.text()).one("probe_success") == 1

            other = f"http://127.0.0.1:{free_port()}"
            refused = await client.get("/probe", params={"target": other})
            body = await refused.text()
            assert refused.status == 403
            assert body.startswith("forbidden: the target ")
            assert "matches none of the exporter's 1 --allow rule" in body
            assert "probe_success" not in body  # no probe ran

            by_host = await client.get("/probe", params={"target": "http://localhost:1"})
            assert by_host.status == 403  # rules match what the URL says, not what it resolves to
            metrics = parse_metrics(await (await client.get("/metrics")).text())
    assert metrics.one("conndebug_exporter_errors_total", reason="forbidden") == 2
    assert metrics.one("conndebug_exporter_probes_total", module="default", result="success") == 1


async def test_bad_requests_are_400_in_plain_words() -> None:
    async with exporter_client() as (client, _):
        cases = {
            "": "give the target: /probe?target=URL",
            "?target=ftp://example.com": "Unsupported URL scheme",
            "?target=http://127.0.0.1:1&module=nope": "unknown module 'nope'",
            "?target=http://a b": "spaces or control characters",
        }
        for query, words in cases.items():
            response = await client.get("/probe" + query)
            body = await response.text()
            assert response.status == 400, (query, body)
            assert words in body, (query, body)
            assert "Traceback" not in body
        metrics = parse_metrics(await (await client.get("/metrics")).text())
    assert metrics.one("conndebug_exporter_errors_total", reason="bad_request") == len(cases)


def test_the_budget_is_the_scrape_timeout_less_the_margin_or_the_modules() -> None:
    from conndebug.commands.exporter import Exporter

    exporter = Exporter(ExporterConfig(timeout_margin_s=0.5, default_timeout_s=10.0))
    plain = Module.from_options("default", {})
    short = Module.from_options("short", {"timeout": 2})

    def budget(header: str | None, module: Module) -> float:
        headers = {TIMEOUT_HEADER: header} if header is not None else {}
        return exporter.budget(make_mocked_request("GET", "/probe", headers=headers), module)

    assert budget("10", plain) == 9.5
    assert budget("4.5", plain) == 4.0
    assert budget("0.6", plain) == 0.3  # never less than half the scrape's timeout
    assert budget(None, plain) == 10.0  # Prometheus' default scrape timeout
    assert budget("nonsense", plain) == 10.0
    assert budget("-3", plain) == 10.0
    assert budget("10", short) == 2.0  # the module's is smaller
    assert budget("1.5", short) == 1.0  # the scrape's is smaller
    assert budget(None, short) == 2.0


async def test_a_probe_is_cut_at_the_scrapes_deadline() -> None:
    async with silent_server() as url, exporter_client() as (client, _):
        started = time.monotonic()
        response = await client.get(
            "/probe", params={"target": url}, headers={TIMEOUT_HEADER: "1.5"}
        )
        took = time.monotonic() - started
        metrics = parse_metrics(await response.text())
        own = parse_metrics(await (await client.get("/metrics")).text())
    assert response.status == 200
    assert metrics.one("probe_success") == 0
    assert metrics.labels("conndebug_verdict", "code") == ["connect_timeout"]
    # The budget was 1.5 - 0.5 = 1 s: the probe's own figure says it kept to it.
    assert metrics.one("probe_duration_seconds") <= 1.0 + 0.3
    assert took < 1.5 + 5  # answered, not hung (generous: the machine is shared)
    assert {"dns", "tcp"} <= set(metrics.labels("conndebug_probe_phase_duration_seconds", "phase"))
    assert own.one("conndebug_exporter_probes_total", module="default", result="failure") == 1


async def test_a_module_timeout_cuts_a_probe_without_a_header() -> None:
    modules = {"quick": Module.from_options("quick", {"timeout": 0.5})}
    async with (
        silent_server() as url,
        exporter_client(ExporterConfig(modules=modules)) as (client, _),
    ):
        response = await client.get("/probe", params={"target": url, "module": "quick"})
        metrics = parse_metrics(await response.text())
    assert metrics.one("probe_success") == 0
    assert metrics.one("probe_duration_seconds") <= 0.5 + 0.3


async def test_concurrency_is_bounded_a_full_queue_answers_503_at_once() -> None:
    config = ExporterConfig(max_concurrent=1, max_queued=1)
    async with (
        silent_server() as hole,
        reference_server() as server,
        exporter_client(config) as (client, exporter),
    ):
        slow = asyncio.create_task(
            client.get("/probe", params={"target": hole}, headers={TIMEOUT_HEADER: "3"})
        )
        await _wait(lambda: exporter.slots.in_use == 1)
        queued = asyncio.create_task(
            client.get("/probe", params={"target": server.url}, headers={TIMEOUT_HEADER: "10"})
        )
        await _wait(lambda: exporter.slots.waiting == 1)
        busy = await client.get("/probe", params={"target": server.url})
        busy_text = await busy.text()
        assert busy.status == 503
        assert busy_text.startswith("busy: all 1 probe slots are busy and 1 scrapes already wait")
        assert not slow.done()
        assert not queued.done()

        own = parse_metrics(await (await client.get("/metrics")).text())
        assert own.one("conndebug_exporter_probes_in_flight") == 1
        assert own.one("conndebug_exporter_probes_waiting") == 1

        first, second = await asyncio.gather(slow, queued)
        assert first.status == 200
        assert parse_metrics(await first.text()).one("probe_success") == 0
        assert second.status == 200  # it waited for the slot, then probed
        assert parse_metrics(await second.text()).one("probe_success") == 1
        own = parse_metrics(await (await client.get("/metrics")).text())
    assert own.one("conndebug_exporter_errors_total", reason="busy") == 1
    assert own.one("conndebug_exporter_probes_in_flight") == 0
    assert own.one("conndebug_exporter_probes_waiting") == 0


async def test_a_queued_scrape_gives_up_at_its_deadline_with_503() -> None:
    config = ExporterConfig(max_concurrent=1, max_queued=4)
    async with silent_server() as hole, exporter_client(config) as (client, exporter):
        slow = asyncio.create_task(
            client.get("/probe", params={"target": hole}, headers={TIMEOUT_HEADER: "4"})
        )
        await _wait(lambda: exporter.slots.in_use == 1)
        late = await client.get("/probe", params={"target": hole}, headers={TIMEOUT_HEADER: "1"})
        text = await late.text()
        assert late.status == 503
        assert "no probe slot became free before the scrape's deadline" in text
        assert (await slow).status == 200


async def test_own_metrics_count_probes_durations_and_the_process() -> None:
    async with reference_server() as server, exporter_client() as (client, _):
        for _ in range(3):
            await client.get("/probe", params={"target": server.url})
        await client.get("/probe", params={"target": f"http://127.0.0.1:{free_port()}"})
        response = await client.get("/metrics")
        own = parse_metrics(await response.text())
        index = await (await client.get("/")).text()
    assert own.one("conndebug_exporter_probes_total", module="default", result="success") == 3
    assert own.one("conndebug_exporter_probes_total", module="default", result="failure") == 1
    assert own.one("conndebug_exporter_probe_duration_seconds_count", module="default") == 4
    assert own.one("conndebug_exporter_probe_duration_seconds_sum", module="default") > 0
    assert own.one("conndebug_exporter_probes_in_flight") == 0
    assert own.one("conndebug_exporter_errors_total", reason="internal") == 0
    assert own.one("process_resident_memory_bytes") > 1_000_000
    assert "GET /probe?target=URL" in index


async def test_no_secret_of_a_module_is_served(capsys: pytest.CaptureFixture[str]) -> None:
    token = "tok-SeCrEt-0123456789abcdef"
    module = Module.from_options(
        "authed", {"token": token, "headers": {"Authorization": "Bearer hdr-SeCrEt-987654321"}}
    )
    config = ExporterConfig(modules={"authed": module}, allow=(AllowRule("127.0.0.1:*"),))
    async with reference_server() as server, exporter_client(config) as (client, _):
        texts = []
        for params in (
            {"target": server.url, "module": "authed", "debug": "true"},
            {"target": server.url, "module": "authed"},
            {"target": f"http://localhost:1/?token={token}", "module": "authed"},
            {"target": f"http://127.0.0.2:1/{token}", "module": "authed"},
        ):
            response = await client.get("/probe", params=params)
            texts.append(await response.text())
        texts.append(await (await client.get("/metrics")).text())
        texts.append(await (await client.get("/")).text())
    debug = texts[0]
    assert "Namespace connect" in debug
    assert "auth_rejected" in debug
    for text in texts:
        assert token not in text
        assert "hdr-SeCrEt-987654321" not in text
    assert texts[3].startswith("forbidden: the target http://127.0.0.2:1 matches none")
    log = capsys.readouterr().err
    assert "403 http://127.0.0.2:1/‹redacted" in log  # the log quotes the target, masked
    assert token not in log


def test_the_banner_is_loud_beyond_loopback() -> None:
    def text(listen: str, *rules: str) -> str:
        out = io.StringIO()
        config = ExporterConfig(
            listen=parse_listen(listen), allow=tuple(AllowRule(r) for r in rules)
        )
        banner(config, 9516, out)
        return out.getvalue()

    quiet = text("127.0.0.1:0")
    assert quiet.startswith("conndebug exporter listening on http://127.0.0.1:9516\n")
    assert "loopback only" in quiet
    assert "WARNING" not in quiet
    assert "loopback only" in text("[::1]:0")
    assert "loopback only" in text("localhost:0")
    open_one = text("0.0.0.0:9516")
    assert "WARNING: listening beyond loopback on 0.0.0.0:9516 with NO --allow rule" in open_one
    assert "SSRF" in open_one
    ruled = text(":9516", "10.0.0.0/8")
    assert "WARNING: listening beyond loopback" in ruled
    assert "1 --allow rule(s)" in ruled


async def test_a_probe_that_will_not_stop_does_not_hold_the_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import conndebug.commands.exporter as exporter_module

    ended = asyncio.Event()

    async def stubborn(settings: object, *, bus: object) -> object:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(5.0)  # a cleanup that takes its time, far past the deadline
            ended.set()
            raise
        raise AssertionError("not reached")

    monkeypatch.setattr(exporter_module, "run_probe", stubborn)
    async with exporter_client() as (client, exporter):
        response = await client.get(
            "/probe", params={"target": "http://127.0.0.1:1"}, headers={TIMEOUT_HEADER: "1"}
        )
        metrics = parse_metrics(await response.text())
        assert metrics.one("probe_success") == 0
        assert metrics.labels("conndebug_verdict", "code") == ["connect_timeout"]
        assert not ended.is_set()  # answered at the deadline, while the probe was still closing
        assert exporter._abandoned  # and the probe is still held, not lost
        await asyncio.wait_for(ended.wait(), 20)
        await _wait(lambda: not exporter._abandoned)
