"""The live monitor: the seed's web client done truthfully, for the terminal.

``make_monitor(settings)`` builds a :class:`Monitor` (the
:class:`~conndebug.core.model.MonitorAPI` the TUI and ``watch`` use). Its parts, along the data
seams:

- :mod:`~conndebug.core.monitor.cycle`: the owner: state, the reconnect loop, the operations,
  the diagnosis fed from the bus;
- :mod:`~conndebug.core.monitor.attempt`: one connection attempt over the transports, on
  :func:`conndebug.client.connect` (fallback, upgrade, recovery asked for);
- :mod:`~conndebug.core.monitor.link`: the live connection as the monitor sees it (facts, its
  end, signs of life, events, round trips, emits);
- :mod:`~conndebug.core.monitor.sessions`: the guest session, its regeneration, the expiry
  simulation;
- :mod:`~conndebug.core.monitor.live`: round trips and stalls.
"""

from __future__ import annotations

from conndebug.core.monitor.attempt import AttemptRequest, Connector, WireConnector
from conndebug.core.monitor.cycle import Monitor, host_port, make_monitor, port_open
from conndebug.core.monitor.link import Ending, Link, LinkFacts, LinkLike
from conndebug.core.monitor.sessions import GuestFailure, SessionKeeper
from conndebug.core.session import (
    REGENERATION_WINDOW_S,
    REGENERATIONS_PER_WINDOW,
    is_expiry_message,
)

__all__ = [
    "REGENERATIONS_PER_WINDOW",
    "REGENERATION_WINDOW_S",
    "AttemptRequest",
    "Connector",
    "Ending",
    "GuestFailure",
    "Link",
    "LinkFacts",
    "LinkLike",
    "Monitor",
    "SessionKeeper",
    "WireConnector",
    "host_port",
    "is_expiry_message",
    "make_monitor",
    "port_open",
]
