"""What is wrong, in plain words, for the Status panel and its detail view (``i`` / Enter).

:func:`reason_of` picks what the panel says from a snapshot: the monitor's diagnosis (a
:class:`~conndebug.core.verdicts.Verdict`: title, explanation, fix) when it has one, else its
free-text ``verdict`` line; a stall adds a live "no sign of life for N s" computed from the same
clock reading as every other figure on the screen.

:func:`reason_lines` lays a reason out in a given width and number of rows. It never cuts
silently: when the text needs more rows than it has, the last row ends with :data:`MORE`, which
names the key of the detail view that shows all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content

from conndebug.core.model import Snapshot, State
from conndebug.core.text import visible
from conndebug.ui.text import Now, duration

__all__ = ["MORE", "Reason", "reason_lines", "reason_of"]

MORE = " … i: all of it"
"""Ends the last row of a reason that needs more rows than the panel has."""


@dataclass(frozen=True)
class Reason:
    """Why the connection is in its state, in the verdict catalogue's three parts."""

    title: str
    explanation: str = ""
    fix: str = ""
    code: str | None = None
    """The verdict code (``websocket_blocked``…) when the reason is a diagnosis."""
    tone: str = "warning"
    """The theme colour: ``error``, ``warning`` or ``success``."""
    live: str = ""
    """A line computed at this moment (a stall's silence), shown first."""


def _tone(snap: Snapshot, exit_code: int | None = None) -> str:
    if snap.state in (State.FAILED, State.STALLED) or exit_code == 2:
        return "error"
    return "warning"


def reason_of(snap: Snapshot, now: Now) -> Reason | None:
    """What the Status panel says is wrong as of ``now``; ``None`` when nothing is."""
    live = ""
    if snap.state is State.STALLED and snap.last_life_at is not None:
        silent = max(0.0, now.mono - snap.last_life_at)
        live = f"No sign of life for {duration(silent)}"
        if snap.stall_bound_s is not None:
            live += f" (a stall: more than {duration(snap.stall_bound_s)})"
    diagnosis = snap.diagnosis
    if diagnosis is not None and diagnosis.exit_code != 0:
        return Reason(
            title=visible(diagnosis.title),
            explanation=visible(diagnosis.explanation),
            fix=visible(diagnosis.fix),
            code=diagnosis.code,
            tone=_tone(snap, diagnosis.exit_code),
            live=live,
        )
    if snap.verdict:
        return Reason(title=visible(snap.verdict), tone=_tone(snap), live=live)
    if live:
        return Reason(title=live, tone="error")
    return None


def reason_lines(reason: Reason, width: int, rows: int) -> tuple[list[Content], bool]:
    """``reason`` wrapped into ``width`` columns and at most ``rows`` rows; and whether it was cut
    (then the last row ends with :data:`MORE`)."""
    width = max(width, len(MORE) + 8)
    tone = f"${reason.tone}"
    paragraphs: list[Content] = []
    if reason.live and reason.live != reason.title:
        paragraphs.append(Content.styled(f"⚠ {reason.live}", f"{tone} bold"))
    head = Content.styled(f"⚠ {reason.title}" if not paragraphs else reason.title, f"{tone} bold")
    if reason.explanation:
        head = head + Content(" — ") + Content(reason.explanation)
    paragraphs.append(head)
    if reason.fix:
        paragraphs.append(Content.styled("Fix: ", "bold") + Content(reason.fix))
    wrapped: list[Content] = []
    for paragraph in paragraphs:
        wrapped.extend(line.rstrip() for line in paragraph.wrap(width))
    if len(wrapped) <= rows:
        return wrapped, False
    kept = wrapped[: max(1, rows)]
    last = kept[-1]
    room = width - len(MORE)
    if last.cell_length > room:
        # Cut between words (no "firewal …", no half a URL); a row of one word is truncated.
        space = last.plain.rfind(" ", 0, room + 1)
        last = last[:space].rstrip() if space > 0 else last.truncate(room)
    kept[-1] = last + Content.styled(MORE, "$text-muted italic")
    return kept, True
