"""Which history events a filter shows, and the theme colour of each kind of event.

The history panel cycles through :data:`FILTERS` with ``l``. The default hides round-trip samples
and incoming server events: both have panels of their own (Connection, Events) and would flood the
history once a second. The ``--log`` file and the reports always keep everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from conndebug.core.events import (
    ConnectError,
    Disconnected,
    Event,
    Note,
    ProbeStep,
    Stall,
    VerdictChanged,
)

__all__ = ["FILTERS", "PROBLEM_KINDS", "HistoryFilter", "colour_of", "next_filter"]

PROBLEM_KINDS = frozenset(
    {
        "connect_error",
        "disconnected",
        "fallback",
        "upgrade_failed",
        "reconnect_scheduled",
        "reconnect_failed",
        "session_expired",
        "session_regenerated",
        "stall",
        "verdict",
    }
)
"""Kinds the "problems only" filter keeps (plus warning and error notes)."""


@dataclass(frozen=True)
class HistoryFilter:
    """One way of filtering the history panel."""

    name: str
    """Stable id (``quiet``, ``all``, ``problems``)."""
    label: str
    """What the panel's title says."""
    hidden: frozenset[str] = frozenset()
    """Kinds not shown."""
    problems_only: bool = False

    def shows(self, event: Event) -> bool:
        """Whether ``event`` passes this filter."""
        if event.kind in self.hidden:
            return False
        if not self.problems_only:
            return True
        if isinstance(event, Note):
            return event.level in ("warning", "error") or event.topic in ("ui", "fault")
        return event.kind in PROBLEM_KINDS


FILTERS: tuple[HistoryFilter, ...] = (
    HistoryFilter("quiet", "rtt and events in hidden", frozenset({"rtt", "event_in", "packet"})),
    HistoryFilter("all", "everything"),
    HistoryFilter("problems", "problems and your keys only", problems_only=True),
)


def next_filter(current: HistoryFilter) -> HistoryFilter:
    """The filter after ``current`` in the cycle."""
    index = FILTERS.index(current) if current in FILTERS else -1
    return FILTERS[(index + 1) % len(FILTERS)]


_KIND_COLOURS = {
    "connecting": "primary",
    "connected": "success",
    "transport": "accent",
    "upgrade_failed": "warning",
    "fallback": "warning",
    "connect_error": "error",
    "disconnected": "warning",
    "reconnect_scheduled": "warning",
    "reconnect_failed": "error",
    "session_created": "success",
    "session_expired": "warning",
    "session_regenerated": "success",
    "stall": "error",
    "rtt": "foreground-muted",
    "event_in": "accent",  # as in the Events panel ($secondary is unreadable on $surface)
    "event_out": "primary",
    "probe_step": "foreground",
    "note": "foreground",
    "packet": "foreground-muted",
}


def colour_of(event: Event) -> str:
    """The theme variable (without ``$``) that colours ``event`` in the history."""
    if isinstance(event, Stall) and event.recovered:
        return "success"
    if isinstance(event, Disconnected) and not event.will_reconnect:
        return "error"
    if isinstance(event, ConnectError):
        return "error"
    if isinstance(event, ProbeStep):
        return {"ok": "success", "warn": "warning", "fail": "error"}.get(event.status, "foreground")
    if isinstance(event, VerdictChanged):
        return {0: "success", 1: "warning"}.get(event.exit, "error")
    if isinstance(event, Note):
        if event.level in ("warning", "error"):
            return event.level
        if event.topic in ("ui", "fault"):
            return "accent"
        return "foreground-muted" if event.level == "debug" else "foreground"
    return _KIND_COLOURS.get(event.kind, "foreground")
