"""``conndebug exporter``: a Prometheus exporter in blackbox_exporter's style, for Socket.IO.

Prometheus scrapes ``GET /probe?target=URL[&module=NAME]``; the exporter runs the probe ladder
(:func:`conndebug.core.probe.run_probe`) against the target with the module's options and answers
with that one probe's metrics (:mod:`.exporter_metrics`; a fresh registry per probe, exposed by
prometheus_client in the format the scraper asks for). ``GET /metrics`` is the exporter's own
(probes run, durations, errors, probes in flight and waiting, the process). ``GET /`` says what it
serves. ``&debug=true`` adds the probe's ladder and verdict as text, redacted like everything else.

Answers that are not a probe, in plain words (``text/plain``):

- **400** no ``target``, a target that is not a URL, an unknown module;
- **403** the target matches none of the ``--allow`` rules (an open exporter is an SSRF gadget);
- **503** no probe slot: ``--max-concurrent`` probes run and ``--max-queued`` scrapes already wait,
  or none became free before the scrape's deadline (a scrape *waits* in the queue while there is
  room in it, then is refused at once);
- **500** a bug (the probe ladder raised): the answer names it, the process goes on.

A probe's budget is Prometheus' ``X-Prometheus-Scrape-Timeout-Seconds`` less ``--timeout-margin``
(0.5 s), or the module's ``timeout`` when smaller, or 10 s without either; the probe's own
``connect_timeout`` and ``ws_timeout`` are cut to fit it. A probe still running at the deadline is
cancelled (given 0.2 s to close its sockets, never more) and answered with ``probe_success 0``, the
rungs it finished and the verdict ``connect_timeout``. Secrets of the modules (tokens, headers) never appear in any answer or log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from typing import TextIO

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from conndebug.commands.exporter_config import (
    DEFAULT_LISTEN,
    AllowRule,
    ExporterConfig,
    Module,
    load_config,
    parse_listen,
    refusal,
)
from conndebug.commands.exporter_metrics import (
    ExporterMetrics,
    Outcome,
    outcome_of,
    partial_outcome,
    probe_registry,
)
from conndebug.config import Settings
from conndebug.core.errors import ConfigError, ServerError
from conndebug.core.events import Event, EventBus, ProbeStep
from conndebug.core.probe import ProbeResult, run_probe
from conndebug.core.redact import Redactor

__all__ = [
    "EXPORTER_KEY",
    "TIMEOUT_HEADER",
    "Busy",
    "Exporter",
    "Slots",
    "config_from_args",
    "make_exporter_app",
    "run_exporter",
]

TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
_MIN_BUDGET_S = 0.1
_CANCEL_GRACE_S = 0.2
"""How long a probe cancelled at its deadline may take to close its sockets before the answer."""


class Busy(Exception):
    """No probe slot for this scrape (the reason is the 503's text)."""


class Slots:
    """At most ``running`` probes at once; at most ``queued`` scrapes waiting for one."""

    def __init__(self, running: int, queued: int) -> None:
        self.running = running
        self.queued = queued
        self._free = asyncio.Semaphore(running)
        self.in_use = 0
        self.waiting = 0

    @contextlib.asynccontextmanager
    async def slot(self, deadline: float) -> AsyncIterator[None]:
        """Hold a probe slot for the block, waiting for one until ``deadline`` (monotonic) while
        the queue has room; :class:`Busy` when the queue is full or the deadline passes."""
        if self._free.locked():
            if self.waiting >= self.queued:
                raise Busy(
                    f"all {self.running} probe slots are busy and {self.waiting} scrapes already "
                    "wait (raise --max-concurrent or --max-queued, or scrape less often)"
                )
            self.waiting += 1
            try:
                await asyncio.wait_for(
                    self._free.acquire(), max(deadline - time.monotonic(), 0.001)
                )
            except asyncio.TimeoutError:
                raise Busy(
                    f"no probe slot became free before the scrape's deadline (all {self.running} "
                    "busy; raise --max-concurrent or the scrape timeout)"
                ) from None
            finally:
                self.waiting -= 1
        else:
            await self._free.acquire()
        self.in_use += 1
        try:
            yield
        finally:
            self.in_use -= 1
            self._free.release()


class Exporter:
    """The request handlers, the probe slots and the exporter's own metrics."""

    def __init__(self, config: ExporterConfig) -> None:
        self.config = config
        self.metrics = ExporterMetrics()
        self.slots = Slots(config.max_concurrent, config.max_queued)
        self.metrics.in_flight.set_function(lambda: self.slots.in_use)
        self.metrics.waiting.set_function(lambda: self.slots.waiting)
        self.redactor: Redactor = config.redactor
        self.log: TextIO = sys.stderr
        self._abandoned: set[asyncio.Future[ProbeResult]] = set()
        """Probes cancelled at their deadline that have not finished closing yet."""

    # -- helpers -----------------------------------------------------------------------------
    def _text(self, status: int, text: str, reason: str) -> web.Response:
        self.metrics.errors.labels(reason).inc()
        line = self.redactor.text(text)
        return web.Response(status=status, text=line + "\n", content_type="text/plain")

    def budget(self, request: web.Request, module: Module) -> float:
        """Seconds this probe may take: the scrape's timeout less the margin, the module's."""
        budget: float | None = None
        raw = request.headers.get(TIMEOUT_HEADER)
        if raw:
            try:
                scrape = float(raw)
            except ValueError:
                scrape = math.nan
            if math.isfinite(scrape) and scrape > 0:
                budget = max(scrape - self.config.timeout_margin_s, scrape / 2)
        if module.timeout is not None:
            budget = module.timeout if budget is None else min(budget, module.timeout)
        if budget is None:
            budget = self.config.default_timeout_s
        return max(budget, _MIN_BUDGET_S)

    # -- handlers ----------------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.Response:
        modules = ", ".join(sorted(self.config.modules)) or "default (built in)"
        rules = len(self.config.allow)
        text = (
            "conndebug exporter: Socket.IO probes for Prometheus, blackbox style\n\n"
            "  GET /probe?target=URL[&module=NAME][&debug=true]   one probe's metrics\n"
            "  GET /metrics                                        this exporter's own metrics\n\n"
            f"modules: {modules}\n"
            f"targets: {f'{rules} --allow rule(s)' if rules else 'any (no --allow rule)'}\n"
        )
        return web.Response(text=text, content_type="text/plain")

    async def own_metrics(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(
            body=encoder(self.metrics.registry), headers={"Content-Type": content_type}
        )

    async def probe(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        target = request.query.get("target", "").strip()
        if not target:
            return self._text(400, "give the target: /probe?target=URL", "bad_request")
        try:
            module = self.config.module(request.query.get("module") or None)
            settings = module.settings(target)
        except ConfigError as exc:
            return self._text(400, f"{exc.title} — {exc.hint}", "bad_request")
        refused = refusal(self.config.allow, settings)
        if refused:
            self._warn(f"403 {target}: {refused}")
            return self._text(403, f"forbidden: {refused}", "forbidden")
        deadline = started + self.budget(request, module)
        try:
            async with self.slots.slot(deadline):
                outcome, result = await self._run(module, settings, deadline)
        except Busy as exc:
            return self._text(503, f"busy: {exc}", "busy")
        except Exception as exc:  # noqa: BLE001 - a bug in the ladder: answered 500, counted and logged (redacted); the exporter keeps serving
            self._warn(f"500 {target}: {type(exc).__name__}: {exc}")
            return self._text(
                500,
                f"internal error ({type(exc).__name__}: {exc}) — a bug in conndebug",
                "internal",
            )
        self.metrics.probes.labels(module.name, "success" if outcome.success else "failure").inc()
        self.metrics.duration.labels(module.name).observe(outcome.duration_s)
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = encoder(probe_registry(outcome))
        if request.query.get("debug", "").lower() in ("1", "true", "yes"):
            return web.Response(
                text=self._debug(settings, result, outcome) + "\n\n" + body.decode(),
                content_type="text/plain",
            )
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _run(
        self, module: Module, settings: Settings, deadline: float
    ) -> tuple[Outcome, ProbeResult | None]:
        """Run one probe within ``deadline``; the figures (and the result, when it finished)."""
        budget = max(deadline - time.monotonic(), _MIN_BUDGET_S)
        settings = module.budgeted(settings, budget)
        bus = EventBus(history_size=256)
        steps: list[ProbeStep] = []

        def on_event(event: Event) -> None:
            if isinstance(event, ProbeStep):
                steps.append(event)

        bus.subscribe(on_event)
        started = time.monotonic()
        task = asyncio.ensure_future(run_probe(settings, bus=bus))
        try:
            await asyncio.wait({task}, timeout=budget)
        finally:
            if not task.done():
                task.cancel()
                # Give the ladder a moment to close its sockets, but never wait on it unbounded:
                # the scrape gets its answer at its deadline whatever the probe does.
                await asyncio.wait({task}, timeout=_CANCEL_GRACE_S)
                if not task.done():
                    self._abandoned.add(task)
                    task.add_done_callback(self._forget)
        if task.cancelled() or not task.done():
            self.metrics.deadlines.inc()
            return partial_outcome(steps, time.monotonic() - started), None
        result = task.result()
        return outcome_of(result, time.monotonic() - started), result

    def _forget(self, task: asyncio.Future[ProbeResult]) -> None:
        """A probe that outlived its deadline and its grace has ended: let it go."""
        self._abandoned.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: nothing to report for a probe nobody waits for

    def _debug(self, settings: Settings, result: ProbeResult | None, outcome: Outcome) -> str:
        from conndebug.commands.probe_render import plain_result

        head = f"conndebug probe {settings.url}{'' if settings.namespace == '/' else settings.namespace}"
        if result is None:
            text = (
                f"{head}\nthe probe did not finish within the deadline "
                f"({outcome.duration_s:.2f} s): {', '.join(outcome.phases) or 'no rung'} finished"
            )
        else:
            text = head + "\n" + plain_result(result, width=100)
        return self.redactor.text(text)

    def _warn(self, line: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            print(f"conndebug exporter: {self.redactor.text(line)}", file=self.log, flush=True)


EXPORTER_KEY = web.AppKey("exporter", Exporter)
"""Where the application keeps its :class:`Exporter` (handlers, slots, metrics)."""


def make_exporter_app(config: ExporterConfig) -> web.Application:
    """The aiohttp application (tests run it on a free port)."""
    exporter = Exporter(config)
    app = web.Application()
    app[EXPORTER_KEY] = exporter
    app.router.add_get("/", exporter.index)
    app.router.add_get("/probe", exporter.probe)
    app.router.add_get("/metrics", exporter.own_metrics)
    return app


def config_from_args(args: argparse.Namespace) -> ExporterConfig:
    """Validated exporter settings from the command line (ConfigError)."""
    listen = parse_listen(args.listen or DEFAULT_LISTEN)
    modules: dict[str, Module] = {}
    extra_allow: tuple[AllowRule, ...] = ()
    if args.config:
        modules, extra_allow = load_config(args.config)
    allow = tuple(AllowRule(p) for p in args.allow or ()) + extra_allow
    if not 1 <= args.max_concurrent <= 10_000:
        raise ConfigError(
            f"--max-concurrent {args.max_concurrent} is out of range", "use 1 to 10000"
        )
    if not 0 <= args.max_queued <= 100_000:
        raise ConfigError(f"--max-queued {args.max_queued} is out of range", "use 0 to 100000")
    if not 0 <= args.timeout_margin <= 60:
        raise ConfigError(
            f"--timeout-margin {args.timeout_margin:g} is out of range", "use 0 to 60"
        )
    return ExporterConfig(
        listen=listen,
        modules=modules,
        allow=allow,
        max_concurrent=args.max_concurrent,
        max_queued=args.max_queued,
        timeout_margin_s=args.timeout_margin,
    )


def banner(config: ExporterConfig, port: int, out: TextIO) -> None:
    """Where it listens (loudly when beyond loopback), the modules, the allow rules."""
    where = config.listen.display(port)
    print(f"conndebug exporter listening on http://{where}", file=out)
    modules = ", ".join(sorted(config.modules)) or "default (built in)"
    print(f"  modules   {modules}", file=out)
    rules = ", ".join(r.pattern for r in config.allow)
    print(f"  targets   {rules if rules else 'any (no --allow rule)'}", file=out)
    if config.listen.loopback:
        print("  loopback only: only this machine can scrape it (--listen to change)", file=out)
    elif config.allow:
        print(
            f"WARNING: listening beyond loopback on {where}: anyone who reaches this port can "
            f"make this host probe the targets the {len(config.allow)} --allow rule(s) permit",
            file=out,
        )
    else:
        print(
            f"WARNING: listening beyond loopback on {where} with NO --allow rule: anyone who "
            "reaches this port can make this host connect to any address, inside your network "
            "too (an SSRF gadget). Give --allow rules, or listen on 127.0.0.1.",
            file=out,
        )
    out.flush()


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (its own, so the bound port is known)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    return socket.create_server(infos[0][4][:2], family=family, backlog=1024)


async def _serve(config: ExporterConfig) -> int:
    app = make_exporter_app(config)
    try:
        sock = _bind(config.listen.host, config.listen.port)
    except OSError as exc:
        raise ServerError(
            f"cannot listen on {config.listen.display()}: {exc.strerror or exc}",
            "choose another --listen address or port",
        ) from None
    port = int(sock.getsockname()[1])  # the bound port when --listen asked for port 0
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        banner(config, port, sys.stdout)
        await stop.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await runner.cleanup()
    return 0


def run_exporter(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM (exit 0); bad flags or config raise ConfigError (exit 3)."""
    config = config_from_args(args)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_serve(config))
    return 0
