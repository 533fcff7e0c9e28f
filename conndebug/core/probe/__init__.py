"""`conndebug probe` (not built yet)."""

from __future__ import annotations

import argparse

from conndebug.core.errors import ConfigError


def run_probe_command(args: argparse.Namespace) -> int:
    """Probe the given URLs."""
    raise ConfigError("`conndebug probe` is not built yet", "it follows the connection core")
