"""The observable Engine.IO / Socket.IO client (issue 12), on :mod:`conndebug.wire`.

Connect like a web client and see everything::

    from conndebug.client import connect, target_from_settings, ClientError
    from conndebug.wire import HttpClient

    async with HttpClient(settings) as http:
        try:
            conn = await connect(
                http, target_from_settings(settings), auth={"token": token},
                transports=settings.transports, parser=settings.parser,
                ws_timeout=settings.ws_timeout, connect_timeout=settings.connect_timeout,
                on_event=print, on_disconnect=print, tap=records.append,
            )
        except ClientError as exc:
            exc.failure  # phase, kind, status, engine_error, server_message/data, ws_code...
        conn.facts()     # transport, how (direct/upgraded/fallback), ids, open packet, recovery
        await conn.client.call("echo", b"\\x01", timeout=5)   # acks; binary as bytes
        rtt_ms = await conn.client.round_trip(2.0)
        state = conn.namespace.recovery_state()             # pid + offset for the next connect

The modules, from the wire up:

- :mod:`~conndebug.client.bounds`: clipped server strings, JSON that cannot recurse without end;
- :mod:`~conndebug.client.eio`: Engine.IO 4 and 3 packets and payloads, the open packet, error
  bodies (sans-IO);
- :mod:`~conndebug.client.sio`: Socket.IO packets, the default and msgpack parsers, binary
  attachments (sans-IO);
- :mod:`~conndebug.client.tap`: one :class:`PacketRecord` per packet in and out;
- :mod:`~conndebug.client.engine`: one Engine.IO session over polling or the websocket,
  upgrade, heartbeat, a structured end;
- :mod:`~conndebug.client.client`: Socket.IO on it: namespaces, events, acks, kicks, round
  trips, connection state recovery;
- :mod:`~conndebug.client.connecting`: transports in order with fallback and upgrade.

Importing this package is cheap: the names below load their module when first used, so the
sans-IO codecs can be used without the wire.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conndebug.client.client import (
        Disconnect,
        Event,
        Namespace,
        PacketProblem,
        Recovery,
        RecoveryState,
        SocketClient,
    )
    from conndebug.client.connecting import Connected, connect, target_from_settings
    from conndebug.client.engine import EngineSession, Target
    from conndebug.client.failure import (
        ClientError,
        CloseKind,
        CloseReason,
        Failure,
        UpgradeOutcome,
    )
    from conndebug.client.tap import PacketRecord

__all__ = [
    "ClientError",
    "CloseKind",
    "CloseReason",
    "Connected",
    "Disconnect",
    "EngineSession",
    "Event",
    "Failure",
    "Namespace",
    "PacketProblem",
    "PacketRecord",
    "Recovery",
    "RecoveryState",
    "SocketClient",
    "Target",
    "UpgradeOutcome",
    "connect",
    "target_from_settings",
]

_HOMES = {
    "Disconnect": "client",
    "Event": "client",
    "Namespace": "client",
    "PacketProblem": "client",
    "Recovery": "client",
    "RecoveryState": "client",
    "SocketClient": "client",
    "Connected": "connecting",
    "connect": "connecting",
    "target_from_settings": "connecting",
    "EngineSession": "engine",
    "Target": "engine",
    "ClientError": "failure",
    "CloseKind": "failure",
    "CloseReason": "failure",
    "Failure": "failure",
    "UpgradeOutcome": "failure",
    "PacketRecord": "tap",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'conndebug.client' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"conndebug.client.{home}"), name)
    globals()[name] = value
    return value
