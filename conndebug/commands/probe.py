"""`conndebug probe URL...`: several URLs probed concurrently, one block each, the worst exit code.

- human output: the ladder and a verdict panel per URL; on a terminal with one URL each rung is
  printed as it completes, with several a spinner counts the finished ones;
- ``--json``: one JSON object per URL (one line each), the schema of design.md, nothing else on
  stdout;
- ``--report FILE``: a redacted Markdown or JSON report of every URL.

Piped or redirected output, the report and ``--log`` go through
:class:`~conndebug.core.output.LineOutput`: a reader that stops reading, a FIFO nobody opened or a
full disk cannot hang the probe; it says which output stopped after how many lines and exits 3.
Ctrl-C, SIGTERM and SIGHUP end it at once with a one-line summary on stderr (what was done, what
was not) and exit 128 + the signal's number.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import gc
import json
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from conndebug.config import Settings, settings_from_args
from conndebug.core.events import EventBus, Note, ProbeStep
from conndebug.core.output import LineOutput, aopen_for_writing, write_bounded
from conndebug.core.probe.result import ProbeResult, Step
from conndebug.core.probe.runner import run_probe
from conndebug.core.redact import Redactor, settings_redactor
from conndebug.core.report import ReportSection, check_report_path, render_report

if TYPE_CHECKING:
    from conndebug.core.probe.hold import HoldPlan

__all__ = ["probe_many", "run_probe_command"]


async def probe_many(
    settings_list: Sequence[Settings],
    *,
    buses: Sequence[EventBus] | None = None,
    hold: HoldPlan | None = None,
) -> list[ProbeResult]:
    """Probe every target concurrently; results in the order given (``hold``: ``--hold``)."""
    buses = list(buses) if buses is not None else [EventBus() for _ in settings_list]
    return list(
        await asyncio.gather(
            *(run_probe(s, bus=b, hold=hold) for s, b in zip(settings_list, buses, strict=True))
        )
    )


def run_probe_command(args: argparse.Namespace) -> int:
    """The CLI entry point; returns the exit code (the worst verdict's)."""
    settings_list = [settings_from_args(args, url) for url in args.urls]
    report = check_report_path(args.report) if args.report else None
    hold = None
    if getattr(args, "hold", False):
        from conndebug.commands.probe_hold import hold_plan

        hold = hold_plan(args)
    # The probe's modules, loaded by now, live as long as the process (see conndebug.__main__);
    # the collector's young passes come every 20,000 allocations, as in `watch`: a fleet of
    # probes keeps thousands of young objects alive at once (their connections, their
    # histories), each pass walked them all, and none of them makes garbage cycles to speak of.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    _quick_exit()
    return asyncio.run(_main(settings_list, json_out=bool(args.json), report=report, hold=hold))


_EXIT_HOOKED = False


def _quick_exit() -> None:
    """At the interpreter's exit, freeze the garbage collector's generations first.

    Its last passes over every object of every loaded module took ~25 ms, a tenth of a probe's
    start-to-verdict, to free memory the process is about to give back whole. The command writes
    and closes everything itself (output flushed, report and logs closed); objects are still
    released by reference counting at exit, only cycles are left to the operating system. An
    ``atexit`` hook, so that a program calling this command in-process loses nothing before its
    own end.
    """
    global _EXIT_HOOKED
    if not _EXIT_HOOKED:
        _EXIT_HOOKED = True
        atexit.register(gc.freeze)


_STOP_SIGNALS = tuple(
    sig for sig in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if sig
)


class _Run:
    """What the probe has done so far: for the summary when a signal ends it."""

    def __init__(self, buses: list[EventBus], urls: list[str]) -> None:
        self.buses = buses
        self.urls = urls
        self.stage = "probe"
        """``probe``, ``output`` or ``report``: what the command is doing."""

    def summary(self, sig: signal.Signals) -> str:
        head = f"probe: interrupted by {sig.name}"
        if self.stage == "report":
            return f"{head} — the verdicts were printed; the report was not written"
        if self.stage == "output":
            return f"{head} — the verdicts were not all printed"
        parts = []
        for url, bus in zip(self.urls, self.buses, strict=True):
            steps = [e for e in bus.history if isinstance(e, ProbeStep)]
            done = ", ".join(f"{e.name} {e.status}" for e in steps) or "nothing yet"
            parts.append(f"{url}: no verdict (done: {done})")
        return f"{head} — " + "; ".join(parts)


async def _main(
    settings_list: list[Settings],
    *,
    json_out: bool,
    report: Path | None,
    hold: HoldPlan | None = None,
) -> int:
    buses = [EventBus(history_size=settings.history_size) for settings in settings_list]
    run = _Run(buses, [s.url for s in settings_list])
    task = asyncio.current_task()
    assert task is not None
    caught: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        if hold is not None and hold.running and not hold.stop.is_set():
            # --hold: the first signal ends the hold and judges what was seen so far
            hold.stop.set()
            write_bounded(2, f"hold: stopped by {sig.name}; judging what was seen so far")
            return
        if not caught:
            caught.append(sig)
            task.cancel()

    loop = asyncio.get_running_loop()
    handled = []
    for sig in _STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal, sig)
            handled.append(sig)
    try:
        return await _probe_and_write(
            settings_list, buses, run, json_out=json_out, report=report, hold=hold
        )
    except asyncio.CancelledError:
        if not caught:
            raise
        write_bounded(2, run.summary(caught[0]))
        return 128 + int(caught[0])
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


async def _probe_and_write(
    settings_list: list[Settings],
    buses: list[EventBus],
    run: _Run,
    *,
    json_out: bool,
    report: Path | None,
    hold: HoldPlan | None = None,
) -> int:
    logs = []
    for settings, bus in zip(settings_list, buses, strict=True):
        if settings.log:
            from conndebug.core.jsonl import JsonlLog

            def said(log: JsonlLog, bus: EventBus = bus) -> None:
                if log.problem:
                    bus.emit(Note, text=log.problem, level="error", topic="log")

            log = JsonlLog(settings.log, on_stop=said)
            bus.subscribe(log)
            logs.append(log)
    stdout = LineOutput(1, name="stdout")
    problems: list[str] = []
    try:
        if json_out:
            results = await probe_many(settings_list, buses=buses, hold=hold)
            run.stage = "output"
            stdout.write(
                "".join(
                    json.dumps(result.to_json_dict(), ensure_ascii=False, default=str) + "\n"
                    for result in results
                )
            )
        else:
            results = await _human(settings_list, buses, stdout, run, hold)
        await stdout.aclose(while_reading=True)
    finally:
        for log in logs:
            log.close()
            if log.problem:
                problems.append(log.problem)
    if stdout.problem and not stdout.gone:
        problems.append(stdout.problem)
    if report is not None:
        run.stage = "report"
        problem = await _write_report(report, settings_list, results)
        if problem is not None:
            problems.append(problem)
        elif not json_out:
            write_bounded(2, f"report written to {report}")
    code = max(r.exit_code for r in results)
    if problems:
        write_bounded(2, "\n".join(problems))
        code = 3
    return code


async def _write_report(
    report: Path, settings_list: list[Settings], results: list[ProbeResult]
) -> str | None:
    """Write the report (a FIFO gets a bounded wait for its reader); what went wrong, or None."""
    redactor = Redactor(show_secrets=any(s.show_secrets for s in settings_list))
    for settings in settings_list:
        for secret in settings_redactor(settings).known:
            redactor.add(secret)
    text = render_report(
        report,
        [
            ReportSection(
                title=r.url,
                verdict=r.verdict,
                steps=r.steps,
                connection=r.connection,
                environment=r.environment,
                history=r.history,
                summary=r.report_summary(),
            )
            for r in results
        ],
        kind="probe",
        redactor=redactor,
    )
    fd = await aopen_for_writing(str(report), name="--report", append=False)
    output = LineOutput(fd, name="--report", owns_fd=True)
    output.write(text)
    await output.aclose(while_reading=True)
    return output.problem


async def _human(
    settings_list: list[Settings],
    buses: list[EventBus],
    stdout: LineOutput,
    run: _Run,
    hold: HoldPlan | None = None,
) -> list[ProbeResult]:
    from conndebug.commands.probe_render import stdout_is_terminal

    if not stdout_is_terminal():
        return await _plain(settings_list, buses, stdout, run, hold)

    from rich.console import Console

    from conndebug.commands.probe_render import print_header, print_result, print_step

    console = Console(highlight=False)
    live = console.is_terminal
    if live and len(settings_list) == 1:
        print_header(console, settings_list[0].url)

        def show(event: object) -> None:
            if isinstance(event, ProbeStep):
                print_step(
                    console,
                    Step(event.name, event.status, event.ms, event.info),  # type: ignore[arg-type]
                )

        buses[0].subscribe(show)
        results = await probe_many(settings_list, buses=buses, hold=hold)
        print_result(console, results[0], steps=False)
        return results
    if live:
        done = 0
        with console.status(f"probing {len(settings_list)} URLs…") as status:

            async def one(settings: Settings, bus: EventBus) -> ProbeResult:
                nonlocal done
                result = await run_probe(settings, bus=bus)
                done += 1
                status.update(f"probing {len(settings_list)} URLs… {done} done")
                return result

            results = list(
                await asyncio.gather(
                    *(one(s, b) for s, b in zip(settings_list, buses, strict=True))
                )
            )
    else:
        results = await probe_many(settings_list, buses=buses)
    for i, result in enumerate(results):
        if i:
            console.print()
        print_header(console, result.url)
        print_result(console, result)
    return results


async def _plain(
    settings_list: list[Settings],
    buses: list[EventBus],
    stdout: LineOutput,
    run: _Run,
    hold: HoldPlan | None = None,
) -> list[ProbeResult]:
    """Piped or redirected: the same blocks as plain text, without loading Rich."""
    from conndebug.commands.probe_render import output_width, plain_header, plain_result

    results = await probe_many(settings_list, buses=buses, hold=hold)
    run.stage = "output"
    width = output_width()
    blocks = [f"{plain_header(r.url)}\n{plain_result(r, width=width)}\n" for r in results]
    stdout.write("\n".join(blocks))
    return results
