"""What happened → which verdict: one fold over the history events.

:class:`Diagnosis` consumes :mod:`conndebug.core.events` in order (``feed``) and keeps the current
verdict: a stable code of :mod:`conndebug.core.verdicts`, the variant's reason and the evidence that
fills its texts. It never looks at where the events came from, so the same engine serves a record
read back by ``explain`` (a HAR, a DEBUG log), and later ``watch``, the TUI and the probe, live::

    diagnosis = Diagnosis()
    for event in events:
        if diagnosis.feed(event):          # the verdict changed
            print(diagnosis.verdict.code)
    verdict = diagnosis.verdict            # a Verdict: code, title, explanation, fix, exit code

What the events say is gathered into :class:`Facts` (attempts, failures by phase, statuses, the
server's refusals, CORS blocks, the session ids, whether and how it connected); the verdict is
then one ordered list of rules (:data:`RULES`), each a function ``Facts -> Finding | None``: the
first rule that finds something names the verdict. Adding a diagnosis is adding a rule.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from conndebug.core.events import (
    Connected,
    ConnectError,
    Connecting,
    Disconnected,
    Event,
    Note,
    TransportChanged,
    UpgradeFailed,
)
from conndebug.core.verdicts import Verdict, make_verdict

__all__ = ["RULES", "Diagnosis", "Facts", "Finding", "client_auth_fix", "diagnose"]


@dataclass(frozen=True)
class Finding:
    """A rule's conclusion: a verdict code, the variant's reason, the evidence for its texts."""

    code: str
    reason: str = "default"
    evidence: dict[str, Any] = field(default_factory=dict)
    critical: bool = False
    """Raise the exit code to 2 (the client never connected, whatever the code's usual exit)."""


@dataclass
class Facts:
    """What the events said so far, gathered for the rules."""

    url: str | None = None
    attempts: int = 0
    websocket_attempts: int = 0
    polling_attempts: int = 0
    connected: Connected | None = None
    """The last connection, while it holds."""
    ever_connected: Connected | None = None
    transport: str | None = None
    upgraded: bool = False
    upgrade_failures: list[UpgradeFailed] = field(default_factory=list)
    failures: list[ConnectError] = field(default_factory=list)
    rejections: list[ConnectError] = field(default_factory=list)
    """CONNECT_ERROR from the server's middleware."""
    cors: list[Note] = field(default_factory=list)
    http_answers: list[Note] = field(default_factory=list)
    """HTTP exchanges around the connection that got an answer (status > 0)."""
    engine_sids: list[str] = field(default_factory=list)
    upgrades_offered: tuple[str, ...] = ()
    disconnects: list[Disconnected] = field(default_factory=list)
    origin: str | None = None
    """The page's origin, when a browser record names it."""
    events_seen: int = 0

    def of_phase(self, *phases: str | None) -> list[ConnectError]:
        return [f for f in self.failures if f.phase in phases]


_OPEN = re.compile(r"Engine\.IO session (\S+) opened over \S+ \(upgrades offered: ([^;]*);")


class Diagnosis:
    """The fold: feed events in order, read the current verdict."""

    def __init__(self, rules: Iterable[Callable[[Facts], Finding | None]] | None = None) -> None:
        self.facts = Facts()
        self.rules = tuple(rules) if rules is not None else RULES
        self.finding: Finding = _nothing(self.facts)
        self._verdict: Verdict | None = None

    def feed(self, event: Event) -> bool:
        """Take one event; True when the verdict changed."""
        facts = self.facts
        facts.events_seen += 1
        if isinstance(event, Connecting):
            facts.attempts += 1
            facts.url = facts.url or event.url
            if event.transport == "websocket":
                facts.websocket_attempts += 1
            else:
                facts.polling_attempts += 1
            facts.transport = event.transport
        elif isinstance(event, Connected):
            facts.connected = facts.ever_connected = event
            facts.transport = event.transport
        elif isinstance(event, TransportChanged):
            facts.transport = event.transport
            if event.how == "upgraded":
                facts.upgraded = True
            if facts.connected is not None:
                facts.connected = replace(facts.connected, transport=event.transport)
        elif isinstance(event, UpgradeFailed):
            facts.upgrade_failures.append(event)
        elif isinstance(event, ConnectError):
            if event.source == "server":
                facts.rejections.append(event)
            else:
                facts.failures.append(event)
            facts.connected = None
        elif isinstance(event, Disconnected):
            facts.disconnects.append(event)
            if "client" not in event.reason:  # the client leaving on purpose ends nothing wrong
                facts.connected = None
        elif isinstance(event, Note):
            if event.topic == "page":
                facts.origin = event.url
            elif event.topic == "cors":
                facts.cors.append(event)
            elif event.topic == "http" and event.status:
                facts.http_answers.append(event)
            elif event.topic == "open":
                found = _OPEN.match(event.text)
                if found:
                    facts.engine_sids.append(found.group(1))
                    offered = found.group(2).strip()
                    facts.upgrades_offered = () if offered == "none" else tuple(offered.split(", "))
        else:
            return False
        finding = self._decide()
        if finding != self.finding:
            self.finding = finding
            self._verdict = None
            return True
        return False

    def feed_all(self, events: Iterable[Event]) -> Verdict:
        for event in events:
            self.feed(event)
        return self.verdict

    def _decide(self) -> Finding:
        for rule in self.rules:
            finding = rule(self.facts)
            if finding is not None:
                return finding
        return _nothing(self.facts)

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


# -- evidence helpers -------------------------------------------------------------------------


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
    preflight = [n for n in facts.cors if "preflight" in n.text]
    first = preflight[0] if preflight else blocked[0]  # the preflight's answer says why
    if isinstance(first, Note):
        what = first.text.removeprefix("the browser blocked ")
        target, _, why = what.partition(": ")
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


def _nothing(facts: Facts) -> Finding:
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
