"""Typed settings: the connection options of every command, validated once.

:func:`add_connection_options` registers the flags of design.md on an ``argparse`` parser;
:func:`settings_from_args` turns the parsed flags (plus the environment) into a frozen
:class:`Settings` or raises a :class:`~conndebug.core.errors.ConfigError` with a title and a hint.
Nothing here imports python-socketio, httpx or Textual: parsing stays fast.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from conndebug.core.errors import ConfigError

__all__ = [
    "TRANSPORTS",
    "Settings",
    "add_connection_options",
    "effective_proxy",
    "no_proxy_matches",
    "normalize_url",
    "settings_from_args",
]

TRANSPORTS = ("websocket", "polling")
_MAX_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class Settings:
    """How to reach the target and how to behave while connected."""

    url: str
    """The server's origin as ``http(s)://host[:port]`` (``ws(s)://`` is accepted and mapped)."""
    path: str = "/socket.io"
    """The Engine.IO path."""
    namespace: str = "/"
    """The Socket.IO namespace to connect."""
    transports: tuple[str, ...] = TRANSPORTS
    """Transports in the order they are tried (the seed's client: websocket, then polling)."""
    token: str | None = None
    """Use this token instead of creating a guest session."""
    guest_endpoint: str = "/api/guest"
    """Where to create a guest session when no token is given (relative to ``api_url``)."""
    no_guest: bool = False
    """Do not create a guest session: connect without a token unless one is given."""
    api_url: str | None = None
    """The REST base when it differs from the socket URL's origin."""
    auth: Mapping[str, Any] = field(default_factory=dict)
    """Extra fields of the Socket.IO ``auth`` object (``--auth-json``)."""
    headers: tuple[tuple[str, str], ...] = ()
    """Extra HTTP headers for every request and the websocket handshake."""
    query: tuple[tuple[str, str], ...] = ()
    """Extra query parameters for the Engine.IO requests."""
    origin: str | None = None
    """The ``Origin`` to send (and to check CORS against)."""
    proxy: str | None = None
    """The proxy given with ``--proxy``; see :func:`effective_proxy` for the environment's."""
    ca_bundle: str | None = None
    """A PEM file of CA certificates to trust instead of the system's."""
    insecure: bool = False
    """Do not verify TLS certificates (loudly shown everywhere)."""
    connect_timeout: float = 20.0
    """How long one whole connection attempt may take (the seed's 20 s)."""
    ws_timeout: float = 3.0
    """How long a websocket attempt may hang before falling back to the next transport."""
    reconnect_attempts: int = 10
    """Automatic reconnection attempts after an unexpected drop (0: never give up)."""
    reconnect_delay: float = 1.0
    """First reconnection delay; doubles per attempt."""
    reconnect_delay_max: float = 5.0
    """Upper bound of the reconnection delay."""
    randomization: float = 0.5
    """Jitter factor of the delay, as socket.io-client's ``randomizationFactor`` (0 to 1)."""
    rtt_event: str | None = None
    """An event the server acknowledges, used for round trips; otherwise a namespace probe."""
    rtt_interval: float = 1.0
    """Seconds between round-trip samples while connected; 0 sends none (passive: the connection
    carries only the server's heartbeat and the app's traffic, as an idle browser's does)."""
    stall_after: float = 3.0
    """No sign of life for this long (at least) means ``stalled``."""
    log: str | None = None
    """Append every history event to this file as a JSON line."""
    har: str | None = None
    """Write the session's HTTP requests and websocket messages to this HAR 1.2 file when the
    session ends (``watch``, the TUI)."""
    history_size: int = 10_000
    """Events kept in memory (the log file keeps everything)."""
    show_secrets: bool = False
    """Print tokens, cookies and Authorization values in full."""
    env_proxy: bool = True
    """Honour ``HTTP(S)_PROXY``/``NO_PROXY`` from the environment."""
    eio: int = 4
    """The Engine.IO protocol spoken: 4 (socket.io 3 and 4 clients) or 3 (socket.io 2 clients).
    With 3, auth fields travel in the handshake's query, as socket.io-client 2's ``query``."""
    parser: Literal["json", "msgpack"] = "json"
    """The Socket.IO parser: ``json`` (the default parser) or ``msgpack``
    (socket.io-msgpack-parser). Client and server must use the same one."""
    namespace_from_url: bool = False
    """The namespace came from the URL's path (``http://host/admin``), as socket.io-client reads
    it; a path that is really the Engine.IO path (``/socket.io``) is then named as such."""
    new_session: bool = False
    """Create a new guest session instead of reusing the one kept for this guest endpoint."""

    @property
    def is_tls(self) -> bool:
        """True for ``https``/``wss`` targets."""
        return self.url.startswith("https://")

    @property
    def rest_base(self) -> str:
        """Where the REST API lives: ``api_url`` or the socket URL's origin."""
        return (self.api_url or self.url).rstrip("/")

    @property
    def guest_url(self) -> str:
        """The full URL of the guest-session endpoint."""
        if self.guest_endpoint.startswith(("http://", "https://")):
            return self.guest_endpoint
        return self.rest_base + self.guest_endpoint

    @property
    def tls_verify(self) -> str:
        """How certificates are checked, in words for the UI and reports."""
        if not self.is_tls:
            return "not used (plain HTTP)"
        if self.insecure:
            return "DISABLED (--insecure)"
        if self.ca_bundle:
            return f"verified against {self.ca_bundle}"
        return "verified (system trust store)"


def normalize_url(raw: str) -> tuple[str, str | None]:
    """Check a target URL; return its ``http(s)://host[:port]`` origin and its path, if any.

    ``ws``/``wss`` map to ``http``/``https``; a URL without a scheme gets ``http://``. The path is
    returned separately: like socket.io-client's ``io("https://host/admin")``, it names a namespace.
    """
    text = raw.strip()
    if not text:
        raise ConfigError(
            "The URL is empty", "give the server's address, e.g. http://localhost:3001"
        )
    if any(ch.isspace() for ch in text) or any(ord(ch) < 32 for ch in text):
        raise ConfigError(f"The URL {raw!r} contains spaces or control characters", "remove them")
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError as exc:
        raise ConfigError(f"The URL {raw!r} cannot be parsed", str(exc)) from None
    scheme = parts.scheme.lower()
    mapped = {"http": "http", "https": "https", "ws": "http", "wss": "https"}.get(scheme)
    if mapped is None:
        raise ConfigError(
            f"Unsupported URL scheme {parts.scheme!r}",
            "use http://, https://, ws:// or wss:// (Socket.IO starts over HTTP)",
        )
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise ConfigError(
            f"The URL {raw!r} has a bad host or port", f"{exc}; ports are 1 to 65535"
        ) from None
    if not host:
        raise ConfigError(f"The URL {raw!r} has no host name", "e.g. http://localhost:3001")
    if parts.username or parts.password:
        raise ConfigError(
            "Credentials in the URL are not supported",
            "pass a token with --token or a header with --header 'Authorization: ...'",
        )
    if port == 0:
        raise ConfigError(f"The URL {raw!r} has port 0", "ports are 1 to 65535")
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            raise ConfigError(
                f"{host!r} is not an IPv6 address", "e.g. http://[::1]:3001"
            ) from None
    elif not _valid_hostname(host):
        raise ConfigError(
            f"{host!r} is not a valid host name",
            "host names are letters, digits, dots and dashes; IPv6 goes in brackets: http://[::1]:3001",
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            "Put query parameters in --query, not in the URL",
            "e.g. --query token=... (the URL is the server's address, optionally with a namespace)",
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    path = parts.path.rstrip("/")
    return f"{mapped}://{netloc}", (path or None)


def _valid_hostname(host: str) -> bool:
    if len(host) > 253:
        return False
    try:
        ipaddress.IPv4Address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    return all(
        0 < len(label) <= 63
        and all(ch.isalnum() or ch in "-_" for ch in label)
        and not label.startswith("-")
        and not label.endswith("-")
        for label in labels
    )


_PROXY_NAMES = (
    *(f"{scheme}_proxy" for scheme in ("http", "https", "all", "no")),
    *(f"{scheme}_PROXY" for scheme in ("HTTP", "HTTPS", "ALL", "NO")),
    "REQUEST_METHOD",
)
_proxy_cache: tuple[tuple[str | None, ...], dict[str, str]] | None = None


def _environment_proxies() -> dict[str, str]:
    """``urllib.request.getproxies_environment()``, recomputed only when a proxy variable changed.

    The live panel asks for the proxy on every refresh; scanning the whole environment each time
    cost more than the rest of an idle refresh.
    """
    global _proxy_cache
    key = tuple(os.environ.get(name) for name in _PROXY_NAMES)
    if _proxy_cache is None or _proxy_cache[0] != key:
        _proxy_cache = (key, _scan_proxies() if any(value for value in key[:-1]) else {})
    return _proxy_cache[1]


def _scan_proxies() -> dict[str, str]:
    """What ``urllib.request.getproxies_environment()`` returns, without importing urllib.request
    (http.client, email...: ~25 ms of a probe's start whenever ``NO_PROXY`` alone is set)."""
    proxies: dict[str, str] = {}
    for name, value in os.environ.items():  # any case first...
        if value and name[-6:].lower() == "_proxy":
            proxies[name[:-6].lower()] = value
    if "REQUEST_METHOD" in os.environ:  # a CGI script: HTTP_PROXY may come from a client header
        proxies.pop("http", None)
    for name, value in os.environ.items():  # ...then lower case wins
        if name[-6:] == "_proxy":
            if value:
                proxies[name[:-6].lower()] = value
            else:
                proxies.pop(name[:-6].lower(), None)
    return proxies


def effective_proxy(settings: Settings, url: str | None = None) -> str | None:
    """The proxy that applies to ``url`` (default: the target): the flag, or the environment.

    The environment's ``HTTPS_PROXY``/``HTTP_PROXY`` (upper or lower case) apply unless ``NO_PROXY``
    names the host (:func:`no_proxy_matches`), as curl, requests and Go read it.
    """
    if settings.proxy:
        return settings.proxy
    if not settings.env_proxy:
        return None
    target = url or settings.url
    proxies = _environment_proxies()
    if not any(name != "no" for name in proxies):
        return None  # NO_PROXY alone (or nothing): no proxy to bypass
    scheme = "https" if target.startswith(("https://", "wss://")) else "http"
    parts = urllib.parse.urlsplit(target)
    try:
        port = parts.port
    except ValueError:
        port = None
    if no_proxy_matches(
        proxies.get("no", ""), parts.hostname or "", port or (443 if scheme == "https" else 80)
    ):
        return None
    return proxies.get(scheme) or proxies.get("all") or None


def no_proxy_matches(no_proxy: str, host: str, port: int) -> bool:
    """Whether ``NO_PROXY`` exempts ``host:port`` from the proxy.

    Entries are separated by commas (or spaces); each is ``*`` (everything), a host name (that
    host and every name under it; a leading ``.`` or ``*.`` is ignored, as curl and requests do),
    an IP address, a CIDR block (``127.0.0.0/8``, ``fd00::/8``), or any of these with ``:port``
    (``localhost:3001``, ``[::1]:3001``), which then matches that port only. Names compare without
    regard to case. Hand-written: urllib's ``proxy_bypass`` ignores ports and CIDR blocks.
    """
    host = host.lower().strip("[]").rstrip(".")
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(
            host.split("%")[0]
        )
    except ValueError:
        address = None
    for raw in no_proxy.replace(",", " ").split():
        entry = raw.strip().lower()
        if entry == "*":
            return True
        name, entry_port = _split_entry(entry)
        if entry_port is not None and entry_port != port:
            continue
        if "/" in name:
            try:
                network = ipaddress.ip_network(name, strict=False)
            except ValueError:
                continue
            if address is not None and address.version == network.version and address in network:
                return True
            continue
        if address is not None:
            try:
                if ipaddress.ip_address(name) == address:
                    return True
            except ValueError:
                pass
            continue
        name = name.removeprefix("*").lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _split_entry(entry: str) -> tuple[str, int | None]:
    """A NO_PROXY entry's name and port (``[::1]:80``, ``host:80``; a bare IPv6 has no port)."""
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":")
        return name, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        name, _, port = entry.partition(":")
        if port.isdigit():
            return name, int(port)
    return entry, None


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """Register the connection options shared by every command (names are a contract)."""
    g = parser.add_argument_group("connection options")
    g.add_argument("--path", default="/socket.io", help="Engine.IO path (default: %(default)s)")
    g.add_argument("--namespace", default=None, help="Socket.IO namespace (default: /)")
    g.add_argument(
        "--transports",
        default="websocket,polling",
        help="transports in the order to try, comma-separated (default: %(default)s, as the web client)",
    )
    g.add_argument("--token", help="use this token (skips the guest session)")
    g.add_argument(
        "--guest-endpoint",
        default=None,
        help="guest-session endpoint used when no token is given (default: /api/guest)",
    )
    g.add_argument("--no-guest", action="store_true", help="do not create a guest session")
    g.add_argument(
        "--new-session",
        action="store_true",
        help="create a new guest session instead of reusing the one kept for this guest "
        "endpoint (conndebug keeps one per endpoint, as the browser keeps its token)",
    )
    g.add_argument("--api-url", help="REST base when it differs from the socket URL")
    g.add_argument(
        "--auth-json", help="extra Socket.IO auth fields as a JSON object, e.g. '{\"room\": 1}'"
    )
    g.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'K: V'",
        help="extra HTTP header (repeatable)",
    )
    g.add_argument(
        "--query",
        action="append",
        default=[],
        metavar="k=v",
        help="extra query parameter (repeatable)",
    )
    g.add_argument("--origin", help="send this Origin header (and check CORS against it)")
    g.add_argument(
        "--proxy",
        help="HTTP proxy for both transports (default: HTTP(S)_PROXY from the environment)",
    )
    g.add_argument(
        "--ca-bundle",
        help="PEM file of CA certificates to trust (default: system, or SSL_CERT_FILE)",
    )
    g.add_argument(
        "--insecure", action="store_true", help="do NOT verify TLS certificates (shown loudly)"
    )
    g.add_argument(
        "--connect-timeout",
        type=_number,
        default=20.0,
        metavar="S",
        help="seconds per connection attempt (default: 20, the web client's)",
    )
    g.add_argument(
        "--ws-timeout",
        type=_number,
        default=3.0,
        metavar="S",
        help="seconds a websocket attempt may hang before falling back (default: 3)",
    )
    g.add_argument(
        "--reconnect-attempts",
        type=_integer,
        default=10,
        metavar="N",
        help="automatic reconnection attempts, 0 = forever (default: 10)",
    )
    g.add_argument(
        "--reconnect-delay",
        type=_number,
        default=1.0,
        metavar="S",
        help="first reconnection delay (default: 1)",
    )
    g.add_argument(
        "--reconnect-delay-max",
        type=_number,
        default=5.0,
        metavar="S",
        help="largest reconnection delay (default: 5)",
    )
    g.add_argument(
        "--randomization",
        type=_number,
        default=0.5,
        metavar="F",
        help="reconnection jitter factor 0..1 (default: 0.5)",
    )
    g.add_argument(
        "--rtt-event",
        metavar="NAME",
        help="an ack event for round trips (default: a namespace probe any v4 server answers)",
    )
    g.add_argument(
        "--rtt-interval",
        type=_number,
        default=1.0,
        metavar="S",
        help="seconds between round trips (default: 1); 0 sends none, so the connection stays as "
        "quiet as an idle browser's (a proxy's idle timeout then cuts it as it would your users'; "
        "a silent drop is noticed after pingInterval + 5 s instead of ~3 s)",
    )
    g.add_argument(
        "--eio",
        type=int,
        choices=(4, 3),
        default=4,
        metavar="4|3",
        help="Engine.IO protocol to speak: 4 = socket.io 3/4 clients (default), 3 = socket.io 2 "
        "clients (to connect to a socket.io 2 server, or to check that a v3/v4 server with "
        "allowEIO3 still lets old clients in)",
    )
    g.add_argument(
        "--parser",
        choices=("json", "msgpack"),
        default="json",
        help="Socket.IO parser: json (the default parser) or msgpack (socket.io-msgpack-parser); "
        "it must be the server's: a mismatch shows as the server closing the session at the "
        "first packet (default: %(default)s)",
    )
    g.add_argument("--log", metavar="FILE", help="append every history event to FILE as JSON lines")
    g.add_argument(
        "--show-secrets",
        action="store_true",
        help="print tokens, cookies and Authorization values in full",
    )


def _number(text: str) -> float:
    """argparse type for seconds: a finite number (range checked in settings_from_args)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _seconds(
    name: str, value: float, *, low: float = 0.001, high: float = _MAX_SECONDS, hint: str = ""
) -> float:
    if not (low <= value <= high):
        raise ConfigError(
            f"{name} {value:g} is out of range",
            f"use {hint}a number of seconds from {low:g} to {high:g}",
        )
    return value


def _rtt_interval(value: float) -> float:
    if value == 0:
        return 0.0
    return _seconds("--rtt-interval", value, low=0.05, high=3600, hint="0 (no round trips) or ")


def _eio(value: int) -> int:
    if value not in (3, 4):
        raise ConfigError(
            f"--eio {value} is not supported", "use 4 (socket.io 3/4) or 3 (socket.io 2)"
        )
    return value


def _parser(value: str) -> Literal["json", "msgpack"]:
    if value == "json":
        return "json"
    if value == "msgpack":
        return "msgpack"
    raise ConfigError(f"--parser {value!r} is not supported", "use json or msgpack")


def _parse_headers(raw: list[str]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for item in raw:
        name, sep, value = item.partition(":")
        name = name.strip()
        if not sep or not name:
            raise ConfigError("Bad --header: no 'Name:' part", "write it as --header 'Name: value'")
        if not all(33 <= ord(ch) <= 126 and ch not in '()<>@,;:\\"/[]?={} ' for ch in name):
            raise ConfigError(
                f"Bad header name {name!r}", "header names are letters, digits and dashes"
            )
        if any(ch in value for ch in "\r\n\0"):
            raise ConfigError(f"Header {name!r} contains a line break", "remove it")
        out.append((name, value.strip()))
    return tuple(out)


def _parse_query(raw: list[str]) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    reserved = {"eio", "transport", "sid", "t"}
    for item in raw:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"Bad --query {key.strip()!r}: no '=' part", "write it as --query key=value"
            )
        if key.strip().lower() in reserved:
            raise ConfigError(
                f"--query {key!r} is reserved by Engine.IO", "use --path and --transports instead"
            )
        out.append((key.strip(), value))
    return tuple(out)


def _parse_transports(raw: str) -> tuple[str, ...]:
    names = tuple(t.strip().lower() for t in raw.split(",") if t.strip())
    if not names:
        raise ConfigError(
            "--transports is empty", "use websocket,polling / polling,websocket / one of them"
        )
    for name in names:
        if name not in TRANSPORTS:
            raise ConfigError(f"Unknown transport {name!r}", "transports are websocket and polling")
    if len(set(names)) != len(names):
        raise ConfigError(f"--transports {raw!r} repeats a transport", "name each at most once")
    return names


def _check_readable_file(flag: str, path: str) -> str:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"{flag} {path!r} does not exist", "give the path of a PEM file")
    if not os.access(p, os.R_OK):
        raise ConfigError(f"{flag} {path!r} is not readable", "check its permissions")
    return str(p)


def _check_log(path: str) -> str:
    p = Path(path).expanduser()
    if p.is_dir():
        raise ConfigError(f"--log {path!r} is a directory", "give a file name")
    if p.exists() and not p.is_file():
        # A FIFO or a device: opening it here could wait for a reader (and closing it would end
        # that reader's input); the log opens it once, with a bounded wait.
        if not os.access(p, os.W_OK):
            raise ConfigError(f"--log {path!r} cannot be written", "check its permissions")
        return str(p)
    try:
        with p.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise ConfigError(f"--log {path!r} cannot be written", exc.strerror or str(exc)) from None
    return str(p)


def check_har(path: str) -> str:
    """A ``--har`` path: a file (not a folder) in a folder that exists and can be written (the
    file is written at the end, by a rename: a bad path must fail before anything runs)."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise ConfigError(f"--har {path!r} is a directory", "give a file name, e.g. session.har")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"--har {path!r}: the folder {str(folder)!r} does not exist", "create it")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"--har {path!r} cannot be written", "check the folder's permissions")
    if p.exists() and not p.is_file():
        raise ConfigError(f"--har {path!r} is not a regular file", "give a file name")
    return str(p)


def add_har_option(p: argparse.ArgumentParser) -> None:
    """``--har FILE`` (watch, the TUI, the demo)."""
    p.add_argument(
        "--har",
        metavar="FILE",
        help="write the session's polling requests and websocket messages to FILE as HAR 1.2 "
        "when it ends (opens in Chrome DevTools and HAR viewers; `conndebug explain FILE` reads "
        "it back); secrets redacted unless --show-secrets",
    )


def _check_proxy(proxy: str) -> str:
    parts = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"Bad --proxy {proxy!r}", "use http://host:port (HTTP proxies only)")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"Bad --proxy port in {proxy!r}", "ports are 1 to 65535") from None
    return urllib.parse.urlunsplit(parts)


def _check_path(flag: str, value: str) -> str:
    if not value.startswith("/") or any(ch.isspace() or ch in "?#" for ch in value):
        raise ConfigError(
            f"Bad {flag} {value!r}", f"{flag} starts with / and has no spaces, ? or #"
        )
    return value


def settings_from_args(args: argparse.Namespace, url: str) -> Settings:
    """Build validated :class:`Settings` from parsed flags and the target URL."""
    origin_url, url_path = normalize_url(url)
    namespace = args.namespace
    if url_path and namespace and url_path != namespace:
        raise ConfigError(
            f"The URL names namespace {url_path!r} but --namespace is {namespace!r}",
            "give the namespace once (the URL's path is the namespace, as in socket.io-client)",
        )
    namespace = _check_path("--namespace", namespace or url_path or "/")
    path = _check_path("--path", args.path or "/socket.io")

    if args.no_guest and args.guest_endpoint:
        raise ConfigError(
            "--no-guest and --guest-endpoint contradict each other", "drop one of them"
        )
    if args.insecure and args.ca_bundle:
        raise ConfigError(
            "--insecure and --ca-bundle contradict each other",
            "either verify against the bundle or do not verify at all",
        )
    guest_endpoint = args.guest_endpoint or "/api/guest"
    if not guest_endpoint.startswith(("/", "http://", "https://")):
        raise ConfigError(
            f"Bad --guest-endpoint {guest_endpoint!r}",
            "use a path such as /api/guest or a full URL",
        )

    api_url = None
    if args.api_url:
        api_origin, api_path = normalize_url(args.api_url)
        api_url = api_origin + (api_path or "")

    auth: dict[str, Any] = {}
    if args.auth_json:
        try:
            auth = json.loads(args.auth_json)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                "--auth-json is not valid JSON", f"{exc.msg} at position {exc.pos}"
            ) from None
        if not isinstance(auth, dict):
            raise ConfigError("--auth-json must be a JSON object", 'e.g. \'{"room": "lobby"}\'')

    origin = args.origin
    if origin is not None:
        o = urllib.parse.urlsplit(origin)
        if o.scheme not in ("http", "https") or not o.hostname or o.path not in ("", "/"):
            raise ConfigError(
                f"Bad --origin {origin!r}",
                "an origin is scheme://host[:port], e.g. http://localhost:3000",
            )
        origin = origin.rstrip("/")

    attempts = args.reconnect_attempts
    if not (0 <= attempts <= 1_000_000):
        raise ConfigError(
            f"--reconnect-attempts {attempts} is out of range",
            "use 0 (forever) or a positive number",
        )
    delay = _seconds("--reconnect-delay", args.reconnect_delay, low=0.0)
    delay_max = _seconds("--reconnect-delay-max", args.reconnect_delay_max, low=0.0)
    if delay_max < delay:
        raise ConfigError(
            "--reconnect-delay-max is smaller than --reconnect-delay",
            "the largest delay must be at least the first",
        )
    if not (0.0 <= args.randomization <= 1.0):
        raise ConfigError(
            f"--randomization {args.randomization:g} is out of range", "use a factor from 0 to 1"
        )
    ca_bundle = _check_readable_file("--ca-bundle", args.ca_bundle) if args.ca_bundle else None
    if ca_bundle is None and not args.insecure and os.environ.get("SSL_CERT_FILE"):
        ca_bundle = _check_readable_file("SSL_CERT_FILE", os.environ["SSL_CERT_FILE"])

    return Settings(
        url=origin_url,
        path=path,
        namespace=namespace,
        transports=_parse_transports(args.transports),
        token=args.token or None,
        guest_endpoint=guest_endpoint,
        no_guest=bool(args.no_guest),
        api_url=api_url,
        auth=auth,
        headers=_parse_headers(args.header),
        query=_parse_query(args.query),
        origin=origin,
        proxy=_check_proxy(args.proxy) if args.proxy else None,
        ca_bundle=ca_bundle,
        insecure=bool(args.insecure),
        connect_timeout=_seconds("--connect-timeout", args.connect_timeout, low=0.05),
        ws_timeout=_seconds("--ws-timeout", args.ws_timeout, low=0.05),
        reconnect_attempts=attempts,
        reconnect_delay=delay,
        reconnect_delay_max=delay_max,
        randomization=args.randomization,
        rtt_event=args.rtt_event or None,
        rtt_interval=_rtt_interval(args.rtt_interval),
        log=_check_log(args.log) if args.log else None,
        har=check_har(args.har) if getattr(args, "har", None) else None,
        show_secrets=bool(args.show_secrets),
        eio=_eio(getattr(args, "eio", 4)),
        parser=_parser(getattr(args, "parser", "json")),
        namespace_from_url=bool(url_path) and namespace == url_path,
        new_session=bool(getattr(args, "new_session", False)),
    )
