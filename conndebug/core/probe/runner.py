"""The runner: climb the rungs in order, fold the probe's own events into the verdict.

:func:`run_probe` makes one :class:`~conndebug.core.probe.context.ProbeContext`, runs each rung of
:data:`~conndebug.core.probe.rungs.RUNGS`, and skips the rungs above the first that fails (the
path rung runs anyway: what answered is worth knowing most when something failed). The verdict
is :class:`~conndebug.core.diagnosis.Diagnosis`'s, fed every event of the probe's bus as it is
emitted and judged once at the end: the same rules judge what ``watch`` and the TUI see.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conndebug.config import Settings
from conndebug.core.clock import Clock, SystemClock
from conndebug.core.diagnosis import Diagnosis
from conndebug.core.events import Event, EventBus
from conndebug.core.probe.context import ProbeContext, Stop
from conndebug.core.probe.result import STEP_NAMES, STEP_TITLES, ProbeResult
from conndebug.core.probe.rungs import RUNGS

if TYPE_CHECKING:
    from conndebug.core.probe.hold import HoldPlan

__all__ = ["run_probe"]

assert tuple(name for name, _ in RUNGS) == STEP_NAMES


async def run_probe(
    settings: Settings,
    *,
    bus: EventBus | None = None,
    clock: Clock | None = None,
    hold: HoldPlan | None = None,
) -> ProbeResult:
    """Probe ``settings.url`` layer by layer; emits a ``probe_step`` event per rung on ``bus``.
    With ``hold`` (``probe --hold``), then holds connections to see what the path cuts
    (:mod:`conndebug.core.probe.hold`)."""
    clock = clock or (bus.clock if bus is not None else SystemClock())
    bus = bus or EventBus(clock=clock)
    ctx = ProbeContext(settings, bus, clock)
    diagnosis = Diagnosis()
    events: list[Event] = []
    held: dict[str, Any] | None = None

    def take(event: Event) -> None:
        events.append(event)
        diagnosis.absorb(event)

    unsubscribe = bus.subscribe(take)
    try:
        for name, rung in RUNGS:
            if ctx.failed is not None and name != "path":
                failed = STEP_TITLES.get(ctx.failed, ctx.failed)
                ctx.record(name, "skip", None, f"not tried: {failed} failed")
                continue
            try:
                await rung(ctx)
            except Stop:
                continue
        if hold is not None:
            from conndebug.core.probe.hold import run_hold

            held = await run_hold(ctx, hold)
    finally:
        await ctx.cleanup()
        unsubscribe()
    return ProbeResult(
        url=settings.url,
        verdict=diagnosis.settle(),
        steps=tuple(ctx.steps),
        connection=dict(ctx.connection),
        environment=dict(ctx.environment),
        history=tuple(events),
        hold=held,
    )
