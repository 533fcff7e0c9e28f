"""The verdict catalog: every diagnosis the probe can give, as data.

Each :class:`VerdictSpec` is one stable code of design.md (code, exit code, meaning) with one or
more :class:`Variant` texts: a title, an explanation and a fix, written as ``str.format`` templates
filled from the evidence the probe collected (status codes, the server's own message, addresses,
times). :func:`make_verdict` picks the variant and fills it in; a piece of evidence that is missing
reads ``unknown`` instead of failing, so a verdict is always printable.

Tests iterate over :data:`CATALOG`: every code of the design table is here with its exit code, and
every template renders.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conndebug.core.text import visible

__all__ = [
    "CATALOG",
    "CODES",
    "EXIT_BY_CODE",
    "Variant",
    "Verdict",
    "VerdictSpec",
    "make_verdict",
    "spec",
    "template_fields",
]

NGINX_UPGRADE = (
    "proxy_http_version 1.1; "
    "proxy_set_header Upgrade $http_upgrade; "
    'proxy_set_header Connection "upgrade";'
)
"""The three nginx lines that forward a websocket upgrade."""


@dataclass(frozen=True)
class Verdict:
    """The probe's conclusion in plain words."""

    code: str
    """A stable code of design.md, e.g. ``websocket_blocked``."""
    title: str
    explanation: str
    """What was seen, built from the evidence."""
    fix: str
    """What to do about it."""
    exit_code: int
    """0 OK, 1 WARNING, 2 CRITICAL (monitoring-plugin convention)."""

    def to_dict(self) -> dict[str, str]:
        """The ``verdict`` object of the ``--json`` schema."""
        return {
            "code": self.code,
            "title": self.title,
            "explanation": self.explanation,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class Variant:
    """One way a verdict comes about, with its own texts."""

    reason: str
    """A short tag the probe uses to pick this text (``default`` is the fallback)."""
    title: str
    explanation: str
    fix: str
    exit_code: int | None = None
    """This way's own exit code where it differs from the code's (``transport_unavailable``: a
    polling-only server is a WARNING, a forced transport the server refuses is CRITICAL)."""


@dataclass(frozen=True)
class VerdictSpec:
    """One catalog entry: a stable code, its exit code, its meaning and its texts."""

    code: str
    exit_code: int
    meaning: str
    """The meaning column of design.md's verdict table."""
    variants: tuple[Variant, ...] = field(default_factory=tuple)

    def variant(self, reason: str | None) -> Variant:
        """The variant named ``reason``, or the ``default`` one."""
        for v in self.variants:
            if v.reason == reason:
                return v
        for v in self.variants:
            if v.reason == "default":
                return v
        return self.variants[0]


def _v(
    reason: str, title: str, explanation: str, fix: str, *, exit_code: int | None = None
) -> Variant:
    return Variant(
        reason=reason, title=title, explanation=explanation, fix=fix, exit_code=exit_code
    )


CATALOG: tuple[VerdictSpec, ...] = (
    VerdictSpec(
        "ok",
        0,
        "connected; websocket in use (or polling where the server offers no upgrade)",
        (
            _v(
                "default",
                "Connected over {transport}",
                "{url} speaks Engine.IO {eio} at {path}; namespace {namespace} accepted the "
                "connection{as_user} over {transport}.{rtt_note} The server pings every "
                "{ping_interval_s} s and waits {ping_timeout_s} s for the answer.",
                "Nothing to fix: a web client with the same settings connects here.",
            ),
            _v(
                "polling_only",
                "Connected over polling (the server offers no websocket)",
                "{url} speaks Engine.IO {eio} at {path}; namespace {namespace} accepted the "
                "connection{as_user}. The server offers no websocket upgrade (upgrades: "
                "{upgrades}), so HTTP long-polling is the transport by the server's own choice, "
                "and clients that start with polling connect.{rtt_note}",
                "Nothing to fix for polling-first clients. A websocket-first client without "
                "fallback never connects here: if you expected websockets, enable the websocket "
                "transport on the server (socket.io: `transports: ['polling', 'websocket']`).",
            ),
            _v(
                "regenerated",
                "Connected over {transport} after renewing an expired session",
                'The guest session conndebug kept for this server was refused with "{message}": '
                "{why_expired}. A new guest session ({user}) was created and namespace "
                "{namespace} accepted it over {transport}, as the web client does (the history "
                "shows the regeneration).{rtt_note}",
                "Nothing to fix in the connection. A stored session can expire on the server "
                "before its token does; the client must create a new guest session when it sees "
                "this message.",
            ),
            _v(
                "client",
                "Connected over {transport}",
                "The client connected to {url} over {transport} ({how}); the server gave it socket "
                "id {sid}. Nothing in the record points at a connection problem.",
                "Nothing to fix in the connection. If the user still sees a problem, record it "
                "while it happens (the HAR or log must cover the moment it goes wrong).",
            ),
        ),
    ),
    VerdictSpec(
        "websocket_blocked",
        1,
        "connected only over HTTP long-polling: the server offers websocket but the websocket "
        "handshake was refused, stripped or hung (firewall, proxy, missing `Upgrade` forwarding)",
        (
            _v(
                "default",
                "Websocket blocked: connected over polling only",
                "Polling works, but the websocket handshake to {ws_url} failed: {error}. The "
                "server offers websocket ({upgrades}), so something in between stops it.",
                "Check every proxy, load balancer and firewall in front of the server for "
                "websocket support on {path}. In nginx: {nginx}",
            ),
            _v(
                "proxy_tunnel",
                "The proxy refuses the websocket's tunnel: connected over polling only",
                "Polling works through the proxy {proxy} ({proxy_source}), but the websocket to "
                "{ws_url} must cross it in a CONNECT tunnel, as a browser's does, and the proxy "
                "did not open one: {error}. The server offers websocket ({upgrades}).",
                "Ask whoever runs the proxy to allow CONNECT to {host}:{port} (many proxies allow "
                "it to port 443 only: tinyproxy `ConnectPort`, Squid `http_access deny CONNECT "
                "!SSL_ports`), or serve the app over https on port 443. Until then the web client "
                "needs `transports: ['polling', 'websocket']` or `tryAllTransports: true` to "
                "connect at all.",
            ),
            _v(
                "refused",
                "Websocket refused with HTTP {status}: connected over polling only",
                "Polling works, but the websocket handshake to {ws_url} was answered "
                "HTTP {status}{server_note} instead of 101 Switching Protocols. A firewall, WAF or "
                "proxy rule refuses websocket upgrades; the server itself offers them "
                "({upgrades}).",
                "Allow websocket upgrades (`Upgrade: websocket`) to {path} in the firewall, WAF or "
                "proxy that answered {status}. The web client (websocket first) does not fall back "
                "to polling by itself: until this is fixed, set `transports: ['polling', "
                "'websocket']` or `tryAllTransports: true` in the client.",
            ),
            _v(
                "upgrade_stripped",
                "Websocket blocked: the Upgrade header does not reach the server",
                'The websocket handshake to {ws_url} was answered HTTP {status} "{message}"'
                "{code_note}: the server received a websocket request without its "
                "`Upgrade`/`Connection` headers. A reverse proxy in front of it does not forward "
                "them. Polling works.",
                "Forward the upgrade headers in the reverse proxy. nginx, in the location for "
                "{path}: {nginx} (Apache: mod_proxy_wstunnel; HAProxy: `option http-server-close` "
                "off and `timeout tunnel`).",
            ),
            _v(
                "reset",
                "Websocket cut off during the handshake: connected over polling only",
                "Polling works, but the connection was closed during the websocket handshake "
                "to {ws_url} ({error}) after {ms} ms. A proxy or firewall drops websocket "
                "connections.",
                "Look for a proxy, load balancer or security appliance that closes upgraded "
                "connections; in nginx forward the upgrade: {nginx}",
            ),
            _v(
                "hang",
                "Websocket handshake hangs: connected over polling only",
                "Polling works, but the websocket handshake to {ws_url} got no answer within "
                "{timeout_s} s (the connection was accepted, then silence): something swallows "
                "the upgrade. A web client with the seed's options waits its whole connect "
                "timeout here.",
                "Find the proxy or firewall that holds websocket upgrades (nginx without {nginx} "
                "behaves like this behind some load balancers). Meanwhile clients should try "
                "polling first or use `tryAllTransports: true`.",
            ),
            _v(
                "websocket_only",
                "Websocket blocked, and the server offers no polling: nothing can connect",
                "The server answers only over websocket (its polling handshake is refused), and "
                "the websocket handshake to {ws_url} failed: {blocked_how}. No transport is left, "
                "so this is critical, not a warning.",
                "Allow websocket upgrades to {path} in the proxy or firewall in between (nginx: "
                "{nginx}), or enable the polling transport on the server so clients can fall back.",
            ),
            _v(
                "probe_failed",
                "Websocket opened but the upgrade probe failed: connected over polling only",
                "The websocket handshake to {ws_url} returned 101, but the Engine.IO probe "
                "(2probe → 3probe) failed: {error}. Something between rewrites or drops websocket "
                "frames.",
                "Check proxies for websocket frame handling and timeouts; in nginx: {nginx}",
            ),
            _v(
                "refused_no_fallback",
                "Websocket refused with HTTP {status}: the client never connected",
                "The websocket handshake to {ws_url} was answered HTTP {status} instead of 101 "
                "Switching Protocols ({attempts}). The client tries websocket first and does not "
                "fall back to polling by itself, so it never connected. {http_note}",
                "Allow websocket upgrades (`Upgrade: websocket`) to {path} in the firewall, WAF or "
                "proxy that answered {status} (nginx: {nginx}). Until then the client needs "
                "`transports: ['polling', 'websocket']` or `tryAllTransports: true`.",
            ),
            _v(
                "hang_no_fallback",
                "Websocket handshake hangs: the client never connected",
                "The websocket handshake to {ws_url} got no answer ({attempts}; the client gave up "
                "after {timeout_s} s each time), while {http_note}: the server is up, but "
                "something between swallows the websocket upgrade. The client tries websocket "
                "first and does not fall back to polling.",
                "Find the proxy or firewall that holds websocket upgrades to {path} (nginx: "
                "{nginx}). Until then the client needs `transports: ['polling', 'websocket']` or "
                "`tryAllTransports: true`, and even then a hanging websocket costs its whole "
                "connect timeout.",
            ),
            _v(
                "upgrade_refused",
                "Websocket upgrade refused: connected over polling only",
                "The client connected over polling, but its websocket upgrade to {ws_url} failed: "
                "{error}. The server offers websocket ({upgrades}), so something in between stops "
                "it.",
                "Check every proxy, load balancer and firewall in front of the server for "
                "websocket support on {path}. In nginx: {nginx}",
            ),
        ),
    ),
    VerdictSpec(
        "cors_permissive",
        1,
        "connected, but the server reflects any Origin with credentials (a security warning)",
        (
            _v(
                "default",
                "CORS reflects any origin with credentials",
                "Asked from the made-up origin {random_origin}, the server answered "
                "`Access-Control-Allow-Origin: {acao}` with `Access-Control-Allow-Credentials: "
                "{acac}`: any web site a user visits can make credentialed requests to this "
                "server on the user's behalf.",
                "Replace the reflect-any-origin setting (socket.io `cors: {{origin: true}}`, "
                "python-socketio `cors_allowed_origins='*'`) with an explicit list of your own "
                "origins, e.g. [{origin_list}].",
            ),
        ),
    ),
    VerdictSpec(
        "dns_failure",
        2,
        "the host name does not resolve",
        (
            _v(
                "default",
                "The host name {host} does not resolve",
                "Looking up {host} failed after {ms} ms: {error}.",
                "Check the spelling of the host name, the DNS settings of this machine "
                "(/etc/resolv.conf, a VPN) and /etc/hosts. Names under .invalid never resolve.",
            ),
            _v(
                "proxy",
                "The proxy's host name {host} does not resolve",
                "The proxy in effect ({proxy}, from {proxy_source}) is named {host}, and looking "
                "it up failed after {ms} ms: {error}.",
                "Fix the proxy setting (set by {proxy_source}), or exclude this target with NO_PROXY.",
            ),
        ),
    ),
    VerdictSpec(
        "connection_refused",
        2,
        "nothing listens there (server down, wrong port)",
        (
            _v(
                "default",
                "Connection refused at {host}:{port}",
                "Nothing listens on {address}: the connection was refused in {ms} ms. {tried}",
                "Start the server, or check the port in the URL (the seed's server listens on "
                "3001 by default; conndebug serve too).",
            ),
            _v(
                "proxy",
                "The proxy at {host}:{port} refuses connections",
                "The proxy in effect ({proxy}, from {proxy_source}) refused the connection on "
                "{address} in {ms} ms.",
                "Start the proxy or fix its address (set by {proxy_source}); or bypass it for this host "
                "with NO_PROXY.",
            ),
            _v(
                "client",
                "Connection refused at {address}",
                "The client's connections to {address} were refused ({error}; {attempts}): "
                "nothing listens there.",
                "Start the server, or check the host and port the client uses ({url}).",
            ),
        ),
    ),
    VerdictSpec(
        "connect_timeout",
        2,
        "no answer in time (filtered port, dead host, black hole)",
        (
            _v(
                "default",
                "No answer from {host}:{port} within {timeout_s} s",
                "The TCP connection to {address} got no answer within {timeout_s} s: a firewall "
                "drops the packets, or the host is down.",
                "Check that the host is up and that no firewall or security group filters port "
                "{port}; raise --connect-timeout only if the network is known to be slow.",
            ),
            _v(
                "silent",
                "{host}:{port} accepts connections but never answers",
                "The TCP connection to {address} was accepted in {tcp_ms} ms, but the "
                "{what} got no answer within {timeout_s} s: the server (or a device in front of "
                "it) holds connections without replying — hung process, black hole, or a "
                "listener that is not HTTP.",
                "Check the server's health (is its event loop blocked?) and what really listens "
                "on port {port}; a load balancer with no healthy backend can behave like this.",
            ),
            _v(
                "client",
                "No answer from {address} within {timeout_s} s",
                "The client's connection attempts to {url} got no answer ({attempts}; it gave up "
                "after {timeout_s} s each time), and nothing else from that server is recorded: "
                "a firewall drops the packets, the host is down, or it accepts connections and "
                "never answers.",
                "Check that the server is up and reachable from the client's network (firewall, "
                "security group, VPN); `conndebug probe {url}` from the same network tells the "
                "layers apart.",
            ),
        ),
    ),
    VerdictSpec(
        "tls_error",
        2,
        "certificate not trusted / expired / wrong host, or TLS spoken to a plain port",
        (
            _v(
                "default",
                "TLS failed: {error}",
                "The TLS handshake with {host}:{port} failed after {ms} ms: {error}.",
                "Check the server's TLS configuration and this machine's trust store "
                "(--ca-bundle, SSL_CERT_FILE).",
            ),
            _v(
                "untrusted",
                "The server's certificate is not trusted",
                "The certificate of {host}:{port} (subject {subject}, issued by {issuer}) does not "
                "chain to a trusted authority: {error}. Verification: {tls_verify}.",
                "If the server uses a private or corporate CA, pass it with --ca-bundle FILE (or "
                "SSL_CERT_FILE); otherwise the server must present its full chain from a public "
                "CA. --insecure only to look further, never as the fix.",
            ),
            _v(
                "expired",
                "The server's certificate expired on {not_after}",
                "The certificate of {host}:{port} (subject {subject}, issued by {issuer}) is valid "
                "until {not_after}: {error}.",
                "Renew the certificate on the server (and check its renewal job, e.g. certbot); "
                "also check this machine's clock.",
            ),
            _v(
                "hostname",
                "The certificate does not name {host}",
                "The certificate presented by {host}:{port} is for {names}, not for {host}: "
                "{error}.",
                "Use the host name the certificate was issued for, or issue a certificate that "
                "includes {host} (subjectAltName).",
            ),
            _v(
                "plain_port",
                "TLS spoken to a plain HTTP port",
                "The TLS handshake with {host}:{port} failed ({error}) and the port answers plain "
                "HTTP ({plain_answer}): this port does not speak TLS.",
                "Use http:// (or ws://) for this port, or the server's TLS port for https://.",
            ),
            _v(
                "tls_port",
                "Plain HTTP sent to a TLS port",
                "{host}:{port} did not answer the plain HTTP request ({error}) but completes a "
                "TLS handshake: this port speaks TLS only.",
                "Use https:// (or wss://) in the URL: {https_url}",
            ),
        ),
    ),
    VerdictSpec(
        "proxy_error",
        2,
        "the proxy refused, needs auth, or failed",
        (
            _v(
                "default",
                "The proxy failed: {error}",
                "The proxy in effect ({proxy}, from {proxy_source}) failed: {error}.",
                "Check the proxy, or bypass it for this host with NO_PROXY.",
            ),
            _v(
                "auth",
                "The proxy needs authentication (HTTP 407)",
                "The proxy in effect ({proxy}, from {proxy_source}) answered 407 Proxy "
                "Authentication Required to {request}{challenge}.",
                "Put the proxy credentials in the proxy URL (http://user:password@host:port) "
                "(set by {proxy_source}), or exclude this host with NO_PROXY.",
            ),
            _v(
                "failed",
                "The proxy answered HTTP {status}: it could not reach the server",
                "The proxy in effect ({proxy}, from {proxy_source}) answered {status_line} to "
                "{request}: the proxy itself works but could not reach {target}.",
                "Check that the proxy can reach {target} (its DNS, firewall, allow-list); if the "
                "server is internal, exclude it with NO_PROXY.",
            ),
            _v(
                "refused",
                "The proxy refused the request with HTTP {status}",
                "The proxy in effect ({proxy}, from {proxy_source}) answered {status_line} to "
                "{request}.",
                "The proxy's policy blocks this destination or method (CONNECT to port {port}?): "
                "ask for it to be allowed, or exclude the host with NO_PROXY.",
            ),
        ),
    ),
    VerdictSpec(
        "not_socketio",
        2,
        "HTTP answers but not Engine.IO there (wrong path, wrong port, plain web server)",
        (
            _v(
                "default",
                "HTTP answers at {path}, but not Socket.IO",
                "{handshake_url} answered {status_line} ({content}) instead of an Engine.IO open "
                "packet: an HTTP server listens on {host}:{port}, but no Socket.IO server at "
                "{path}. {path_hint}",
                "{path_fix}",
            ),
            _v(
                "redirect",
                "HTTP redirects away from {path}",
                "{handshake_url} answered {status_line} with a redirect to {location}; "
                "Socket.IO clients do not follow redirects.",
                "Use the final address directly: {location_hint}",
            ),
        ),
    ),
    VerdictSpec(
        "protocol_mismatch",
        2,
        "the server speaks another Socket.IO generation (v2 / EIO=3)",
        (
            _v(
                "default",
                "The server runs Socket.IO v2 (Engine.IO 3)",
                "Asked with EIO=4, {handshake_url} answered with Engine.IO 3 framing "
                "({sample}): a Socket.IO 2.x server. Socket.IO 3/4 clients (and this tool) "
                "cannot talk to it; a v4 client forced over websocket even seems to connect and "
                "then drops after about a minute.",
                "The server runs Socket.IO v2: use a v2 client (socket.io-client 2.x, "
                "python-socketio 4.x), or upgrade the server to Socket.IO 4 (which can accept v2 "
                "clients meanwhile with `allowEIO3: true`).",
            ),
            _v(
                "eio4_only",
                "The server speaks only Engine.IO 4 (socket.io 3/4), not Engine.IO 3",
                "Asked with EIO=3 (--eio 3, as socket.io 2 clients do), the server answered "
                '{status_line} "{message}": it accepts only socket.io 3/4 clients.',
                "Drop --eio 3 (socket.io 3/4 clients connect here); to let socket.io 2 clients "
                "in too, set `allowEIO3: true` on the server.",
            ),
            _v(
                "heartbeat",
                "Quiet connections are cut after {limit} s: a heartbeat mismatch, not a proxy",
                "{explanation}",
                "{fix}",
            ),
            _v(
                "unsupported",
                "The server does not speak Engine.IO 4",
                'Asked with EIO=4, the server answered {status_line} "{message}" (Engine.IO code '
                "5); asked with EIO=3 it answered {eio3_answer}. It speaks another Engine.IO "
                "generation than this client.",
                "Match the client and server generations: Socket.IO 3/4 clients need a Socket.IO "
                "3/4 server; check the server's socket.io / engine.io versions.",
            ),
        ),
    ),
    VerdictSpec(
        "cors_rejected",
        2,
        "the server does not allow the given `--origin`",
        (
            _v(
                "default",
                "CORS: the server does not allow {origin}",
                "Asked from {origin}, the server answered {answer}. A browser page on {origin} "
                "cannot use polling (and a websocket-first client hides this until the websocket "
                "fails).",
                "Add {origin} to the server's allowed origins (the chat backend: CORS_ORIGIN; "
                "socket.io: `cors: {{origin: ['{origin}'], credentials: true}}`).",
            ),
            _v(
                "browser",
                "CORS: the server does not allow the page's origin {origin}",
                "The browser blocked {blocked} from the page at {origin} ({answer}): the server's "
                "answers do not allow that origin, so the page cannot read them. {consequence}",
                "Add {origin} to the server's allowed origins (the chat backend: CORS_ORIGIN; "
                "socket.io: `cors: {{origin: ['{origin}'], credentials: true}}`; python-socketio: "
                "`cors_allowed_origins=['{origin}']`).",
            ),
        ),
    ),
    VerdictSpec(
        "sticky_session_missing",
        2,
        'the handshake works but follow-up requests land on another node ("Session ID unknown")',
        (
            _v(
                "default",
                "Sticky sessions missing: requests land on another node",
                "The handshake created Engine.IO session {engine_sid}, but follow-up request "
                "{failed_at} of {rounds} with that session was answered {status_line} "
                '"{message}": it reached a server node that does not know the session. The '
                "servers run behind a load balancer without session affinity.",
                "Enable sticky sessions in the load balancer (nginx: `ip_hash;` or `hash "
                "$remote_addr consistent;` in the upstream; HAProxy/ALB: cookie affinity), and "
                "use an adapter (e.g. Redis) so broadcasts reach every node. Websocket-only "
                "clients avoid the symptom but not the cause.",
            ),
            _v(
                "client",
                "Sticky sessions missing: requests land on another node",
                "The handshake created Engine.IO session {engine_sid}, but a later request of that "
                'session ({request}) was answered {status_line} "{message}" ({count}): it reached '
                "a server node that does not know the session. The servers run behind a load "
                "balancer without session affinity.",
                "Enable sticky sessions in the load balancer (nginx: `ip_hash;` or `hash "
                "$remote_addr consistent;` in the upstream; HAProxy/ALB: cookie affinity), and "
                "use an adapter (e.g. Redis) so broadcasts reach every node. Websocket-only "
                "clients avoid the symptom but not the cause.",
            ),
        ),
    ),
    VerdictSpec(
        "auth_rejected",
        2,
        "the namespace connection was refused by the server's middleware; the server's own "
        "message is quoted",
        (
            _v(
                "default",
                'The server refused the connection: "{message}"',
                "Namespace {namespace} answered the connection request{with_token} with the error "
                '"{message}"{data_note}.',
                "{auth_fix}",
            ),
            _v(
                "engine_forbidden",
                'The server refused the handshake: "{message}"',
                'The Engine.IO handshake was answered {status_line} "{message}" (code 4, '
                "Forbidden): the server's allowRequest hook refused this client before any "
                "namespace.",
                "Check what the server's allowRequest checks (origin, headers, cookies, IP) and "
                "send it (--origin, --header).",
            ),
            _v(
                "client",
                'The server refused the connection: "{message}"',
                "Namespace {namespace} answered the client's CONNECT{with_token} with the error "
                '"{message}"{data_note} ({attempts}).',
                "{auth_fix}",
            ),
        ),
    ),
    VerdictSpec(
        "session_expired",
        2,
        "the server says the session/token expired and a new guest session could not fix it",
        (
            _v(
                "default",
                "Session expired and could not be renewed",
                'Namespace {namespace} refused the connection with "{message}", and renewing '
                "the guest session did not help: {regen_error}.",
                "Check the guest endpoint ({guest_url}) and the server's session store (Redis?): "
                "a new session must be accepted right after it is created.",
            ),
            _v(
                "token_expired",
                "The given token has expired",
                'Namespace {namespace} refused the connection with "{message}": the JWT given '
                "with --token is past its own expiry (exp {expired_at}). conndebug judges the "
                "token it was given and does not replace it with a guest session.",
                "Get a new token from the server (log in again, or create a new guest session), "
                "or drop --token to let conndebug create a guest session as the web client "
                "does.",
            ),
            _v(
                "session_dropped",
                "The server no longer knows the given token's session",
                'Namespace {namespace} refused the connection with "{message}", although the JWT '
                "given with --token has not expired (valid until {valid_until}): the server "
                "dropped the session it belongs to (its session store forgot it: a shorter "
                "session lifetime, a restart, another store). conndebug judges the token it was "
                "given and does not replace it.",
                "The web client must create a new guest session when it sees this message; for "
                "conndebug, get a new token or drop --token. If sessions vanish sooner than "
                "expected, check the server's session store (Redis TTL, restarts).",
            ),
        ),
    ),
    VerdictSpec(
        "server_error",
        2,
        "the server answered 5xx or broke the protocol",
        (
            _v(
                "default",
                "The server failed: {status_line}",
                "{handshake_url} answered {status_line}{body_note}: the server (or a proxy in "
                "front of it) failed while handling the Engine.IO request.",
                "Look at the server's logs at {time}; if a proxy answered (see the Server "
                "header: {server_header}), check that its upstream is running.",
            ),
            _v(
                "protocol",
                "The server broke the protocol: {error}",
                "During the {stage}, the server answered something Engine.IO/Socket.IO does not "
                "allow: {error}.",
                "Check the server's Socket.IO version and anything that rewrites responses in "
                "front of it (proxies, compression, WAF).",
            ),
        ),
    ),
    VerdictSpec(
        "parser_mismatch",
        2,
        "the server uses another Socket.IO parser (msgpack, custom) than the client",
        (
            _v(
                "default",
                "The server uses another Socket.IO parser than the client ({parser} here)",
                "The Engine.IO handshake worked, then the server closed the session {closed_after}"
                " after the client's first Socket.IO packet, encoded with the {parser} parser: it "
                "could not decode it ({evidence}). A server with socket.io-msgpack-parser (or a "
                "custom parser) does exactly this to a client with the default parser, and that "
                'client loops on "transport close" for ever.',
                "Use the same parser on both sides. With socket.io-msgpack-parser on the server the "
                "web client needs `parser: require('socket.io-msgpack-parser')`; conndebug needs "
                "`--parser {other_parser}`.",
            ),
        ),
    ),
    VerdictSpec(
        "namespace_unknown",
        2,
        "the namespace does not exist on the server (often an Engine.IO path pasted into the URL)",
        (
            _v(
                "default",
                "Namespace {namespace} does not exist on the server",
                'The server answered the CONNECT to namespace {namespace} with "{message}": it '
                "defines no such namespace. The connection itself works.",
                "Connect to a namespace the server defines (`--namespace`, or the path of the URL "
                "as socket.io-client reads it); the default is `/`.",
            ),
            _v(
                "path_in_url",
                "Namespace {namespace} does not exist: the URL's path is taken as a namespace",
                "The URL {url} has the path {namespace}, which socket.io clients read as a "
                'namespace, not as the Engine.IO path; the server answered "{message}".',
                "Give the Engine.IO path with `--path {namespace}` and leave it out of the URL: "
                "`conndebug probe {base_url} --path {namespace}` (socket.io-client: "
                "`io('{base_url}', {{path: '{namespace}'}})`).",
            ),
        ),
    ),
    VerdictSpec(
        "server_disconnect",
        2,
        "the server disconnects the socket right after connecting (`io server disconnect`)",
        (
            _v(
                "default",
                "The server disconnects every socket right after connecting",
                "Namespace {namespace} accepted the connection (socket id {sid}), then the server "
                "sent DISCONNECT {after} later (`io server disconnect`). Web clients do not "
                "reconnect by themselves after that, so users stay disconnected.",
                "Look at the server's `connection` handler and middleware: something calls "
                "`socket.disconnect()` on connect (a check after the handshake, a limit of "
                "connections per user, a maintenance switch).",
            ),
            _v(
                "kicked",
                "The server disconnected this socket",
                "Namespace {namespace} accepted the connection (socket id {sid}); {after} later "
                "the server sent DISCONNECT (`io server disconnect`). Web clients do not "
                "reconnect by themselves after that: the user stays disconnected until the page "
                "reconnects.",
                "Find what disconnects sockets on the server (an admin action, a session or "
                "permission check, a limit of connections per user); reconnect by hand meanwhile "
                "(`r` in the live panel).",
            ),
        ),
    ),
    VerdictSpec(
        "transport_unavailable",
        1,
        "the server does not offer a transport the client needs (polling-only server: exit 1; a "
        'forced transport the server refuses, "Transport unknown": exit 2)',
        (
            _v(
                "default",
                "The server offers only HTTP long-polling",
                "{url} accepts polling but answered the websocket with {status_line}"
                ' "{message}" and offers no upgrade (upgrades: {upgrades}). conndebug connected '
                "over polling, but a web client that starts with the websocket and has no "
                "fallback (socket.io-client with transports ['websocket', 'polling'] and no "
                "tryAllTransports, as the chat app's) never connects here.",
                "Enable the websocket on the server (socket.io: `transports: ['polling', "
                "'websocket']`), or let clients start with polling (`transports: ['polling', "
                "'websocket']`) or set `tryAllTransports: true`.",
            ),
            _v(
                "transport_unknown",
                "The server does not offer {transport}",
                "Only {transport} was allowed (`--transports {transports}`) and the server answered"
                ' {status_line} "{message}" (Engine.IO error code {engine_code}): it does not accept '
                "that transport.",
                "Use a transport the server offers (drop `--transports`, or allow the other one), "
                "or enable {transport} on the server.",
                exit_code=2,
            ),
        ),
    ),
    VerdictSpec(
        "rate_limited",
        2,
        "the server (or its guest endpoint) answers 429",
        (
            _v(
                "default",
                "Rate limited: {where} answered HTTP 429",
                '{where_url} answered 429 "{message}"{retry_after}. The cause is the rate limit, '
                "not the token or the connection.",
                "Wait and retry. conndebug keeps one guest session per target and reuses it; if "
                "something else creates sessions from this address, slow it down, or raise the "
                "limit on the server (the chat backend allows 100 requests per 15 minutes per "
                "client).",
            ),
        ),
    ),
    VerdictSpec(
        "connection_unstable",
        1,
        "connected, but the connection does not hold: it drops at a regular interval (a proxy's "
        "timeout) or goes silent (a black hole); measured by `probe --hold` or told by the drops "
        "`watch` sees: an idle timeout, a lifetime cap, or a request timeout below pingInterval "
        "that cuts held long-polls",
        (
            _v(
                "idle",
                "An idle timeout of {limit} s cuts quiet connections{at_box}",
                "{explanation}{also}",
                "{fix}",
            ),
            _v(
                "lifetime",
                "A lifetime cap of {limit} s cuts every connection{at_box}",
                "{explanation}{also}",
                "{fix}",
            ),
            _v(
                "request",
                "Held long-polls are cut after {limit} s{at_box}: polling clients cannot stay",
                "{explanation}{also}",
                "{fix}",
            ),
            _v(
                "busy_cut",
                "Only the busy connection was cut, after {limit} s",
                "{explanation}{also}",
                "{fix}",
            ),
            _v(
                "default",
                "The connection drops every ~{every_s} s",
                'Connections to {url} end with "{why}" after about {every_s} s, {count} times '
                "in a row, although the server's heartbeat ({heartbeat}) keeps a quiet connection "
                "alive longer: something in between cuts connections on a timer (a proxy or load "
                "balancer's idle limit or connection-age limit).",
                "Compare {every_s} s with the timeouts of every proxy, load balancer and firewall "
                "between the client and {url}: idle limits must exceed pingInterval + "
                "pingTimeout, and websocket connections must be allowed to live for hours.",
            ),
            _v(
                "proxy_read_timeout",
                "Connections drop every ~{every_s} s: a proxy's read timeout is below the heartbeat",
                'Connections to {url} end with "{why}" after about {every_s} s, {count} times '
                "in a row. The server pings every {ping_interval_s} s and waits {ping_timeout_s} s "
                "for the answer, so a quiet connection carries traffic only that often: anything "
                "in between that closes connections idle for less than pingInterval + "
                "pingTimeout = {heartbeat_s} s cuts every one of them (nginx "
                "`proxy_read_timeout`, 60 s by default; an AWS ALB's idle timeout...).",
                "Raise the read (idle) timeout of the proxy or load balancer above {heartbeat_s} s "
                "(nginx: `proxy_read_timeout {nginx_s}s;` in the location for {path}), or lower "
                "the server's pingInterval below that timeout.",
            ),
            _v(
                "stalled",
                "The server went silent: no sign of life for {silent_s} s",
                "The connection to {url} over {transport} is open on paper, but nothing has "
                "arrived for {silent_s} s (the bound is {bound_s} s{bound_note}): the path drops "
                "packets (a firewall, a NAT or proxy that forgot the connection: a black hole) or "
                "the server is frozen. The heartbeat alone would notice only after {heartbeat}.",
                "If it does not come back, reconnect (`r` in the live panel) and check the "
                "server's health and the network path (firewalls, NAT timeouts, VPN). A web "
                "client relying on the heartbeat alone waits {heartbeat} before it notices.",
            ),
            _v(
                "dropped",
                "The connection dropped: {why}",
                'The connection to {url} over {transport} ended with "{why}" ({who}) and is '
                "not back yet; conndebug reconnects as the web client does.",
                "Wait for the reconnection: if it fails, the next verdict names why. If drops "
                "repeat, the history shows whether they follow a pattern.",
            ),
        ),
    ),
    VerdictSpec(
        "inconclusive",
        3,
        "the record (a HAR, a log) does not say enough to name a cause",
        (
            _v(
                "default",
                "Not enough in this record to name a cause",
                "{what}",
                "{next_step}",
            ),
        ),
    ),
)
"""Every verdict, in the order of design.md's table."""

CODES: tuple[str, ...] = tuple(s.code for s in CATALOG)
EXIT_BY_CODE: Mapping[str, int] = {s.code: s.exit_code for s in CATALOG}
_BY_CODE: Mapping[str, VerdictSpec] = {s.code: s for s in CATALOG}

_DEFAULTS: Mapping[str, str] = {"nginx": NGINX_UPGRADE}


class _Evidence(dict[str, Any]):
    """A mapping for ``format_map`` in which missing evidence reads ``unknown``."""

    def __missing__(self, key: str) -> str:
        return _DEFAULTS.get(key, "unknown")


def spec(code: str) -> VerdictSpec:
    """The catalog entry of ``code`` (KeyError for an unknown code: a bug)."""
    return _BY_CODE[code]


def template_fields(template: str) -> set[str]:
    """The evidence names a template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _fmt(template: str, evidence: Mapping[str, Any]) -> str:
    values = _Evidence(
        {
            k: "unknown" if v is None else visible(v) if isinstance(v, str) else v
            for k, v in evidence.items()
        }
    )
    return " ".join(template.format_map(values).split())


def make_verdict(code: str, reason: str | None = None, **evidence: Any) -> Verdict:
    """The verdict ``code`` with the texts of variant ``reason``, filled from ``evidence``."""
    entry = spec(code)
    variant = entry.variant(reason)
    return Verdict(
        code=code,
        title=_fmt(variant.title, evidence),
        explanation=_fmt(variant.explanation, evidence),
        fix=_fmt(variant.fix, evidence),
        exit_code=entry.exit_code if variant.exit_code is None else variant.exit_code,
    )
