"""What happened → which verdict: one fold over the history events.

:class:`Diagnosis` consumes :mod:`conndebug.core.events` in order (``feed``) and keeps the current
verdict: a stable code of :mod:`conndebug.core.verdicts`, the variant's reason and the evidence that
fills its texts. It never looks at where the events came from, so the same engine serves the probe
(its own bus), ``watch`` and the TUI (the monitor's bus), and a record read back by ``explain`` (a
HAR, a DEBUG log)::

    diagnosis = Diagnosis()
    for event in events:
        if diagnosis.feed(event):          # the verdict changed
            print(diagnosis.verdict.code)
    verdict = diagnosis.verdict            # a Verdict: code, title, explanation, fix, exit code

What the events say is gathered into :class:`Facts` (:mod:`.facts`: attempts, failures by phase
and kind, statuses, the server's refusals, the probe's step evidence, the session in use, whether
and how it connected); the verdict is then one ordered list of rules (:data:`RULES`), each a
function ``Facts -> Finding | None``: the first rule that finds something names the verdict.
Adding a diagnosis is adding a rule. The rules come in two groups:

- :mod:`.live`: what only a connection held over time shows (the monitor): stalls, drops at a
  regular interval, a later kick, a drop not recovered yet;
- :mod:`.connection`: a live client's structured facts (the probe, the monitor);
- :mod:`.records`: what a saved record can say (``explain``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from conndebug.core.diagnosis import connection, live, records
from conndebug.core.diagnosis.facts import Facts, Finding, gather
from conndebug.core.diagnosis.records import client_auth_fix
from conndebug.core.events import Event
from conndebug.core.verdicts import Verdict, make_verdict

__all__ = ["RULES", "Diagnosis", "Facts", "Finding", "client_auth_fix", "diagnose"]

RULES: tuple[Callable[[Facts], Finding | None], ...] = live.RULES + connection.RULES + records.RULES
"""Every rule, in order: what a connection held over time shows (each fires only in its own
situation), a live client's facts, then a record's."""


class Diagnosis:
    """The fold: feed events in order, read the current verdict."""

    def __init__(self, rules: Iterable[Callable[[Facts], Finding | None]] | None = None) -> None:
        self.facts = Facts()
        self.rules = tuple(rules) if rules is not None else RULES
        self.finding: Finding = records.nothing(self.facts)
        self._verdict: Verdict | None = None
        self._unsettled = False

    def feed(self, event: Event) -> bool:
        """Take one event; True when the verdict changed."""
        if not gather(self.facts, event):
            return False
        finding = self._decide()
        if finding != self.finding:
            self.finding = finding
            self._verdict = None
            return True
        return False

    def absorb(self, event: Event) -> None:
        """Take one event's facts without judging yet (:meth:`settle` judges): for a caller that
        needs the verdict only at the end, such as the probe, the rules run once, not per event."""
        if gather(self.facts, event):
            self._unsettled = True

    def settle(self) -> Verdict:
        """Judge the facts taken so far (after :meth:`absorb`); the current verdict."""
        if self._unsettled:
            self._unsettled = False
            finding = self._decide()
            if finding != self.finding:
                self.finding = finding
                self._verdict = None
        return self.verdict

    def feed_all(self, events: Iterable[Event]) -> Verdict:
        for event in events:
            self.feed(event)
        return self.verdict

    def _decide(self) -> Finding:
        for rule in self.rules:
            finding = rule(self.facts)
            if finding is not None:
                return finding
        return records.nothing(self.facts)

    @property
    def verdict(self) -> Verdict:
        """The current verdict."""
        if self._verdict is None:
            finding = self.finding
            verdict = make_verdict(finding.code, finding.reason, **finding.evidence)
            if finding.critical and verdict.exit_code < 2:
                verdict = replace(verdict, exit_code=2)
            self._verdict = verdict
        return self._verdict


def diagnose(events: Iterable[Event]) -> Verdict:
    """The verdict of a whole event stream."""
    return Diagnosis().feed_all(events)
