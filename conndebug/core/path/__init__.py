"""Who is in the path, and who cut it.

    from conndebug.core.path import Answer, identify, judge_hold, Held, Heartbeat

    report = identify([Answer.of("handshake", 200, headers), ...])
    report.text            # "nginx (Server: nginx/1.22.1 on 4 answers) → server"
    verdict = judge_hold(Held("quiet", 3.1), Held("chatty", None), held_s=10, path=report)
    verdict.kind, verdict.limit_s, verdict.fix   # "idle", 3.1, "proxy_read_timeout 60s; ..."

Modules: :mod:`.catalogue` (the boxes as data: limits, stickiness, fixes), :mod:`.identify`
(fingerprints: answers → boxes with evidence), :mod:`.cuts` (idle vs lifetime vs request timeout,
stickiness: pure functions). No network, no Textual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Eager: the names of the submodule `identify` and its function must not clash (importing the
# submodule sets the package's attribute to the module).
from conndebug.core.path.catalogue import BOXES, Box, Limit, box
from conndebug.core.path.identify import Answer, Hop, PathReport, identify

if TYPE_CHECKING:
    from conndebug.core.path.cuts import (
        CutVerdict,
        Heartbeat,
        Held,
        StickyVerdict,
        judge_hold,
        judge_long_poll,
        judge_stickiness,
    )

__all__ = [
    "BOXES",
    "Answer",
    "Box",
    "CutVerdict",
    "Heartbeat",
    "Held",
    "Hop",
    "Limit",
    "PathReport",
    "StickyVerdict",
    "box",
    "identify",
    "judge_hold",
    "judge_long_poll",
    "judge_stickiness",
]

_HOMES = {
    "CutVerdict": "cuts",
    "Heartbeat": "cuts",
    "Held": "cuts",
    "StickyVerdict": "cuts",
    "judge_hold": "cuts",
    "judge_long_poll": "cuts",
    "judge_stickiness": "cuts",
}
"""Names loaded from their module on first use: the probe's path witness needs the catalogue and
the fingerprints, not the cut analysis (~3 ms of every probe's start)."""


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'conndebug.core.path' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"conndebug.core.path.{home}"), name)
    globals()[name] = value
    return value
