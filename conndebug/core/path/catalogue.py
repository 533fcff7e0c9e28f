"""What can stand in front of a Socket.IO server, as data: each box's limits, stickiness and fixes.

A :class:`Box` is one kind of proxy, load balancer, CDN or platform router. It carries:

- its documented **limits** (:class:`Limit`): an *idle* timeout (traffic keeps the connection
  open), a *lifetime* cap (cut whatever the traffic), a *request* timeout (a held long-poll GET is
  cut when no answer came within it) or a *first byte* timeout; each with its figure, the setting
  that changes it, and whether the figure is a configurable default or fixed;
- its **stickiness** mechanism: the affinity cookies it sets (``AWSALB``, ``INGRESSCOOKIE``...)
  and how to turn affinity on;
- the **fix** per kind of cut, with the figure to use filled in (``{need}``, seconds).

The figures come from the vendors' documentation as summed up in the project's
``socketio-facts.md`` ("Proxy and load-balancer limits"); the few boxes outside that table cite their
source beside the entry. :data:`BOXES` is the catalogue; :func:`box` looks one up by key.

Rules every box must follow for Socket.IO (the server pings every ``pingInterval``, a long-poll GET
is held up to ``pingInterval``):

- an idle/read timeout must exceed ``pingInterval + pingTimeout``;
- a request timeout must exceed ``pingInterval``;
- a lifetime cap cuts every session that lasts longer, whatever the traffic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "BOXES",
    "IDLE_RULE",
    "LIFETIME_RULE",
    "REQUEST_RULE",
    "Box",
    "CutKind",
    "Limit",
    "Role",
    "box",
    "box_by_cookie",
    "key_known",
]

CutKind = Literal["idle", "lifetime", "request", "first_byte"]
"""How a box cuts: idle (quiet too long), lifetime (open too long), request / first byte (a held
request answered too late)."""

Role = Literal["edge", "load balancer", "reverse proxy", "platform", "origin"]
"""Where a box stands: an edge (CDN, platform edge) answers first, then load balancers, then
reverse proxies, then the origin server itself."""

_TIER: Mapping[Role, int] = {
    "edge": 0,
    "platform": 1,
    "load balancer": 2,
    "reverse proxy": 3,
    "origin": 4,
}

IDLE_RULE = "every proxy's idle/read timeout must exceed pingInterval + pingTimeout"
REQUEST_RULE = "every request timeout must exceed pingInterval (a long-poll GET is held that long)"
LIFETIME_RULE = (
    "a lifetime cap below your session length cuts everyone, whatever the traffic; it must exceed "
    "the longest session you expect"
)


@dataclass(frozen=True)
class Limit:
    """One documented limit of a box."""

    kind: CutKind
    seconds: float | None
    """The figure; ``None`` when the box has no default (it is whatever the config says)."""
    setting: str
    """What sets it (a directive, annotation, attribute or console field)."""
    default: bool = True
    """True: a default the user can change; False: fixed by the vendor."""
    note: str = ""
    """What else to know (e.g. "applies to the whole websocket")."""

    @property
    def text(self) -> str:
        """E.g. ``idle 60 s (proxy_read_timeout, a default)``."""
        figure = f"{self.seconds:g} s" if self.seconds is not None else "no default"
        how = "a default" if self.default else "fixed"
        if self.seconds is None:
            how = "set in the config"
        label = "first byte" if self.kind == "first_byte" else self.kind
        extra = f"; {self.note}" if self.note else ""
        return f"{label} {figure} ({self.setting}, {how}{extra})"


@dataclass(frozen=True)
class Box:
    """One kind of box that can answer in front of the server."""

    key: str
    name: str
    role: Role
    limits: tuple[Limit, ...] = ()
    affinity_cookies: tuple[str, ...] = ()
    """Cookie names (or name prefixes ending in ``*``) this box sets for session affinity."""
    affinity: str = ""
    """How to make it sticky (cookie or IP), in plain words."""
    fixes: Mapping[str, str] = field(default_factory=dict)
    """Fix per cut kind (``idle``, ``lifetime``, ``request``, ``first_byte``) and ``sticky``;
    ``{need}`` is the figure to use, in seconds."""
    note: str = ""
    """What else matters for Socket.IO behind this box."""

    @property
    def tier(self) -> int:
        """Outermost first: edge 0 … origin 4."""
        return _TIER[self.role]

    def limit(self, kind: CutKind) -> Limit | None:
        """This box's documented limit of ``kind``, if any."""
        return next((lim for lim in self.limits if lim.kind == kind), None)

    def fix(self, kind: str, need: float) -> str:
        """The fix for a cut of ``kind`` (or ``sticky``), ``need`` seconds filled in; empty when
        the catalogue has none."""
        text = self.fixes.get(kind, "")
        return text.replace("{need}", f"{_whole(need)}")

    def sets_cookie(self, name: str) -> bool:
        """Whether ``name`` is one of this box's affinity cookies."""
        for known in self.affinity_cookies:
            if known.endswith("*") and name.startswith(known[:-1]):
                return True
            if name == known:
                return True
        return False


def _whole(seconds: float) -> str:
    whole = int(seconds) if seconds == int(seconds) else int(seconds) + 1
    return str(whole)


_NGINX_IDLE = (
    "In the location that proxies Socket.IO: proxy_read_timeout {need}s; proxy_send_timeout "
    "{need}s; (nginx's default is 60 s)."
)

BOXES: tuple[Box, ...] = (
    # --- edges: CDNs and platform front ends --------------------------------------------------
    Box(
        "cloudflare",
        "Cloudflare",
        "edge",
        limits=(
            Limit(
                "idle",
                120,
                "proxy read timeout (524 when exceeded)",
                note="Enterprise plans can change it",
            ),
        ),
        affinity_cookies=("__cflb",),
        affinity="Cloudflare Load Balancing session affinity (cookie __cflb, or ip_cookie)",
        fixes={
            "idle": (
                "Cloudflare waits 120 s for the origin and closes idle websockets after 400–900 s; "
                "Socket.IO's heartbeat (every pingInterval) keeps the websocket busy enough. A cut "
                "shorter than that is a box behind Cloudflare. Cloudflare also cuts websockets "
                "when it restarts its servers: clients must reconnect."
            ),
            "sticky": "Turn on session affinity in the Cloudflare load balancer (cookie __cflb).",
        },
        note="only some ports are proxied; websockets are cut when Cloudflare restarts servers",
    ),
    Box(
        "cloudfront",
        "Amazon CloudFront",
        "edge",
        # CloudFront's origin response timeout: 30 s by default, 1–60 s (AWS CloudFront developer
        # guide, "Response timeout (custom origins only)").
        limits=(Limit("request", 30, "origin response timeout", note="1–60 s for custom origins"),),
        affinity="none of its own: stickiness comes from the load balancer behind it",
        fixes={
            "request": (
                'In the CloudFront origin settings raise "Response timeout" above pingInterval '
                "(to {need} s or more), and forward the Upgrade, Connection and Sec-WebSocket-* "
                "headers (an origin request policy with all viewer headers)."
            ),
            "sticky": (
                "CloudFront forwards cookies only with an origin request policy that includes "
                "them: forward the load balancer's affinity cookie (e.g. AWSALB)."
            ),
        },
    ),
    Box(
        "akamai",
        "Akamai",
        "edge",
        affinity="none of its own: stickiness comes from the origin side",
        fixes={
            "idle": (
                "Ask for websocket support on the property and raise the origin read timeout "
                "above {need} s (Property Manager: timeout behavior)."
            ),
        },
    ),
    Box(
        "fastly",
        "Fastly",
        "edge",
        # Fastly backend defaults: first_byte_timeout 15 s, between_bytes_timeout 10 s (Fastly
        # docs, "Backends" / VCL backend definition).
        limits=(Limit("first_byte", 15, "backend first_byte_timeout"),),
        affinity="none of its own",
        fixes={
            "first_byte": (
                "Raise the backend's first_byte_timeout above pingInterval ({need} s or more) and "
                "enable WebSockets passthrough for the Socket.IO path."
            ),
        },
        note="websockets need Fastly's WebSockets passthrough",
    ),
    Box(
        "azure_front_door",
        "Azure Front Door",
        "edge",
        limits=(
            Limit("idle", 300, "websocket idle timeout", default=False),
            Limit("lifetime", 4 * 3600, "websocket maximum duration", default=False),
        ),
        affinity_cookies=("ASLBSA", "ASLBSACORS"),
        affinity="origin group session affinity (cookies ASLBSA / ASLBSACORS)",
        fixes={
            "idle": (
                "Front Door closes a websocket after 5 min without traffic (fixed): keep "
                "pingInterval + pingTimeout below 300 s."
            ),
            "lifetime": (
                "Front Door ends every websocket after 4 h (fixed): clients must reconnect; keep "
                "reconnection on."
            ),
            "upgrade": "Disable caching on the route that carries Socket.IO: cached routes drop Upgrade.",
            "sticky": "Enable session affinity on the origin group (cookie ASLBSA).",
        },
        note="routes with caching drop the Upgrade header",
    ),
    Box(
        "vercel",
        "Vercel",
        "platform",
        affinity="none",
        fixes={
            "idle": (
                "Vercel Functions cannot hold a websocket server; run the Socket.IO server on a "
                "host that keeps long-lived connections and point the client at it."
            ),
        },
        note="Vercel Functions do not serve websockets; long-polls end with the function's duration",
    ),
    Box(
        "heroku",
        "Heroku router",
        "platform",
        limits=(
            Limit("first_byte", 30, "router timeout (H12)", default=False),
            Limit("idle", 55, "rolling idle window (H15/H28)", default=False),
        ),
        affinity_cookies=("heroku-session-affinity",),
        affinity="Heroku session affinity (heroku features:enable http-session-affinity)",
        fixes={
            "first_byte": (
                "Heroku's 30 s to first byte is fixed: keep pingInterval below it (the default "
                "25 s is), so each held long-poll is answered in time."
            ),
            "idle": (
                "Heroku's 55 s rolling idle window is fixed: keep pingInterval + pingTimeout "
                "traffic within it (a ping every 25 s is)."
            ),
            "sticky": "heroku features:enable http-session-affinity -a APP (several dynos).",
        },
    ),
    Box(
        "fly",
        "Fly.io proxy",
        "platform",
        affinity="none by cookie; fly-replay / fly-force-instance-id route to one machine",
        fixes={
            "sticky": (
                "Run one machine, or route a session to its machine with fly-replay; use a "
                "shared adapter (Redis) for broadcasts."
            ),
        },
    ),
    Box(
        "google_frontend",
        "Google Frontend (Cloud Run / App Engine)",
        "platform",
        # Cloud Run: the request timeout (5 min by default, up to 60 min) also bounds websockets
        # (Cloud Run docs, "Using WebSockets").
        limits=(
            Limit("lifetime", 300, "request timeout (--timeout)", note="also ends websockets"),
        ),
        affinity_cookies=("GAESA",),
        affinity="Cloud Run session affinity (--session-affinity, cookie GAESA)",
        fixes={
            "lifetime": (
                "gcloud run services update SERVICE --timeout=3600 (the longest allowed; clients "
                "still reconnect once an hour)."
            ),
            "sticky": "gcloud run services update SERVICE --session-affinity",
        },
    ),
    # --- load balancers -------------------------------------------------------------------------
    Box(
        "aws_alb",
        "AWS Application Load Balancer",
        "load balancer",
        limits=(Limit("idle", 60, "idle_timeout.timeout_seconds", note="1–4000 s"),),
        affinity_cookies=("AWSALB", "AWSALBCORS", "AWSALBTG", "AWSALBTGCORS", "AWSALBAPP-*"),
        affinity="target group stickiness (cookie AWSALB, or an application cookie)",
        fixes={
            "idle": (
                "aws elbv2 modify-load-balancer-attributes --load-balancer-arn ARN --attributes "
                "Key=idle_timeout.timeout_seconds,Value={need}"
            ),
            "sticky": (
                "aws elbv2 modify-target-group-attributes --target-group-arn ARN --attributes "
                "Key=stickiness.enabled,Value=true Key=stickiness.type,Value=lb_cookie"
            ),
        },
    ),
    Box(
        "aws_elb",
        "AWS Classic Load Balancer",
        "load balancer",
        limits=(Limit("idle", 60, "ConnectionSettings.IdleTimeout"),),
        affinity_cookies=("AWSELB",),
        affinity="duration-based stickiness (cookie AWSELB)",
        fixes={
            "idle": (
                "aws elb modify-load-balancer-attributes --load-balancer-name NAME "
                '--load-balancer-attributes "{\\"ConnectionSettings\\":{\\"IdleTimeout\\":{need}}}"'
            ),
            "sticky": "aws elb create-lb-cookie-stickiness-policy (cookie AWSELB)",
        },
    ),
    Box(
        "aws_nlb",
        "AWS Network Load Balancer",
        "load balancer",
        limits=(Limit("idle", 350, "TCP idle timeout", default=False),),
        affinity="source IP stickiness on the target group",
        note="layer 4: it adds no header, so it is never identified from answers",
    ),
    Box(
        "api_gateway",
        "Amazon API Gateway",
        "load balancer",
        limits=(
            Limit("request", 29, "integration timeout (REST APIs)"),
            Limit("idle", 600, "websocket API idle timeout", default=False),
            Limit("lifetime", 7200, "websocket API connection duration", default=False),
        ),
        affinity="none",
        fixes={
            "request": (
                "API Gateway answers 504 after 29 s of integration time: keep pingInterval below "
                "it, or put the Socket.IO server behind a load balancer instead."
            ),
            "lifetime": "API Gateway ends websockets after 2 h (fixed): clients must reconnect.",
            "idle": "API Gateway closes websockets idle for 10 min (fixed).",
        },
        note="its websocket APIs terminate the websocket themselves; Socket.IO needs a plain proxy",
    ),
    Box(
        "gcp_lb",
        "Google Cloud external Application Load Balancer",
        "load balancer",
        limits=(
            Limit(
                "lifetime",
                30,
                "backend service timeout",
                note="applies to the whole websocket",
            ),
        ),
        affinity_cookies=("GCLB",),
        affinity="backend service session affinity GENERATED_COOKIE (cookie GCLB) or CLIENT_IP",
        fixes={
            "lifetime": (
                "gcloud compute backend-services update BACKEND --global --timeout={need} "
                "(GKE: a BackendConfig with timeoutSec: {need}); the timeout is the longest a "
                "websocket may live."
            ),
            "request": "gcloud compute backend-services update BACKEND --global --timeout={need}",
            "sticky": (
                "gcloud compute backend-services update BACKEND --global "
                "--session-affinity=GENERATED_COOKIE"
            ),
        },
    ),
    Box(
        "azure_app_gateway",
        "Azure Application Gateway",
        "load balancer",
        limits=(
            Limit(
                "lifetime",
                20,
                "backend setting request timeout",
                note="also applies to the websocket session and to each held long-poll",
            ),
        ),
        affinity_cookies=("ApplicationGatewayAffinity", "ApplicationGatewayAffinityCORS"),
        affinity="cookie-based affinity (cookies ApplicationGatewayAffinity / …CORS)",
        fixes={
            "lifetime": (
                "az network application-gateway http-settings update --gateway-name GW "
                "--resource-group RG --name SETTINGS --timeout {need} (the request timeout; it "
                "also ends websockets)."
            ),
            "request": (
                "az network application-gateway http-settings update --gateway-name GW "
                "--resource-group RG --name SETTINGS --timeout {need}"
            ),
            "sticky": (
                "az network application-gateway http-settings update ... --cookie-based-affinity "
                "Enabled"
            ),
        },
    ),
    Box(
        "azure_app_service",
        "Azure App Service front end",
        "platform",
        # App Service's front end load balancer ends a request after 230 s without an answer
        # (Azure App Service FAQ, "request timed out after 230 seconds").
        limits=(Limit("request", 230, "front end request timeout", default=False),),
        affinity_cookies=("ARRAffinity", "ARRAffinitySameSite"),
        affinity="ARR affinity (cookies ARRAffinity / ARRAffinitySameSite), on by default",
        fixes={
            "sticky": "Configuration → General settings → ARR affinity: On (and Web sockets: On).",
        },
        note="Web sockets must be switched on in the app's configuration",
    ),
    # --- reverse proxies ------------------------------------------------------------------------
    Box(
        "ingress_nginx",
        "ingress-nginx (Kubernetes)",
        "reverse proxy",
        limits=(Limit("idle", 60, "annotation nginx.ingress.kubernetes.io/proxy-read-timeout"),),
        affinity_cookies=("INGRESSCOOKIE",),
        affinity="annotation nginx.ingress.kubernetes.io/affinity: cookie (cookie INGRESSCOOKIE)",
        fixes={
            "idle": (
                'On the Ingress: nginx.ingress.kubernetes.io/proxy-read-timeout: "{need}" and '
                'nginx.ingress.kubernetes.io/proxy-send-timeout: "{need}".'
            ),
            "request": 'On the Ingress: nginx.ingress.kubernetes.io/proxy-read-timeout: "{need}"',
            "sticky": (
                'On the Ingress: nginx.ingress.kubernetes.io/affinity: "cookie" (cookie '
                'INGRESSCOOKIE), or nginx.ingress.kubernetes.io/upstream-hash-by: "$remote_addr" '
                "for IP affinity."
            ),
        },
    ),
    Box(
        "nginx",
        "nginx",
        "reverse proxy",
        limits=(Limit("idle", 60, "proxy_read_timeout"),),
        affinity_cookies=("route",),
        affinity="ip_hash / hash $remote_addr consistent (IP); sticky cookie (nginx Plus)",
        fixes={
            "idle": _NGINX_IDLE,
            "request": "In the location: proxy_read_timeout {need}s; (above pingInterval).",
            "sticky": "upstream NAME { ip_hash; server ...; server ...; }",
        },
    ),
    Box(
        "haproxy",
        "HAProxy",
        "reverse proxy",
        limits=(
            Limit(
                "idle",
                None,
                "timeout tunnel",
                note="on websockets; without it timeout client/server apply",
            ),
            Limit("request", None, "timeout server", note="bounds each held long-poll"),
        ),
        affinity_cookies=("SERVERID",),
        affinity="cookie SERVERID insert indirect nocache (cookie) or balance source (IP)",
        fixes={
            "idle": "In the backend (or defaults): timeout tunnel 1h (and timeout client / timeout server above {need}s).",
            "request": "In the backend (or defaults): timeout server {need}s (above pingInterval).",
            "sticky": (
                "In the backend: cookie SERVERID insert indirect nocache, and cookie s1 / s2 on "
                "each server line; or balance source for IP affinity."
            ),
        },
    ),
    Box(
        "istio",
        "Istio (Envoy sidecar / gateway)",
        "reverse proxy",
        # Envoy's stream idle timeout is 5 min by default (Envoy docs, "How do I configure
        # timeouts?"); Istio leaves the route timeout off by default.
        limits=(Limit("idle", 300, "stream_idle_timeout / VirtualService idleTimeout"),),
        affinity="DestinationRule consistentHash: httpCookie (cookie) or useSourceIp (IP)",
        fixes={
            "idle": "Set a longer idle timeout on the route (Envoy stream_idle_timeout, {need} s or more).",
            "request": "In the VirtualService route: timeout: 0s (off) or above pingInterval.",
            "sticky": (
                "A DestinationRule with trafficPolicy.loadBalancer.consistentHash.httpCookie "
                "(cookie) or useSourceIp: true (IP)."
            ),
        },
    ),
    Box(
        "envoy",
        "Envoy",
        "reverse proxy",
        # Envoy: route timeout 15 s by default (bounds a held long-poll), stream_idle_timeout 5 min
        # (Envoy docs, "How do I configure timeouts?").
        limits=(
            Limit("request", 15, "route timeout"),
            Limit("idle", 300, "stream_idle_timeout"),
        ),
        affinity="ring_hash / maglev with a hash_policy on a cookie or the source IP",
        fixes={
            "request": (
                "On the route: timeout: 0s (off) or above pingInterval; a held long-poll needs "
                "{need} s."
            ),
            "idle": "On the route: idle_timeout above {need} s (or the HTTP connection manager's stream_idle_timeout).",
            "sticky": "lb_policy: RING_HASH with route hash_policy: cookie (or connection_properties: source_ip).",
        },
    ),
    Box(
        "kong",
        "Kong",
        "reverse proxy",
        # Kong services: read_timeout / write_timeout 60000 ms by default (Kong Gateway docs,
        # Service object).
        limits=(Limit("idle", 60, "service read_timeout"),),
        affinity="upstream hash_on: cookie (cookie) or ip",
        fixes={
            "idle": "On the Kong service: read_timeout and write_timeout of {need}000 ms or more.",
            "sticky": "On the Kong upstream: hash_on: cookie (or ip).",
        },
    ),
    Box(
        "apache",
        "Apache httpd",
        "reverse proxy",
        # mod_proxy: ProxyTimeout defaults to Timeout, 60 s (Apache httpd docs, mod_proxy).
        limits=(Limit("idle", 60, "ProxyTimeout (defaults to Timeout)"),),
        affinity_cookies=("ROUTEID",),
        affinity="mod_proxy_balancer stickysession=ROUTEID (cookie)",
        fixes={
            "idle": "ProxyTimeout {need} (or timeout={need} on the ProxyPass line of the websocket).",
            "sticky": "ProxyPass ... balancer://NAME stickysession=ROUTEID with route= on each BalancerMember.",
        },
    ),
    Box(
        "caddy",
        "Caddy",
        "reverse proxy",
        affinity="reverse_proxy lb_policy cookie (cookie lb) or ip_hash",
        affinity_cookies=("lb",),
        fixes={"sticky": "reverse_proxy { lb_policy cookie }  (or lb_policy ip_hash)"},
    ),
    Box("varnish", "Varnish", "reverse proxy", note="websockets need return (pipe) in vcl_recv"),
    # --- origin servers (what answers last, when no proxy rewrote the Server header) -----------
    Box("aiohttp", "aiohttp (python-engineio)", "origin"),
    Box("uvicorn", "uvicorn", "origin"),
    Box("hypercorn", "Hypercorn", "origin"),
    Box("gunicorn", "gunicorn", "origin"),
    Box("werkzeug", "Werkzeug (Flask development server)", "origin"),
    Box("eventlet", "eventlet", "origin"),
)
"""Every box conndebug knows, outermost roles first."""

_BY_KEY: Mapping[str, Box] = {b.key: b for b in BOXES}


def box(key: str) -> Box:
    """The catalogue entry ``key`` (KeyError for an unknown key: a bug)."""
    return _BY_KEY[key]


def key_known(key: str) -> bool:
    """Whether ``key`` is a box of the catalogue."""
    return key in _BY_KEY


def box_by_cookie(name: str) -> Box | None:
    """The box whose affinity cookie is called ``name``, if any."""
    return next((b for b in BOXES if b.sets_cookie(name)), None)
