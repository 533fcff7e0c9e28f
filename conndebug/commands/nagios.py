"""``conndebug probe URL --nagios [-w S] [-c S]``: one line for Nagios, Icinga, Checkmk and friends.

The monitoring-plugin format (the Monitoring Plugins Development Guidelines)::

    STATUS: text | 'label'=value[UOM];[warn];[crit];[min];[max] ...

- the status word is OK, WARNING, CRITICAL or UNKNOWN, and the exit code is 0, 1, 2 or 3: the
  worse of the verdict's exit code and the thresholds' state;
- ``-w``/``-c`` are threshold ranges on the probe's total time in seconds, in the guidelines'
  syntax (``5`` alerts above 5 s, ``@0:1``, ``10:`` …; parsed by the nagiosplugin library);
- the perfdata, all in seconds: ``time`` (the whole probe, with the thresholds), one
  ``<rung>_time`` per rung that ran (``dns_time``, ``tcp_time``, ``tls_time``, ``handshake_time``,
  ``session_time``, ``websocket_time``, ``namespace_time``, ``rtt_time``, …), ``rtt`` (the round
  trip), ``ping_interval`` and ``ping_timeout`` (the server's heartbeat).

A plugin checks one service, so ``--nagios`` takes exactly one URL: define one service per
endpoint (otherwise a usage error: ``UNKNOWN: …`` on stdout, exit 3, as for a bad threshold or URL). Text and perfdata are redacted like every output.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from typing import Any

from conndebug.config import settings_from_args
from conndebug.core.errors import ConfigError
from conndebug.core.probe.result import ProbeResult
from conndebug.core.redact import Redactor, settings_redactor

__all__ = ["STATUS_WORDS", "Thresholds", "nagios_line", "parse_thresholds", "run_nagios"]

STATUS_WORDS = ("OK", "WARNING", "CRITICAL", "UNKNOWN")


@dataclass(frozen=True)
class Thresholds:
    """The ``-w``/``-c`` ranges on the total time (``None``: not given)."""

    warning: Any = None
    critical: Any = None

    def state(self, seconds: float) -> int:
        """0 OK, 1 WARNING, 2 CRITICAL for a total time of ``seconds``."""
        if self.critical is not None and not self.critical.match(seconds):
            return 2
        if self.warning is not None and not self.warning.match(seconds):
            return 1
        return 0


def parse_thresholds(warning: str | None, critical: str | None) -> Thresholds:
    """Ranges in the monitoring-plugin syntax (ConfigError when one is malformed)."""
    if warning is None and critical is None:
        return Thresholds()
    from nagiosplugin import Range

    def parse(flag: str, text: str | None) -> Any:
        if text is None:
            return None
        try:
            return Range(text.strip())
        except ValueError as exc:
            raise ConfigError(
                f"{flag} {text!r} is not a threshold range ({exc})",
                "e.g. -w 2 (above 2 s), -c 5, -w 0.5:3 (outside 0.5–3 s), -w @1:2 (inside)",
            ) from None

    return Thresholds(parse("-w", warning), parse("-c", critical))


def _seconds(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") if value else "0"


def nagios_line(result: ProbeResult, duration_s: float, thresholds: Thresholds) -> tuple[str, int]:
    """The plugin's output line and exit code."""
    from nagiosplugin import Performance

    time_state = thresholds.state(duration_s)
    code = max(result.verdict.exit_code, time_state)
    verdict = result.verdict
    conn = result.connection
    text = f"{verdict.title} ({verdict.code}), in {duration_s:.3f} s"
    if time_state:
        limit, flag = (thresholds.critical, "-c") if time_state == 2 else (thresholds.warning, "-w")
        text += f"; total time {limit.violation} ({flag})"
    perf = [
        Performance(
            "time",
            _seconds(duration_s),
            "s",
            str(thresholds.warning) if thresholds.warning is not None else "",
            str(thresholds.critical) if thresholds.critical is not None else "",
            0,
        )
    ]
    for step in result.steps:
        if step.status != "skip":
            perf.append(Performance(f"{step.name}_time", _seconds(step.ms / 1000), "s", "", "", 0))
    rtt = conn.get("rtt_ms")
    if isinstance(rtt, (int, float)):
        perf.append(Performance("rtt", _seconds(rtt / 1000), "s", "", "", 0))
    for key, label in (("ping_interval_ms", "ping_interval"), ("ping_timeout_ms", "ping_timeout")):
        value = conn.get(key)
        if isinstance(value, (int, float)):
            perf.append(Performance(label, _seconds(value / 1000), "s", "", "", 0))
    words = " ".join(text.replace("|", "/").split())  # one line, no perfdata separator
    line = f"{STATUS_WORDS[min(code, 3)]}: {words} | " + " ".join(str(p) for p in perf)
    return line, code


def run_nagios(args: argparse.Namespace) -> int:
    """Probe one URL and print the plugin line; the exit code is the plugin's state.

    A usage error is a plugin line too (``UNKNOWN: …`` on stdout, exit 3): the monitoring server
    shows stdout, not stderr."""
    try:
        if len(args.urls) != 1:
            raise ConfigError(
                f"--nagios checks one URL, {len(args.urls)} were given",
                "a monitoring plugin checks one service: define one service (check) per endpoint",
            )
        thresholds = parse_thresholds(args.warning, args.critical)
        settings = settings_from_args(args, args.urls[0])
    except ConfigError as exc:
        words = " ".join(str(exc).replace("|", "/").split())
        print(f"UNKNOWN: {Redactor().text(words)}", flush=True)
        return 3
    from conndebug.core.probe import run_probe

    started = time.monotonic()
    result = asyncio.run(run_probe(settings))
    duration = time.monotonic() - started
    line, code = nagios_line(result, duration, thresholds)
    print(settings_redactor(settings).text(line), flush=True)
    return code
