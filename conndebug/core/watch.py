"""`conndebug watch` (not built yet)."""

from __future__ import annotations

from conndebug.config import Settings
from conndebug.core.errors import ConfigError


def run_watch(settings: Settings, *, jsonl: bool, duration: float | None) -> int:
    """Watch the connection headlessly."""
    raise ConfigError("`conndebug watch` is not built yet", "it follows the reference server")
