"""Save what the TUI shows as a redacted report (JSON + Markdown) for a ticket.

Used by the ``s`` key. The report is the shared one of :mod:`conndebug.core.report` (the probe's
``--report`` writes the same shape): one section for the monitored target, written for a support
engineer who reads it top-down:

1. **summary**: state, verdict (the live diagnosis, else the last ``p``'s), transport, cause, fix;
2. the verdict and, when ``p`` ran, its ladder;
3. **round trips** as statistics (count, min, p50, p95, max, misses), not one row per sample;
4. the connection (real values: "direct" when there is no proxy, the upgrades the server
   offered, ISO times), the environment;
5. the history without round-trip rows.

Everything passes through a :class:`~conndebug.core.redact.Redactor` (the events are already
redacted by the monitor; this is the second belt).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from conndebug.config import Settings
from conndebug.core.events import Event, Rtt, iso_utc
from conndebug.core.model import Snapshot, State
from conndebug.core.redact import Redactor
from conndebug.core.report import (
    ReportSection,
    VerdictLike,
    build_report,
    environment_info,
    render_json,
    render_markdown,
)

__all__ = ["REPORT_KIND", "monitor_section", "round_trip_stats", "save_report"]

REPORT_KIND = "monitor"
"""The report's ``kind`` (the probe's is ``probe``)."""


def _iso(ts: float | None) -> str | None:
    return iso_utc(ts) if ts is not None else None


def _nearest_rank(ordered: list[float], q: float) -> float:
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def round_trip_stats(history: Iterable[Event], snap: Snapshot) -> dict[str, Any]:
    """The round trips of ``history`` as statistics (ms): count, min, p50, p95, max, misses."""
    samples = [e.ms for e in history if isinstance(e, Rtt)]
    stats: dict[str, Any] = {
        "method": snap.rtt_method or ("off (--rtt-interval 0)" if snap.rtt_off else None),
        "count": len(samples),
        "misses": snap.rtt_misses,
    }
    if samples:
        ordered = sorted(samples)
        stats |= {
            "min_ms": round(ordered[0], 2),
            "p50_ms": round(_nearest_rank(ordered, 0.50), 2),
            "p95_ms": round(_nearest_rank(ordered, 0.95), 2),
            "max_ms": round(ordered[-1], 2),
        }
    if snap.rtt_recent:
        recent = sorted(snap.rtt_recent)
        stats["recent_p50_ms"] = round(_nearest_rank(recent, 0.50), 2)
        stats["recent_p95_ms"] = round(_nearest_rank(recent, 0.95), 2)
        stats["recent_note"] = (
            "the panel's p50/p95: the last samples, without those that spanned a stall"
        )
    return stats


def _upgrades(snap: Snapshot) -> str | list[str]:
    if snap.transport == "websocket" and snap.how == "direct":
        return "none needed: websocket from the start"
    if snap.upgrades is None:
        return "unknown (not connected)"
    if not snap.upgrades:
        return "none offered by the server"
    return list(snap.upgrades)


def _verdict(snap: Snapshot, probe: Any) -> tuple[VerdictLike | None, str]:
    """The verdict to put first, and where it comes from."""
    if snap.diagnosis is not None:
        return snap.diagnosis, "the live panel's diagnosis"
    verdict = getattr(probe, "verdict", None)
    if verdict is not None:
        return verdict, "the last probe (p)"
    return None, ""


def _transport(snap: Snapshot) -> str:
    if snap.transport is None:
        return "none (not connected)"
    return f"{snap.transport} ({snap.how or 'how unknown'})"


def monitor_section(
    settings: Settings, snap: Snapshot, history: Iterable[Event], *, probe: Any = None
) -> ReportSection:
    """One report section for the monitored target, as of ``snap`` (``probe``: the result of
    the last ``p``, if any)."""
    events = list(history)
    verdict, source = _verdict(snap, probe)
    cause = snap.verdict or (verdict.explanation if verdict is not None else None)
    if cause is None:
        cause = "nothing wrong seen" if snap.state is State.CONNECTED else "unknown"
    summary: dict[str, Any] = {
        "state": snap.state.value,
        "since": _iso(snap.state_since),
        "verdict": f"{verdict.code}: {verdict.title}" if verdict is not None else "none yet",
        "verdict_from": source or None,
        "transport": _transport(snap),
        "in_front": snap.in_front or "not named (no answer read names a box)",
        "cause": cause,
        "fix": verdict.fix if verdict is not None else None,
    }
    if verdict is None:
        summary["fix"] = "press p in the panel for a verdict with a fix" if cause else None
    session = snap.session
    connection: dict[str, Any] = {
        "state": snap.state.value,
        "state_since": _iso(snap.state_since),
        "url": snap.url or settings.url,
        "path": snap.path,
        "namespace": snap.namespace,
        "transports_tried": list(settings.transports),
        "transport": snap.transport,
        "how": snap.how,
        "upgrades": _upgrades(snap),
        "proxy": snap.proxy or "direct (no proxy)",
        "tls": snap.tls_verify,
        "sid": snap.sid,
        "engine_sid": snap.engine_sid,
        "connected_since": _iso(snap.connected_since),
        "ping_interval_ms": snap.ping_interval_ms,
        "ping_timeout_ms": snap.ping_timeout_ms,
        "pings_seen": snap.pings_seen,
        "reconnect_attempt": snap.reconnect_attempt,
        "events_in": snap.events_in,
        "events_out": snap.events_out,
        "session": {
            "source": session.source,
            "username": session.username,
            "user_id": session.user_id,
            "session_id": session.session_id,
            "token": session.token_redacted,
            "token_expires": _iso(session.expires_at),
            "created": _iso(session.created_at),
            "regenerations": session.regenerations,
        },
    }
    environment = environment_info(settings)
    if environment.get("proxy") is None:
        environment["proxy"] = "direct (no proxy)"
    return ReportSection(
        title=snap.url or settings.url,
        verdict=verdict,
        steps=tuple(getattr(probe, "steps", ()) or ()),
        connection=connection,
        environment=environment,
        history=tuple(e for e in events if not isinstance(e, Rtt)),
        summary=summary,
        round_trips=round_trip_stats(events, snap),
    )


def save_report(
    folder: Path,
    settings: Settings,
    snap: Snapshot,
    history: Iterable[Event],
    *,
    redactor: Redactor,
    saved_at: float,
    probe: Any = None,
) -> tuple[Path, Path]:
    """Write ``conndebug-report-<time>.json`` and ``.md`` into ``folder`` (made if missing);
    return both paths."""
    report = build_report(
        [monitor_section(settings, snap, history, probe=probe)],
        kind=REPORT_KIND,
        redactor=redactor,
        generated=saved_at,
    )
    stamp = _dt.datetime.fromtimestamp(saved_at, tz=_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / f"conndebug-report-{stamp}.json"
    md_path = folder / f"conndebug-report-{stamp}.md"
    n = 1
    while json_path.exists() or md_path.exists():
        n += 1
        json_path = folder / f"conndebug-report-{stamp}-{n}.json"
        md_path = folder / f"conndebug-report-{stamp}-{n}.md"
    json_path.write_text(render_json(report), encoding="utf-8")
    md_path.write_text(render_markdown(report), encoding="utf-8")
    return json_path, md_path
