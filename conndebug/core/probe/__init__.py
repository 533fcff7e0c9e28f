"""`conndebug probe`: a layer-by-layer diagnosis of a Socket.IO deployment.

    from conndebug.core.probe import run_probe

    result = await run_probe(settings)          # one URL; emits a probe_step event per rung
    result.verdict.code                         # e.g. "websocket_blocked"
    result.to_json_dict()                       # the ``--json`` schema of design.md

Modules: :mod:`.ladder` (the rungs and :func:`run_probe`), :mod:`.result` (:class:`Step`,
:class:`ProbeResult`), :mod:`.net` (DNS, TCP, proxy tunnel, TLS), :mod:`.http` (bounded HTTP/1.1
requests), :mod:`.engineio` (the wire protocol), :mod:`.wsclient` (a raw websocket client),
:mod:`.render` (human output), :mod:`.command` (the CLI). Verdict texts live in
:mod:`conndebug.core.verdicts`; reports in :mod:`conndebug.core.report`.
"""

from __future__ import annotations

from conndebug.core.probe.command import probe_many, run_probe_command
from conndebug.core.probe.ladder import run_probe
from conndebug.core.probe.result import STEP_NAMES, ProbeResult, Step
from conndebug.core.verdicts import Verdict

__all__ = [
    "STEP_NAMES",
    "ProbeResult",
    "Step",
    "Verdict",
    "probe_many",
    "run_probe",
    "run_probe_command",
]
