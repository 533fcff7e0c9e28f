"""The probe screen (``p``): the ladder as it runs against the current target, then the verdict."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from conndebug.config import Settings
from conndebug.core.errors import ConndebugError
from conndebug.core.events import Event, EventBus, ProbeStep

BOX_WIDTH = 110
"""The probe box's width on a wide screen (its border, padding and scrollbar take :data:`BOX_FRAME`)."""
BOX_FRAME = 5

_MARKS = {"ok": ("✓", "$success"), "warn": ("!", "$warning"), "fail": ("✗", "$error")}


class ProbeScreen(ModalScreen[None]):
    """Runs ``run_probe(settings, bus=...)`` in a worker and shows each rung as it finishes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,p", "close", "Close", id="probe.close"),
    ]

    DEFAULT_CSS = """
    ProbeScreen {
        align: center middle;
        #probe-box {
            width: 110;  /* BOX_WIDTH */
            max-width: 100%;
            height: auto;
            max-height: 100%;
            border: thick $primary;
            background: $surface;
            padding: 0 1;
        }
        #probe-title { text-style: bold; }
        #probe-scroll { height: auto; scrollbar-gutter: stable; scrollbar-size-vertical: 1; }
        #probe-ladder { height: auto; }
        #probe-verdict { height: auto; padding-top: 1; }
        #probe-foot { color: $text-muted; }
    }
    """

    def __init__(
        self,
        settings: Settings,
        runner: Callable[..., Awaitable[Any]],
        *,
        tz: _dt.tzinfo | None = None,
        on_done: Callable[[str], None] | None = None,
        on_result: Callable[[Any], None] | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.runner = runner
        self.tz = tz
        self.on_done = on_done
        self.on_result = on_result
        """Called with the probe's result (the app keeps it for the ``s`` report)."""
        self.steps: list[ProbeStep] = []
        self.verdict_line: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="probe-box"):
            yield Static(f"Probe of {self.settings.url} — running…", id="probe-title")
            # Ladder and verdict scroll together, and only when the screen is too small for both.
            with VerticalScroll(id="probe-scroll"):
                yield Static("", id="probe-ladder")
                yield Static("", id="probe-verdict")
            yield Static(
                "Esc closes (the probe runs on its own connection) · ↑ ↓ scroll", id="probe-foot"
            )

    def on_mount(self) -> None:
        self._fit()
        self.run_probe()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Ladder and verdict get the rows the screen has besides the box's border, title and
        foot; they scroll only beyond that."""
        chrome = 2 + 1 + 1  # the box's border, the title, the foot
        self.query_one("#probe-scroll").styles.max_height = max(3, self.size.height - chrome)
        if self.steps:
            self.call_after_refresh(self._show_ladder)  # the new width is known after layout

    def action_close(self) -> None:
        self.dismiss(None)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ProbeStep):
            self.steps.append(event)
            self._show_ladder()

    def _show_ladder(self) -> None:
        """One rung a row; its detail wraps under itself (not back under the marks)."""
        ladder = self.query_one("#probe-ladder", Static)
        width = ladder.content_region.width or min(BOX_WIDTH, self.app.size.width) - BOX_FRAME
        rows: list[Content] = []
        for step in self.steps:
            mark, style = _MARKS.get(step.status, ("-", "$text-muted"))
            head = Content.assemble(
                (f"{mark} ", f"{style} bold"),
                (f"{step.name:<10}", "bold"),
                (f"{step.ms:>7.0f} ms  ", "$text-muted"),
            )
            detail = Content(step.info).wrap(max(20, width - head.cell_length))
            rows.append(head + detail[0])
            rows.extend(Content(" " * head.cell_length) + piece for piece in detail[1:])
        ladder.update(Content("\n").join(rows))

    @work(exclusive=True, group="probe")
    async def run_probe(self) -> None:
        """Run the probe on a private event bus and show the verdict."""
        bus = EventBus()
        bus.subscribe(self._on_event)
        title = self.query_one("#probe-title", Static)
        verdict_box = self.query_one("#probe-verdict", Static)
        try:
            result = await self.runner(self.settings, bus=bus)
        except ConndebugError as exc:
            title.update(f"Probe of {self.settings.url} — could not run")
            verdict_box.update(Content.styled(f"{exc.title}\n{exc.hint}", "$error"))
            self._done(f"probe could not run: {exc.title}")
            return
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a traceback
            title.update(f"Probe of {self.settings.url} — failed")
            verdict_box.update(Content.styled(f"{type(exc).__name__}: {exc}", "$error"))
            self._done(f"probe failed: {type(exc).__name__}: {exc}")
            return
        if self.on_result is not None:
            self.on_result(result)
        verdict = result.verdict
        tone = {0: "$success", 1: "$warning"}.get(int(verdict.exit_code), "$error")
        title.update(f"Probe of {self.settings.url} — done")
        verdict_box.update(
            Content("\n").join(
                [
                    Content.styled(f"{verdict.title}  [{verdict.code}]", f"{tone} bold"),
                    Content(str(verdict.explanation)),
                    Content.assemble(("fix: ", "bold"), str(verdict.fix)),
                ]
            )
        )
        self._done(f"probe verdict: {verdict.code} — {verdict.title}")

    def _done(self, line: str) -> None:
        self.verdict_line = line
        if self.on_done is not None:
            self.on_done(line)
