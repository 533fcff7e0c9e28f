"""The cookies a server set, kept and sent back as a browser would (sticky load balancers pin a
session to a backend with one), and shown (every one is reported: name, domain, where it came from).

A small jar, not ``http.cookiejar``: host-only and ``Domain`` cookies, ``Path``, ``Secure``,
``Max-Age``/``Expires`` (a past one deletes), at most :data:`PER_HOST` cookies per host and
:data:`VALUE_LIMIT` bytes per value (a hostile server cannot grow it without bound).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Cookie", "CookieJar"]

PER_HOST = 50
VALUE_LIMIT = 4096


@dataclass(frozen=True)
class Cookie:
    """One cookie as kept."""

    name: str
    value: str
    domain: str
    """The host that set it, or the ``Domain`` attribute (without its leading dot)."""
    host_only: bool
    path: str
    secure: bool
    expires: float | None
    """Wall-clock expiry, or None for a session cookie."""

    def matches(self, host: str, path: str, secure: bool) -> bool:
        if self.secure and not secure:
            return False
        if self.host_only:
            if host != self.domain:
                return False
        elif host != self.domain and not host.endswith("." + self.domain):
            return False
        if self.path != "/" and not (
            path == self.path or path.startswith(self.path.rstrip("/") + "/")
        ):
            return False
        return not (self.expires is not None and self.expires <= time.time())


def _attributes(parts: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in parts:
        name, _, value = part.partition("=")
        out[name.strip().lower()] = value.strip()
    return out


class CookieJar:
    """Cookies by (domain, path, name)."""

    def __init__(self) -> None:
        self._cookies: dict[tuple[str, str, str], Cookie] = {}

    def __len__(self) -> int:
        return len(self._cookies)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._cookies.values()))

    def cookies(self) -> list[Cookie]:
        """Every cookie kept (expired ones dropped first)."""
        now = time.time()
        for key, cookie in list(self._cookies.items()):
            if cookie.expires is not None and cookie.expires <= now:
                del self._cookies[key]
        return list(self._cookies.values())

    def clear(self) -> None:
        self._cookies.clear()

    def set(self, name: str, value: str, domain: str, *, path: str = "/") -> None:
        """Keep a cookie for ``domain`` (and its subdomains) set by hand."""
        self._cookies[(domain, path, name)] = Cookie(name, value, domain, False, path, False, None)

    def extract(self, host: str, path: str, set_cookie: Iterable[str]) -> list[Cookie]:
        """Keep the cookies of the ``Set-Cookie`` values of an answer from ``host`` for a request
        to ``path``; returns the ones kept (deletions not included)."""
        kept: list[Cookie] = []
        for line in set_cookie:
            pair, *rest = line.split(";")
            name, sep, value = pair.partition("=")
            name, value = name.strip(), value.strip()
            if not sep or not name or len(value) > VALUE_LIMIT:
                continue
            attrs = _attributes(rest)
            domain = attrs.get("domain", "").lstrip(".").lower()
            host_only = not domain
            if host_only:
                domain = host
            elif host != domain and not host.endswith("." + domain):
                continue  # a cookie for another site: refused, as browsers do
            cookie_path = attrs.get("path", "")
            if not cookie_path.startswith("/"):
                directory = path.split("?", 1)[0].rsplit("/", 1)[0]
                cookie_path = directory or "/"
            expires: float | None = None
            if "max-age" in attrs:
                try:
                    expires = time.time() + int(attrs["max-age"])
                except ValueError:
                    expires = None
            elif "expires" in attrs:
                import email.utils  # only for an Expires attribute (~4 ms to import)

                try:
                    expires = email.utils.parsedate_to_datetime(attrs["expires"]).timestamp()
                except (TypeError, ValueError, IndexError, OverflowError):
                    expires = None
            key = (domain, cookie_path, name)
            if expires is not None and expires <= time.time():
                self._cookies.pop(key, None)
                continue
            cookie = Cookie(name, value, domain, host_only, cookie_path, "secure" in attrs, expires)
            if key not in self._cookies and (
                sum(1 for c in self._cookies.values() if c.domain == domain) >= PER_HOST
            ):
                continue
            self._cookies[key] = cookie
            kept.append(cookie)
        return kept

    def header(self, host: str, path: str, secure: bool) -> str | None:
        """The ``Cookie`` header for a request, or None when no cookie applies."""
        if not self._cookies:
            return None
        found = [c for c in self._cookies.values() if c.matches(host, path, secure)]
        if not found:
            return None
        found.sort(key=lambda c: -len(c.path))  # longer paths first (RFC 6265 §5.4)
        return "; ".join(f"{c.name}={c.value}" for c in found)
