"""Human output of the probe: the ladder with ✓ / ! / ✗ / - and times, then a verdict panel.

Rich decides colours: none when ``NO_COLOR`` is set or the output is not a terminal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conndebug.core.probe.result import STEP_TITLES, ProbeResult, Step

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["SYMBOLS", "print_header", "print_result", "print_step", "step_line"]

SYMBOLS = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "-"}
_STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
_VERDICT_STYLES = {0: "green", 1: "yellow", 2: "red"}
_TITLE_WIDTH = max(len(t) for t in STEP_TITLES.values())


def step_line(step: Step) -> str:
    """One ladder line as plain text: ``✓ DNS  1 ms  localhost → 127.0.0.1``."""
    ms = f"{step.ms:7.1f} ms" if step.status != "skip" else " " * 10
    return f"  {SYMBOLS[step.status]} {step.title:<{_TITLE_WIDTH}}  {ms}  {step.detail}"


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
