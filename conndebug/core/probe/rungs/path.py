"""12. The path: what answers in front of the server (proxies, load balancers, CDNs), named from
every answer the probe read (:mod:`conndebug.core.path`). Recorded even after a failure.

When the answers set cookies and the server takes polling, it also measures which stickiness the
path uses (:func:`conndebug.core.path.measure.stickiness`: two polling sessions with the cookies
and two without, two round trips each — a dozen short requests): sticky by cookie is said with
its warnings (cross-origin browsers need ``withCredentials``; the Node client keeps no cookies).
Without a cookie there is nothing to tell apart (the session rung already saw whether follow-ups
reach the session's node)."""

from __future__ import annotations

from typing import Any

from conndebug.core.probe.context import ProbeContext

__all__ = ["run"]

STICKY_SESSIONS = 2
STICKY_ROUNDS = 2


async def run(ctx: ProbeContext) -> None:
    status, detail, evidence = ctx.witness.summary(
        ping_interval_ms=ctx.connection.get("ping_interval_ms"),
        ping_timeout_ms=ctx.connection.get("ping_timeout_ms"),
    )
    sticky = await _stickiness(ctx)
    if sticky is not None:
        said, facts = sticky
        evidence["stickiness"] = facts
        if said:
            detail = f"{detail}; {said}"
    ctx.record("path", status, None, detail, **evidence)


async def _stickiness(ctx: ProbeContext) -> tuple[str, dict[str, Any]] | None:
    """Which stickiness the path uses, when its answers set cookies: the words for the step's
    line (empty when there is nothing to warn about) and the facts."""
    if ctx.failed is not None or ctx.opened is None or ctx.websocket_only:
        return None
    report = ctx.witness.report()
    if not report.cookies:
        return None
    from conndebug.core.path.cuts import judge_stickiness
    from conndebug.core.path.measure import stickiness
    from conndebug.wire import HttpClient

    async with HttpClient(ctx.settings, timeout=ctx.timeout, user_agent="conndebug-probe") as bare:
        measured = await stickiness(
            ctx.http,
            bare,
            ctx.target,
            sessions=STICKY_SESSIONS,
            rounds=STICKY_ROUNDS,
            timeout=min(ctx.timeout, 5.0),
        )
    verdict = judge_stickiness(
        ctx.witness.report(),
        with_cookies_ok=measured.with_cookies.ok,
        without_cookies_ok=measured.without_cookies.ok,
    )
    facts: dict[str, Any] = {
        **measured.to_evidence(),
        "mechanism": verdict.mechanism,
        "warnings": list(verdict.warnings) or None,
    }
    said = ""
    if verdict.mechanism == "cookie":
        said = (
            f"sticky by cookie {verdict.cookie or '(a cookie)'}: browsers on another origin "
            "need withCredentials: true, and the Node client keeps no cookies"
        )
    elif verdict.mechanism == "none":
        said = "not sticky even with its cookies"
    return said, facts
