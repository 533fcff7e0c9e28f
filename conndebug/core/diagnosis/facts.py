"""What the events said so far (:class:`Facts`), and a rule's conclusion (:class:`Finding`).

:func:`gather` folds one event into the facts. It keeps what the rules need and nothing that
only prose says: the structured fields of the events (phase, failure kind and reason, HTTP
status, Engine.IO error code, the server's message and data, websocket close facts, the probe's
step evidence), never a ``detail`` line to be parsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from conndebug.core.drops import DropFinding, DropPattern
from conndebug.core.events import (
    Connected,
    ConnectError,
    Connecting,
    Disconnected,
    Event,
    Fallback,
    Note,
    ProbeStep,
    ReconnectFailed,
    Rtt,
    SessionCreated,
    SessionExpired,
    SessionRegenerated,
    Stall,
    TransportChanged,
    UpgradeFailed,
)

__all__ = ["EARLY_END_MS", "Facts", "Finding", "gather"]

EARLY_END_MS = 2000.0
"""A connection the other side ends within this long after ``connected`` ended "right after
connecting" (a server that disconnects on connect does it within a round trip or two)."""


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
    upgrades_known: bool = False
    """``upgrades_offered`` comes from the server's open packet (not a default)."""
    disconnects: list[Disconnected] = field(default_factory=list)
    origin: str | None = None
    """The page's origin, when a browser record names it."""
    events_seen: int = 0
    # -- structured facts of a live client (the probe, the monitor) ----------------------------
    context: dict[str, Any] = field(default_factory=dict)
    """What the connection was told to do (url, path, namespace, transports, eio, parser, proxy,
    proxy_source, tls_verify, timeouts, guest_url, origin...): the probe's ``url`` step evidence
    or a ``Note(topic="settings")``'s facts."""
    steps: dict[str, ProbeStep] = field(default_factory=dict)
    """The probe's rungs by name (the last report of each)."""
    session: SessionCreated | None = None
    """The session (token) in use: the given ``--token``, a stored or a new guest session."""
    expired: list[SessionExpired] = field(default_factory=list)
    regenerated: SessionRegenerated | None = None
    previous_session: SessionCreated | None = None
    """The session a regeneration replaced."""
    guest: list[Note] = field(default_factory=list)
    """What the guest endpoint answered (``Note(topic="guest")`` with facts)."""
    rtts: list[float] = field(default_factory=list)
    kicked: Disconnected | None = None
    """A server disconnect (``io server disconnect``) of the last connection."""
    kicked_after_ms: float | None = None
    """How long after ``connected`` the server disconnected the socket."""
    connections: int = 0
    """Connections made (``connected`` events)."""
    early_ends: int = 0
    """Of those, how many the other side ended within :data:`EARLY_END_MS` of connecting."""
    # -- what only a live monitor sees (a connection held over time) ----------------------------
    stall: Stall | None = None
    """The stall in progress (no sign of life for longer than the bound), if any."""
    drops: DropPattern = field(default_factory=DropPattern)
    drop_finding: DropFinding | None = None
    """Connections dropping after about the same time, again and again (the drop rule)."""
    last_disconnect: Disconnected | None = None
    """How the last connection ended, while no new one holds."""
    path: dict[str, Any] | None = None
    """What answers in front of the server: the path's evidence (``note`` topic ``path``,
    :meth:`conndebug.core.path.identify.PathReport.to_evidence`)."""
    gave_up: ReconnectFailed | None = None

    def of_phase(self, *phases: str | None) -> list[ConnectError]:
        return [f for f in self.failures if f.phase in phases]

    @property
    def structured(self) -> list[ConnectError]:
        """Failures a live client described with a ``kind`` (not a record's guesses)."""
        return [f for f in self.failures if f.failure is not None]

    def every_connection_ended_early(self) -> bool:
        """Every connection so far ended right after connecting (the server's or the path's
        doing): "disconnects on connect". One connection that held, and a later early end is
        a drop like any other, not the server's habit."""
        return self.connections > 0 and self.early_ends >= self.connections


def gather(facts: Facts, event: Event) -> bool:
    """Fold ``event`` into ``facts``; False when the event says nothing the rules use."""
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
        facts.connections += 1
        facts.stall = None
        facts.last_disconnect = None
        facts.gave_up = None
        _drops(facts, event)
        facts.transport = event.transport
        facts.kicked = None
        facts.kicked_after_ms = None
        if event.upgrades is not None:
            facts.upgrades_offered = tuple(event.upgrades)
            facts.upgrades_known = True
        if event.engine_sid:
            facts.engine_sids.append(event.engine_sid)
    elif isinstance(event, TransportChanged):
        facts.transport = event.transport
        if event.how == "upgraded":
            facts.upgraded = True
        if facts.connected is not None:
            facts.connected = replace(facts.connected, transport=event.transport)
    elif isinstance(event, UpgradeFailed):
        facts.upgrade_failures.append(event)
    elif isinstance(event, ConnectError):
        facts.drops.observe(event)
        if event.source == "server":
            facts.rejections.append(event)
        else:
            facts.failures.append(event)
        facts.connected = None
    elif isinstance(event, Disconnected):
        facts.disconnects.append(event)
        held = facts.connected
        if (
            held is not None
            and "client" not in event.reason
            and event.by not in ("user", "client")
            and (event.t - held.t) * 1000.0 <= EARLY_END_MS
        ):
            facts.early_ends += 1
        facts.stall = None
        _drops(facts, event)
        facts.last_disconnect = event  # how the last connection ended (a new one clears it)
        if event.reason == "io server disconnect" and facts.connected is not None:
            facts.kicked = event
            facts.kicked_after_ms = max(0.0, (event.t - facts.connected.t) * 1000.0)
        if "client" not in event.reason and event.by not in ("user", "client"):
            facts.connected = None  # the client (or its user) leaving on purpose ends nothing wrong
    elif isinstance(event, Fallback):
        if event.failure is not None:  # a live client's failed transport, then the next one
            facts.failures.append(_fallback_failure(event))
    elif isinstance(event, Stall):
        facts.stall = None if event.recovered else event
    elif isinstance(event, ReconnectFailed):
        facts.gave_up = event
    elif isinstance(event, ProbeStep):
        facts.steps[event.name] = event
        evidence = event.evidence or {}
        if event.name == "url" and evidence:
            facts.context = dict(evidence)
            facts.url = facts.url or evidence.get("url")
        elif event.name == "handshake" and isinstance(evidence.get("upgrades"), list):
            facts.upgrades_offered = tuple(str(u) for u in evidence["upgrades"])
            facts.upgrades_known = True
    elif isinstance(event, SessionCreated):
        facts.session = event
    elif isinstance(event, SessionExpired):
        facts.expired.append(event)
    elif isinstance(event, SessionRegenerated):
        facts.regenerated = event
        facts.previous_session = facts.session
    elif isinstance(event, Rtt):
        facts.rtts.append(event.ms)
        if len(facts.rtts) > 64:  # a monitor samples every second for hours: the last ones
            del facts.rtts[:32]
    elif isinstance(event, Note):
        if event.topic == "page":
            facts.origin = event.url
        elif event.topic == "cors":
            facts.cors.append(event)
        elif event.topic == "http" and event.status:
            facts.http_answers.append(event)
        elif event.topic == "guest":
            facts.guest.append(event)
        elif event.topic == "reconnect":
            facts.drops.observe(event)  # "listens again": the drop before it was a restart
        elif event.topic == "path" and event.facts:
            facts.path = dict(event.facts)
        elif event.topic in ("settings", "target") and event.facts:
            facts.context = dict(event.facts)
            facts.url = facts.url or facts.context.get("url")
        elif event.topic == "open" and event.facts:
            sid = event.facts.get("engine_sid")
            if sid:
                facts.engine_sids.append(str(sid))
            facts.upgrades_offered = tuple(str(u) for u in event.facts.get("upgrades") or ())
            facts.upgrades_known = True
    else:
        return False
    return True


def _drops(facts: Facts, event: Connected | Disconnected) -> None:
    finding = facts.drops.observe(event)
    if finding is not None:
        facts.drop_finding = finding
    elif isinstance(event, Disconnected) and not facts.drops.in_pattern:
        facts.drop_finding = None  # a drop that breaks the pattern (a kick, the user, a restart)


def _fallback_failure(event: Fallback) -> ConnectError:
    """A fallback's first transport as the failure it was (the rules read failures)."""
    return ConnectError(
        ts=event.ts,
        t=event.t,
        message=event.why,
        source="transport",
        status=event.status,
        code=event.code,
        transport=event.from_transport,
        phase=event.phase,
        failure=event.failure,
        reason=event.reason,
        engine_message=event.engine_message,
        ws_code=event.ws_code,
        ws_who=event.ws_who,
    )
