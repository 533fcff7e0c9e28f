"""Save what the TUI shows as a redacted report (JSON + Markdown) for a ticket.

Used by the ``s`` key. Everything passes through a :class:`~conndebug.core.redact.Redactor`
(the events are already redacted by the monitor; this is the second belt).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import platform
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from conndebug import __version__
from conndebug.config import Settings, effective_proxy
from conndebug.core.events import Event, iso_utc
from conndebug.core.model import Snapshot
from conndebug.core.redact import Redactor

__all__ = ["build_report", "render_markdown", "save_report"]

MARKDOWN_HISTORY = 300
"""History lines in the Markdown report (the JSON keeps all of the in-memory history)."""


def build_report(
    settings: Settings, snap: Snapshot, history: Iterable[Event], *, saved_at: float
) -> dict[str, Any]:
    """The report as a JSON-ready dict, redacted."""
    redactor = Redactor(show_secrets=settings.show_secrets)
    session = dataclasses.asdict(snap.session)
    data = {
        "schema": 1,
        "kind": "conndebug-tui-report",
        "saved_at": iso_utc(saved_at),
        "url": snap.url or settings.url,
        "state": snap.state.value,
        "verdict": snap.verdict,
        "connection": {
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
        },
        "session": session,
        "target": {
            "path": snap.path,
            "namespace": snap.namespace,
            "transports": list(settings.transports),
        },
        "environment": {
            "proxy": snap.proxy or effective_proxy(settings),
            "tls_verify": snap.tls_verify or settings.tls_verify,
            "ca_bundle": settings.ca_bundle,
            "python": platform.python_version(),
            "conndebug": __version__,
        },
        "history": [event.to_dict() for event in history],
    }
    redacted = redactor.value(data)
    assert isinstance(redacted, dict)
    return redacted


def render_markdown(report: dict[str, Any]) -> str:
    """The report as Markdown a human reads in a ticket."""
    conn = report["connection"]
    sess = report["session"]
    env = report["environment"]

    def show(value: Any) -> str:
        return "unknown" if value is None else str(value)

    rows = [
        ("URL", report["url"]),
        ("state", report["state"]),
        ("verdict", report["verdict"] or "nothing wrong seen"),
        ("transport", f"{show(conn['transport'])} ({show(conn['how'])})"),
        ("socket id / engine id", f"{show(conn['sid'])} / {show(conn['engine_sid'])}"),
        (
            "heartbeat",
            f"ping every {show(conn['ping_interval_ms'])} ms, timeout {show(conn['ping_timeout_ms'])} ms",
        ),
        ("round trip", f"{show(conn['rtt_ms'])} ms ({show(conn['rtt_method'])})"),
        ("guest user", f"{show(sess['username'])} ({show(sess['user_id'])})"),
        ("session id", show(sess["session_id"])),
        ("token", show(sess["token_redacted"])),
        ("proxy", show(env["proxy"])),
        ("TLS", show(env["tls_verify"])),
        ("versions", f"conndebug {env['conndebug']}, Python {env['python']}"),
    ]
    out = [
        f"# conndebug report — {report['url']}",
        "",
        f"Saved {report['saved_at']} (secrets redacted).",
        "",
        "| | |",
        "|---|---|",
    ]
    out += [f"| {name} | {_cell(value)} |" for name, value in rows]
    history = report["history"][-MARKDOWN_HISTORY:]
    out += ["", f"## History (last {len(history)} of {len(report['history'])} events)", "", "```"]
    out += [f"{e['ts']}  {e['kind']:<19} {e['detail']}" for e in history]
    out += ["```", ""]
    return "\n".join(out)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def save_report(
    folder: Path,
    settings: Settings,
    snap: Snapshot,
    history: Iterable[Event],
    *,
    saved_at: float,
) -> tuple[Path, Path]:
    """Write ``conndebug-report-<time>.json`` and ``.md`` into ``folder``; return both paths."""
    report = build_report(settings, snap, history, saved_at=saved_at)
    stamp = _dt.datetime.fromtimestamp(saved_at, tz=_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / f"conndebug-report-{stamp}"
    json_path = base.with_suffix(".json")
    md_path = base.with_suffix(".md")
    n = 1
    while json_path.exists() or md_path.exists():
        n += 1
        json_path = folder / f"conndebug-report-{stamp}-{n}.json"
        md_path = folder / f"conndebug-report-{stamp}-{n}.md"
    json_path.write_text(
        json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    md_path.write_text(render_markdown(report), encoding="utf-8")
    return json_path, md_path
