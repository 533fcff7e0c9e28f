"""Name what answers in front of the server, from the answers a client got.

Every answer on the way (the Engine.IO handshake, polling answers, the websocket's 101 or its
refusal, the guest endpoint, error pages) carries traces of the boxes it went through: a
``Server`` header, a ``Via`` line, vendor headers (``CF-RAY``, ``X-Amz-Cf-Id``...), affinity cookies
(``AWSALB``, ``INGRESSCOOKIE``...), and the boxes' own error pages. :func:`identify` reads a list
of :class:`Answer` and returns a :class:`PathReport`: the boxes found, outermost first, each with
the evidence (which header of which answer said so) and a confidence:

- ``high``: a header or cookie only that vendor sends (``CF-RAY``, ``X-Amz-Cf-Id``, ``AWSALB``);
- ``medium``: a ``Server`` / ``Via`` value or an error page in the box's own words (a header any
  box could copy, but rarely does);
- ``low``: a hint shared with other boxes (``Via: 1.1 varnish``, a conventional cookie name).

No network and no Textual: the probe (and later ``watch``) hands the answers over.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from conndebug.core.path.catalogue import Box, box, box_by_cookie, key_known

__all__ = [
    "RULES",
    "Answer",
    "Clue",
    "Confidence",
    "Hop",
    "PathReport",
    "Rule",
    "identify",
]

Confidence = Literal["high", "medium", "low"]
_RANK: Mapping[str, int] = {"high": 3, "medium": 2, "low": 1}


@dataclass(frozen=True)
class Answer:
    """One HTTP answer as seen by the client: where it came from, its status, headers, body."""

    where: str
    """What was asked, in words: ``handshake``, ``polling``, ``websocket``, ``guest endpoint``."""
    status: int | None
    headers: tuple[tuple[str, str], ...]
    """The header lines in order, names as received; repeated headers stay separate."""
    body: bytes = b""
    """The start of the body (error pages are recognised by their words)."""

    @classmethod
    def of(
        cls,
        where: str,
        status: int | None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]],
        body: bytes | str = b"",
        *,
        set_cookie: Iterable[str] = (),
    ) -> Answer:
        """Build one from a mapping (``set_cookie``: the separate ``Set-Cookie`` lines, when the
        mapping joined them) or from ``(name, value)`` pairs."""
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        cookies = list(set_cookie)
        if cookies:
            pairs = [(k, v) for k, v in pairs if k.lower() != "set-cookie"]
            pairs += [("set-cookie", line) for line in cookies]
        raw = body.encode("utf-8", "replace") if isinstance(body, str) else body
        return cls(where, status, tuple(pairs), raw[:4096])

    _by_name: dict[str, list[str]] = field(init=False, repr=False, compare=False)
    """The header values by lower-case name, made once (every rule asks for some)."""
    _cookie_names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, list[str]] = {}
        for k, v in self.headers:
            index.setdefault(k.lower(), []).append(v)
        names = []
        for line in index.get("set-cookie", ()):
            name = line.split(";", 1)[0].partition("=")[0].strip()
            if name:
                names.append(name)
        object.__setattr__(self, "_by_name", index)
        object.__setattr__(self, "_cookie_names", tuple(names))

    def values(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive)."""
        return self._by_name.get(name.lower(), [])

    def cookie_names(self) -> list[str]:
        """The names of the cookies this answer sets."""
        return list(self._cookie_names)

    @functools.cached_property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True)
class Rule:
    """One fingerprint: a header (or the body) matching a pattern names a box."""

    box: str
    """The catalogue key."""
    header: str
    """A header name, ``set-cookie`` for a cookie name, or ``body`` for the page's words."""
    pattern: str
    """A regular expression, searched case-insensitively; ``""``: the header's presence."""
    confidence: Confidence
    what: str = ""
    """How to say it, e.g. ``Server header``; default: the header's name."""

    @functools.cached_property
    def _regex(self) -> re.Pattern[str]:
        """The pattern, compiled once (a probe matches each rule against every answer)."""
        return re.compile(self.pattern, re.IGNORECASE)

    def match(self, answer: Answer) -> str | None:
        """The evidence text when ``answer`` matches, else None."""
        if self.header == "body":
            if not answer.body:
                return None
            found = self._regex.search(answer.text)
            if found is None:
                return None
            status = f"{answer.status} " if answer.status else ""
            return f"{status}error page says {found.group(0).strip()!r}"
        if self.header == "set-cookie":
            for name in answer._cookie_names:
                if self._regex.fullmatch(name):
                    return f"Set-Cookie {name}"
            return None
        for value in answer.values(self.header):
            if not self.pattern or self._regex.search(value):
                return f"{_title(self.header)}: {_short(value)}"
        return None


def _title(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _short(value: str, n: int = 60) -> str:
    value = " ".join(value.split())
    return value if len(value) <= n else value[: n - 1] + "…"


# Fingerprints. Sources: answers recorded here from nginx 1.22.1 and HAProxy 2.6.12 (see
# tests/core/path_recorded.py); vendors' documentation for the rest (cited in the tests).
RULES: tuple[Rule, ...] = (
    # Cloudflare: CF-RAY on every proxied answer; Server: cloudflare; its 52x pages
    Rule("cloudflare", "cf-ray", "", "high"),
    Rule("cloudflare", "cf-cache-status", "", "high"),
    Rule("cloudflare", "server", r"^cloudflare", "medium"),
    Rule("cloudflare", "body", r"cloudflare ray id|error code: 52\d", "medium"),
    # CloudFront: Via "… .cloudfront.net (CloudFront)", X-Amz-Cf-Id / -Pop, X-Cache "… from cloudfront"
    Rule("cloudfront", "x-amz-cf-id", "", "high"),
    Rule("cloudfront", "x-amz-cf-pop", "", "high"),
    Rule("cloudfront", "via", r"cloudfront", "high"),
    Rule("cloudfront", "x-cache", r"from cloudfront", "high"),
    Rule("cloudfront", "server", r"^cloudfront", "medium"),
    # Akamai: its own answers carry Server: AkamaiGHost; edge headers
    Rule("akamai", "server", r"akamai", "medium"),
    Rule("akamai", "x-akamai-transformed", "", "high"),
    Rule("akamai", "akamai-grn", "", "high"),
    Rule("akamai", "x-akamai-request-id", "", "high"),
    Rule("akamai", "body", r"reference&#32;&#35;[0-9a-f.]+", "medium"),
    # Fastly: X-Served-By cache-XXX, X-Fastly-Request-ID, Fastly-Debug headers
    Rule("fastly", "x-served-by", r"^cache-", "high"),
    Rule("fastly", "x-fastly-request-id", "", "high"),
    Rule("fastly", "fastly-debug-digest", "", "high"),
    # Azure Front Door: X-Azure-Ref on every answer; affinity cookies ASLBSA
    Rule("azure_front_door", "x-azure-ref", "", "high"),
    Rule("azure_front_door", "x-fd-int-roxy-purgeid", "", "high"),
    Rule("azure_front_door", "set-cookie", r"ASLBSA(CORS)?", "high"),
    # Vercel: Server: Vercel, X-Vercel-Id, X-Vercel-Cache
    Rule("vercel", "x-vercel-id", "", "high"),
    Rule("vercel", "x-vercel-cache", "", "high"),
    Rule("vercel", "server", r"^vercel", "medium"),
    # Heroku: Via 1.1 vegur (legacy router), heroku-router (Router 2.0); its error page
    Rule("heroku", "via", r"vegur|heroku-router", "high"),
    Rule("heroku", "set-cookie", r"heroku-session-affinity", "high"),
    Rule("heroku", "body", r"herokucdn\.com/error-pages", "medium"),
    # Fly.io: Via "… fly.io", Fly-Request-Id, Server: Fly/…
    Rule("fly", "fly-request-id", "", "high"),
    Rule("fly", "via", r"fly\.io", "high"),
    Rule("fly", "server", r"^fly/", "medium"),
    # Google: Via 1.1 google (external Application Load Balancer); Google Frontend (Cloud Run /
    # App Engine); GCLB cookie (generated-cookie affinity)
    Rule("gcp_lb", "via", r"\bgoogle\b", "high"),
    Rule("gcp_lb", "set-cookie", r"GCLB", "high"),
    Rule("google_frontend", "server", r"google frontend", "medium"),
    Rule("google_frontend", "set-cookie", r"GAESA", "high"),
    # AWS load balancers: awselb on their own answers; affinity cookies
    Rule("aws_alb", "server", r"awselb/2", "medium"),
    Rule("aws_alb", "set-cookie", r"AWSALB(CORS|TG|TGCORS)?|AWSALBAPP-\d+", "high"),
    Rule("aws_elb", "server", r"awselb/(?!2)", "medium"),
    Rule("aws_elb", "set-cookie", r"AWSELB(CORS)?", "high"),
    # API Gateway: request ids and error type headers
    Rule("api_gateway", "x-amz-apigw-id", "", "high"),
    Rule("api_gateway", "x-amzn-errortype", "", "medium"),
    Rule("api_gateway", "x-amzn-requestid", "", "low"),
    # Azure Application Gateway: its error pages name it; affinity cookies
    Rule("azure_app_gateway", "server", r"microsoft-azure-application-gateway", "medium"),
    Rule("azure_app_gateway", "body", r"microsoft-azure-application-gateway/v?\d", "medium"),
    Rule("azure_app_gateway", "set-cookie", r"ApplicationGatewayAffinity(CORS)?", "high"),
    # Azure App Service: ARR affinity cookies
    Rule("azure_app_service", "set-cookie", r"ARRAffinity(SameSite)?", "high"),
    # ingress-nginx: its affinity cookie, its default backend, its HSTS default (15724800 s)
    Rule("ingress_nginx", "set-cookie", r"INGRESSCOOKIE", "high"),
    Rule("ingress_nginx", "body", r"default backend - 404", "medium"),
    Rule("ingress_nginx", "strict-transport-security", r"max-age=15724800\b", "low"),
    # nginx: Server header; its error pages end with <center>nginx…</center>
    Rule("nginx", "server", r"^nginx\b", "medium"),
    Rule("nginx", "body", r"<center>nginx(/[\d.]+)?</center>", "medium"),
    # HAProxy: no Server header; its own error pages; the conventional SERVERID cookie
    Rule(
        "haproxy",
        "body",
        r"no server is available to handle this request|the server didn't respond in time"
        r"|the server returned an invalid or incomplete response"
        r"|your browser didn't send a complete request in time",
        "medium",
    ),
    Rule("haproxy", "set-cookie", r"SERVERID", "low"),
    # Istio / Envoy
    Rule("istio", "server", r"istio-envoy", "high"),
    Rule("istio", "x-envoy-decorator-operation", "", "medium"),
    Rule("envoy", "server", r"^envoy\b", "medium"),
    Rule("envoy", "x-envoy-upstream-service-time", "", "medium"),
    Rule(
        "envoy",
        "body",
        r"upstream connect error or disconnect/reset before headers|no healthy upstream"
        r"|upstream request timeout",
        "medium",
    ),
    # Kong
    Rule("kong", "via", r"\bkong/", "high"),
    Rule("kong", "x-kong-upstream-latency", "", "high"),
    Rule("kong", "x-kong-proxy-latency", "", "high"),
    Rule("kong", "server", r"^kong/", "medium"),
    # Apache httpd, Caddy, Varnish
    Rule("apache", "server", r"^apache\b", "medium"),
    Rule("caddy", "server", r"^caddy\b", "medium"),
    Rule("varnish", "x-varnish", "", "medium"),
    Rule("varnish", "via", r"varnish", "low"),
    # Origin servers (visible when no proxy rewrote Server)
    Rule("aiohttp", "server", r"aiohttp/", "medium"),
    Rule("uvicorn", "server", r"^uvicorn\b", "medium"),
    Rule("hypercorn", "server", r"^hypercorn\b", "medium"),
    Rule("gunicorn", "server", r"^gunicorn\b", "medium"),
    Rule("werkzeug", "server", r"^werkzeug/", "medium"),
    Rule("eventlet", "server", r"eventlet", "medium"),
)
"""Every fingerprint conndebug knows."""

_SUBSUMES: Mapping[str, tuple[str, ...]] = {
    # ingress-nginx is nginx; Istio is Envoy; Fastly speaks through Varnish
    "ingress_nginx": ("nginx",),
    "istio": ("envoy",),
    "fastly": ("varnish",),
    # API Gateway answers through CloudFront for edge-optimised APIs: keep both
}


@dataclass(frozen=True)
class Clue:
    """One piece of evidence: ``evidence`` on the ``where`` answer names ``box``."""

    box: str
    confidence: Confidence
    evidence: str
    where: str


@dataclass(frozen=True)
class Hop:
    """A box found in the path, with everything that named it."""

    box: Box
    confidence: Confidence
    clues: tuple[Clue, ...]

    @property
    def because(self) -> str:
        """The strongest clue, e.g. ``Server: nginx/1.22.1 on 4 answers``."""
        best = max(self.clues, key=lambda c: _RANK[c.confidence])
        same = [c for c in self.clues if c.evidence == best.evidence]
        where = f"on {len(same)} answers" if len(same) > 1 else f"on the {best.where} answer"
        return f"{best.evidence} {where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": self.box.key,
            "name": self.box.name,
            "role": self.box.role,
            "confidence": self.confidence,
            "evidence": sorted({f"{c.evidence} ({c.where})" for c in self.clues}),
            "limits": [lim.text for lim in self.box.limits],
            "affinity": self.box.affinity or None,
        }


@dataclass(frozen=True)
class PathReport:
    """What answers in front of the server, outermost first."""

    hops: tuple[Hop, ...]
    answers: int
    """How many answers were read."""
    cookies: tuple[str, ...] = field(default_factory=tuple)
    """Every cookie name the answers set (values are never kept)."""

    @property
    def proxies(self) -> tuple[Hop, ...]:
        """The boxes in front of the server (origin servers left out)."""
        return tuple(h for h in self.hops if h.box.role != "origin")

    @property
    def origin(self) -> Hop | None:
        return next((h for h in self.hops if h.box.role == "origin"), None)

    def find(self, key: str) -> Hop | None:
        return next((h for h in self.hops if h.box.key == key), None)

    @property
    def affinity_cookies(self) -> tuple[tuple[str, Box], ...]:
        """The cookies set that are a known box's affinity cookie, with that box."""
        found = []
        for name in self.cookies:
            owner = box_by_cookie(name)
            if owner is not None:
                found.append((name, owner))
        return tuple(found)

    @property
    def engineio_cookie(self) -> bool:
        """The server sets Engine.IO's own ``io`` cookie (its ``cookie`` option): a proxy can
        stick on it (e.g. HAProxy ``cookie io prefix``)."""
        return "io" in self.cookies

    @property
    def text(self) -> str:
        """One line, e.g. ``Cloudflare (CF-Ray: … on 3 answers) → nginx (Server: nginx) → server``."""
        if not self.hops:
            return (
                f"no proxy or load balancer named by the {self.answers} answers read "
                "(none in the path, or none that says so)"
            )
        parts = [f"{h.box.name} ({h.because})" for h in self.proxies]
        origin = self.origin
        parts.append(f"server: {origin.box.name}" if origin else "server")
        return " → ".join(parts)

    @property
    def names(self) -> str:
        """The boxes by name only, e.g. ``Cloudflare → nginx → server: aiohttp (python-engineio)``,
        ``none named → server: uvicorn`` (for a one-line panel)."""
        if not self.hops:
            return "none named (a direct connection, or boxes that say nothing)"
        parts = [h.box.name for h in self.proxies] or ["none named"]
        origin = self.origin
        parts.append(f"server: {origin.box.name}" if origin else "server")
        return " → ".join(parts)

    def to_evidence(self) -> dict[str, Any]:
        """The report as step evidence (JSON-ready)."""
        return {
            "path": [h.to_dict() for h in self.hops],
            "answers_read": self.answers,
            "affinity_cookies": [name for name, _ in self.affinity_cookies] or None,
        }

    @classmethod
    def from_evidence(cls, evidence: Mapping[str, Any] | None) -> PathReport:
        """The report back from :meth:`to_evidence` (what a rule reads from a step's evidence;
        unknown boxes and malformed entries are left out). The cookie names are those of the
        affinity cookies (the others are not in the evidence)."""
        hops: list[Hop] = []
        evidence = evidence or {}
        entries = evidence.get("path")
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, Mapping):
                continue
            key = entry.get("box")
            if not isinstance(key, str) or not key_known(key):
                continue
            confidence = entry.get("confidence")
            level: Confidence = confidence if confidence in _RANK else "low"  # type: ignore[assignment]
            clues = []
            said = entry.get("evidence")
            for text in said if isinstance(said, list) else []:
                found = re.fullmatch(r"(.*) \(([^()]*)\)", str(text))
                what, where = (found.group(1), found.group(2)) if found else (str(text), "?")
                clues.append(Clue(key, level, what, where))
            if not clues:
                clues.append(Clue(key, level, "named", "?"))
            hops.append(Hop(box(key), level, tuple(clues)))
        answers = evidence.get("answers_read")
        cookies = evidence.get("affinity_cookies")
        return cls(
            tuple(hops),
            answers if isinstance(answers, int) else 0,
            tuple(str(c) for c in cookies) if isinstance(cookies, list) else (),
        )


_BY_HEADER: dict[str, tuple[tuple[int, Rule], ...]] | None = None
_HEADER_HITS: dict[tuple[str, tuple[str, ...]], tuple[tuple[int, Rule, str], ...]] = {}
"""The rules a header's values match, per (name, values): kept for short values."""
_HITS_KEPT = 512
_VALUES_LENGTH_KEPT = 512


def _by_header() -> dict[str, tuple[tuple[int, Rule], ...]]:
    global _BY_HEADER
    if _BY_HEADER is None:
        index: dict[str, list[tuple[int, Rule]]] = {}
        for i, rule in enumerate(RULES):
            index.setdefault(rule.header, []).append((i, rule))
        _BY_HEADER = {name: tuple(rules) for name, rules in index.items()}
    return _BY_HEADER


def _hits(answer: Answer) -> list[tuple[int, Rule, str]]:
    """``(index in RULES, rule, evidence)`` of every rule ``answer`` matches, in :data:`RULES`
    order. Only the rules that can match are tried: those of the headers it has (most rules look
    for one vendor's header), the body's when it is an error page (the boxes' pages come with
    4xx/5xx), the cookies' when it sets any; trying all 70 rules on each of a probe's ten answers
    cost ~1 ms a probe. What a header's rules find depends on its values alone, and a probe's
    answers repeat the same few (``Server``, ``Content-Type``...), as a fleet's servers do: it is
    kept per (name, values), for short values and a bounded number of them."""
    by_header = _by_header()
    found: list[tuple[int, Rule, str]] = []
    for name, values in answer._by_name.items():
        if name == "set-cookie":
            continue
        rules = by_header.get(name)
        if not rules:
            continue
        key = (name, tuple(values))
        hits = _HEADER_HITS.get(key)
        if hits is None:
            hits = tuple(
                (i, rule, evidence)
                for i, rule in rules
                if (evidence := rule.match(answer)) is not None
            )
            if (
                len(_HEADER_HITS) < _HITS_KEPT
                and sum(len(v) for v in values) <= _VALUES_LENGTH_KEPT
            ):
                _HEADER_HITS[key] = hits
        found.extend(hits)
    others: list[tuple[int, Rule]] = []
    if answer._cookie_names:
        others.extend(by_header.get("set-cookie", ()))
    if answer.body and (answer.status is None or answer.status >= 400):
        others.extend(by_header.get("body", ()))  # the boxes' own error pages
    for i, rule in others:
        evidence = rule.match(answer)
        if evidence is not None:
            found.append((i, rule, evidence))
    found.sort(key=lambda item: item[0])
    return found


def identify(answers: Sequence[Answer]) -> PathReport:
    """The boxes that ``answers`` name, outermost first, each with its evidence."""
    clues: dict[str, list[Clue]] = {}
    cookies: list[str] = []
    for answer in answers:
        for name in answer.cookie_names():
            if name not in cookies:
                cookies.append(name)
        for _i, rule, evidence in _hits(answer):
            clues.setdefault(rule.box, []).append(
                Clue(rule.box, rule.confidence, evidence, answer.where)
            )
    for outer, inner in _SUBSUMES.items():
        if outer in clues:
            for key in inner:
                clues[outer].extend(clues.pop(key, []))
    hops = []
    for key, found in clues.items():
        best = max(found, key=lambda c: _RANK[c.confidence]).confidence
        hops.append(Hop(box(key), best, tuple(found)))
    hops.sort(key=lambda h: (h.box.tier, -_RANK[h.confidence]))
    return PathReport(tuple(hops), len(answers), tuple(cookies))
