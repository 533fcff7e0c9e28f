"""The rules about connections the path cuts: idle timeouts, lifetime caps, request timeouts.

The facts come as a step's evidence: ``probe --hold`` measures two connections side by side and a
held long-poll and reports them as the ``hold`` step (:class:`~conndebug.core.path.cuts.HoldFacts`
and the path it identified); the judgement is :mod:`conndebug.core.path.cuts`'s pure functions,
so the same facts give the same verdict wherever they are read (the probe, a report, ``explain``
of conndebug's own JSONL).

- a cut pair → ``connection_unstable`` (``idle``, ``lifetime``; only the busy one cut:
  ``busy_cut``), or ``protocol_mismatch`` (``heartbeat``) for a client and server of different
  generations;
- a held long-poll cut before the server's ping → ``connection_unstable`` (``request``);
- nothing cut → no finding (the connection's own verdict stands; the step says what was held);
- the drops ``watch`` saw at about the same age again and again (the drop rule of
  :mod:`conndebug.core.drops`), with the traffic that crossed the connections (its round trips,
  ``--rtt-interval``; the server's ping) → ``connection_unstable`` ``lifetime`` or ``idle``
  (:func:`~conndebug.core.path.cuts.judge_drops`), naming the box when the monitor's path
  (``note`` topic ``path``) knows it.
"""

from __future__ import annotations

from typing import Any

from conndebug.core.diagnosis.facts import Facts, Finding

__all__ = ["HOLD_STEP", "cut_evidence", "drops_cut", "hold_cut"]

HOLD_STEP = "hold"
"""The probe step that carries a hold's facts."""


def _s(seconds: float) -> str:
    return f"{seconds:.1f}".rstrip("0").rstrip(".")


def cut_evidence(main: Any, other: Any = None, *, pair: Any = None) -> dict[str, Any]:
    """The verdict's evidence from a :class:`~conndebug.core.path.cuts.CutVerdict` (``main``), the
    other judgement of the same hold (``other``: the long-poll's beside the pair's, or the
    pair's beside a cut long-poll), ``pair``: the hold's facts (what was held beside it)."""
    at_box = ""
    if main.box is not None:
        documented = main.documented
        at_box = (
            f" ({main.box.name}'s {documented.setting})"
            if documented is not None
            else f" ({main.box.name})"
        )
    also = ""
    if other is not None and main.kind != "request" and other.kind == "request":
        also = f" Held long-polls are cut too, after {_s(other.limit_s)} s."
    elif main.kind == "request" and pair is not None and other is not None and other.kind == "none":
        also = (
            f" The two connections held beside it ({pair.transport or 'websocket'}) stayed "
            f"open {_s(pair.held_s)} s: clients that keep to the websocket work."
        )
    return {
        "limit": _s(main.limit_s) if main.limit_s is not None else "?",
        "limit_s": main.limit_s,
        "at_box": at_box,
        "explanation": main.explanation,
        "also": also,
        "fix": main.fix,
        "rule": main.rule,
        "cut_kind": main.kind,
        "box": main.box.key if main.box is not None else None,
    }


def hold_cut(facts: Facts) -> Finding | None:
    """A hold that saw a cut (see the module's docstring)."""
    step = facts.steps.get(HOLD_STEP)
    if step is None or not step.evidence:
        return None
    from conndebug.core.path.cuts import HoldFacts
    from conndebug.core.path.identify import PathReport

    hold = HoldFacts.from_evidence(step.evidence)
    if hold is None:
        return None
    judged = hold.judge(PathReport.from_evidence(step.evidence))
    main = judged.main
    if main is None or main.limit_s is None:
        return None
    if main.kind == "heartbeat_mismatch":
        return Finding("protocol_mismatch", "heartbeat", cut_evidence(main))
    reason: str
    if main is judged.pair:
        evidence = cut_evidence(main, judged.long_poll)
        reason = main.kind if main.kind in ("idle", "lifetime") else "busy_cut"
    else:
        evidence = cut_evidence(main, judged.pair, pair=hold)
        reason = "request"
    return Finding("connection_unstable", reason, evidence)


def _float(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def drops_cut(facts: Facts) -> Finding | None:
    """Regular drops, told apart by the traffic that crossed the connections (see the module's
    docstring); None when the heartbeat is not known (the drop rule's own words then)."""
    found = facts.drop_finding
    if found is None or found.ping_interval_s is None or found.heartbeat_s is None:
        return None
    from conndebug.core.path.cuts import Heartbeat, judge_drops
    from conndebug.core.path.identify import PathReport

    pi = found.ping_interval_s
    verdict = judge_drops(
        every_s=found.every_s,
        count=found.count,
        heartbeat=Heartbeat(pi, found.heartbeat_s - pi),
        rtt_interval_s=_float(facts.context.get("rtt_interval_s")),
        reason=found.reason,
        path=PathReport.from_evidence(facts.path) if facts.path else None,
    )
    return Finding("connection_unstable", verdict.kind, cut_evidence(verdict))
