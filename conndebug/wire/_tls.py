"""TLS on a stream: contexts (made once per CA bundle), the handshake with its certificate facts,
and failures sorted into plain reasons.

Reasons (:class:`~conndebug.wire.TlsError`.reason): ``untrusted`` (no path to a trusted CA: a
self-signed certificate, a private CA not given with ``--ca-bundle``), ``expired`` (or not yet
valid), ``hostname`` (a certificate for another name), ``plain_http`` (TLS spoken to a port that
answers plain HTTP: found by asking the port in plain HTTP once the handshake failed),
``handshake`` (anything else; OpenSSL's own words in the message).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import functools
import os
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conndebug.core.failure import FailureKind
from conndebug.wire._errors import TlsError, WireError
from conndebug.wire._stream import Stream
from conndebug.wire._util import ms_since, seconds, within

__all__ = [
    "TlsInfo",
    "classify_tls_error",
    "decode_der",
    "describe_cert",
    "sniff_plain_http",
    "start_tls",
    "tls_context",
    "tls_error_text",
]


def tls_context(*, verify: bool = True, ca_bundle: str | None = None) -> ssl.SSLContext:
    """A client context: the system's trust store, ``ca_bundle``'s, or no verification.

    Made once per kind and bundle version and shared (nothing changes a context after this):
    each one parses its CA bundle, ~40 ms, which made a probe of 100 targets spend seconds
    loading certificates. ALPN offers ``http/1.1`` only.
    """
    bundle = ca_bundle if verify else None
    try:
        stamp = os.stat(bundle).st_mtime_ns if bundle else 0
    except OSError:
        stamp = -1  # let ssl say what is wrong with it
    return _context(verify, bundle, stamp)


@functools.lru_cache(maxsize=16)
def _context(verify: bool, ca_bundle: str | None, _stamp: int) -> ssl.SSLContext:
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
    """What a TLS handshake showed."""

    protocol: str | None
    """``TLSv1.3``..."""
    cipher: str | None
    alpn: str | None
    certificate: Mapping[str, Any]
    """subject, issuer, not_before, not_after (ISO 8601 UTC), names (the SANs, comma-separated)."""
    verified: bool
    """False when verification was off (``--insecure``)."""
    ms: float

    def evidence(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "cipher": self.cipher,
            "verified": self.verified,
            **self.certificate,
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
    """Describe a certificate ``ssl`` did not verify (it only decodes verified ones itself)."""
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


def classify_tls_error(exc: BaseException) -> str:
    """``untrusted``, ``expired``, ``hostname`` or ``handshake`` for a handshake error."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        if code in _EXPIRED:
            return "expired"
        if code in _HOSTNAME:
            return "hostname"
        if code in _UNTRUSTED:
            return "untrusted"
    return "handshake"


def tls_error_text(exc: BaseException) -> str:
    """A TLS error in a few words (OpenSSL's reason or the verification message)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        text = exc.verify_message or str(exc)
    elif isinstance(exc, ssl.SSLError):
        text = exc.reason or exc.strerror or str(exc)
    else:
        text = str(exc) or type(exc).__name__
    return text.rstrip(".")


def _peer_cert(stream: Stream) -> dict[str, Any]:
    obj = stream.get_extra_info("ssl_object")
    if obj is None:
        return {}
    decoded = obj.getpeercert()
    if decoded:
        return describe_cert(decoded)
    return decode_der(obj.getpeercert(binary_form=True))


async def start_tls(
    stream: Stream,
    server_hostname: str,
    context: ssl.SSLContext,
    timeout: float,
    *,
    describe: bool = True,
    sniff: bool = True,
) -> TlsInfo:
    """Run the TLS handshake on ``stream`` (which carries TLS from then on) within ``timeout``.

    Returns the handshake's facts (``describe=False`` skips decoding the certificate, for a
    connection that only carries requests); ``stream.tls`` holds them too. Raises
    :class:`~conndebug.wire.TlsError` with a reason, and the certificate's facts when it was
    refused for what it says (fetched again without verification, on a direct connection); or a
    :class:`WireError` ``TIMEOUT`` (phase ``tls``) / ``CLOSED``. With ``sniff`` an unexplained
    failure on a direct connection is checked for a plain-HTTP port (``plain_http``). On failure
    the stream is closed.
    """
    start = time.monotonic()
    try:
        await within(stream._start_tls(context, server_hostname, timeout + 1.0), timeout)
    except asyncio.TimeoutError:
        stream.abort()
        raise WireError(
            FailureKind.TIMEOUT,
            "tls",
            f"no TLS answer within {seconds(timeout)} s",
            reason="tls_timeout",
        ) from None
    except ssl.SSLError as exc:
        stream.abort()
        raise await _failed(stream, server_hostname, exc, timeout, sniff) from None
    except (ConnectionError, OSError) as exc:
        stream.abort()
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise WireError(
            FailureKind.CLOSED,
            "tls",
            f"the connection was closed during the TLS handshake ({text or type(exc).__name__})",
            reason="closed",
        ) from None
    except BaseException:
        stream.abort()
        raise
    obj = stream.get_extra_info("ssl_object")
    verified = context.verify_mode != ssl.CERT_NONE
    cipher = obj.cipher() if obj is not None else None
    info = TlsInfo(
        protocol=obj.version() if obj is not None else None,
        cipher=cipher[0] if cipher else None,
        alpn=obj.selected_alpn_protocol() if obj is not None else None,
        certificate=_peer_cert(stream) if describe else {},
        verified=verified,
        ms=ms_since(start),
    )
    stream.tls = info
    return info


async def _failed(
    stream: Stream, server_hostname: str, exc: ssl.SSLError, timeout: float, sniff: bool
) -> TlsError:
    reason = classify_tls_error(exc)
    error = tls_error_text(exc)
    direct = stream.via == "direct"
    host, port = _split(stream.peer)
    plain: str | None = None
    cert: dict[str, Any] = {}
    if reason == "handshake" and sniff and direct:
        plain = await sniff_plain_http(host, port, min(timeout, 3.0))
        if plain:
            reason = "plain_http"
    if reason in ("untrusted", "expired", "hostname") and direct:
        cert = await peek_certificate(host, port, server_hostname, min(timeout, 3.0))
    message = {
        "plain_http": f"TLS spoken to a plain HTTP port: {error}; the port answers {plain!r}",
        "untrusted": f"certificate not trusted: {error}",
        "expired": f"certificate expired: {error}",
        "hostname": f"certificate for another name: {error}",
    }.get(reason, f"TLS handshake failed: {error}")
    return TlsError(
        message,
        reason=reason,
        certificate=cert,
        plain_answer=plain,
        verify_code=getattr(exc, "verify_code", None),
        evidence={"error": error},
    )


def _split(peer: str) -> tuple[str, int]:
    host, _, port = peer.rpartition(":")
    return host.strip("[]"), int(port or 0)


async def peek_certificate(
    host: str, port: int, server_hostname: str, timeout: float
) -> dict[str, Any]:
    """Handshake again without verification, only to describe the certificate ({} if none)."""
    from conndebug.wire._steps import connect_tcp, literal_address, resolve

    try:
        address = literal_address(host, port)
        addresses = (address,) if address else (await resolve(host, port, timeout)).addresses
        stream = (await connect_tcp(addresses, timeout)).stream
    except WireError:
        return {}
    try:
        info = await start_tls(stream, server_hostname, tls_context(verify=False), timeout)
    except WireError:
        return {}
    finally:
        stream.abort()
    return dict(info.certificate)


async def sniff_plain_http(host: str, port: int, timeout: float) -> str | None:
    """Send a plain HTTP request; the status line if the port answers plain HTTP, else None."""
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
