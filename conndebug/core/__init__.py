"""The core: everything conndebug knows about connections, with no Textual import.

This package's ``__init__`` stays light (standard library only) because the CLI imports it for
every command, ``--help`` included. Heavy modules are imported by name where they are used:

- :mod:`conndebug.core.events`  the typed history events and the event bus
- :mod:`conndebug.core.errors`  the ``ConndebugError`` family
- :mod:`conndebug.core.redact`  redaction of tokens, cookies and Authorization values
- :mod:`conndebug.core.clock`   injected time
"""

from conndebug.core.clock import Clock, FakeClock, SystemClock
from conndebug.core.errors import (
    ConfigError,
    ConndebugError,
    ConnectFailed,
    ServerError,
    SessionError,
)
from conndebug.core.events import Event, EventBus
from conndebug.core.redact import Redactor

__all__ = [
    "Clock",
    "ConfigError",
    "ConndebugError",
    "ConnectFailed",
    "Event",
    "EventBus",
    "FakeClock",
    "Redactor",
    "ServerError",
    "SessionError",
    "SystemClock",
]
