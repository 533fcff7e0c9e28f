"""The python-socketio client with its own logging on, as a customer would run it.

    python pyclient.py URL [--token T] [--transports websocket,polling] [--timeout S]

``logger=True, engineio_logger=True``: python-socketio and python-engineio log to stderr; that
output is the log ``conndebug explain`` reads. The client connects with the seed's options as far
as python-socketio has them (websocket first; it never falls back), emits one event with an ack,
then disconnects. Bounded: the whole run ends within ``--timeout`` + a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

import socketio


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--token")
    parser.add_argument("--transports", default="websocket,polling")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--reconnection-attempts", type=int, default=1)
    args = parser.parse_args()
    sio = socketio.AsyncClient(
        logger=True,
        engineio_logger=True,
        reconnection=True,
        reconnection_attempts=args.reconnection_attempts,
        reconnection_delay=1,
        reconnection_delay_max=5,
        request_timeout=args.timeout,
    )
    try:
        await asyncio.wait_for(
            sio.connect(
                args.url,
                transports=args.transports.split(","),
                auth={"token": args.token} if args.token else None,
                wait_timeout=args.timeout,
            ),
            args.timeout + 2,
        )
    except (socketio.exceptions.ConnectionError, asyncio.TimeoutError, TimeoutError) as exc:
        print(f"connect failed: {exc!r}")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(sio.eio.disconnect(abort=True), 2)
        return
    with contextlib.suppress(socketio.exceptions.TimeoutError):
        await sio.call("conndebug:ping", {}, timeout=3)
    await asyncio.sleep(0.5)
    await asyncio.wait_for(sio.disconnect(), 5)


if __name__ == "__main__":
    asyncio.run(main())
