"""The rules over what only a live monitor sees: a connection held over time.

The probe connects once and leaves; ``watch`` and the live panel stay, and see what happens to a
connection later. These rules come first (each fires only in its own situation) and otherwise
leave the verdict to the connection rules (:mod:`conndebug.core.diagnosis.connection`):

1. **a stall** in progress (nothing arrived for longer than the bound) while connected →
   ``connection_unstable`` / ``stalled`` (exit 1, as the state is);
2. **drops at a regular interval** (the drop rule, :mod:`conndebug.core.drops`): told apart by
   the traffic that crossed the connections (:func:`conndebug.core.diagnosis.cuts.drops_cut`) →
   ``connection_unstable`` / ``idle`` or ``lifetime``, naming the box when the path is known;
   without the heartbeat, below it → ``proxy_read_timeout``, otherwise the ``default`` — drops
   the user caused, drops whose cause the client saw, and restarts never count;
3. **a kick**, unless every connection so far was kicked right after connecting
   (:meth:`~conndebug.core.diagnosis.facts.Facts.every_connection_ended_early`: the connection
   rules' ``server_disconnect``) → ``server_disconnect`` / ``kicked``;
4. **dropped and not back yet**, unless every connection so far ended right after connecting
   (no failure since: a reconnection is on its way) →
   ``connection_unstable`` / ``dropped``, critical while it lasts;
5. **connected over polling after the websocket failed** (the monitor falls back as
   ``tryAllTransports`` does; the probe tries each transport instead) where the server offers the
   websocket → ``websocket_blocked``, its variant by how the websocket failed (refused with a
   status, the upgrade headers stripped, hung, cut off, the proxy's tunnel refused).

A failure after a drop, the session's expiry and giving up after N attempts are the connection
rules' (the last failure names the verdict; giving up makes it critical there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conndebug.core.diagnosis.connection import base_evidence
from conndebug.core.diagnosis.cuts import drops_cut
from conndebug.core.diagnosis.facts import Facts, Finding

__all__ = ["RULES"]

_WHO = {
    "server": "the server ended it",
    "network": "the connection or the path ended it",
    "user": "dropped on request",
    "client": "conndebug closed it",
}


def _seconds(value: float | None) -> str:
    return f"{value:g}" if value is not None else "unknown"


def _heartbeat(facts: Facts) -> tuple[str, dict[str, Any]]:
    conn = facts.connected or facts.ever_connected
    interval = conn.ping_interval_ms if conn is not None else None
    timeout = conn.ping_timeout_ms if conn is not None else None
    if interval is None or timeout is None:
        return "pingInterval + pingTimeout", {}
    total = (interval + timeout) / 1000
    return f"{total:g} s (pingInterval + pingTimeout)", {
        "ping_interval_s": f"{interval / 1000:g}",
        "ping_timeout_s": f"{timeout / 1000:g}",
        "heartbeat_s": f"{total:g}",
    }


def _stalled(facts: Facts) -> Finding | None:
    stall = facts.stall
    conn = facts.connected
    if stall is None or conn is None:
        return None
    heartbeat, beats = _heartbeat(facts)
    interval = facts.context.get("rtt_interval_s")
    bound_note = f", with round trips every {interval} s" if interval else ""
    return Finding(
        "connection_unstable",
        "stalled",
        {
            **base_evidence(facts),
            **beats,
            "transport": conn.transport,
            "silent_s": f"{stall.silent_s:.1f}",
            "bound_s": f"{stall.bound_s:g}",
            "bound_note": bound_note,
            "heartbeat": heartbeat,
        },
    )


def _periodic(facts: Facts) -> Finding | None:
    found = facts.drop_finding
    if found is None:
        return None
    cut = drops_cut(facts)  # an idle timeout or a lifetime cap, and the box, when it can tell
    if cut is not None:
        return cut
    heartbeat, beats = _heartbeat(facts)
    evidence = {
        **base_evidence(facts),
        **beats,
        "every_s": f"{found.every_s:.1f}",
        "count": found.count,
        "why": found.reason.split(" (")[0],
        "heartbeat": heartbeat,
    }
    if found.below_heartbeat and found.heartbeat_s is not None:
        evidence["heartbeat_s"] = f"{found.heartbeat_s:g}"
        evidence["nginx_s"] = max(60, int(found.heartbeat_s) + 1)
        return Finding("connection_unstable", "proxy_read_timeout", evidence)
    return Finding("connection_unstable", "default", evidence)


def _kicked_later(facts: Facts) -> Finding | None:
    kicked = facts.kicked
    conn = facts.ever_connected
    if kicked is None or facts.connected is not None or conn is None:
        return None
    after = facts.kicked_after_ms
    if facts.every_connection_ended_early():
        return None  # every connection kicked right after connecting: server_disconnect there
    return Finding(
        "server_disconnect",
        "kicked",
        {
            **base_evidence(facts),
            "namespace": conn.namespace,
            "sid": conn.sid,
            "after": f"{after / 1000:.1f} s" if after is not None else "some time",
        },
        critical=True,
    )


def _dropped(facts: Facts) -> Finding | None:
    gone = facts.last_disconnect
    if gone is None or facts.connected is not None or facts.kicked is not None:
        return None
    if gone.by in ("user", "client") or not gone.will_reconnect:
        return None
    since = [f for f in (*facts.failures, *facts.rejections) if f.t >= gone.t]
    if since:
        return None  # a failure after the drop names the verdict
    if facts.every_connection_ended_early():
        return None  # every connection ended right after connecting: the connection rules
    return Finding(
        "connection_unstable",
        "dropped",
        {
            **base_evidence(facts),
            "transport": gone.transport or facts.transport or "unknown",
            "why": gone.reason,
            "who": _WHO.get(gone.by or "", "the cause is not known"),
        },
        critical=True,
    )


def _ws_url(facts: Facts) -> str:
    ctx = facts.context
    url = str(ctx.get("url") or facts.url or "")
    if url.startswith("http"):
        url = "ws" + url[len("http") :]
    return f"{url}{str(ctx.get('path') or '/socket.io').rstrip('/')}/"


def _fell_back(facts: Facts) -> Finding | None:
    conn = facts.connected
    if conn is None or conn.how != "fallback" or conn.transport != "polling":
        return None
    if facts.upgrades_known and "websocket" not in facts.upgrades_offered:
        return None  # the server offers no websocket: the connection rules' transport_unavailable
    failed = [f for f in facts.failures if f.transport == "websocket" and f.t <= conn.t]
    if not failed:
        return None
    f = failed[-1]
    ev: dict[str, Any] = {
        **base_evidence(facts),
        "ws_url": _ws_url(facts),
        "error": f.message,
        "status": f.status,
        "upgrades": ", ".join(facts.upgrades_offered) or "websocket",
        "message": f.engine_message or f.message,
    }
    if f.phase == "proxy":
        return Finding("websocket_blocked", "proxy_tunnel", ev)
    if f.status is not None and f.status != 101:
        if f.status == 400 and f.code in (0, 3):
            ev["code_note"] = f" (Engine.IO code {f.code})"
            return Finding("websocket_blocked", "upgrade_stripped", ev)
        ev["server_note"] = f' "{f.engine_message}"' if f.engine_message else ""
        return Finding("websocket_blocked", "refused", ev)
    if f.failure == "connect_timeout" or f.phase == "timeout":  # a live client's, a record's
        ev["timeout_s"] = f"{facts.context.get('ws_timeout_s', 'unknown')}"
        return Finding("websocket_blocked", "hang", ev)
    if f.reason in ("reset", "eof", "closed") or f.failure == "closed":
        ev["ms"] = f"{(conn.t - f.t) * 1000:.0f}" if f.t <= conn.t else "unknown"
        return Finding("websocket_blocked", "reset", ev)
    return Finding("websocket_blocked", "default", ev)


RULES: tuple[Callable[[Facts], Finding | None], ...] = (
    _stalled,
    _periodic,
    _kicked_later,
    _dropped,
    _fell_back,
)
"""The live monitor's rules, in order (see the module's docstring)."""
