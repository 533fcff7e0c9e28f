"""The rules for records read back by ``explain`` (a HAR, a DEBUG log, a python client log).

A record says less than a live client: failures come with a phase and the error text the client
logged (``net::ERR_CONNECTION_REFUSED``, ``ECONNREFUSED``), not with a failure kind. These rules
read what such a record can hold; a live client's structured facts are read by
:mod:`conndebug.core.diagnosis.connection` first.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from conndebug.core.diagnosis.facts import Facts, Finding
from conndebug.core.events import Note

__all__ = ["RULES", "client_auth_fix", "nothing"]


def _times(n: int, what: str = "attempt") -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _host_port(url: str | None) -> tuple[str, str]:
    if not url:
        return "unknown", "unknown"
    parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
    default = "443" if parts.scheme in ("https", "wss") else "80"
    host = parts.hostname or "unknown"
    return host, str(parts.port or default)


def _path(url: str | None) -> str:
    if not url:
        return "/socket.io/"
    path = urllib.parse.urlsplit(url).path
    return path if path and path != "/" else "/socket.io/"


def _base(facts: Facts) -> dict[str, Any]:
    url = facts.url
    host, port = _host_port(url)
    server = None
    if url:
        parts = urllib.parse.urlsplit(url)
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        server = f"{scheme}://{parts.netloc}"
    return {
        "url": server or url,
        "host": host,
        "port": port,
        "address": f"{host}:{port}",
        "path": _path(next((f.url for f in facts.failures if f.url), None)),
    }


def client_auth_fix(message: str) -> str:
    """What to do about a middleware refusal, said to whoever owns the client."""
    lowered = message.lower()
    if "required" in lowered:
        return (
            "The server wants a token in the Socket.IO auth object and got none: check that the "
            "client obtained one (its guest-session or login request may have failed first) and "
            "passes it as `auth: {token}`."
        )
    if "expired" in lowered or "not found" in lowered:
        return (
            "The session or token is no longer valid: the client must get a new one (a new guest "
            "session) and reconnect; check that it does so on this message."
        )
    if "invalid token" in lowered or "verification failed" in lowered:
        return (
            "The token is not signed with this server's key (a token from another environment, "
            "or damaged when stored or copied): get a fresh token from this server."
        )
    if "rate limit" in lowered:
        return "Too many handshakes for this user: the client reconnects too often; back off."
    return (
        "The server's connection middleware refused with its own message: give it what it "
        "expects in the auth object or the headers."
    )


# -- the rules, in order ------------------------------------------------------------------------


def _sticky(facts: Facts) -> Finding | None:
    lost = [f for f in facts.failures if f.phase == "session" and (f.code == 1 or f.status == 400)]
    lost = [f for f in lost if f.code in (1, None)]
    if not lost:
        return None
    first = lost[0]
    message = first.message
    quoted = re.search(r'"(.*)"', message)
    return Finding(
        "sticky_session_missing",
        "client",
        {
            **_base(facts),
            "engine_sid": facts.engine_sids[0] if facts.engine_sids else "unknown",
            "request": (first.url or "a polling request").split("&t=")[0],
            "status_line": f"HTTP {first.status}" if first.status else "an error",
            "message": quoted.group(1) if quoted else message,
            "count": _times(len(lost), "time"),
        },
    )


def _cors(facts: Facts) -> Finding | None:
    blocked = facts.cors + [f for f in facts.failures if f.phase == "cors"]
    if not blocked:
        return None
    preflight = [
        n for n in facts.cors if str((n.facts or {}).get("method", "")).startswith("OPTIONS")
    ]
    first = preflight[0] if preflight else blocked[0]  # the preflight's answer says why
    if isinstance(first, Note):
        seen = first.facts or {}
        target = f"{seen.get('method', '')} {seen.get('url', first.url or '')}".strip()
        why = str(seen.get("why", "the answer was not allowed"))
    else:
        target, why = f"the polling request {first.url or ''}".strip(), "the answer was not allowed"
    consequence = (
        "The client still connected over websocket (browsers do not apply CORS to websockets), "
        "but everything it needed from these requests was missing."
        if facts.ever_connected
        else "The client never connected."
    )
    if facts.rejections:
        consequence = (
            f"Without what those requests return, the server then refused the connection: "
            f'"{facts.rejections[-1].message}".'
        )
    return Finding(
        "cors_rejected",
        "browser",
        {
            **_base(facts),
            "origin": facts.origin or "the page's origin",
            "blocked": target,
            "answer": why or "not allowed",
            "consequence": consequence,
        },
    )


def _rejected(facts: Facts) -> Finding | None:
    if not facts.rejections or facts.connected is not None:
        return None
    last = facts.rejections[-1]
    data = last.data
    return Finding(
        "auth_rejected",
        "client",
        {
            **_base(facts),
            "message": last.message,
            "namespace": "/",
            "with_token": "",
            "data_note": f" (data: {data})" if data else "",
            "attempts": _times(len(facts.rejections), "time"),
            "auth_fix": client_auth_fix(last.message),
        },
    )


def _connected(facts: Facts) -> Finding | None:
    conn = facts.connected
    if conn is None:
        return None
    evidence = _base(facts)
    offered = "websocket" in facts.upgrades_offered
    if conn.transport == "polling" and offered and facts.upgrade_failures:
        failure = facts.upgrade_failures[-1]
        return Finding(
            "websocket_blocked",
            "upgrade_refused",
            {
                **evidence,
                "ws_url": evidence["url"],
                "error": failure.why,
                "upgrades": ", ".join(facts.upgrades_offered),
            },
        )
    return Finding(
        "ok",
        "client",
        {
            **evidence,
            "transport": conn.transport,
            "sid": conn.sid,
            "how": "after an upgrade from polling" if facts.upgraded else "directly",
            "events": facts.events_seen,
        },
    )


def _websocket_refused(facts: Facts) -> Finding | None:
    refused = [
        f for f in facts.failures if f.transport == "websocket" and f.status and f.status != 101
    ]
    if not refused:
        return None
    status = refused[-1].status
    return Finding(
        "websocket_blocked",
        "refused_no_fallback",
        {
            **_base(facts),
            "ws_url": refused[-1].url or _base(facts)["url"],
            "status": status,
            "attempts": _times(len(refused)),
            "http_note": _http_note(facts, polling_note=True),
        },
        critical=True,
    )


def _http_note(facts: Facts, *, polling_note: bool = False) -> str:
    answered = [n for n in facts.http_answers]
    parts = []
    if answered:
        n = answered[0]
        parts.append(f"Other requests to the same server were answered ({n.text}).")
    if polling_note and facts.polling_attempts == 0:
        parts.append("No polling attempt is recorded.")
    return " ".join(parts)


def _network(facts: Facts) -> Finding | None:
    network = facts.of_phase("network")
    if not network:
        return None
    last = network[-1]
    cause = (last.cause or last.message or "").upper()
    evidence = {
        **_base(facts),
        "error": last.cause or last.message,
        "attempts": _times(len(network)),
    }
    if "REFUSED" in cause:
        return Finding("connection_refused", "client", evidence)
    if "NAME_NOT_RESOLVED" in cause or "ENOTFOUND" in cause or "EAI_AGAIN" in cause:
        return Finding("dns_failure", "default", {**evidence, "ms": "unknown"})
    if "TIMED_OUT" in cause or "ETIMEDOUT" in cause or "UNREACHABLE" in cause:
        return Finding("connect_timeout", "client", {**evidence, "timeout_s": "unknown"})
    if "CERT" in cause or "SSL" in cause or "CERTIFICATE" in cause:
        return Finding("tls_error", "default", {**evidence, "ms": "unknown"})
    return None


def _timeout(facts: Facts) -> Finding | None:
    timeouts = facts.of_phase("timeout")
    if not timeouts:
        return None
    last = timeouts[-1]
    seconds = re.search(r"(\d+(?:\.\d+)?) (s|ms)", last.cause or "")
    timeout_s = (
        f"{float(seconds.group(1)) / (1000 if seconds.group(2) == 'ms' else 1):g}"
        if seconds
        else "unknown"
    )
    evidence = {**_base(facts), "timeout_s": timeout_s, "attempts": _times(len(timeouts))}
    websocket_hang = all(t.transport == "websocket" for t in timeouts)
    if websocket_hang and facts.http_answers:
        return Finding(
            "websocket_blocked",
            "hang_no_fallback",
            {
                **evidence,
                "ws_url": last.url or evidence["url"],
                "http_note": "other requests to the same server were answered ("
                + facts.http_answers[0].text
                + ")",
            },
            critical=True,
        )
    return Finding("connect_timeout", "client", evidence)


def _unexplained(facts: Facts) -> Finding | None:
    if not facts.failures:
        return None
    last = facts.failures[-1]
    transport = last.transport or "the"
    return Finding(
        "inconclusive",
        "default",
        {
            "what": (
                f"The client's {transport} connection failed ({_times(len(facts.failures))}: "
                f'"{last.message}"), and the record does not say why: nothing listening, a '
                "refusal by a proxy or firewall, and a server answering with an error all look "
                "the same here."
            ),
            "next_step": (
                f"Run `conndebug probe {_base(facts)['url']}` from the client's network, or send "
                "a record that keeps the cause (a browser HAR; a log that prints the "
                "connect_error's description)."
            ),
        },
    )


def nothing(facts: Facts) -> Finding:
    if facts.attempts == 0:
        what = "The record shows no connection attempt to a Socket.IO server."
    else:
        what = (
            f"The record shows {_times(facts.attempts)} to connect but neither a connection nor "
            "a failure: it may end too early."
        )
    return Finding(
        "inconclusive",
        "default",
        {
            "what": what,
            "next_step": "Record again from before the page (or program) connects until it "
            "shows the problem, and send that file.",
        },
    )


RULES: tuple[Callable[[Facts], Finding | None], ...] = (
    _sticky,
    _cors,
    _rejected,
    _connected,
    _websocket_refused,
    _network,
    _timeout,
    _unexplained,
)
"""The rules, most specific cause first: a missing sticky session or a CORS block explains the
failures that follow it (a refused CONNECT without the token the blocked request would have
brought)."""
