"""What one probe says in Prometheus' terms, and the exporter's own metrics.

:func:`outcome_of` reads a :class:`~conndebug.core.probe.result.ProbeResult` (its steps, verdict,
connection figures and the TLS rung's evidence; never the probe's internals), and
:func:`partial_outcome` does the same from the ``probe_step`` events of a probe cut short by the
scrape's deadline. :func:`probe_registry` turns an :class:`Outcome` into a fresh
``CollectorRegistry`` for one ``/probe`` answer, in blackbox_exporter's conventions:

=================================================  =============================================
``probe_success``                                  1 when the verdict's exit code is 0 or 1
``probe_duration_seconds``                         the whole probe, wall clock
``conndebug_probe_phase_duration_seconds{phase}``  dns, tcp, tls, handshake, upgrade, namespace,
                                                   rtt: the rungs that ran (skipped ones absent)
``conndebug_verdict{code}``                        1 for the verdict's code
``conndebug_transport{transport}``                 1 for the transport connected over
``conndebug_rtt_seconds``                          the round trip (when measured)
``conndebug_heartbeat_seconds{kind}``              interval, timeout: the server's heartbeat
``conndebug_tls_cert_expiry_timestamp_seconds``    the certificate's notAfter (https targets)
=================================================  =============================================

:class:`ExporterMetrics` holds the exporter's own counters for ``/metrics``.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from conndebug.core.events import ProbeStep
from conndebug.core.probe.result import ProbeResult, Step

__all__ = [
    "PHASES",
    "TIMEOUT_CODE",
    "ExporterMetrics",
    "Outcome",
    "outcome_of",
    "partial_outcome",
    "probe_registry",
]

PHASES: tuple[tuple[str, str], ...] = (
    ("dns", "dns"),
    ("tcp", "tcp"),
    ("tls", "tls"),
    ("handshake", "handshake"),
    ("upgrade", "websocket"),
    ("namespace", "namespace"),
    ("rtt", "rtt"),
)
"""``(phase label, probe rung)``: the rungs a Prometheus user graphs, named as blackbox names its
phases (the websocket rung is the transport upgrade)."""

TIMEOUT_CODE = "connect_timeout"
"""The verdict of a probe that did not finish within the scrape's deadline: no answer in time."""


@dataclass(frozen=True)
class Outcome:
    """The figures of one probe that Prometheus gets."""

    success: bool
    duration_s: float
    verdict_code: str
    phases: Mapping[str, float] = field(default_factory=dict)
    """Seconds per phase, for the rungs that ran."""
    transport: str | None = None
    rtt_s: float | None = None
    heartbeat_s: Mapping[str, float] = field(default_factory=dict)
    """``interval`` and ``timeout`` in seconds, as the server announced them."""
    cert_expiry: float | None = None
    """The TLS certificate's ``notAfter``, epoch seconds."""


def _phases(steps: Iterable[tuple[str, str, float]]) -> dict[str, float]:
    by_rung = {name: (status, ms) for name, status, ms in steps}
    out: dict[str, float] = {}
    for phase, rung in PHASES:
        seen = by_rung.get(rung)
        if seen is not None and seen[0] != "skip":
            out[phase] = seen[1] / 1000
    return out


def _expiry(step: Step | None) -> float | None:
    if step is None:
        return None
    text = step.evidence.get("not_after")
    if not isinstance(text, str):
        return None
    try:
        moment = _dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None
    return moment.replace(tzinfo=_dt.timezone.utc).timestamp()


def _ms(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) / 1000


def outcome_of(result: ProbeResult, duration_s: float) -> Outcome:
    """The Prometheus figures of a finished probe."""
    conn = result.connection
    heartbeat = {
        kind: seconds
        for kind, seconds in (
            ("interval", _ms(conn.get("ping_interval_ms"))),
            ("timeout", _ms(conn.get("ping_timeout_ms"))),
        )
        if seconds is not None
    }
    transport = conn.get("transport")
    return Outcome(
        success=result.verdict.exit_code in (0, 1),
        duration_s=duration_s,
        verdict_code=result.verdict.code,
        phases=_phases((s.name, s.status, s.ms) for s in result.steps),
        transport=transport if isinstance(transport, str) and transport else None,
        rtt_s=_ms(conn.get("rtt_ms")),
        heartbeat_s=heartbeat,
        cert_expiry=_expiry(result.step("tls")),
    )


def partial_outcome(steps: Sequence[ProbeStep], duration_s: float) -> Outcome:
    """The figures of a probe cut short by the deadline: the rungs it finished, a failure."""
    return Outcome(
        success=False,
        duration_s=duration_s,
        verdict_code=TIMEOUT_CODE,
        phases=_phases((s.name, s.status, s.ms) for s in steps),
    )


class _ProbeCollector(Collector):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome

    def collect(self) -> Iterator[Metric]:
        o = self.outcome
        yield GaugeMetricFamily(
            "probe_success",
            "1 when the Socket.IO endpoint works (verdict exit code 0 OK or 1 WARNING)",
            value=1.0 if o.success else 0.0,
        )
        yield GaugeMetricFamily(
            "probe_duration_seconds", "How long the probe took", value=o.duration_s
        )
        phases = GaugeMetricFamily(
            "conndebug_probe_phase_duration_seconds",
            "Duration of each rung of the probe that ran",
            labels=["phase"],
        )
        for phase, seconds in o.phases.items():
            phases.add_metric([phase], seconds)
        yield phases
        verdict = GaugeMetricFamily(
            "conndebug_verdict", "The verdict's code (see conndebug's README)", labels=["code"]
        )
        verdict.add_metric([o.verdict_code], 1.0)
        yield verdict
        transport = GaugeMetricFamily(
            "conndebug_transport", "The transport the probe connected over", labels=["transport"]
        )
        if o.transport:
            transport.add_metric([o.transport], 1.0)
        yield transport
        if o.rtt_s is not None:
            yield GaugeMetricFamily(
                "conndebug_rtt_seconds", "Round trip over the connection", value=o.rtt_s
            )
        heartbeat = GaugeMetricFamily(
            "conndebug_heartbeat_seconds",
            "The server's heartbeat: ping interval and ping timeout",
            labels=["kind"],
        )
        for kind, seconds in o.heartbeat_s.items():
            heartbeat.add_metric([kind], seconds)
        yield heartbeat
        if o.cert_expiry is not None:
            yield GaugeMetricFamily(
                "conndebug_tls_cert_expiry_timestamp_seconds",
                "When the server's TLS certificate expires (notAfter), Unix time",
                value=o.cert_expiry,
            )


def probe_registry(outcome: Outcome) -> CollectorRegistry:
    """A fresh registry holding exactly one probe's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProbeCollector(outcome))
    return registry


class ExporterMetrics:
    """The exporter's own metrics (``/metrics``): probes run, durations, errors, load."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.probes = Counter(
            "conndebug_exporter_probes",
            "Probes run, by module and result (success: probe_success was 1)",
            ["module", "result"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "conndebug_exporter_probe_duration_seconds",
            "How long probes took",
            ["module"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.errors = Counter(
            "conndebug_exporter_errors",
            "Scrapes answered without a probe, by reason: bad_request (no or bad target, "
            "unknown module), forbidden (refused by --allow), busy (no free probe slot), "
            "internal (a bug)",
            ["reason"],
            registry=self.registry,
        )
        self.deadlines = Counter(
            "conndebug_exporter_probe_deadlines",
            "Probes cut short by the scrape's deadline (answered with probe_success 0)",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "conndebug_exporter_probes_in_flight", "Probes running now", registry=self.registry
        )
        self.waiting = Gauge(
            "conndebug_exporter_probes_waiting",
            "Scrapes waiting for a free probe slot",
            registry=self.registry,
        )
        for reason in ("bad_request", "forbidden", "busy", "internal"):
            self.errors.labels(reason)  # present from the start, at 0
