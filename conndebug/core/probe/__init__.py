"""`conndebug probe`: a layer-by-layer diagnosis of a Socket.IO deployment.

    from conndebug.core.probe import run_probe

    result = await run_probe(settings)          # one URL; emits a probe_step event per rung
    result.verdict.code                         # e.g. "websocket_blocked"
    result.to_json_dict()                       # the ``--json`` schema of design.md

Modules: :mod:`.ladder` (the rungs and :func:`run_probe`), :mod:`.result` (:class:`Step`,
:class:`ProbeResult`), :mod:`.net` (DNS, TCP, proxy tunnel, TLS), :mod:`.http` (bounded HTTP/1.1
requests), :mod:`.engineio` (the wire protocol), :mod:`.wsclient` (a raw websocket client).
The command line and human output live in :mod:`conndebug.commands.probe`. Verdict texts live in
:mod:`conndebug.core.verdicts`; reports in :mod:`conndebug.core.report`.
"""

from __future__ import annotations

from conndebug.core.probe.ladder import run_probe
from conndebug.core.probe.result import STEP_NAMES, ProbeResult, Step
from conndebug.core.verdicts import Verdict

__all__ = [
    "STEP_NAMES",
    "ProbeResult",
    "Step",
    "Verdict",
    "run_probe",
]
