"""Human output of the probe: the ladder with ✓ / ! / ✗ / - and times, then a verdict panel.

On a terminal Rich draws it and decides colours (none when ``NO_COLOR`` is set). Piped or
redirected, the same layout is written as plain text by :func:`plain_result`, without loading
Rich (~40 ms of start-up, and more to render): there would be no colours to draw anyway.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from conndebug.core.probe.result import STEP_TITLES, ProbeResult, Step

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "SYMBOLS",
    "output_width",
    "plain_header",
    "plain_result",
    "print_header",
    "print_result",
    "print_step",
    "stdout_is_terminal",
]

SYMBOLS = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "-"}
_STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
_VERDICT_STYLES = {0: "green", 1: "yellow", 2: "red"}
_TITLE_WIDTH = max(len(t) for t in STEP_TITLES.values())


def print_header(console: Console, url: str) -> None:
    console.print(f"[bold]conndebug probe[/] {url}", highlight=False)


def print_step(console: Console, step: Step) -> None:
    """One ladder line; a long detail wraps inside its own column."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=3, justify="right")
    grid.add_column(width=_TITLE_WIDTH, no_wrap=True)
    grid.add_column(width=10, justify="right", no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    dim = "dim" if step.status == "skip" else ""
    grid.add_row(
        f"[{_STYLES[step.status]}]{SYMBOLS[step.status]}[/]",
        f"[{dim}]{step.title}[/]" if dim else step.title,
        "" if step.status == "skip" else f"{step.ms:.1f} ms",
        f"[{dim}]{_escape(step.detail)}[/]" if dim else _escape(step.detail),
    )
    console.print(grid, highlight=False)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def print_result(console: Console, result: ProbeResult, *, steps: bool = True) -> None:
    """The ladder (unless already printed live) and the verdict panel."""
    from rich.panel import Panel
    from rich.text import Text

    if steps:
        for step in result.steps:
            print_step(console, step)
    verdict = result.verdict
    style = _VERDICT_STYLES.get(verdict.exit_code, "red")
    body = Text()
    body.append(verdict.title + "\n", style="bold")
    body.append("\n" + verdict.explanation + "\n")
    body.append("\nFix: ", style="bold")
    body.append(verdict.fix)
    console.print(
        Panel(
            body,
            title=f"{verdict.code} (exit {verdict.exit_code})",
            title_align="left",
            border_style=style,
            expand=True,
        )
    )


# -- plain text (piped output) ----------------------------------------------------------------


def stdout_is_terminal() -> bool:
    """Whether Rich would treat standard output as a terminal (``TTY_COMPATIBLE``,
    ``FORCE_COLOR`` and the stream itself, as Rich decides)."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def output_width() -> int:
    """The width Rich would use: ``COLUMNS``, else a terminal on a standard stream, else 80."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    for fd in (0, 1, 2):
        try:
            width = os.get_terminal_size(fd).columns
        except (AttributeError, ValueError, OSError):
            continue
        if width:
            return width
    return 80


def _wrap(text: str, width: int) -> list[str]:
    """``text`` folded to ``width`` columns, its own line breaks kept."""
    import textwrap

    width = max(width, 10)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines += textwrap.wrap(paragraph, width, break_long_words=True, break_on_hyphens=False) or [
            ""
        ]
    return lines


def plain_header(url: str) -> str:
    return f"conndebug probe {url}"


def plain_step(step: Step, width: int) -> str:
    """One ladder line as Rich's grid lays it out, the detail folded in its own column."""
    ms = "" if step.status == "skip" else f"{step.ms:.1f} ms"
    lead = f"{SYMBOLS[step.status]:>3} {step.title:<{_TITLE_WIDTH}} {ms:>10} "
    lines = _wrap(step.detail, width - len(lead))
    indent = " " * len(lead)
    return "\n".join([lead + lines[0], *(indent + line for line in lines[1:])]).rstrip()


def plain_result(result: ProbeResult, *, width: int = 80, steps: bool = True) -> str:
    """The ladder (unless ``steps`` is False) and the verdict panel, as plain text."""
    out = [plain_step(step, width) for step in result.steps] if steps else []
    verdict = result.verdict
    inner = max(width - 4, 20)
    title = f"─ {verdict.code} (exit {verdict.exit_code}) "
    out.append("╭" + title + "─" * max(inner + 2 - len(title), 0) + "╮")
    body = [
        *_wrap(verdict.title, inner),
        "",
        *_wrap(verdict.explanation, inner),
        "",
        *_wrap(f"Fix: {verdict.fix}", inner),
    ]
    out += [f"│ {line:<{inner}} │" for line in body]
    out.append("╰" + "─" * (inner + 2) + "╯")
    return "\n".join(out)
