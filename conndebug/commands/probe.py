"""`conndebug probe URL...`: several URLs probed concurrently, one block each, the worst exit code.

- human output: the ladder and a verdict panel per URL; on a terminal with one URL each rung is
  printed as it completes, with several a spinner counts the finished ones;
- ``--json``: one JSON object per URL (one line each), the schema of design.md, nothing else on
  stdout;
- ``--report FILE``: a redacted Markdown or JSON report of every URL.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import gc
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from conndebug.config import Settings, settings_from_args
from conndebug.core.events import EventBus, ProbeStep
from conndebug.core.probe.result import ProbeResult, Step
from conndebug.core.probe.runner import run_probe
from conndebug.core.redact import Redactor, settings_redactor
from conndebug.core.report import ReportSection, check_report_path, write_report

__all__ = ["probe_many", "run_probe_command"]


async def probe_many(
    settings_list: Sequence[Settings], *, buses: Sequence[EventBus] | None = None
) -> list[ProbeResult]:
    """Probe every target concurrently; results in the order given."""
    buses = list(buses) if buses is not None else [EventBus() for _ in settings_list]
    return list(
        await asyncio.gather(
            *(run_probe(s, bus=b) for s, b in zip(settings_list, buses, strict=True))
        )
    )


def run_probe_command(args: argparse.Namespace) -> int:
    """The CLI entry point; returns the exit code (the worst verdict's)."""
    settings_list = [settings_from_args(args, url) for url in args.urls]
    report = check_report_path(args.report) if args.report else None
    _quick_exit()
    return asyncio.run(_main(settings_list, json_out=bool(args.json), report=report))


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


async def _main(settings_list: list[Settings], *, json_out: bool, report: Path | None) -> int:
    buses = [EventBus(history_size=settings.history_size) for settings in settings_list]
    logs = []
    for settings, bus in zip(settings_list, buses, strict=True):
        if settings.log:
            from conndebug.core.jsonl import JsonlLog

            log = JsonlLog(settings.log)
            bus.subscribe(log)
            logs.append(log)
    try:
        if json_out:
            results = await probe_many(settings_list, buses=buses)
            for result in results:
                sys.stdout.write(
                    json.dumps(result.to_json_dict(), ensure_ascii=False, default=str) + "\n"
                )
            sys.stdout.flush()
        else:
            results = await _human(settings_list, buses)
    finally:
        for log in logs:
            log.close()
    if report is not None:
        redactor = Redactor(show_secrets=any(s.show_secrets for s in settings_list))
        for settings in settings_list:
            for secret in settings_redactor(settings).known:
                redactor.add(secret)
        write_report(
            report,
            [
                ReportSection(
                    title=r.url,
                    verdict=r.verdict,
                    steps=r.steps,
                    connection=r.connection,
                    environment=r.environment,
                    history=r.history,
                )
                for r in results
            ],
            kind="probe",
            redactor=redactor,
        )
        if not json_out:
            print(f"report written to {report}", file=sys.stderr)
    return max(r.exit_code for r in results)


async def _human(settings_list: list[Settings], buses: list[EventBus]) -> list[ProbeResult]:
    from conndebug.commands.probe_render import stdout_is_terminal

    if not stdout_is_terminal():
        return await _plain(settings_list, buses)

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
        results = await probe_many(settings_list, buses=buses)
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


async def _plain(settings_list: list[Settings], buses: list[EventBus]) -> list[ProbeResult]:
    """Piped or redirected: the same blocks as plain text, without loading Rich."""
    from conndebug.commands.probe_render import output_width, plain_header, plain_result

    results = await probe_many(settings_list, buses=buses)
    width = output_width()
    blocks = [f"{plain_header(r.url)}\n{plain_result(r, width=width)}\n" for r in results]
    sys.stdout.write("\n".join(blocks))
    sys.stdout.flush()
    return results
