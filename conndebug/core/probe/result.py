"""What a probe returns: the ladder's steps, the verdict, the connection figures, the history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from conndebug.core.events import Event
from conndebug.core.verdicts import Verdict

__all__ = ["ENVIRONMENT_KEYS", "STEP_NAMES", "STEP_TITLES", "ProbeResult", "Status", "Step"]

Status = Literal["ok", "warn", "fail", "skip"]

STEP_NAMES: tuple[str, ...] = (
    "url",
    "dns",
    "tcp",
    "tls",
    "proxy",
    "handshake",
    "session",
    "websocket",
    "namespace",
    "rtt",
    "cors",
    "path",
)
"""The rungs of the ladder, in order (the ``name`` of each :class:`Step`). ``path`` (what answers
in front of the server, from the answers read) comes last and is recorded even after a failure."""

STEP_TITLES: Mapping[str, str] = {
    "url": "URL and settings",
    "dns": "DNS",
    "tcp": "TCP connect",
    "tls": "TLS",
    "proxy": "Proxy",
    "handshake": "Engine.IO handshake",
    "session": "Session consistency",
    "websocket": "Websocket",
    "namespace": "Namespace connect",
    "rtt": "Round trips",
    "cors": "CORS",
    "path": "Path (proxies)",
    "hold": "Held connections",
}
"""Human names of the rungs (and of ``hold``, the step ``probe --hold`` adds after them)."""

CONNECTION_KEYS: tuple[str, ...] = (
    "transport",
    "sid",
    "engine_sid",
    "upgrade",
    "ping_interval_ms",
    "ping_timeout_ms",
    "rtt_ms",
    "user",
)
ENVIRONMENT_KEYS: tuple[str, ...] = ("proxy", "tls_verify", "ca_bundle", "python", "conndebug")
"""The ``environment`` keys of the ``--json`` schema (reports show more)."""


@dataclass(frozen=True)
class Step:
    """One rung of the ladder."""

    name: str
    """One of :data:`STEP_NAMES`."""
    status: Status
    ms: float
    """How long the rung took (0 for a skipped one)."""
    detail: str
    """One plain-words line: what was seen."""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    """The raw facts behind ``detail`` (status codes, addresses, headers), already redacted."""

    @property
    def title(self) -> str:
        """The rung's human name."""
        return STEP_TITLES.get(self.name, self.name)

    def to_dict(self) -> dict[str, Any]:
        """The step in the ``--json`` schema: name, status, ms, detail."""
        return {
            "name": self.name,
            "status": self.status,
            "ms": round(self.ms, 1),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of probing one URL."""

    url: str
    verdict: Verdict
    steps: tuple[Step, ...]
    connection: Mapping[str, Any]
    """Figures of the connection made (keys of the ``--json`` schema; unknown ones are None)."""
    environment: Mapping[str, Any]
    """Proxy, TLS settings and versions (the schema's keys, plus more for reports)."""
    history: tuple[Event, ...]
    """The events of this probe (probe steps, session events, round trips), oldest first."""
    hold: Mapping[str, Any] | None = None
    """``probe --hold``: what the connections held open showed (:func:`conndebug.core.probe.hold.
    hold_object`); None without ``--hold``."""

    @property
    def exit_code(self) -> int:
        """The verdict's exit code."""
        return self.verdict.exit_code

    def step(self, name: str) -> Step | None:
        """The step called ``name``, if the ladder reached it."""
        return next((s for s in self.steps if s.name == name), None)

    def report_summary(self) -> dict[str, Any]:
        """What a report shows above the verdict: the path in front of the server (the path
        rung's boxes), its stickiness when measured, and what ``--hold`` saw."""
        out: dict[str, Any] = {}
        path = self.step("path")
        if path is not None and path.evidence.get("path_text"):
            out["path"] = path.evidence["path_text"]
            sticky = path.evidence.get("stickiness")
            if isinstance(sticky, Mapping) and sticky.get("mechanism"):
                out["stickiness"] = sticky["mechanism"]
        hold = self.step("hold")
        if hold is not None:
            out["hold"] = hold.detail
        return out

    def to_json_dict(self) -> dict[str, Any]:
        """Exactly the ``probe --json`` schema of design.md (``"schema": 1``), plus a ``hold``
        object after ``--hold``."""
        return {
            "schema": 1,
            "url": self.url,
            "verdict": self.verdict.to_dict(),
            "steps": [s.to_dict() for s in self.steps],
            "connection": {k: self.connection.get(k) for k in CONNECTION_KEYS},
            "environment": {k: self.environment.get(k) for k in ENVIRONMENT_KEYS},
            "history": [e.to_dict() for e in self.history],
            **({"hold": dict(self.hold)} if self.hold is not None else {}),
        }
