"""``conndebug explain FILE...``: a verdict from what a customer sends in.

Each file (a HAR, a ``DEBUG=socket.io-client:*`` log, a python-socketio client log, conndebug's
JSON lines) is read back into history events (:mod:`conndebug.core.explain`), the events are
folded into a verdict (:mod:`conndebug.core.diagnosis`), and the command prints, per file:

- the reconstructed timeline, one line per event (time since the record's start, kind, detail);
- what the file cannot tell;
- the verdict panel, as the probe prints it.

``--json`` prints one object per file in the probe's schema (``"schema": 1``, ``verdict``,
``steps`` (empty), ``connection``, ``history``) plus ``source`` and ``gaps``. The exit code is the
worst verdict's. Secrets found in the files are redacted unless ``--show-secrets``. Never imports
Textual, never opens a connection.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from conndebug.core.diagnosis import Diagnosis
from conndebug.core.events import Connected, Event
from conndebug.core.explain import Timeline, read_record
from conndebug.core.redact import Redactor
from conndebug.core.text import visible

__all__ = ["explain_file", "run_explain"]

_CONNECTION_KEYS = (
    "transport",
    "sid",
    "engine_sid",
    "upgrade",
    "ping_interval_ms",
    "ping_timeout_ms",
    "rtt_ms",
    "user",
)


def _connection(events: Sequence[Event]) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(_CONNECTION_KEYS)
    for event in events:
        if isinstance(event, Connected):
            out.update(
                transport=event.transport,
                sid=event.sid,
                engine_sid=event.engine_sid,
                ping_interval_ms=event.ping_interval_ms,
                ping_timeout_ms=event.ping_timeout_ms,
            )
        elif event.kind == "transport" and out["transport"] is not None:
            out["transport"] = getattr(event, "transport", out["transport"])
            out["upgrade"] = getattr(event, "how", None) == "upgraded"
    return out


def explain_file(path: str, redactor: Redactor) -> tuple[Timeline, Diagnosis]:
    """Read one record and fold its events into a diagnosis."""
    timeline = read_record(path, redactor)
    diagnosis = Diagnosis()
    diagnosis.feed_all(timeline.events)
    return timeline, diagnosis


def to_json(timeline: Timeline, diagnosis: Diagnosis) -> dict[str, Any]:
    """The probe's ``--json`` schema for one record, plus ``source`` and ``gaps``."""
    return {
        "schema": 1,
        "url": timeline.url,
        "file": timeline.path,
        "source": timeline.source,
        "verdict": diagnosis.verdict.to_dict(),
        "steps": [],
        "connection": _connection(timeline.events),
        "gaps": list(timeline.gaps),
        "history": [e.to_dict() for e in timeline.events],
    }


_SOURCES = {
    "chrome-har": "a Chrome HAR",
    "firefox-har": "a Firefox HAR",
    "har": "a HAR",
    "conndebug-har": "conndebug's HAR",
    "debug-log": "a DEBUG=socket.io-client log",
    "python-log": "a python-socketio client log",
    "jsonl": "conndebug's JSON lines",
    "unknown": "an unknown format",
}


def plain(timeline: Timeline, diagnosis: Diagnosis, *, width: int) -> str:
    """The human block for one record."""
    from conndebug.commands.probe_render import _wrap

    lines = [
        f"conndebug explain {timeline.path} ({_SOURCES.get(timeline.source, timeline.source)})"
    ]
    if timeline.url:
        lines.append(f"server: {timeline.url}")
    lines.append("")
    lines.append("What happened:")
    shown = [
        e for e in timeline.events if not (e.kind == "note" and getattr(e, "level", "") == "debug")
    ]
    if not shown:
        lines.append("  (nothing)")
    for event in shown:
        lead = f"  {event.t:8.3f}s  {event.kind:<19} "
        wrapped = _wrap(visible(event.detail), max(width - len(lead), 20))
        lines.append(lead + wrapped[0])
        lines += [" " * len(lead) + more for more in wrapped[1:]]
    if timeline.gaps:
        lines.append("")
        lines.append("What this file cannot tell:")
        for gap in timeline.gaps:
            wrapped = _wrap(gap, max(width - 4, 20))
            lines.append("  - " + wrapped[0])
            lines += ["    " + more for more in wrapped[1:]]
    lines.append("")
    verdict = diagnosis.verdict
    inner = max(width - 4, 20)
    title = f"─ {verdict.code} (exit {verdict.exit_code}) "
    lines.append("╭" + title + "─" * max(inner + 2 - len(title), 0) + "╮")
    body = [
        *_wrap(verdict.title, inner),
        "",
        *_wrap(verdict.explanation, inner),
        "",
        *_wrap(f"Fix: {verdict.fix}", inner),
    ]
    lines += [f"│ {line:<{inner}} │" for line in body]
    lines.append("╰" + "─" * (inner + 2) + "╯")
    return "\n".join(lines)


def run_explain(paths: Sequence[str], *, json_out: bool, show_secrets: bool) -> int:
    """The CLI entry point; returns the worst verdict's exit code."""
    from conndebug.commands.probe_render import output_width

    redactor = Redactor(show_secrets=show_secrets)
    results = [explain_file(path, redactor) for path in paths]
    if json_out:
        for timeline, diagnosis in results:
            sys.stdout.write(
                json.dumps(to_json(timeline, diagnosis), ensure_ascii=False, default=str) + "\n"
            )
    else:
        width = min(output_width(), 120)
        sys.stdout.write("\n\n".join(plain(t, d, width=width) for t, d in results) + "\n")
    sys.stdout.flush()
    return max(d.verdict.exit_code for _t, d in results)
