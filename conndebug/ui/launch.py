"""Start the TUI and `conndebug demo` (not built yet)."""

from __future__ import annotations

import argparse

from conndebug.config import Settings
from conndebug.core.errors import ConfigError


def run_tui(settings: Settings) -> int:
    """Open the live panel against ``settings.url``."""
    raise ConfigError("The TUI is not built yet", "use `conndebug serve` for now")


def run_demo(args: argparse.Namespace) -> int:
    """Start the reference server and open the TUI on it."""
    raise ConfigError("`conndebug demo` is not built yet", "use `conndebug serve` for now")
