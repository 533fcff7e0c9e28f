"""Bounded HTTP requests with httpx: every answer is read in size and time limits.

:func:`fetch` streams the body and stops at ``limit`` bytes; the whole request (connect, head,
body) is bounded by ``timeout``, each read by the same bound, so a server that drips bytes or
sends gigabytes costs at most ``timeout`` seconds and ``limit`` bytes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conndebug.config import Settings, effective_proxy
from conndebug.core.probe.net import make_ssl_context
from conndebug.core.text import one_line

if TYPE_CHECKING:
    import httpx

__all__ = ["BODY_LIMIT", "HttpAnswer", "HttpFailure", "fetch", "make_client"]

BODY_LIMIT = 64 * 1024
"""The most bytes of a body the probe reads."""


class HttpFailure(Exception):
    """No HTTP answer: ``kind`` is ``refused``, ``connect_timeout``, ``timeout`` (no answer in
    time after connecting), ``closed``, ``protocol``, ``proxy`` or ``tls``."""

    def __init__(self, kind: str, error: str, ms: float) -> None:
        # h11 quotes the line it could not parse as ``bytearray(b'...')``: a hostile server's
        # bytes, dropped; the rest is kept to one short line.
        error = one_line(error.partition(": bytearray(")[0])
        super().__init__(error)
        self.kind = kind
        self.error = error
        self.ms = ms


@dataclass(frozen=True)
class HttpAnswer:
    """An HTTP answer, its body cut at the limit."""

    status: int
    reason: str
    headers: Mapping[str, str]
    """Lower-case names; repeated headers joined with ``, ``."""
    body: bytes
    truncated: bool
    ms: float
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def status_line(self) -> str:
        return f"HTTP {self.status} {self.reason}".rstrip()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None

    def sample(self, n: int = 80) -> str:
        """The start of the body, one line, printable."""
        text = "".join(ch if ch.isprintable() else "." for ch in self.text[:n])
        return text + ("…" if len(self.body) > n else "")


def make_client(settings: Settings, timeout: float) -> httpx.AsyncClient:
    """An httpx client with the settings' TLS verification, proxy (flag or environment,
    ``NO_PROXY`` honoured) and extra headers; no redirects, no compression."""
    import httpx  # lazily: a probe that stops at DNS or TCP never pays for it

    headers = {"Accept-Encoding": "identity", "User-Agent": "conndebug-probe"}
    headers.update(dict(settings.headers))
    proxy = effective_proxy(settings)
    # Plain http and no https proxy: no TLS on the way, so no certificates to load (httpx's default
    # verifying context parses the CA bundle for every client).
    plain = not settings.is_tls and not (proxy or "").startswith("https://")
    verify: Any = False if plain else make_ssl_context(settings)
    return httpx.AsyncClient(
        verify=verify,
        proxy=proxy,
        trust_env=False,
        follow_redirects=False,
        headers=headers,
        timeout=httpx.Timeout(timeout),
        limits=httpx.Limits(max_connections=8, max_keepalive_connections=4),
    )


async def fetch(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    limit: int = BODY_LIMIT,
) -> HttpAnswer:
    """One request, its body read up to ``limit`` bytes, the whole bounded by ``timeout``."""
    import httpx

    start = time.monotonic()

    async def run() -> HttpAnswer:
        request = client.build_request(method, url, headers=headers, content=content)
        response = await client.send(request, stream=True)
        try:
            body = bytearray()
            truncated = False
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= limit:
                    truncated = True
                    del body[limit:]
                    break
            merged: dict[str, str] = {}
            for name, value in response.headers.multi_items():
                key = name.lower()
                merged[key] = f"{merged[key]}, {value}" if key in merged else value
            return HttpAnswer(
                status=response.status_code,
                reason=response.reason_phrase,
                headers=merged,
                body=bytes(body),
                truncated=truncated,
                ms=(time.monotonic() - start) * 1000,
            )
        finally:
            await response.aclose()

    try:
        return await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        raise HttpFailure(
            "timeout", f"no complete answer within {timeout:g} s", _ms(start)
        ) from None
    except httpx.ProxyError as exc:
        raise HttpFailure("proxy", str(exc) or "the proxy failed", _ms(start)) from None
    except httpx.ConnectTimeout:
        raise HttpFailure(
            "connect_timeout", f"no answer to the connection within {timeout:g} s", _ms(start)
        ) from None
    except httpx.TimeoutException:
        raise HttpFailure(
            "timeout", f"no complete answer within {timeout:g} s", _ms(start)
        ) from None
    except httpx.ConnectError as exc:
        text = str(exc) or type(exc).__name__
        kind = "tls" if "SSL" in text or "CERTIFICATE" in text.upper() else "refused"
        raise HttpFailure(kind, text, _ms(start)) from None
    except httpx.RemoteProtocolError as exc:
        text = str(exc) or "the server broke the HTTP protocol"
        kind = (
            "closed" if "disconnected" in text.lower() or "closed" in text.lower() else "protocol"
        )
        if kind == "protocol":  # h11 could not parse what came back
            text = f"the answer is not HTTP ({text.partition(': bytearray(')[0]})"
        raise HttpFailure(kind, text, _ms(start)) from None
    except (httpx.ReadError, httpx.WriteError) as exc:
        raise HttpFailure("closed", str(exc) or "the connection was reset", _ms(start)) from None
    except httpx.HTTPError as exc:
        raise HttpFailure("protocol", str(exc) or type(exc).__name__, _ms(start)) from None


def _ms(start: float) -> float:
    return (time.monotonic() - start) * 1000
