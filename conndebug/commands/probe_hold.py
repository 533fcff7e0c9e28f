"""``probe --hold`` on the command line: the plan, the progress it prints, Ctrl-C.

Holding is slow by nature (up to ``--max``, ten minutes by default), so it says where it stands,
on stderr (stdout keeps the result, and ``--json`` only JSON):

- on a terminal, a line every :data:`EVERY_S` seconds (how long, each connection open or cut, the
  round trips, the long-poll) and one at once when something is cut;
- piped or redirected, only a line when the hold starts and one per change (a connection cut,
  the long-poll answered or cut): no line every few seconds in a log.

The first Ctrl-C (or SIGTERM, SIGHUP) during the hold ends it and judges what was seen so far;
a second one ends the probe at once, as before the hold.
"""

from __future__ import annotations

import argparse
import os
import time

from conndebug.core.output import write_bounded
from conndebug.core.path.measure import HoldProgress
from conndebug.core.probe.hold import HOLD_DEFAULT_S, HoldPlan

__all__ = ["EVERY_S", "HoldPrinter", "hold_plan"]

EVERY_S = 5.0
"""Seconds between progress lines on a terminal."""


def _s(seconds: float) -> str:
    return f"{seconds:.1f}".rstrip("0").rstrip(".")


class HoldPrinter:
    """Prints a hold's progress on stderr (see the module's docstring)."""

    def __init__(self, *, terminal: bool | None = None, every_s: float = EVERY_S) -> None:
        self.terminal = os.isatty(2) if terminal is None else terminal
        self.every_s = every_s
        self.lines: list[str] = []
        """What was printed (for tests)."""
        self._last_line = 0.0
        self._said: set[str] = set()

    def _print(self, text: str) -> None:
        self.lines.append(text)
        write_bounded(2, text)

    def __call__(self, state: HoldProgress, long_poll: str | None) -> None:
        if "start" not in self._said:
            self._said.add("start")
            self._last_line = time.monotonic()
            self._print(
                f"hold: holding a quiet and a chatty connection for at most {_s(state.max_s)} s, "
                "a long-poll beside them (Ctrl-C ends it and judges what was seen so far)"
            )
            return
        changes = []
        if state.quiet_lived_s is not None and "quiet" not in self._said:
            self._said.add("quiet")
            changes.append(f"the quiet connection was cut after {_s(state.quiet_lived_s)} s")
        if state.chatty_lived_s is not None and "chatty" not in self._said:
            self._said.add("chatty")
            changes.append(f"the chatty connection was cut after {_s(state.chatty_lived_s)} s")
        if long_poll is not None and long_poll not in self._said:
            self._said.add(long_poll)
            if not long_poll.startswith("still held"):
                changes.append(f"the held long-poll: {long_poll}")
        for change in changes:
            self._print(f"hold: {change}")
        now = time.monotonic()
        if not self.terminal or changes or now - self._last_line < self.every_s:
            if changes:
                self._last_line = now
            return
        self._last_line = now
        self._print(
            f"hold: {_s(round(state.elapsed_s))} s of at most {_s(state.max_s)} s — {_where(state, long_poll)}"
        )


def _where(state: HoldProgress, long_poll: str | None) -> str:
    quiet = "open" if state.quiet_lived_s is None else f"cut after {_s(state.quiet_lived_s)} s"
    chatty = "open" if state.chatty_lived_s is None else f"cut after {_s(state.chatty_lived_s)} s"
    rtt = f", last {state.rtt_ms:.1f} ms" if state.rtt_ms is not None else ""
    poll = f"; long-poll {long_poll}" if long_poll else "; long-poll held"
    return f"quiet {quiet}, chatty {chatty} ({state.round_trips} round trips{rtt}){poll}"


def hold_plan(args: argparse.Namespace) -> HoldPlan | None:
    """The plan of ``--hold`` (None without it), printing its progress on stderr."""
    if not getattr(args, "hold", False):
        return None
    return HoldPlan(max_s=args.max or HOLD_DEFAULT_S, progress=HoldPrinter())
