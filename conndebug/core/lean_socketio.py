"""python-socketio for a client, without the message-broker libraries its package imports eagerly.

``import socketio`` imports its Redis and Valkey client managers, which import the ``redis``
(or ``valkey``) package whenever it is installed — with the ``cluster`` extra, and in the
development environment: about 0.15 s of every ``probe``/``watch``/TUI start, for server-side
broadcast managers a client never uses. :func:`import_socketio` hides those packages while
python-socketio loads (they are not in ``sys.modules`` afterwards either); a server that needs its
Redis manager later calls :func:`restore_brokers`, which loads them for real and gives the managers
back. Importing this module imports nothing heavy.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

__all__ = ["import_socketio", "restore_brokers"]

_BROKERS = ("redis", "valkey", "aioredis")
_MANAGERS = ("socketio.redis_manager", "socketio.async_redis_manager")
_hidden = False
"""Whether python-socketio was loaded with the broker libraries hidden."""


def import_socketio() -> Any:
    """The ``socketio`` package; the first import skips the broker libraries."""
    global _hidden
    if "socketio" in sys.modules:
        return sys.modules["socketio"]
    hide = [name for name in _BROKERS if name not in sys.modules]
    for name in hide:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail fast
    try:
        module = importlib.import_module("socketio")
        _hidden = bool(hide)
    finally:
        for name in hide:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
    return module


def restore_brokers() -> None:
    """Reload python-socketio's Redis/Valkey managers with their libraries (where installed)."""
    global _hidden
    if not _hidden:
        return
    _hidden = False
    package = import_socketio()
    for name in _MANAGERS:
        module = sys.modules.get(name)
        if module is None:
            continue
        # Same module object: classes already handed out see the libraries too.
        module = importlib.reload(module)
        for attr in ("RedisManager", "AsyncRedisManager"):
            if hasattr(module, attr):
                setattr(package, attr, getattr(module, attr))
