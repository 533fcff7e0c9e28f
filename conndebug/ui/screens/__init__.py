"""Modal screens: help, emit an event, probe."""

from conndebug.ui.screens.emit_screen import EmitRequest, EmitScreen
from conndebug.ui.screens.help_screen import HelpRow, HelpScreen

__all__ = ["EmitRequest", "EmitScreen", "HelpRow", "HelpScreen"]
