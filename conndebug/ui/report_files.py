"""Save what the TUI shows as a redacted report (JSON + Markdown) for a ticket.

Used by the ``s`` key. The report is the shared one of :mod:`conndebug.core.report` (the probe's
``--report`` writes the same shape): one section for the monitored target, with the connection
figures of the snapshot, the environment and the in-memory history. Everything passes through a
:class:`~conndebug.core.redact.Redactor` (the events are already redacted by the monitor; this is
the second belt).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from conndebug.config import Settings
from conndebug.core.events import Event
from conndebug.core.model import Snapshot
from conndebug.core.redact import Redactor
from conndebug.core.report import (
    ReportSection,
    build_report,
    environment_info,
    render_json,
    render_markdown,
)

__all__ = ["REPORT_KIND", "monitor_section", "save_report"]

REPORT_KIND = "monitor"
"""The report's ``kind`` (the probe's is ``probe``)."""


def monitor_section(settings: Settings, snap: Snapshot, history: Iterable[Event]) -> ReportSection:
    """One report section for the monitored target, as of ``snap``."""
    connection: dict[str, Any] = {
        "state": snap.state.value,
        "verdict": snap.verdict,
        "transport": snap.transport,
        "how": snap.how,
        "sid": snap.sid,
        "engine_sid": snap.engine_sid,
        "upgrades": list(snap.upgrades) if snap.upgrades is not None else None,
        "ping_interval_ms": snap.ping_interval_ms,
        "ping_timeout_ms": snap.ping_timeout_ms,
        "rtt_ms": snap.rtt_ms,
        "rtt_recent_ms": list(snap.rtt_recent),
        "rtt_method": snap.rtt_method,
        "pings_seen": snap.pings_seen,
        "reconnect_attempt": snap.reconnect_attempt,
        "events_in": snap.events_in,
        "events_out": snap.events_out,
        "path": snap.path,
        "namespace": snap.namespace,
        "transports": list(settings.transports),
        "session": dataclasses.asdict(snap.session),
    }
    return ReportSection(
        title=snap.url or settings.url,
        connection=connection,
        environment=environment_info(settings),
        history=tuple(history),
    )


def save_report(
    folder: Path,
    settings: Settings,
    snap: Snapshot,
    history: Iterable[Event],
    *,
    redactor: Redactor,
    saved_at: float,
) -> tuple[Path, Path]:
    """Write ``conndebug-report-<time>.json`` and ``.md`` into ``folder``; return both paths."""
    report = build_report(
        [monitor_section(settings, snap, history)],
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
