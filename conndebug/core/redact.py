"""Redaction of secrets: tokens, cookies and Authorization values never leave in full.

A :class:`Redactor` knows the secrets of the current session (the token it was given or created,
cookie values, header values it was told about) and also recognises secrets by shape (JWTs,
``Bearer`` values, ``token=`` query parameters, secret-named JSON keys and headers). Everything that
reaches an event, a log line, a report or an error message goes through it, unless the user asked
for ``--show-secrets``.

A redacted value keeps a short fingerprint (the first 6 hex digits of its SHA-256) so two reports
can still be compared ("same token?") without showing it::

    eyJhbGciOi...  →  ‹redacted jwt #3f2a9c›
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conndebug.config import Settings

__all__ = [
    "SECRET_HEADERS",
    "SECRET_KEYS",
    "Redactor",
    "fingerprint",
    "is_secret_header",
    "is_secret_name",
    "settings_redactor",
]

SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-admin-key", "x-api-key"}
)
"""Header names whose values are always secret (lower case)."""

SECRET_KEYS = frozenset(
    {
        "token",
        "accesstoken",
        "access_token",
        "refreshtoken",
        "refresh_token",
        "authorization",
        "password",
        "secret",
        "cookie",
        "cookies",
        "apikey",
        "api_key",
        "adminkey",
        "admin_key",
        "jwt",
    }
)
"""JSON keys / query parameter names whose values are always secret (lower case); every name
:func:`is_secret_name` recognises is treated the same way."""

_SECRET_SUBSTRINGS = (
    "token",
    "secret",
    "passw",
    "passphrase",
    "credential",
    "signature",
    "cookie",
    "jwt",
    "apikey",
    "privatekey",
    "bearer",
    "sessid",
)
"""Secret when the name, lower-cased and without separators, contains one of these."""
_SECRET_PARTS = frozenset({"key", "keys", "sig", "pwd", "pw", "pass", "auth", "otp", "hmac"})
"""Secret when one of the name's words is one of these."""
_NOT_AUTH = frozenset({"author", "authors", "authored", "authority", "authorities"})
_NAME_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SIG_WORD = re.compile(r"sig(?:v?[0-9]+)?")
_NOT_SECRET_HEADERS = frozenset({"sec-websocket-key"})
"""Headers whose names look secret but whose values are not (a websocket handshake's nonce)."""
_OWN_FIELDS = frozenset({"sessions", "sessionttl"})
"""Names in conndebug's own structures that look secret and are not (counts, durations)."""
_ABOUT_WORDS = frozenset(
    {
        "expires",
        "expiry",
        "expiration",
        "source",
        "redacted",
        "kind",
        "type",
        "ttl",
        "length",
        "time",
    }
)
"""A last word that makes the name describe a secret rather than hold it (``token_expires``: a
time; ``token_source``: where it came from; ``token_type``: ``Bearer``; ``session_time``: how long
the probe's session rung took, a Nagios perfdata label)."""


def is_secret_name(name: str) -> bool:
    """Whether a value under ``name`` (a query parameter, a JSON key, a header) is a secret.

    Names containing token, secret, password/passwd, credential, signature, cookie, jwt, api key,
    private key, or a word key, sig(v4), pwd, pass, auth…/oauth (not author), or session — in any
    case, with ``-``/``_`` or camelCase: ``auth_token``, ``api-key``, ``client_secret``,
    ``X-Amz-Signature``, ``passwd``, ``sessionToken``. A session's *id* (``session_id``,
    ``sessionId``) is an identifier the history shows, not a secret, and a name that describes a
    secret (``token_expires``, ``token_source``, ``token_type``) is not one either.
    """
    flat = "".join(ch for ch in name.lower() if ch.isalnum())
    if not flat or flat in _OWN_FIELDS:
        return False
    words = [w.lower() for w in _NAME_WORDS.findall(name)]
    if len(words) > 1 and words[-1] in _ABOUT_WORDS:
        return False
    if any(part in flat for part in _SECRET_SUBSTRINGS):
        return True
    for word in words:
        if word in _SECRET_PARTS or word.endswith("key") or _SIG_WORD.fullmatch(word):
            return True
        if word.startswith(("auth", "oauth")) and word not in _NOT_AUTH:
            return True
    return "session" in flat and not (words and words[-1] in ("id", "ids"))


def is_secret_header(name: str) -> bool:
    """Whether a header's value is secret: the usual ones, and any secret-looking name."""
    lowered = name.lower()
    if lowered in SECRET_HEADERS:
        return True
    return lowered not in _NOT_SECRET_HEADERS and is_secret_name(name)


# Every pattern below runs over text a hostile server controls: each is anchored so that a match
# can only start where the text could not continue a longer one (no start inside a run of the same
# characters), and no quantifier spans lines. Otherwise "\n" * 20_000 took 16 s and "eyJ" * 20_000
# took 3 s (each start scanned to the end again). tests/hardening/test_redos.py holds them linear.
_JWT = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)[ \t]+([A-Za-z0-9._~+/=-]{8,})")
_NAME_VALUE = re.compile(r"(?<![A-Za-z0-9_.~%-])([A-Za-z][A-Za-z0-9_.~-]{0,63})=([^&\s\"';‹]+)")
"""``name=value`` in a query string, a form or free text (secret names chosen by the callback)."""
_HEADER_LINE = re.compile(
    r"(?im)^([ \t]*(authorization|proxy-authorization|cookie|set-cookie|x-[a-z0-9-]{1,60})"
    r"[ \t]*:[ \t]*)([^\r\n]+)$"
)
_URL_PASSWORD = re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,15}://[^\s/@:]*):([^\s/@]+)@")
"""The password in a URL's user-info (``http://user:password@proxy:3128``)."""
_JSON_FIELD = re.compile(
    r'"([A-Za-z_$][A-Za-z0-9_.$-]{0,63})"[ \t]*:[ \t]*"((?:[^"\\\r\n]|\\.){1,4096})"'
)
"""``"name": "value"`` in JSON text (a packet's, cut or whole; secret names chosen by the
callback). Starts only at a quote, and its two alternatives cannot both match a character."""
_MIN_SECRET = 6
"""Known secrets shorter than this are not searched for in free text (too many false hits)."""


def fingerprint(secret: str) -> str:
    """Six hex digits of the SHA-256 of ``secret``: enough to compare, useless to attack."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:6]


def _mask(secret: str, label: str = "secret") -> str:
    return f"‹redacted {label} #{fingerprint(secret)}›"


_KEYS_SEEN: dict[str, bool] = {}
"""Short names already judged by :func:`_secret_key` (a storm repeats the same few keys)."""
_KEYS_KEPT = 4096
_KEY_LENGTH_KEPT = 64


def _secret_key(name: str) -> bool:
    """Whether a value under ``name`` is masked (:data:`SECRET_KEYS` or :func:`is_secret_name`),
    remembered for short names: the check runs for every key of every event."""
    known = _KEYS_SEEN.get(name)
    if known is not None:
        return known
    secret = name.lower() in SECRET_KEYS or is_secret_name(name)
    if len(name) <= _KEY_LENGTH_KEPT and len(_KEYS_SEEN) < _KEYS_KEPT:
        _KEYS_SEEN[name] = secret
    return secret


def _label(name: str) -> str:
    """A mask's label from a (secret) name: lower case, at most 32 characters."""
    return name.lower()[:32]


def _mask_name_value(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    if value.startswith("‹redacted") or not is_secret_name(name):
        return match.group(0)
    return f"{name}={_mask(value, _label(name))}"


def _mask_json_field(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    if value.startswith("‹redacted") or not _secret_key(name):
        return match.group(0)
    return f'"{name}":"{_mask(value, _label(name))}"'


def _mask_header_line(match: re.Match[str]) -> str:
    if not is_secret_header(match.group(2)):
        return match.group(0)
    return match.group(1) + _mask(match.group(3).strip(), "header")


def _mask_url_password(match: re.Match[str]) -> str:
    password = match.group(2)
    if not password.strip("*"):  # already masked by whoever wrote it ("redis://:***@host")
        return match.group(0)
    return f"{match.group(1)}:{_mask(password, 'password')}@"


class Redactor:
    """Masks secrets in text and structures; a no-op when ``show_secrets`` is set."""

    def __init__(self, secrets: Iterable[str] = (), *, show_secrets: bool = False) -> None:
        self.show_secrets = show_secrets
        self._secrets: set[str] = set()
        self._longest_first: list[str] | None = None
        """The secrets, longest first (made again after :meth:`add`)."""
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember a secret of this session so it is masked wherever it appears."""
        if secret and len(secret) >= _MIN_SECRET and secret not in self._secrets:
            self._secrets.add(secret)
            self._longest_first = None

    def add_header(self, name: str, value: str) -> None:
        """Remember the secrets of a header: a secret header's whole value, and also each cookie
        of a ``Cookie`` header and the credentials after an ``Authorization`` scheme, which can
        turn up on their own."""
        lowered = name.lower()
        if not is_secret_header(name):
            return
        self.add(value.strip())
        if lowered in ("cookie", "set-cookie"):
            for part in value.split(";"):
                _name, sep, cookie = part.partition("=")
                if sep:
                    self.add(cookie.strip().strip('"'))
        elif lowered in ("authorization", "proxy-authorization"):
            _scheme, _, credentials = value.strip().partition(" ")
            self.add(credentials.strip())

    @property
    def known(self) -> frozenset[str]:
        """The secrets this redactor was told about."""
        return frozenset(self._secrets)

    def secret(self, value: str | None, label: str = "secret") -> str | None:
        """Mask a value known to be secret (a token field, a cookie value)."""
        if value is None or self.show_secrets:
            return value
        if not value or value.startswith("‹redacted"):
            return value  # empty, or masked already (a file conndebug wrote)
        return _mask(value, "jwt" if _JWT.fullmatch(value) else label)

    def text(self, text: str) -> str:
        """Mask every known secret and every secret-shaped piece of free text."""
        if self.show_secrets or not text:
            return text
        ordered = self._longest_first
        if ordered is None:
            ordered = self._longest_first = sorted(self._secrets, key=len, reverse=True)
        for secret in ordered:
            if secret in text:
                text = text.replace(
                    secret, _mask(secret, "jwt" if _JWT.fullmatch(secret) else "secret")
                )
        # Each pattern needs a literal the text must contain at that point; most texts (a step's
        # detail, a server's event) contain none of them, and looking costs less than a scan.
        if ":" in text:
            text = _HEADER_LINE.sub(_mask_header_line, text)
        if not text.isascii() or "bearer" in (lowered := text.lower()) or "basic" in lowered:
            # (?i) also folds a few non-ASCII letters onto these: any such text is scanned.
            text = _BEARER.sub(lambda m: f"{m.group(1)} {_mask(m.group(2), 'credential')}", text)
        if "eyJ" in text:
            text = _JWT.sub(lambda m: _mask(m.group(0), "jwt"), text)
        if "@" in text:
            text = _URL_PASSWORD.sub(_mask_url_password, text)
        if "=" in text:
            text = _NAME_VALUE.sub(_mask_name_value, text)
        return text

    def wire(self, text: str) -> str:
        """:meth:`text`, and the values of secret-named fields of JSON in it (``{"token":
        "…"}``), for what crossed the wire (a packet, a polling body, a websocket message),
        whole or cut: whatever its keys, wherever it came from."""
        if self.show_secrets or not text:
            return text
        text = self.text(text)
        if '"' in text:
            text = _JSON_FIELD.sub(_mask_json_field, text)
        return text

    def value(self, value: Any, *, key: str | None = None) -> Any:
        """Mask secrets inside any JSON-like value: a string under a secret-named key entirely,
        and any value under one of :data:`SECRET_KEYS` (``cookies: {...}``); a structure under
        another secret-looking name (conndebug's own ``session`` block) is looked into."""
        if self.show_secrets:
            return value
        kind = type(value)
        if key is None or not _secret_key(key):
            # The usual case of a server's event (a storm is made of these): no secret name.
            if kind is str:
                return self.text(value) if value else value
            if kind is int or kind is float or kind is bool or value is None:
                return value
            if kind is dict:
                return {k: self.value(v, key=str(k)) for k, v in value.items()}
            if kind is list:
                return [self.value(v) for v in value]
        if key is not None and (key.lower() in SECRET_KEYS or is_secret_name(key)):
            if isinstance(value, str):
                return self.secret(value, _label(key))
            if (
                key.lower() in SECRET_KEYS
                and value is not None
                and not isinstance(value, (bool, int, float))
            ):
                return _mask(repr(value), _label(key))
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v, key=str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value

    def headers(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
        """A copy of ``headers`` with secret header values masked."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        out: dict[str, str] = {}
        for name, val in items:
            if not self.show_secrets and is_secret_header(name):
                out[name] = _mask(val, "header")
            else:
                out[name] = self.text(val)
        return out


def settings_redactor(settings: Settings, *extra: str | None) -> Redactor:
    """The redactor of a session: it knows the secrets the user gave in ``settings`` (the token,
    secret-named headers and their parts, secret-named ``--query`` values, every ``--auth-json``
    string, the proxy's password) and any ``extra`` ones (an admin key)."""
    from conndebug.config import effective_proxy

    redactor = Redactor(show_secrets=settings.show_secrets)
    redactor.add(settings.token)
    for name, value in settings.headers:
        redactor.add_header(name, value)
    for key, value in settings.query:
        if key.lower() in SECRET_KEYS or is_secret_name(key):
            redactor.add(value)
    for value in _strings(settings.auth):  # the auth object is credentials: all of it
        redactor.add(value)
    for proxy in {settings.proxy, effective_proxy(settings)}:
        if proxy and "@" in proxy:
            parts = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
            redactor.add(parts.password)
    for secret in extra:
        redactor.add(secret)
    return redactor


def _strings(value: Any, depth: int = 0) -> Iterable[str]:
    """Every string inside a JSON-like value (keys excluded), to a sane depth."""
    if depth > 20:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item, depth + 1)
