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

from conndebug.core.path.catalogue import BOXES, Box, Limit, box
from conndebug.core.path.cuts import (
    CutVerdict,
    Heartbeat,
    Held,
    StickyVerdict,
    judge_hold,
    judge_long_poll,
    judge_stickiness,
)
from conndebug.core.path.identify import Answer, Hop, PathReport, identify

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
