"""``probe --hold``: after the ladder, hold connections open to see what the path cuts, and when.

Once the ladder connected, :func:`run_hold` measures (:mod:`conndebug.core.path.measure`), side
by side and bounded by :attr:`HoldPlan.max_s`:

- two connections made as the ladder's was (its transport, its token), a **quiet** one and a
  **chatty** one (a round trip a second), until the first cut plus 1.2 s (is the other cut too?), or
  ``max_s``;
- one **held long-poll** (when the server takes polling): a GET the server answers with its
  heartbeat after ``pingInterval``;
- **stickiness**: polling sessions with the cookies the path sets and without them.

It reports one ``hold`` step whose evidence is the facts
(:meth:`~conndebug.core.path.cuts.HoldFacts.to_evidence`, the path identified from every answer
read, the stickiness), and ``note`` events (topic ``hold``) as things happen: a connection cut, the
long-poll answered or cut. The verdict is the diagnosis's (:mod:`conndebug.core.diagnosis.cuts`);
the ``hold`` object of ``--json`` (:func:`hold_object`) is the same judgement, in full.

:attr:`HoldPlan.stop` ends the hold early with what was learnt so far (Ctrl-C);
:attr:`HoldPlan.progress` is told where it stands about once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conndebug.core.events import Note
from conndebug.core.path.measure import GRACE_S, HoldError, HoldProgress

if TYPE_CHECKING:
    from conndebug.client.tap import TransportName
    from conndebug.core.path.cuts import HoldFacts, LongPollFacts, StickyVerdict
    from conndebug.core.path.identify import PathReport
    from conndebug.core.path.measure import PairResult, Stickiness
    from conndebug.core.probe.context import ProbeContext, Recorder
    from conndebug.core.probe.result import Status

__all__ = ["HOLD_DEFAULT_S", "HOLD_STEP", "HoldPlan", "hold_object", "run_hold"]

HOLD_DEFAULT_S = 600.0
"""``--max``'s default: ten minutes (every documented lifetime cap below an hour fits: Azure
Application Gateway 20 s, GCP 30 s, Cloud Run 300 s)."""
HOLD_STEP = "hold"


@dataclass
class HoldPlan:
    """How long to hold, and who to tell."""

    max_s: float = HOLD_DEFAULT_S
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    """Set it to end the hold now (what was learnt so far is judged)."""
    running: bool = False
    """True while the connections are held (after the ladder): a Ctrl-C then sets :attr:`stop`
    rather than ending the probe."""
    progress: Callable[[HoldProgress, str | None], None] | None = None
    """Called about once a second with where the pair stands and the long-poll's state (None
    while it is held, else a few words)."""
    long_poll: bool = True
    stickiness: bool = True


def _s(seconds: float) -> str:
    return f"{seconds:.1f}".rstrip("0").rstrip(".")


class _Teller:
    """Says (as notes) what changed during the hold, and passes progress on."""

    def __init__(self, ctx: ProbeContext, plan: HoldPlan) -> None:
        self.ctx = ctx
        self.plan = plan
        self.quiet_cut = False
        self.chatty_cut = False
        self.long_poll: str | None = None
        self.last: HoldProgress | None = None
        self.first_cut: float | None = None
        """Monotonic time the first cut of the pair was told."""

    def note(self, text: str, level: str = "info", **facts: Any) -> None:
        self.ctx.bus.emit(
            Note,
            text=self.ctx.redactor.text(text),
            level=level,
            topic="hold",
            facts=facts or None,
        )

    def pair(self, state: HoldProgress) -> None:
        self.last = state
        cut = state.quiet_lived_s is not None or state.chatty_lived_s is not None
        if cut and self.first_cut is None:
            self.first_cut = time.monotonic()
        if state.quiet_lived_s is not None and not self.quiet_cut:
            self.quiet_cut = True
            self.note(
                f"the quiet connection was cut after {_s(state.quiet_lived_s)} s",
                "warning",
                role="quiet",
                lived_s=round(state.quiet_lived_s, 2),
            )
        if state.chatty_lived_s is not None and not self.chatty_cut:
            self.chatty_cut = True
            self.note(
                f"the chatty connection was cut after {_s(state.chatty_lived_s)} s",
                "warning",
                role="chatty",
                lived_s=round(state.chatty_lived_s, 2),
            )
        if self.plan.progress is not None:
            self.plan.progress(state, self.long_poll)

    def polled(self, lp: LongPollFacts | None, why: str | None = None) -> None:
        if lp is None:
            self.long_poll = f"not held ({why})" if why else "not held"
        elif lp.answered:
            self.long_poll = f"answered after {_s(lp.ended_s)} s"
            self.note(
                f"the held long-poll was answered after {_s(lp.ended_s)} s (the server's "
                "heartbeat): nothing cuts held requests sooner"
            )
        elif lp.reason in ("still held", "no answer"):
            self.long_poll = f"{lp.reason} after {_s(lp.ended_s)} s"
        else:
            self.long_poll = f"cut after {_s(lp.ended_s)} s ({lp.reason})"
            self.note(
                f"the held long-poll was cut after {_s(lp.ended_s)} s ({lp.reason})",
                "warning",
                status=lp.status,
                ended_s=round(lp.ended_s, 2),
            )
        if self.plan.progress is not None and self.last is not None:
            self.plan.progress(self.last, self.long_poll)


async def _end_the_ladders_sessions(ctx: ProbeContext) -> None:
    """Close the ladder's sessions with a goodbye before holding: the path would cut them too,
    and their end is not the ladder's to tell."""
    clients = [c for c in (ctx.client, *ctx.others) if c is not None]
    ctx.client = None
    ctx.others = []
    from conndebug.wire import WireError

    for client in clients:
        with contextlib.suppress(asyncio.TimeoutError, OSError, WireError):  # the hold goes on
            await asyncio.wait_for(client.close(timeout=0.5), 1.0)
        client.abort()


def _fresh(ctx: ProbeContext) -> Recorder:
    """An HTTP client of its own for one part of the hold, its answers read by the path witness.

    It keeps no connection alive between requests: each polling request gets a new one, so a
    held GET's age is its connection's (a lifetime cap counts from the connection's opening),
    and a held GET that is cut is not sent again on a new connection (the wire's client retries
    a request once when a kept-alive connection closes before answering it, which would hide
    the cut)."""
    from conndebug.core.probe.context import Recorder
    from conndebug.wire import HttpClient

    return Recorder(
        ctx,
        HttpClient(ctx.settings, timeout=ctx.timeout, user_agent="conndebug-probe", max_idle=0),
    )


def _auth(ctx: ProbeContext) -> dict[str, Any] | None:
    auth = dict(ctx.settings.auth)
    if ctx.token:
        auth["token"] = ctx.token
    return auth or None


def _transports(ctx: ProbeContext) -> list[TransportName]:
    """The transport the ladder ended up on (the connection that works is the one to hold)."""
    names: dict[str, TransportName] = {"websocket": "websocket", "polling": "polling"}
    used = names.get(str(ctx.connection.get("transport")))
    if used is not None:
        return [used]
    return [names[t] for t in ctx.settings.transports if t in names]


async def _measure_stickiness(ctx: ProbeContext) -> Stickiness | None:
    from conndebug.core.path.measure import stickiness
    from conndebug.wire import HttpClient

    async with HttpClient(ctx.settings, timeout=ctx.timeout, user_agent="conndebug-probe") as bare:
        return await stickiness(
            ctx.http, bare, ctx.target, sessions=3, rounds=2, timeout=ctx.timeout
        )


async def run_hold(ctx: ProbeContext, plan: HoldPlan) -> dict[str, Any] | None:
    """Hold (see the module's docstring); the ``hold`` object of ``--json``, or None when the
    ladder did not connect (the step says so)."""
    from conndebug.core.path.measure import hold_long_poll, hold_pair

    start = ctx.now()
    if ctx.failed is not None or ctx.namespace is None:
        where = ctx.failed or "the namespace connect"
        ctx.record(HOLD_STEP, "skip", None, f"not held: {where} failed")
        return None
    await _end_the_ladders_sessions(ctx)
    s = ctx.settings
    teller = _Teller(ctx, plan)
    pair_done = asyncio.Event()
    stop = plan.stop

    async def pair() -> PairResult:
        try:
            return await hold_pair(
                pair_http,
                ctx.target,
                max_s=plan.max_s,
                auth=_auth(ctx),
                namespace=s.namespace,
                transports=_transports(ctx),
                parser=s.parser,
                timeout=ctx.timeout,
                ws_timeout=s.ws_timeout,
                stop=stop,
                progress=teller.pair,
            )
        finally:
            pair_done.set()

    async def long_poll() -> LongPollFacts | None:
        if not plan.long_poll or ctx.websocket_only:
            teller.polled(None, "the server takes no polling" if ctx.websocket_only else None)
            return None
        ended = asyncio.Event()

        async def end_with_the_pair() -> None:
            waiters = [asyncio.ensure_future(pair_done.wait()), asyncio.ensure_future(stop.wait())]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                if teller.first_cut is not None and not stop.is_set():
                    # the cut that ended the pair may end the long-poll a moment later: it gets
                    # the grace the pair's second connection got
                    left = teller.first_cut + GRACE_S - time.monotonic()
                    if left > 0:
                        await asyncio.wait([waiters[1]], timeout=left)
            finally:
                for waiter in waiters:
                    waiter.cancel()
            ended.set()

        watcher = asyncio.ensure_future(end_with_the_pair())
        try:
            lp = await hold_long_poll(
                poll_http, ctx.target, timeout=ctx.timeout, max_s=plan.max_s, stop=ended
            )
        except HoldError as exc:
            teller.polled(None, str(exc))
            return None
        finally:
            watcher.cancel()
        teller.polled(lp)
        return lp

    sticky: Stickiness | None = None
    if plan.stickiness and not ctx.websocket_only:
        sticky = await _measure_stickiness(ctx)
    # connections of their own: a lifetime cap counts from a connection's opening, and the
    # ladder's kept-alive connections are older than the hold
    pair_http, poll_http = _fresh(ctx), _fresh(ctx)
    plan.running = True
    if plan.progress is not None:  # the start: elapsed 0, nothing cut
        plan.progress(HoldProgress(0.0, plan.max_s, None, None, 0, None), None)
    try:
        polled = asyncio.ensure_future(long_poll())
        try:
            result = await pair()
        except HoldError as exc:
            polled.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polled
            ctx.record(HOLD_STEP, "fail", start, str(exc))
            return None
        lp = await polled
    finally:
        plan.running = False
        await asyncio.gather(pair_http.aclose(), poll_http.aclose())
    path = ctx.witness.report()
    facts = _facts(result, lp, plan, ctx.settings.eio)
    evidence: dict[str, Any] = {**facts.to_evidence(), **path.to_evidence()}
    if lp is not None and lp.reason in ("still held", "no answer"):
        evidence["long_poll_unfinished"] = {"held_s": round(lp.ended_s, 2), "why": lp.reason}
    verdict_sticky = _judge_sticky(path, sticky)
    if sticky is not None:
        evidence["stickiness"] = {
            **sticky.to_evidence(),
            "mechanism": verdict_sticky.mechanism if verdict_sticky else None,
        }
    judged = facts.judge(path)
    main = judged.main
    status: Status
    if main is not None:
        status = "warn"
        detail = main.title
    else:
        status = "ok"
        detail = judged.pair.title + (f"; long-poll {teller.long_poll}" if teller.long_poll else "")
    if facts.interrupted:
        detail += f" (stopped after {_s(facts.held_s)} s)"
    if verdict_sticky is not None and verdict_sticky.mechanism in ("cookie", "ip", "none"):
        detail += (
            "; "
            + {
                "cookie": f"sticky by cookie {verdict_sticky.cookie or ''}".rstrip(),
                "ip": "sticky by address (or one node)",
                "none": "not sticky",
            }[verdict_sticky.mechanism]
        )
    ctx.record(HOLD_STEP, status, start, detail, **evidence)
    return hold_object(facts, path, sticky, verdict_sticky)


def _facts(
    result: PairResult, lp: LongPollFacts | None, plan: HoldPlan, client_eio: int
) -> HoldFacts:
    from conndebug.core.path.cuts import HoldFacts

    finished = lp if lp is not None and lp.reason not in ("still held", "no answer") else None
    return HoldFacts(
        result.quiet,
        result.chatty,
        result.held_s,
        plan.max_s,
        result.heartbeat,
        client_eio,
        result.transport,
        finished,
        result.interrupted,
        result.round_trips,
    )


def _judge_sticky(path: PathReport, sticky: Stickiness | None) -> StickyVerdict | None:
    from conndebug.core.path.cuts import judge_stickiness

    if sticky is None:
        return None
    return judge_stickiness(
        path,
        with_cookies_ok=sticky.with_cookies.ok,
        without_cookies_ok=sticky.without_cookies.ok,
    )


def hold_object(
    facts: HoldFacts,
    path: PathReport,
    sticky: Stickiness | None = None,
    sticky_verdict: StickyVerdict | None = None,
) -> dict[str, Any]:
    """The ``hold`` object of ``probe --json``: the facts, the path, and the judgements."""
    judged = facts.judge(path)
    out: dict[str, Any] = {
        **facts.to_evidence(),
        "path": path.text,
        "boxes": [h.box.key for h in path.proxies],
        "cut": judged.pair.to_dict(),
        "long_poll_cut": judged.long_poll.to_dict() if judged.long_poll else None,
        "stickiness": None,
    }
    if sticky is not None:
        out["stickiness"] = {
            **sticky.to_evidence(),
            "mechanism": sticky_verdict.mechanism if sticky_verdict else None,
            "text": sticky_verdict.text if sticky_verdict else None,
            "warnings": list(sticky_verdict.warnings) if sticky_verdict else [],
        }
    return out
