"""The exporter's configuration: where it listens, which targets it may probe, and its modules.

Pure and fast (no aiohttp, no prometheus_client), so bad flags and a bad config file are reported
before anything starts, and tests check every rule directly.

- :func:`parse_listen` reads ``--listen HOST:PORT`` and tells whether the address is loopback;
- :class:`AllowRule` is one ``--allow PATTERN``: a target must match one rule when any are given;
- :class:`Module` is one ``[modules.NAME]`` table of the TOML config: the probe's options, named
  as its command-line flags, checked with the very parser and validation ``conndebug probe`` uses;
- :func:`load_config` reads the TOML file (``tomllib``, or ``tomli`` before Python 3.11).

A config file::

    allow = ["https://*.example.com"]        # added to the --allow rules

    [modules.default]                        # used when the scrape names no module
    transports = ["websocket", "polling"]

    [modules.chat]
    path = "/socket.io"
    namespace = "/chat"
    origin = "https://app.example.com"
    token_env = "CHAT_TOKEN"                 # the token from the exporter's environment
    headers = { "X-Tenant" = "acme" }
    connect_timeout = 5
    timeout = 8                              # the whole probe, at most (scrape timeout permitting)
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import ipaddress
import json
import math
import os
import sys
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conndebug.config import Settings, add_connection_options, normalize_url, settings_from_args
from conndebug.core.errors import ConfigError
from conndebug.core.redact import Redactor, settings_redactor

__all__ = [
    "DEFAULT_LISTEN",
    "DEFAULT_MODULE",
    "DEFAULT_TIMEOUT_S",
    "MODULE_KEYS",
    "AllowRule",
    "ExporterConfig",
    "Listen",
    "Module",
    "load_config",
    "parse_listen",
]

DEFAULT_LISTEN = "127.0.0.1:9516"
DEFAULT_MODULE = "default"
DEFAULT_TIMEOUT_S = 10.0
"""A probe's budget when neither the scrape (its timeout header) nor the module gives one:
Prometheus' own default scrape timeout."""

_PLACEHOLDER_URL = "http://127.0.0.1:1"
"""Stands in for the target while a module's options are checked at load time."""


# --- --listen ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listen:
    """An address to listen on."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """True when only this machine can connect (127.0.0.0/8, ::1, localhost)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a host name other than localhost: whatever it resolves to

    def display(self, port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port if port is None else port}"


def parse_listen(text: str) -> Listen:
    """``HOST:PORT``, ``[V6]:PORT`` or ``:PORT`` (every interface, as Prometheus' tools read it)."""
    raw = text.strip()
    host, sep, port_text = raw.rpartition(":")
    if not sep:
        raise ConfigError(
            f"--listen {text!r} has no port",
            f"write HOST:PORT, e.g. {DEFAULT_LISTEN} (loopback) or 0.0.0.0:9516 (every interface)",
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ConfigError(f"--listen {text!r}: an IPv6 address goes in brackets", "e.g. [::1]:9516")
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(
            f"--listen {text!r}: {port_text!r} is not a port", "ports are 0 to 65535"
        ) from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"--listen {text!r}: port {port} is out of range", "ports are 0 to 65535")
    if host and any(ch.isspace() or ch in "/?#@" for ch in host):
        raise ConfigError(f"--listen {text!r}: {host!r} is not an address", "e.g. 127.0.0.1")
    return Listen(host or "0.0.0.0", port)


# --- --allow -------------------------------------------------------------------------------------


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


@dataclass(frozen=True)
class AllowRule:
    """One ``--allow PATTERN``. Three forms:

    - ``scheme://host[:port]`` with ``*`` and ``?`` wildcards, matched against the target's
      origin with its port written out (``https://*.example.com`` means port 443, ``:*`` any);
    - ``HOST`` or ``HOST:PORT`` with wildcards, any scheme (``*.example.com``, ``10.1.2.3:*``);
    - a network in CIDR notation, ``10.0.0.0/8`` or ``fd00::/8``: targets whose host is an IP
      address inside it.

    Patterns match what the target URL says, not what its name resolves to: allowing a name
    trusts its DNS.
    """

    pattern: str

    def __post_init__(self) -> None:
        text = self.pattern.strip()
        if not text or any(ch.isspace() for ch in text):
            raise ConfigError(
                f"--allow {self.pattern!r} is empty or has spaces",
                "e.g. --allow 'https://*.example.com' or --allow 10.0.0.0/8",
            )
        if "/" in text and "://" not in text:
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ConfigError(
                    f"--allow {self.pattern!r} is not a network", "write it as 10.0.0.0/8"
                ) from None
        elif "://" in text and text.split("://", 1)[0].lower() not in (
            "http",
            "https",
            "ws",
            "wss",
        ):
            raise ConfigError(
                f"--allow {self.pattern!r}: unknown scheme",
                "use http://, https://, ws:// or wss://",
            )

    def matches(self, scheme: str, host: str, port: int) -> bool:
        """Whether a target with this origin is allowed by the rule."""
        text = self.pattern.strip().lower()
        host = host.lower().strip("[]")
        if "/" in text and "://" not in text:
            try:
                return ipaddress.ip_address(host) in ipaddress.ip_network(text, strict=False)
            except ValueError:
                return False  # a name: networks only match address literals
        shown_host = f"[{host}]" if ":" in host else host
        if "://" in text:
            want_scheme, rest = text.split("://", 1)
            want_scheme = {"ws": "http", "wss": "https"}.get(want_scheme, want_scheme)
            if want_scheme != scheme:
                return False
            if not _has_port(rest):
                rest += f":{_default_port(scheme)}"
            return _glob(f"{shown_host}:{port}", rest.rstrip("/"))
        if _has_port(text):
            return _glob(f"{shown_host}:{port}", text)
        return _glob(host, text.strip("[]"))


def _glob(text: str, pattern: str) -> bool:
    """``fnmatch`` with only ``*`` and ``?`` as wildcards (brackets are IPv6's, not classes)."""
    escaped = "".join(f"[{ch}]" if ch in "[]" else ch for ch in pattern)
    return fnmatch.fnmatchcase(text, escaped)


def _has_port(host_part: str) -> bool:
    """Whether ``host``, ``host:port``, ``[v6]`` or ``[v6]:port`` carries a port."""
    if host_part.startswith("["):
        return "]:" in host_part
    return host_part.count(":") == 1


def target_origin(settings: Settings) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a target, its port written out."""
    parts = urllib.parse.urlsplit(settings.url)
    scheme = parts.scheme
    return scheme, parts.hostname or "", parts.port or _default_port(scheme)


def refusal(rules: Sequence[AllowRule], settings: Settings) -> str | None:
    """Why ``settings``' target is refused by ``rules``, or ``None`` when it may be probed."""
    if not rules:
        return None
    scheme, host, port = target_origin(settings)
    if any(rule.matches(scheme, host, port) for rule in rules):
        return None
    count = f"{len(rules)} --allow rule" + ("s" if len(rules) != 1 else "")
    return f"the target {scheme}://{host}:{port} matches none of the exporter's {count}"


# --- modules -------------------------------------------------------------------------------------

_STRING_KEYS = (
    "path",
    "namespace",
    "token",
    "guest_endpoint",
    "api_url",
    "origin",
    "proxy",
    "ca_bundle",
    "rtt_event",
)
_BOOL_KEYS = ("no_guest", "insecure")
_NUMBER_KEYS = ("connect_timeout", "ws_timeout")
MODULE_KEYS: tuple[str, ...] = (
    *_STRING_KEYS,
    "token_env",
    *_BOOL_KEYS,
    *_NUMBER_KEYS,
    "transports",
    "headers",
    "query",
    "auth",
    "timeout",
)
"""What a ``[modules.NAME]`` table may set: the probe's options (flag names with ``_``), plus
``token_env`` (read the token from this environment variable) and ``timeout`` (the whole probe's
budget, in seconds)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message, "check the module's options")


def _probe_options() -> argparse.ArgumentParser:
    parser = _Parser(add_help=False)
    add_connection_options(parser)
    return parser


@dataclass(frozen=True)
class Module:
    """A named set of probe options (the ``module`` of ``/probe?target=…&module=NAME``)."""

    name: str
    args: argparse.Namespace = field(repr=False, compare=False)
    """The probe's flags as ``conndebug probe`` parses them (the target comes per request)."""
    timeout: float | None = None
    """The most a probe of this module may take, in seconds (a scrape's timeout may cut it)."""
    redactor: Redactor = field(default_factory=Redactor, repr=False, compare=False)
    """Knows the module's secrets (token, secret headers, auth values)."""

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, Any]) -> Module:
        """Build a module from a TOML table; every option is checked now (ConfigError)."""
        where = f"module {name!r}"
        argv: list[str] = []
        timeout: float | None = None
        for key, value in options.items():
            flag = "--" + key.replace("_", "-")
            if key in _STRING_KEYS:
                argv += [flag, _string(where, key, value)]
            elif key == "token_env":
                variable = _string(where, key, value)
                token = os.environ.get(variable)
                if not token:
                    raise ConfigError(
                        f"{where}: token_env names {variable!r}, which is not set",
                        "export it before starting the exporter, or give the token otherwise",
                    )
                argv += ["--token", token]
            elif key in _BOOL_KEYS:
                if not isinstance(value, bool):
                    raise ConfigError(f"{where}: {key} must be true or false", f"{key} = true")
                if value:
                    argv.append(flag)
            elif key in _NUMBER_KEYS or key == "timeout":
                seconds = _seconds(where, key, value)
                if key == "timeout":
                    timeout = seconds
                else:
                    argv += [flag, repr(seconds)]
            elif key == "transports":
                items = [value] if isinstance(value, str) else value
                if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
                    raise ConfigError(
                        f"{where}: transports must be a list of names",
                        'transports = ["websocket", "polling"]',
                    )
                argv += [flag, ",".join(items)]
            elif key in ("headers", "query"):
                argv += _pairs(where, key, value)
            elif key == "auth":
                if not isinstance(value, dict):
                    raise ConfigError(f"{where}: auth must be a table", 'auth = { room = "lobby" }')
                argv += ["--auth-json", json.dumps(value)]
            else:
                raise ConfigError(
                    f"{where}: unknown option {key!r}", "known options: " + ", ".join(MODULE_KEYS)
                )
        args = _probe_options().parse_args(argv)
        settings = settings_from_args(args, _PLACEHOLDER_URL)  # every check of `conndebug probe`
        return cls(name=name, args=args, timeout=timeout, redactor=settings_redactor(settings))

    def settings(self, target: str) -> Settings:
        """This module's settings for ``target`` (ConfigError when the target is not a URL)."""
        return settings_from_args(self.args, target)

    def budgeted(self, settings: Settings, budget_s: float) -> Settings:
        """``settings`` whose network waits all fit in ``budget_s`` seconds."""
        return dataclasses.replace(
            settings,
            connect_timeout=max(0.05, min(settings.connect_timeout, budget_s)),
            ws_timeout=max(0.05, min(settings.ws_timeout, budget_s)),
        )


def _string(where: str, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key} must be a string", f'{key} = "..."')
    return value


def _seconds(where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: {key} must be a number of seconds", f"{key} = 5")
    seconds = float(value)
    if not math.isfinite(seconds) or not 0.05 <= seconds <= 3600:
        raise ConfigError(f"{where}: {key} = {value} is out of range", "use 0.05 to 3600 seconds")
    return seconds


def _pairs(where: str, key: str, value: Any) -> list[str]:
    """``headers``/``query`` as a table (``{Name = "value"}``) or a list of ``"K: V"``/``"k=v"``."""
    flag, joiner = ("--header", ": ") if key == "headers" else ("--query", "=")
    if isinstance(value, dict):
        items = [(k, v) for k, v in value.items()]
        if not all(isinstance(v, str) for _k, v in items):
            raise ConfigError(f"{where}: {key} values must be strings", f'{key} = {{ Name = "v" }}')
        texts = [f"{k}{joiner}{v}" for k, v in items]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        texts = list(value)
    else:
        raise ConfigError(f"{where}: {key} must be a table", f'{key} = {{ Name = "value" }}')
    argv: list[str] = []
    for text in texts:
        argv += [flag, text]
    return argv


# --- the whole configuration ---------------------------------------------------------------------


@dataclass(frozen=True)
class ExporterConfig:
    """Everything the exporter serves by."""

    listen: Listen = field(default_factory=lambda: parse_listen(DEFAULT_LISTEN))
    modules: Mapping[str, Module] = field(default_factory=dict)
    allow: tuple[AllowRule, ...] = ()
    max_concurrent: int = 32
    """Probes running at once."""
    max_queued: int = 128
    """Scrapes waiting for a free slot; one more is answered 503 at once."""
    timeout_margin_s: float = 0.5
    """Taken off Prometheus' scrape timeout, so the answer arrives before Prometheus gives up."""
    default_timeout_s: float = DEFAULT_TIMEOUT_S

    def module(self, name: str | None) -> Module:
        """The module called ``name`` (``None``: the default one); ConfigError when unknown."""
        wanted = name or DEFAULT_MODULE
        found = self.modules.get(wanted)
        if found is not None:
            return found
        if wanted == DEFAULT_MODULE:
            return _builtin_default()
        known = ", ".join(sorted(self.modules)) or "none (no --config given)"
        raise ConfigError(f"unknown module {wanted!r}", f"modules: {known}")

    @property
    def redactor(self) -> Redactor:
        """Masks the secrets of every module, and secret-shaped text."""
        redactor = Redactor()
        for module in self.modules.values():
            for secret in module.redactor.known:
                redactor.add(secret)
        return redactor


_BUILTIN: Module | None = None


def _builtin_default() -> Module:
    """The ``default`` module when the config has none: ``conndebug probe``'s defaults."""
    global _BUILTIN
    if _BUILTIN is None:
        _BUILTIN = Module.from_options(DEFAULT_MODULE, {})
    return _BUILTIN


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
            return data
    except FileNotFoundError:
        raise ConfigError(f"--config {str(path)!r} does not exist", "give the TOML file") from None
    except OSError as exc:
        raise ConfigError(
            f"--config {str(path)!r} cannot be read", exc.strerror or str(exc)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {str(path)!r} is not valid TOML", str(exc)) from None


def load_config(path: str | Path) -> tuple[dict[str, Module], tuple[AllowRule, ...]]:
    """The modules and the extra ``allow`` rules of a TOML config file (ConfigError)."""
    data = _read_toml(Path(path).expanduser())
    unknown = sorted(set(data) - {"modules", "allow"})
    if unknown:
        raise ConfigError(
            f"--config: unknown top-level key(s) {', '.join(unknown)}",
            "the file has [modules.NAME] tables and an optional allow = [...] list",
        )
    tables = data.get("modules", {})
    if not isinstance(tables, dict) or not all(isinstance(t, dict) for t in tables.values()):
        raise ConfigError("--config: modules must be tables", "write [modules.NAME] sections")
    modules = {name: Module.from_options(name, table) for name, table in tables.items()}
    raw_allow = data.get("allow", [])
    if not isinstance(raw_allow, list) or not all(isinstance(p, str) for p in raw_allow):
        raise ConfigError("--config: allow must be a list of patterns", 'allow = ["10.0.0.0/8"]')
    return modules, tuple(AllowRule(p) for p in raw_allow)


def check_target(raw: str) -> str:
    """The target as given, if it is a URL the probe accepts (ConfigError otherwise)."""
    normalize_url(raw)
    return raw
