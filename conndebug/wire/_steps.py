"""The first two steps, each timed and bounded: name resolution and TCP.

An IP literal is its own answer (no resolver thread: a fleet of targets adds up). TCP tries each
address in the resolver's order within one time limit and says how each one failed.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from conndebug.core.failure import FailureKind
from conndebug.wire._errors import WireError
from conndebug.wire._stream import Stream, _open
from conndebug.wire._util import ms_since, seconds, within

__all__ = ["Address", "Connected", "Resolved", "address_text", "connect_tcp", "resolve"]


@dataclass(frozen=True)
class Address:
    """One address of a host: the socket family and the ``sockaddr`` to connect to."""

    family: int
    sockaddr: tuple[Any, ...]

    @property
    def text(self) -> str:
        """``1.2.3.4:80`` or ``[::1]:80``."""
        return address_text(self.sockaddr)

    @property
    def ip(self) -> str:
        return str(self.sockaddr[0])


@dataclass(frozen=True)
class Resolved:
    """What the resolver answered for a host."""

    host: str
    port: int
    addresses: tuple[Address, ...]
    ms: float
    literal: bool
    """The host was an IP address: no resolver was asked."""


@dataclass(frozen=True)
class Connected:
    """A TCP connection: the stream, the address that answered, and how earlier ones failed."""

    stream: Stream
    address: Address
    failed: tuple[tuple[str, str], ...]
    """``(address, what happened)`` for each address tried before, in order."""
    ms: float


def address_text(sockaddr: tuple[Any, ...]) -> str:
    """``1.2.3.4:80`` or ``[::1]:80``."""
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def literal_address(host: str, port: int) -> Address | None:
    """The address of an IP literal, as the resolver would give it (no resolver thread)."""
    try:
        socket.inet_pton(socket.AF_INET, host)
    except OSError:
        pass
    else:
        return Address(int(socket.AF_INET), (host, port))
    if "%" in host:  # a scoped IPv6 address: the resolver knows the scope id
        return None
    try:
        packed = socket.inet_pton(socket.AF_INET6, host)
    except OSError:
        return None
    return Address(int(socket.AF_INET6), (socket.inet_ntop(socket.AF_INET6, packed), port, 0, 0))


async def resolve(host: str, port: int, timeout: float) -> Resolved:
    """The addresses of ``host`` in the resolver's order, within ``timeout``.

    Raises :class:`WireError` (``DNS``; ``TIMEOUT`` with phase ``dns`` when the resolver is silent).
    """
    start = time.monotonic()
    literal = literal_address(host.strip("[]"), port)
    if literal is not None:
        return Resolved(host, port, (literal,), ms_since(start), True)
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(  # a resolver thread: its own task is no extra cost
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
        )
    except asyncio.TimeoutError:
        raise WireError(
            FailureKind.TIMEOUT,
            "dns",
            f"no answer from the resolver for {host} within {seconds(timeout)} s",
            reason="dns_timeout",
            evidence={"host": host},
        ) from None
    except (socket.gaierror, UnicodeError, OSError) as exc:
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise WireError(
            FailureKind.DNS,
            "dns",
            f"the host name {host} does not resolve ({text})",
            reason="dns",
            evidence={"host": host, "error": text},
        ) from None
    out: list[Address] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        address = Address(int(family), tuple(sockaddr))
        if address not in out:
            out.append(address)
    if not out:
        raise WireError(
            FailureKind.DNS,
            "dns",
            f"the resolver returned no address for {host}",
            reason="dns",
            evidence={"host": host},
        )
    return Resolved(host, port, tuple(out), ms_since(start), False)


async def connect_tcp(
    addresses: Resolved | tuple[Address, ...] | list[Address],
    timeout: float,
    *,
    target: str | None = None,
) -> Connected:
    """Connect to the first address that answers, the whole attempt within ``timeout``.

    ``target`` names the origin the stream leads to (default: the address connected to).
    Raises :class:`WireError`: ``REFUSED`` (every address refused), ``TIMEOUT`` (phase ``tcp``),
    or ``OTHER`` with reason ``unreachable``; ``evidence["failed"]`` lists each address's fate.
    """
    if isinstance(addresses, Resolved):
        addresses = addresses.addresses
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    deadline = start + timeout
    failed: list[tuple[str, str]] = []
    kinds: list[str] = []
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(address.family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await within(loop.sock_connect(sock, address.sockaddr), remaining)
            stream = await _open(sock, peer=address.text, target=target or address.text)
        except asyncio.TimeoutError:
            sock.close()
            failed.append((address.text, f"no answer within {seconds(timeout)} s"))
            kinds.append("timeout")
            continue
        except OSError as exc:
            sock.close()
            failed.append((address.text, os.strerror(exc.errno).lower() if exc.errno else str(exc)))
            if exc.errno == errno.ECONNREFUSED:
                kinds.append("refused")
            elif exc.errno == errno.ETIMEDOUT:
                kinds.append("timeout")
            else:
                kinds.append("unreachable")
            continue
        except BaseException:
            sock.close()
            raise
        return Connected(stream, address, tuple(failed), ms_since(start))
    evidence = {
        "addresses": [a.text for a in addresses],
        "failed": [f"{a}: {why}" for a, why in failed],
    }
    detail = (
        "; ".join(f"{a}: {why}" for a, why in failed) or f"no answer within {seconds(timeout)} s"
    )
    if "refused" in kinds and "timeout" not in kinds:
        raise WireError(
            FailureKind.REFUSED,
            "tcp",
            f"connection refused ({detail})",
            reason="refused",
            evidence=evidence,
        )
    if "timeout" in kinds or not kinds:
        raise WireError(
            FailureKind.TIMEOUT,
            "tcp",
            f"no answer to the connection within {seconds(timeout)} s ({detail})"
            if failed
            else f"no answer to the connection within {seconds(timeout)} s",
            reason="tcp_timeout",
            evidence=evidence,
        )
    raise WireError(
        FailureKind.OTHER,
        "tcp",
        f"cannot connect ({detail})",
        reason="unreachable",
        evidence=evidence,
    )
