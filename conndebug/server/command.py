"""`conndebug serve` (not built yet)."""

from __future__ import annotations

import argparse

from conndebug.core.errors import ConfigError


def run_serve(args: argparse.Namespace) -> int:
    """Run the reference server until Ctrl-C."""
    raise ConfigError("`conndebug serve` is not built yet", "it is the next step of the project")
