"""The emit dialog (``e``): an event name, a JSON payload, and whether to wait for the ack."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static


@dataclass(frozen=True)
class EmitRequest:
    """What the user asked to send."""

    name: str
    payload: Any
    """The parsed JSON payload (``None`` for none)."""
    ack: bool


RESERVED = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
"""Event names socket.io clients refuse to emit (they mean something to the library)."""


def _not_json(constant: str) -> Any:
    raise ValueError(f"payload is not valid JSON: {constant} is not a JSON value")


def parse_request(name: str, payload: str, ack: bool) -> EmitRequest:
    """Validate the dialog's fields; raises ``ValueError`` with a message for the user."""
    name = name.strip()
    if not name:
        raise ValueError("give an event name, e.g. get:stats")
    if name in RESERVED:
        raise ValueError(f"“{name}” is reserved by Socket.IO: a client cannot emit it")
    text = payload.strip()
    value: Any = None
    if text:
        try:
            value = json.loads(text, parse_constant=_not_json)  # NaN, Infinity: not JSON
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"payload is not valid JSON: {exc.msg} at column {exc.colno}"
            ) from None
    return EmitRequest(name, value, ack)


class EmitScreen(ModalScreen[EmitRequest | None]):
    """A small form; invalid JSON is shown inline and the dialog stays open."""

    AUTO_FOCUS = "#emit-name"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="emit.cancel")
    ]

    DEFAULT_CSS = """
    EmitScreen {
        align: center middle;
        #emit-box {
            width: 72;
            max-width: 100%;
            height: auto;
            padding: 0 1;
            border: thick $primary;
            background: $surface;
        }
        #emit-title { text-style: bold; padding: 0 1 1 1; }
        #emit-error { color: $error; padding: 0 1; height: auto; }
        #emit-buttons { height: auto; align-horizontal: right; }
        #emit-buttons Button { margin-left: 1; }
    }
    """

    def __init__(self, name: str = "get:stats", payload: str = "", ack: bool = True) -> None:
        super().__init__()
        self._defaults = (name, payload, ack)

    def compose(self) -> ComposeResult:
        name, payload, ack = self._defaults
        with Vertical(id="emit-box"):
            yield Static("Emit an event to the server", id="emit-title")
            yield Input(name, placeholder="event name, e.g. get:stats", id="emit-name")
            yield Input(
                payload,
                placeholder='JSON payload, e.g. {"room": "lobby"} (empty: no payload)',
                id="emit-payload",
            )
            yield Static("", id="emit-error")
            yield Checkbox("wait for the ack (up to 5 s)", ack, id="emit-ack")
            with Horizontal(id="emit-buttons"):
                yield Button("Send", variant="primary", id="emit-send")
                yield Button("Cancel", id="emit-cancel")

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#emit-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#emit-send")
    @on(Input.Submitted)
    def _send(self) -> None:
        try:
            request = parse_request(
                self.query_one("#emit-name", Input).value,
                self.query_one("#emit-payload", Input).value,
                self.query_one("#emit-ack", Checkbox).value,
            )
        except ValueError as exc:
            self.query_one("#emit-error", Static).update(f"✗ {exc}")
            return
        self.dismiss(request)
