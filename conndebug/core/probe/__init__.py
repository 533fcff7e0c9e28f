"""`conndebug probe`: a layer-by-layer diagnosis of a Socket.IO deployment.

    from conndebug.core.probe import run_probe

    result = await run_probe(settings)          # one URL; emits a probe_step event per rung
    result.verdict.code                         # e.g. "websocket_blocked"
    result.to_json_dict()                       # the ``--json`` schema of design.md

Modules: :mod:`.runner` (:func:`run_probe`: the rungs in order, the verdict from the diagnosis),
:mod:`.context` (what the rungs share), :mod:`.rungs` (one module per rung: url, dns, tcp, tls,
proxy, handshake, session, websocket, namespace, rtt, cors, path), :mod:`.result`
(:class:`Step`, :class:`ProbeResult`). The rungs run on :mod:`conndebug.wire` (DNS, TCP, TLS,
proxy, HTTP/1.1) and :mod:`conndebug.client` (Engine.IO and Socket.IO); the verdict comes from
:mod:`conndebug.core.diagnosis`, whose rules also judge ``watch`` and the TUI. The command line and
human output live in :mod:`conndebug.commands.probe`; verdict texts in
:mod:`conndebug.core.verdicts`; reports in :mod:`conndebug.core.report`.
"""

from __future__ import annotations

from conndebug.core.probe.result import STEP_NAMES, ProbeResult, Step
from conndebug.core.probe.runner import run_probe
from conndebug.core.verdicts import Verdict

__all__ = [
    "STEP_NAMES",
    "ProbeResult",
    "Step",
    "Verdict",
    "run_probe",
]
