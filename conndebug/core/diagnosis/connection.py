"""The rules over a live client's facts: what the probe and the monitor saw, as structured fields.

A live client (the probe's rungs, the monitor's attempts) knows more than a saved record: each
failure comes with its phase and a :class:`~conndebug.core.failure.FailureKind` (``failure``), the
client's or the wire's finer ``reason``, the HTTP status and Engine.IO error code of the answer,
the server's own message and data, and ``facts`` (addresses, the certificate, the proxy's answer,
the answer's status line, content type and body sample...). These rules turn those facts into a
verdict, whichever command saw them: the probe climbing its ladder and ``watch`` reconnecting
give the same verdict for the same facts. None of them reads a ``detail`` line.

They apply only to what a live client described (a failure with its ``failure`` kind, a
rejection with ``failure="rejected"``, a connection with the settings' context known); anything
else is left to the rules for records (:mod:`conndebug.core.diagnosis.records`).

In order (the first that finds something names the verdict):

1. a guest endpoint that answered 429 while the connection did not succeed → ``rate_limited``;
2. every connection so far ended by the server right after connecting (within
   :data:`~conndebug.core.diagnosis.facts.EARLY_END_MS`) → ``server_disconnect`` (a kick) or
   ``server_error`` (the connection ended);
3. the last failure of a connection that does not hold, by phase → its code;
4. the server's refusal of the namespace → ``namespace_unknown``, ``session_expired``,
   ``auth_rejected``;
5. the probe's CORS check refused the origin → ``cors_rejected``;
6. connected: a blocked websocket, a transport the web client needs but the server lacks, a
   connection the path cuts (``probe --hold``: :mod:`conndebug.core.diagnosis.cuts`), permissive
   CORS, or ``ok``.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from typing import Any

from conndebug.core.diagnosis.cuts import hold_cut
from conndebug.core.diagnosis.facts import Facts, Finding
from conndebug.core.events import ConnectError, Note, UpgradeFailed
from conndebug.core.session import is_expiry_message

__all__ = ["RULES", "auth_fix", "base_evidence"]

_NO_NAMESPACE = ("invalid namespace", "unable to connect")
"""Refusals that mean the namespace does not exist (socket.io, python-socketio)."""


# -- evidence -------------------------------------------------------------------------------------


def base_evidence(facts: Facts) -> dict[str, Any]:
    """The evidence every template may use, from the settings' context."""
    ctx = facts.context
    host = ctx.get("host")
    port = ctx.get("port")
    evidence: dict[str, Any] = {
        "url": ctx.get("url") or facts.url,
        "host": host,
        "port": port,
        "address": f"{host}:{port}" if host is not None else None,
        "path": ctx.get("path"),
        "namespace": ctx.get("namespace"),
        "handshake_url": ctx.get("handshake_url"),
        "proxy": ctx.get("proxy"),
        "proxy_source": ctx.get("proxy_source"),
        "tls_verify": ctx.get("tls_verify"),
        "timeout_s": ctx.get("timeout_s"),
        "guest_url": ctx.get("guest_url"),
    }
    return evidence


def _ev(
    facts: Facts, failure: ConnectError | UpgradeFailed | None = None, **extra: Any
) -> dict[str, Any]:
    evidence = base_evidence(facts)
    if failure is not None and failure.facts:
        evidence.update(failure.facts)
    evidence.update({k: v for k, v in extra.items() if v is not None})
    return evidence


def _transports(facts: Facts) -> list[str]:
    value = facts.context.get("transports")
    return [str(t) for t in value] if isinstance(value, list) else ["websocket", "polling"]


def _seconds(ms: Any) -> str | None:
    return f"{ms / 1000:g}" if isinstance(ms, (int, float)) and not isinstance(ms, bool) else None


def _iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _guest_why(facts: Facts) -> str | None:
    """Why there is no guest session, from the guest endpoint's last answer."""
    for note in reversed(facts.guest):
        why = (note.facts or {}).get("why")
        if why:
            return str(why)
    return None


def _with_token(facts: Facts) -> str:
    session = facts.session
    if session is not None:
        if session.source == "token":
            return " with the given token"
        if session.source == "stored":
            return " with the stored guest session's token"
        return " with a new guest session's token"
    if facts.context.get("no_guest"):
        return " without a token (--no-guest)"
    why = _guest_why(facts)
    return f" without a token (no guest session: {why})" if why else " without a token"


def auth_fix(message: str, guest_why: str | None) -> str:
    """What to do about a middleware refusal, said to whoever runs conndebug."""
    lowered = message.lower()
    if "required" in lowered:
        where = f"; it could not: {guest_why}" if guest_why else " (check --guest-endpoint)"
        return (
            "The server wants a token in the Socket.IO auth object. Pass one with --token, or "
            f"let conndebug create a guest session{where}."
        )
    if "invalid token" in lowered or "verification failed" in lowered:
        return (
            "The token is not signed with this server's key (a token from another "
            "environment, or damaged when copied). Get a fresh token from this server, or drop "
            "--token to use a guest session."
        )
    if "only guest" in lowered:
        return "The server accepts guest tokens only: create one at the guest endpoint."
    if "rate limit" in lowered:
        return "Too many handshakes for this user: wait a minute and probe again."
    return (
        "The server's connection middleware refused with its own message; give it what it "
        "expects in the auth object (--token, --auth-json) or the headers (--header)."
    )


# -- 1. a rate-limited guest endpoint -----------------------------------------------------------


def _rate_limited(facts: Facts) -> Finding | None:
    if facts.connected is not None or not (facts.structured or facts.rejections):
        return None
    limited: list[Note | ConnectError] = [n for n in facts.guest if n.status == 429]
    # the monitor: a guest endpoint that failed is a failed attempt (phase "guest")
    limited += [f for f in facts.failures if f.phase == "guest" and f.status == 429]
    if not limited:
        return None
    note = max(limited, key=lambda e: e.t)
    nf = note.facts or {}
    retry = nf.get("retry_after")
    return Finding(
        "rate_limited",
        "default",
        _ev(
            facts,
            where="the guest endpoint",
            where_url=note.url or facts.context.get("guest_url"),
            message=nf.get("message") or "Too Many Requests",
            retry_after=f" (Retry-After: {retry})" if retry else "",
        ),
        critical=True,
    )


# -- 2. disconnected right after connecting -------------------------------------------------------


def _kicked(facts: Facts) -> Finding | None:
    kicked = facts.kicked
    if kicked is None or facts.connected is not None or facts.ever_connected is None:
        return None
    after = facts.kicked_after_ms
    if after is None or not facts.every_connection_ended_early() or not facts.context:
        return None
    conn = facts.ever_connected
    return Finding(
        "server_disconnect",
        "default",
        _ev(
            facts,
            namespace=conn.namespace,
            sid=conn.sid,
            after=f"{after:.0f} ms" if after >= 1 else "less than a millisecond",
        ),
        critical=True,
    )


def _dropped(facts: Facts) -> Finding | None:
    """The connection ended by itself right after connecting (not a kick, not our goodbye)."""
    if facts.connected is not None or facts.ever_connected is None or not facts.context:
        return None
    if facts.kicked is not None or not facts.disconnects:
        return None
    last = facts.disconnects[-1]
    if "client" in last.reason or last.t < facts.ever_connected.t:
        return None
    if facts.structured and facts.structured[-1].t > last.t:
        return None  # a later attempt failed: that failure is the story
    if not facts.every_connection_ended_early():
        return None
    after = max(0.0, (last.t - facts.ever_connected.t) * 1000.0)
    code = f", close code {last.close_code}" if last.close_code is not None else ""
    return Finding(
        "server_error",
        "protocol",
        _ev(
            facts,
            stage="first moments of the connection",
            error=f"the connection ended {after:.0f} ms after the namespace connected "
            f"({last.reason}{code})",
        ),
        critical=True,
    )


# -- 3. a failure, by phase ----------------------------------------------------------------------


def _failed(facts: Facts) -> Finding | None:
    if facts.connected is not None:
        return None
    failures = facts.structured
    if not failures:
        return None
    failure = failures[-1]
    handler = _PHASES.get(failure.phase or "", _other)
    finding = handler(facts, failure)
    return Finding(finding.code, finding.reason, finding.evidence, critical=True)


def _dns(facts: Facts, f: ConnectError) -> Finding:
    x = f.facts or {}
    return Finding(
        "dns_failure",
        "proxy" if x.get("via_proxy") else "default",
        _ev(facts, f, error=x.get("error") or f.cause or f.message),
    )


def _tcp(facts: Facts, f: ConnectError) -> Finding:
    x = f.facts or {}
    ev = _ev(facts, f, error=x.get("error") or f.cause or f.message)
    ev.setdefault("tried", "")
    if f.failure == "connection_refused":
        return Finding("connection_refused", "proxy" if x.get("via_proxy") else "default", ev)
    if x.get("via_proxy") or f.failure == "proxy_error":
        return Finding("proxy_error", "default", ev)
    return Finding("connect_timeout", "default", ev)


_TLS_REASONS = {"untrusted": "untrusted", "expired": "expired", "hostname": "hostname"}


def _tls(facts: Facts, f: ConnectError) -> Finding:
    x = f.facts or {}
    if f.failure == "proxy_error":
        return _proxy(facts, f)
    ev = _ev(facts, f, error=x.get("error") or f.cause or f.message)
    if x.get("speaks_tls"):
        return Finding("tls_error", "tls_port", ev)
    if f.reason == "plain_http":
        return Finding("tls_error", "plain_port", ev)
    return Finding("tls_error", _TLS_REASONS.get(f.reason or "", "default"), ev)


def _proxy(facts: Facts, f: ConnectError) -> Finding:
    x = f.facts or {}
    status = f.status or x.get("status")
    ev = _ev(facts, f, error=x.get("error") or f.message, status=status)
    if status == 407 or f.reason in ("auth_required", "auth_rejected"):
        challenge = x.get("challenge")
        ev["challenge"] = f" (it asks for: {challenge})" if challenge else ""
        return Finding("proxy_error", "auth", ev)
    if status in (502, 503, 504):
        return Finding("proxy_error", "failed", ev)
    if isinstance(status, int) and (x.get("tunnel") or f.reason in ("forbidden", "status")):
        return Finding("proxy_error", "refused", ev)
    if status in (401, 403) and x.get("from_proxy"):
        return Finding("proxy_error", "refused", ev)
    return Finding("proxy_error", "default", ev)


def _open_problem(f: ConnectError) -> str:
    """The words for an open packet no client can use (from its facts)."""
    x = f.facts or {}
    problems = x.get("problems")
    if x.get("truncated"):
        limit = x.get("limit_kib")
        return (
            f"an open packet larger than the {limit} KiB the probe reads (an open packet is "
            "about 150 bytes)"
        )
    if isinstance(problems, list) and problems:
        return f"an open packet with timings no client can use ({', '.join(map(str, problems))})"
    return f"an open packet that is not a JSON object with a sid ({x.get('sample', '')})"


def _handshake(facts: Facts, f: ConnectError) -> Finding:
    x = f.facts or {}
    kind, reason, status, code = f.failure, f.reason, f.status, f.code
    if kind == "connect_timeout":
        ev = _ev(facts, f, error=f.message)
        if x.get("connected"):
            ev.setdefault("what", "Engine.IO handshake request")
            return Finding("connect_timeout", "silent", ev)
        return Finding("connect_timeout", "default", ev)
    if kind == "connection_refused":
        return Finding("connection_refused", "default", _ev(facts, f, error=f.message, tried=""))
    if kind == "proxy_error":
        return _proxy(facts, f)
    if kind == "tls_error":
        return _tls(facts, f)
    if reason == "eio3_server":
        return Finding("protocol_mismatch", "default", _ev(facts, f))
    if reason == "eio_version":
        if x.get("eio3_opens"):
            return Finding("protocol_mismatch", "default", _ev(facts, f))
        return Finding("protocol_mismatch", "unsupported", _ev(facts, f))
    if reason == "eio4_server":
        return Finding("protocol_mismatch", "eio4_only", _ev(facts, f))
    if reason == "bad_open":
        return Finding(
            "server_error",
            "protocol",
            _ev(facts, f, error=_open_problem(f), stage="Engine.IO handshake"),
        )
    if code == 0:
        ws_failed = [w for w in facts.structured if w.transport == "websocket" and w is not f]
        if ws_failed and "websocket" in _transports(facts):
            how = ws_failed[-1].message
            return Finding(
                "websocket_blocked",
                "websocket_only",
                _ev(facts, ws_failed[-1], blocked_how=how, error=how),
            )
        return Finding(
            "transport_unavailable",
            "transport_unknown",
            _ev(
                facts,
                f,
                transport=f.transport or "polling",
                transports=",".join(_transports(facts)),
                engine_code=0,
            ),
        )
    if code == 4:
        return Finding("auth_rejected", "engine_forbidden", _ev(facts, f))
    if x.get("origin_rejected"):
        origin = facts.context.get("origin") or "this client"
        answer = f'{x.get("status_line", f"HTTP {status}")} "{x.get("message", "")}"'
        return Finding("cors_rejected", "default", _ev(facts, f, origin=origin, answer=answer))
    if reason == "engine_error" or (code is not None and status in (400, 403)):
        return Finding(
            "server_error",
            "protocol",
            _ev(facts, f, stage="Engine.IO handshake", error=f.message),
        )
    if x.get("speaks_tls") or x.get("tls_port_answer"):
        return Finding("tls_error", "tls_port", _ev(facts, f, error=x.get("error") or f.message))
    if isinstance(status, int) and status >= 500:
        sample = x.get("body_sample")
        return Finding(
            "server_error",
            "default",
            _ev(facts, f, body_note=f" ({sample})" if sample else ""),
        )
    location = x.get("location")
    if isinstance(status, int) and 300 <= status < 400 and location:
        hint = location
        if str(location).startswith("https://") and str(facts.context.get("url", "")).startswith(
            "http://"
        ):
            hint = f"{location} — the server wants https: use https:// in the URL"
        return Finding("not_socketio", "redirect", _ev(facts, f, location_hint=hint))
    if status is None or reason in ("not_http", "closed", "reset", "eof"):
        return Finding(
            "server_error", "protocol", _ev(facts, f, stage="Engine.IO handshake", error=f.message)
        )
    return Finding("not_socketio", "default", _ev(facts, f, **_path_hint(facts, f)))


def _path_hint(facts: Facts, f: ConnectError) -> dict[str, Any]:
    x = f.facts or {}
    found = x.get("found_path")
    ctx = facts.context
    if found:
        return {
            "path_hint": f"Socket.IO does answer at {found}.",
            "path_fix": f"Use --path {found}.",
        }
    given = ctx.get("path", "/socket.io")
    return {
        "path_hint": (
            "Socket.IO servers can use another path than the default /socket.io (the server's "
            f"`path` option); nothing answered at {given}."
        ),
        "path_fix": (
            "Give the server's Engine.IO path with --path (e.g. --path /custom-path), or check "
            f"the port: {ctx.get('host')}:{ctx.get('port')} may be another web server. Remember "
            "that the URL's own path is the namespace, not the Engine.IO path."
        ),
    }


def _parser_mismatch(facts: Facts, f: ConnectError) -> Finding:
    x = f.facts or {}
    ours = x.get("client_parser") or facts.context.get("parser") or "json"
    theirs = x.get("server_parser") or ("msgpack" if ours == "json" else "json")
    return Finding(
        "parser_mismatch",
        "default",
        _ev(
            facts,
            f,
            parser=ours,
            other_parser=theirs,
            closed_after=x.get("closed_after") or "at once",
            evidence=x.get("close") or f.message,
        ),
    )


def _session(facts: Facts, f: ConnectError) -> Finding:
    if f.reason == "parser_mismatch":
        return _parser_mismatch(facts, f)
    if f.code == 1:
        return Finding("sticky_session_missing", "default", _ev(facts, f))
    return Finding(
        "server_error",
        "protocol",
        _ev(facts, f, stage="polling round trips", error=f.message),
    )


def _websocket(facts: Facts, f: ConnectError) -> Finding:
    x = f.facts or {}
    if f.reason == "parser_mismatch":
        return _parser_mismatch(facts, f)
    if f.reason in ("eio3_server", "eio_version", "eio4_server"):
        return _handshake(facts, f)
    polling_refused = [p for p in facts.structured if p.phase == "handshake" and p.code == 0]
    ev = _ev(facts, f, error=f.message, blocked_how=x.get("blocked_how") or f.message)
    if polling_refused or x.get("websocket_only"):
        return Finding("websocket_blocked", "websocket_only", ev)
    if f.failure in ("dns_failure", "connection_refused", "tls_error", "proxy_error"):
        return _PHASES[{"dns_failure": "dns", "connection_refused": "tcp"}.get(f.failure, "tls")](
            facts, f
        )
    attempts = len([w for w in facts.structured if w.transport == "websocket"])
    ev["attempts"] = f"{attempts} attempt{'' if attempts == 1 else 's'}"
    ev.setdefault("ws_url", ev.get("url"))
    ev.setdefault("http_note", "")
    if f.status and f.status != 101:
        return Finding("websocket_blocked", "refused_no_fallback", ev)
    if f.failure == "connect_timeout":
        return Finding("websocket_blocked", "hang_no_fallback", ev)
    return Finding("websocket_blocked", "websocket_only", ev)


def _namespace(facts: Facts, f: ConnectError) -> Finding:
    if f.reason == "parser_mismatch":
        return _parser_mismatch(facts, f)
    if f.reason == "eio3_server":
        return Finding("protocol_mismatch", "default", _ev(facts, f, sample=f.message))
    return Finding(
        "server_error", "protocol", _ev(facts, f, stage="namespace connect", error=f.message)
    )


def _cors_failed(facts: Facts, f: ConnectError) -> Finding:
    return Finding("server_error", "protocol", _ev(facts, f, stage="CORS check", error=f.message))


def _other(facts: Facts, f: ConnectError) -> Finding:
    return Finding(
        "server_error", "protocol", _ev(facts, f, stage=f.phase or "connection", error=f.message)
    )


def _guest_failed(facts: Facts, f: ConnectError) -> Finding:
    """The guest endpoint failed (the monitor counts that as a failed attempt)."""
    by_kind = {"dns_failure": "dns", "connection_refused": "tcp", "tls_error": "tls"}
    if f.failure in by_kind:
        return _PHASES[by_kind[f.failure]](facts, f)
    if f.failure == "proxy_error":
        return _proxy(facts, f)
    guest_url = facts.context.get("guest_url") or f.url
    if isinstance(f.status, int) and f.status >= 500:
        x = f.facts or {}
        message = x.get("message")
        return Finding(
            "server_error",
            "default",
            _ev(
                facts,
                f,
                handshake_url=guest_url,
                status_line=f"HTTP {f.status}",
                body_note=f" ({message})" if message else "",
            ),
        )
    return Finding(
        "server_error",
        "protocol",
        _ev(facts, f, stage="guest-session request", error=f.message),
    )


_PHASES: dict[str, Callable[[Facts, ConnectError], Finding]] = {
    "guest": _guest_failed,
    "dns": _dns,
    "tcp": _tcp,
    "tls": _tls,
    "proxy": _proxy,
    "handshake": _handshake,
    "session": _session,
    "upgrade": _websocket,
    "websocket": _websocket,
    "namespace": _namespace,
    "cors": _cors_failed,
}


# -- 4. the server refused the namespace --------------------------------------------------------


def _rejected(facts: Facts) -> Finding | None:
    if facts.connected is not None:
        return None
    refusals = [r for r in facts.rejections if r.failure is not None]
    if not refusals:
        return None
    last = refusals[-1]
    message = last.message
    lowered = message.lower()
    ctx = facts.context
    namespace = (last.facts or {}).get("namespace") or ctx.get("namespace") or "/"
    ev = _ev(facts, last, message=message, namespace=namespace)
    if any(words in lowered for words in _NO_NAMESPACE):
        if ctx.get("namespace_from_url") and _looks_like_a_path(namespace):
            return Finding(
                "namespace_unknown",
                "path_in_url",
                {**ev, "url": ctx.get("given_url") or ev.get("url"), "base_url": ctx.get("url")},
                critical=True,
            )
        return Finding("namespace_unknown", "default", ev, critical=True)
    session = facts.session
    if is_expiry_message(message) and session is not None:
        if session.source == "token":
            expired = session.expires_at is not None and session.expires_at <= last.ts
            ev["expired_at"] = _iso(session.expires_at) if session.expires_at else None
            ev["valid_until"] = ev["expired_at"]
            reason = "token_expired" if expired else "session_dropped"
            return Finding("session_expired", reason, ev, critical=True)
        if facts.expired:
            if facts.regenerated is not None and len(refusals) > 1:
                ev["regen_error"] = f'the new session was refused too ("{message}")'
                ev["message"] = refusals[0].message
            else:
                why = _guest_why(facts) or "no session"
                ev["regen_error"] = f"creating a new guest session failed ({why})"
            return Finding("session_expired", "default", ev, critical=True)
    # the server's err.data: a live client's facts say which it is; a record's data may be
    # the whole CONNECT_ERROR payload ({message, data})
    extra = (last.facts or {}).get("server_data")
    if extra is None and isinstance(last.data, dict):
        extra = last.data.get("data")
    ev["with_token"] = _with_token(facts)
    ev["data_note"] = f" (data: {json.dumps(extra, default=str)[:120]})" if extra else ""
    ev["auth_fix"] = auth_fix(message, _guest_why(facts))
    return Finding("auth_rejected", "default", ev, critical=True)


def _looks_like_a_path(namespace: str) -> bool:
    """A namespace that is really an Engine.IO path pasted into the URL (``/socket.io``)."""
    lowered = namespace.lower()
    return "socket.io" in lowered or "engine.io" in lowered or lowered.count("/") > 1


# -- 5. the probe's CORS check ----------------------------------------------------------------


def _cors_rejected(facts: Facts) -> Finding | None:
    step = facts.steps.get("cors")
    if step is None or step.status != "fail" or not step.evidence:
        return None
    x = step.evidence
    if x.get("allowed") is not False:
        return None
    return Finding(
        "cors_rejected",
        "default",
        {**base_evidence(facts), **x, "origin": x.get("origin"), "answer": x.get("answer")},
        critical=True,
    )


# -- 6. connected ---------------------------------------------------------------------------------

_CONNECT_STAGE = ("connect", None)


def _upgrade_reason(u: UpgradeFailed) -> str:
    x = u.facts or {}
    stage = x.get("stage")
    if x.get("via") == "proxy" or x.get("failure") == "proxy_error":
        return "proxy_tunnel"
    if u.status is not None and u.status != 101:
        if u.status == 400 and u.code in (0, 3):
            return "upgrade_stripped"
        return "refused"
    if u.reason in ("no_answer", "timeout") or x.get("failure") == "connect_timeout":
        return "hang" if stage in _CONNECT_STAGE else "probe_failed"
    if u.reason in ("no_3probe", "poll_not_released") or stage == "probe":
        return "probe_failed"
    if u.reason in ("reset", "eof", "closed"):
        return "reset"
    return "default"


def _websocket_blocked(facts: Facts) -> Finding | None:
    conn = facts.connected
    assert conn is not None
    failures = [u for u in facts.upgrade_failures if u.facts is not None]
    if conn.transport != "polling" or not failures:
        return None
    u = failures[-1]
    x = u.facts or {}
    reason = _upgrade_reason(u)
    ev = _ev(facts, u, error=x.get("error") or u.why, status=u.status)
    if reason == "upgrade_stripped":
        ev.setdefault("code_note", f" (Engine.IO code {u.code})")
    ev.setdefault("upgrades", ", ".join(facts.upgrades_offered) or "websocket")
    return Finding("websocket_blocked", reason, ev)


def _transport_unavailable(facts: Facts) -> Finding | None:
    conn = facts.connected
    assert conn is not None
    transports = _transports(facts)
    if conn.transport != "polling" or not transports or transports[0] != "websocket":
        return None
    if not facts.upgrades_known or "websocket" in facts.upgrades_offered:
        return None
    refused = [
        f for f in facts.structured if f.transport == "websocket" and f.status and f.status != 101
    ]
    if not refused:
        return None
    f = refused[-1]
    x = f.facts or {}
    return Finding(
        "transport_unavailable",
        "default",
        _ev(
            facts,
            f,
            status_line=x.get("status_line") or f"HTTP {f.status}",
            message=x.get("message") or f.message,
            upgrades=", ".join(facts.upgrades_offered) or "none",
        ),
    )


def _cors_permissive(facts: Facts) -> Finding | None:
    step = facts.steps.get("cors")
    if step is None or not step.evidence or not step.evidence.get("permissive"):
        return None
    x = step.evidence
    return Finding(
        "cors_permissive",
        "default",
        {
            **base_evidence(facts),
            "random_origin": x.get("made_up"),
            "acao": x.get("made_up_acao"),
            "acac": x.get("made_up_acac"),
            "origin_list": f"'{x.get('origin')}'",
        },
    )


def _ok(facts: Facts) -> Finding:
    conn = facts.connected
    assert conn is not None
    session = facts.regenerated or facts.session
    user = (session.username or session.user_id) if session is not None else None
    rtt = _median(facts.rtts) if facts.rtts else None
    ev = {
        **base_evidence(facts),
        "transport": conn.transport,
        "as_user": f" as {user}" if user else "",
        "user": user,
        "rtt_ms": round(rtt, 2) if rtt is not None else None,
        "rtt_note": f" Round trip {rtt:.1f} ms." if rtt is not None else "",
        "ping_interval_s": _seconds(conn.ping_interval_ms),
        "ping_timeout_s": _seconds(conn.ping_timeout_ms),
        "upgrades": ", ".join(facts.upgrades_offered) or "none",
        "eio": facts.context.get("eio", 4),
    }
    if facts.regenerated is not None and facts.expired:
        previous = facts.previous_session
        expired = (
            previous is not None
            and previous.expires_at is not None
            and previous.expires_at <= facts.expired[-1].ts
        )
        ev.update(
            message=facts.expired[-1].message,
            user=facts.regenerated.username or facts.regenerated.user_id,
            why_expired="its token had expired"
            if expired
            else "the server had dropped the session while its token was still valid",
        )
        return Finding("ok", "regenerated", ev)
    if conn.transport == "polling" and facts.upgrades_known and not facts.upgrades_offered:
        return Finding("ok", "polling_only", ev)
    return Finding("ok", "default", ev)


def _connected(facts: Facts) -> Finding | None:
    if facts.connected is None or not facts.context:
        return None
    return (
        _websocket_blocked(facts)
        or _transport_unavailable(facts)
        or hold_cut(facts)
        or _cors_permissive(facts)
        or _ok(facts)
    )


def _median(samples: list[float]) -> float:
    ordered = sorted(samples)
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


RULES: tuple[Callable[[Facts], Finding | None], ...] = (
    _rate_limited,
    _kicked,
    _dropped,
    _failed,
    _rejected,
    _cors_rejected,
    _connected,
)
"""The rules over a live client's facts, in order (see the module's docstring)."""
