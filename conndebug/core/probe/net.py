"""The lower rungs: name resolution, TCP, the proxy tunnel and TLS, on raw sockets.

Every operation here is bounded in time and every read in size, so a hostile peer can neither
hang nor flood the probe. Failures come back as :class:`NetFailure` with a ``kind`` the ladder maps
to a verdict.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as _dt
import errno
import functools
import os
import socket
import ssl
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from conndebug.config import Settings, effective_proxy

__all__ = [
    "HEAD_LIMIT",
    "Endpoint",
    "NetFailure",
    "ProxyAnswer",
    "TlsInfo",
    "connect_tcp",
    "describe_cert",
    "make_ssl_context",
    "open_stream",
    "proxy_endpoint",
    "read_head",
    "resolve",
    "sniff_plain_http",
    "target_endpoint",
    "tls_handshake",
    "url_endpoint",
    "within",
]

HEAD_LIMIT = 16 * 1024
"""The largest HTTP response head read from a raw socket."""

T = TypeVar("T")

if sys.version_info >= (3, 11):

    async def within(awaitable: Awaitable[T], timeout: float) -> T:
        """``await awaitable``, bounded by ``timeout`` (``asyncio.TimeoutError``) in the caller's
        own task: ``asyncio.wait_for`` makes a task per call before Python 3.12, and a probe
        waits on dozens of reads (a fleet of targets, thousands)."""
        async with asyncio.timeout(timeout):
            return await awaitable

else:  # pragma: no cover - Python 3.10

    async def within(awaitable: Awaitable[T], timeout: float) -> T:
        """``await awaitable``, bounded by ``timeout`` (``asyncio.TimeoutError``)."""
        return await asyncio.wait_for(awaitable, timeout)


class NetFailure(Exception):
    """A rung failed: ``kind`` names how (``dns``, ``refused``, ``timeout``, ``unreachable``,
    ``closed``, ``tls``, ``proxy``, ``protocol``) and ``evidence`` holds the facts."""

    def __init__(self, kind: str, error: str, **evidence: Any) -> None:
        super().__init__(error)
        self.kind = kind
        self.error = error
        self.evidence: dict[str, Any] = {"error": error, **evidence}


@dataclass(frozen=True)
class Endpoint:
    """Where a connection goes: the target itself, or the proxy in front of it."""

    host: str
    port: int
    tls: bool = False

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def target_endpoint(settings: Settings) -> Endpoint:
    """The target's host, port and scheme."""
    return url_endpoint(settings.url)


def url_endpoint(url: str) -> Endpoint:
    """The host, port and scheme of an ``http(s)://`` or ``ws(s)://`` URL."""
    parts = urllib.parse.urlsplit(url)
    tls = parts.scheme in ("https", "wss")
    return Endpoint(parts.hostname or "", parts.port or (443 if tls else 80), tls)


def proxy_endpoint(proxy: str) -> Endpoint:
    """A proxy URL's host and port (``http://host:port``; TLS to the proxy is not supported)."""
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
    tls = parts.scheme == "https"
    return Endpoint(parts.hostname or "", parts.port or (443 if tls else 8080), tls)


def proxy_authorization(proxy: str) -> str | None:
    """The ``Proxy-Authorization`` value for credentials in a proxy URL, if any."""
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
    if parts.username is None:
        return None
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _ms(start: float) -> float:
    return (time.monotonic() - start) * 1000


def _literal(host: str, port: int) -> list[tuple[int, tuple[Any, ...]]] | None:
    """The address of an IP literal, as the resolver would give it (no resolver thread)."""
    try:
        socket.inet_pton(socket.AF_INET, host)
    except OSError:
        pass
    else:
        return [(int(socket.AF_INET), (host, port))]
    if "%" in host:  # a scoped IPv6 address: the resolver knows the scope id
        return None
    try:
        packed = socket.inet_pton(socket.AF_INET6, host)
    except OSError:
        return None
    return [(int(socket.AF_INET6), (socket.inet_ntop(socket.AF_INET6, packed), port, 0, 0))]


async def resolve(host: str, port: int, timeout: float) -> list[tuple[int, tuple[Any, ...]]]:
    """The addresses of ``host`` (family, sockaddr), in the resolver's order.

    An IP literal is its own answer: asking the resolver for it costs a thread hand-off, which
    adds up over a fleet of targets.
    """
    literal = _literal(host, port)
    if literal is not None:
        return literal
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
        )
    except asyncio.TimeoutError:
        raise NetFailure("dns", f"no answer from the resolver within {timeout:g} s") from None
    except (socket.gaierror, UnicodeError) as exc:
        text = exc.strerror if isinstance(exc, socket.gaierror) and exc.strerror else str(exc)
        raise NetFailure("dns", text) from None
    out: list[tuple[int, tuple[Any, ...]]] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if (family, sockaddr) not in out:
            out.append((int(family), tuple(sockaddr)))
    if not out:
        raise NetFailure("dns", "the resolver returned no address")
    return out


def address_text(sockaddr: tuple[Any, ...]) -> str:
    """``1.2.3.4:80`` or ``[::1]:80``."""
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


async def connect_tcp(
    addresses: list[tuple[int, tuple[Any, ...]]], timeout: float
) -> tuple[socket.socket, tuple[Any, ...], list[str]]:
    """Connect to the first address that answers (the whole attempt bounded by ``timeout``).

    Returns the connected non-blocking socket, its address and the errors of earlier addresses.
    """
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + timeout
    errors: list[str] = []
    kinds: list[str] = []
    for family, sockaddr in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await within(loop.sock_connect(sock, sockaddr), remaining)
        except asyncio.TimeoutError:
            sock.close()
            errors.append(f"{address_text(sockaddr)}: no answer within {timeout:g} s")
            kinds.append("timeout")
            continue
        except OSError as exc:
            sock.close()
            errors.append(
                f"{address_text(sockaddr)}: "
                + (os.strerror(exc.errno).lower() if exc.errno else str(exc))
            )
            if exc.errno == errno.ECONNREFUSED:
                kinds.append("refused")
            elif exc.errno in (errno.ETIMEDOUT,):
                kinds.append("timeout")
            else:
                kinds.append("unreachable")
            continue
        except BaseException:
            sock.close()
            raise
        return sock, sockaddr, errors
    kind = "timeout" if "timeout" in kinds or not kinds else kinds[0]
    if "refused" in kinds and "timeout" not in kinds:
        kind = "refused"
    raise NetFailure(
        kind,
        "; ".join(errors) or f"no answer within {timeout:g} s",
        addresses=[address_text(a) for _, a in addresses],
    )


async def read_head(
    reader: asyncio.StreamReader, timeout: float, limit: int = HEAD_LIMIT
) -> tuple[bytes, bytes]:
    """Read an HTTP response head (up to the blank line), bounded in time and size.

    Returns ``(head, rest)`` where ``rest`` is whatever arrived after the head.
    """
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NetFailure(
                "timeout", f"no complete answer within {timeout:g} s", received=len(buf)
            )
        try:
            chunk = await within(reader.read(4096), remaining)
        except asyncio.TimeoutError:
            raise NetFailure(
                "timeout", f"no complete answer within {timeout:g} s", received=len(buf)
            ) from None
        except (ConnectionError, OSError) as exc:
            raise NetFailure("closed", f"connection reset ({exc.strerror or exc})") from None
        if not chunk:
            raise NetFailure(
                "closed",
                "the connection was closed"
                + (" after a partial answer" if buf else " without an answer"),
                received=len(buf),
                sample=_printable(buf[:80]),
            )
        buf += chunk
        if len(buf) > limit and b"\r\n\r\n" not in buf[:limit]:
            raise NetFailure("protocol", f"the answer head is larger than {limit} bytes")
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def _printable(data: bytes) -> str:
    return "".join(chr(b) if 32 <= b < 127 else "." for b in data)


@dataclass(frozen=True)
class ProxyAnswer:
    """What a proxy answered to ``CONNECT``."""

    status: int
    reason: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def status_line(self) -> str:
        return f"HTTP {self.status} {self.reason}".rstrip()


def parse_head(head: bytes) -> tuple[str, int, str, dict[str, str]]:
    """``(version, status, reason, headers)`` of a response head (lower-case header names)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise NetFailure("protocol", f"not an HTTP answer: {_printable(head[:60])!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.setdefault(name.strip().lower(), value.strip())
    return parts[0], int(parts[1]), (parts[2] if len(parts) > 2 else ""), headers


async def proxy_connect(
    sock: socket.socket, target: Endpoint, proxy: str, timeout: float, headers: Mapping[str, str]
) -> ProxyAnswer:
    """Ask an HTTP proxy to open a tunnel to ``target`` on ``sock`` (``CONNECT host:port``)."""
    loop = asyncio.get_running_loop()
    lines = [f"CONNECT {target.hostport} HTTP/1.1", f"Host: {target.hostport}"]
    auth = proxy_authorization(proxy)
    if auth:
        lines.append(f"Proxy-Authorization: {auth}")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    deadline = time.monotonic() + timeout
    try:
        await within(loop.sock_sendall(sock, request), timeout)
        buf = b""
        while b"\r\n\r\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise asyncio.TimeoutError
            chunk = await within(loop.sock_recv(sock, 4096), remaining)
            if not chunk:
                raise NetFailure(
                    "proxy", "the proxy closed the connection without answering CONNECT"
                )
            buf += chunk
            if len(buf) > HEAD_LIMIT:
                raise NetFailure("proxy", "the proxy's answer head is too large")
    except asyncio.TimeoutError:
        raise NetFailure(
            "proxy", f"the proxy did not answer CONNECT within {timeout:g} s"
        ) from None
    except (ConnectionError, OSError) as exc:
        raise NetFailure("proxy", f"the proxy reset the connection ({exc})") from None
    head = buf.partition(b"\r\n\r\n")[0]
    _version, status, reason, hdrs = parse_head(head)
    return ProxyAnswer(status, reason, hdrs)


def make_ssl_context(settings: Settings, *, verify: bool = True) -> ssl.SSLContext:
    """The TLS context of the settings: system trust, ``--ca-bundle``, or ``--insecure``.

    Made once per kind and shared (nothing changes a context after this): each one parses the CA
    bundle, ~40 ms, which made a probe of 100 targets spend seconds loading certificates.
    """
    verifying = not (settings.insecure or not verify)
    bundle = settings.ca_bundle if verifying else None
    try:
        stamp = os.stat(bundle).st_mtime_ns if bundle else 0
    except OSError:
        stamp = -1  # let ssl say what is wrong with it
    return _ssl_context(verifying, bundle, stamp)


@functools.lru_cache(maxsize=16)
def _ssl_context(verify: bool, ca_bundle: str | None, _stamp: int) -> ssl.SSLContext:
    if not verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_bundle:
        ctx = ssl.create_default_context(cafile=ca_bundle)
    else:
        ctx = ssl.create_default_context()
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


@dataclass(frozen=True)
class TlsInfo:
    """What the TLS handshake showed."""

    protocol: str | None
    cipher: str | None
    cert: Mapping[str, Any]
    verified: bool

    def evidence(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "cipher": self.cipher,
            "verified": self.verified,
            **self.cert,
        }


_RDN_SHORT = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU"}


def _name(rdns: Any) -> str:
    parts = [
        f"{_RDN_SHORT[key]}={value}"
        for rdn in rdns or ()
        for key, value in rdn
        if key in _RDN_SHORT
    ]
    return ", ".join(parts) or "(empty)"


def _iso(text: str | None) -> str | None:
    if not text:
        return None
    try:
        moment = _dt.datetime.fromtimestamp(ssl.cert_time_to_seconds(text), tz=_dt.timezone.utc)
    except ValueError:
        return text
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_cert(decoded: Mapping[str, Any]) -> dict[str, Any]:
    """Subject, issuer, validity and names of a certificate as ``ssl`` decodes it."""
    names = [
        value for kind, value in decoded.get("subjectAltName", ()) if kind in ("DNS", "IP Address")
    ]
    return {
        "subject": _name(decoded.get("subject")),
        "issuer": _name(decoded.get("issuer")),
        "not_before": _iso(decoded.get("notBefore")),
        "not_after": _iso(decoded.get("notAfter")),
        "names": ", ".join(names) or "(none)",
    }


def decode_der(der: bytes | None) -> dict[str, Any]:
    """Decode an unverified certificate (``ssl`` only decodes verified ones itself)."""
    if not der:
        return {}
    decoder = getattr(ssl._ssl, "_test_decode_cert", None)  # type: ignore[attr-defined]
    if decoder is None:
        return {}
    import tempfile  # only to show an untrusted certificate

    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(ssl.DER_cert_to_PEM_cert(der))
        decoded = decoder(path)
    except (OSError, ValueError, ssl.SSLError):
        return {}
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return describe_cert(decoded) if isinstance(decoded, dict) else {}


_UNTRUSTED = {2, 18, 19, 20, 21, 27, 28}
_EXPIRED = {9, 10}
_HOSTNAME = {62, 63, 64}


def classify_tls_error(exc: ssl.SSLError) -> str:
    """``untrusted``, ``expired``, ``hostname`` or ``default`` for a handshake error."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        if code in _EXPIRED:
            return "expired"
        if code in _HOSTNAME:
            return "hostname"
        if code in _UNTRUSTED:
            return "untrusted"
    return "default"


def tls_error_text(exc: BaseException) -> str:
    """A TLS error in a few words (OpenSSL's reason or the verification message)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        text = exc.verify_message or str(exc)
    elif isinstance(exc, ssl.SSLError):
        text = exc.reason or exc.strerror or str(exc)
    else:
        text = str(exc) or type(exc).__name__
    return text.rstrip(".")


async def tls_handshake(
    sock: socket.socket,
    server_hostname: str,
    ctx: ssl.SSLContext,
    timeout: float,
    *,
    describe: bool = True,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, TlsInfo]:
    """Run TLS over the connected ``sock``; raises ssl.SSLError / NetFailure.

    ``describe=False`` skips decoding the certificate (a connection that only carries requests).
    """
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                sock=sock,
                ssl=ctx,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
                limit=HEAD_LIMIT * 8,
            ),
            timeout + 1,
        )
    except asyncio.TimeoutError:
        sock.close()
        raise NetFailure("timeout", f"no TLS answer within {timeout:g} s") from None
    except ssl.SSLError:
        sock.close()
        raise
    except (ConnectionError, OSError) as exc:
        sock.close()
        if isinstance(exc, ssl.SSLError):
            raise
        raise NetFailure(
            "closed", f"the connection was closed during the TLS handshake ({exc.strerror or exc})"
        ) from None
    except BaseException:  # cancelled (a caller's time limit): the socket goes too
        sock.close()
        raise
    obj = writer.get_extra_info("ssl_object")
    cert: dict[str, Any] = {}
    verified = ctx.verify_mode != ssl.CERT_NONE
    if not describe:
        return reader, writer, TlsInfo(None, None, cert, verified)
    if isinstance(obj, ssl.SSLObject):
        decoded = obj.getpeercert()
        cert = describe_cert(decoded) if decoded else decode_der(obj.getpeercert(binary_form=True))
        cipher = obj.cipher()
        info = TlsInfo(obj.version(), cipher[0] if cipher else None, cert, verified)
    else:
        info = TlsInfo(None, None, cert, verified)
    return reader, writer, info


async def sniff_plain_http(host: str, port: int, timeout: float) -> str | None:
    """Send a plain HTTP request; return the status line if the port answers plain HTTP."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (asyncio.TimeoutError, OSError):
        return None
    try:
        writer.write(f"HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        line = await asyncio.wait_for(reader.readline(), timeout)
    except (asyncio.TimeoutError, OSError, ValueError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 1)
    text = line[:120].decode("latin-1", "replace").strip()
    return text if text.startswith("HTTP/") else None


async def open_stream(
    settings: Settings,
    timeout: float,
    *,
    verify: bool = True,
    url: str | None = None,
    forward: bool = False,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A byte stream to ``url`` (default: the target), bounded by ``timeout`` for each stage.

    With a proxy in effect for ``url``: through the proxy's ``CONNECT`` tunnel, then TLS for
    https; or, with ``forward=True`` and a plain-http ``url``, to the proxy itself (TLS to it for
    an ``https://`` proxy), for requests in absolute form. Raises NetFailure / ssl.SSLError.
    """
    target = url_endpoint(url or settings.url)
    proxy = effective_proxy(settings, url)
    forward = forward and proxy is not None and not target.tls
    hop = proxy_endpoint(proxy) if proxy else target
    addresses = await resolve(hop.host, hop.port, timeout)
    sock, _addr, _errors = await connect_tcp(addresses, timeout)
    try:
        if proxy and not forward:
            answer = await proxy_connect(sock, target, proxy, timeout, {})
            if not 200 <= answer.status < 300:
                raise NetFailure(
                    "proxy",
                    f"the proxy answered {answer.status_line} to CONNECT",
                    status=answer.status,
                )
    except BaseException:
        sock.close()
        raise
    tls_to = target if not forward else hop
    if tls_to.tls:
        reader, writer, _info = await tls_handshake(
            sock,
            tls_to.host,
            make_ssl_context(settings, verify=verify),
            timeout,
            describe=False,  # a stream, not a TLS report: the caller reads the certificate if needed
        )
        return reader, writer
    try:
        return await within(asyncio.open_connection(sock=sock, limit=HEAD_LIMIT * 8), timeout)
    except BaseException:
        sock.close()
        raise
