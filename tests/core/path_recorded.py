"""Answers for the path fingerprint tests: recorded here, or as the vendors' documentation shows.

nginx 1.22.1 and HAProxy 2.6.12 (Debian 12 packages) were recorded on loopback in front of the
reference server (``tests/lab/test_path_lab.py`` records the same answers live and checks them
again). The cloud vendors' header sets are copied from their documentation or from answers quoted
in public threads; each names its source. Cookie values and request ids are the documents' own
examples, or shortened.
"""

from __future__ import annotations

from conndebug.core.path import Answer

__all__ = ["parse"]


def parse(raw: str, where: str) -> Answer:
    """An :class:`Answer` from a raw answer (status line, header lines, blank line, body)."""
    head, _, body = raw.partition("\n\n")
    lines = head.split("\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = [tuple(line.split(": ", 1)) for line in lines[1:] if line]
    return Answer.of(where, status, [(k, v) for k, v in headers], body)


# --- recorded: nginx 1.22.1 (proxy_pass with the documented websocket lines) -------------------
NGINX_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "Server: nginx/1.22.1\n"
    "Date: Mon, 07 Dec 2026 08:37:30 GMT\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Length: 118\n"
    "Connection: close\n"
    "Vary: Origin\n"
    "\n"
    '0{"sid":"rzXhXzorHqgf2NGmAAAA","upgrades":["websocket"],"pingTimeout":10000,'
    '"pingInterval":25000,"maxPayload":1000000}'
)
NGINX_WS101 = (
    "HTTP/1.1 101 Switching Protocols\n"
    "Server: nginx/1.22.1\n"
    "Date: Mon, 07 Dec 2026 08:37:30 GMT\n"
    "Connection: upgrade\n"
    "Upgrade: websocket\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n"
)
NGINX_502 = (
    "HTTP/1.1 502 Bad Gateway\n"
    "Server: nginx/1.22.1\n"
    "Date: Mon, 07 Dec 2026 08:37:30 GMT\n"
    "Content-Type: text/html\n"
    "Content-Length: 157\n"
    "Connection: close\n"
    "\n"
    "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n"
    "<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx/1.22.1</center>\n"
    "</body>\n</html>\n"
)
NGINX_504 = (  # a held long-poll cut by proxy_read_timeout 1s
    "HTTP/1.1 504 Gateway Time-out\n"
    "Server: nginx/1.22.1\n"
    "Date: Mon, 07 Dec 2026 08:37:35 GMT\n"
    "Content-Type: text/html\n"
    "Content-Length: 167\n"
    "Connection: close\n"
    "\n"
    "<html>\n<head><title>504 Gateway Time-out</title></head>\n<body>\n"
    "<center><h1>504 Gateway Time-out</h1></center>\n<hr><center>nginx/1.22.1</center>\n"
    "</body>\n</html>\n"
)
# nginx with server_tokens off (what ingress-nginx and many images send): no version
NGINX_502_NO_TOKENS = NGINX_502.replace("nginx/1.22.1", "nginx")

# --- recorded: HAProxy 2.6.12 (cookie SERVERID insert indirect nocache; origin aiohttp) --------
HAPROXY_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "content-type: text/plain; charset=UTF-8\n"
    "vary: Origin\n"
    "content-length: 118\n"
    "date: Mon, 07 Dec 2026 08:37:30 GMT\n"
    "server: Python/3.11 aiohttp/3.14.5\n"
    "set-cookie: SERVERID=s1; path=/\n"
    "connection: close\n"
    "\n"
    '0{"sid":"8r1fXF6SErR4DgdJAAAC","upgrades":["websocket"],"pingTimeout":10000,'
    '"pingInterval":25000,"maxPayload":1000000}'
)
HAPROXY_WS101 = (
    "HTTP/1.1 101 Switching Protocols\n"
    "upgrade: websocket\n"
    "connection: upgrade\n"
    "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n"
    "date: Mon, 07 Dec 2026 08:37:30 GMT\n"
    "server: Python/3.11 aiohttp/3.14.5\n"
    "set-cookie: SERVERID=s1; path=/\n"
)
HAPROXY_503 = (
    "HTTP/1.1 503 Service Unavailable\n"
    "content-length: 107\n"
    "cache-control: no-cache\n"
    "content-type: text/html\n"
    "connection: close\n"
    "\n"
    "<html><body><h1>503 Service Unavailable</h1>\n"
    "No server is available to handle this request.\n</body></html>\n"
)
HAPROXY_504 = (  # a held long-poll cut by timeout server 1s
    "HTTP/1.1 504 Gateway Time-out\n"
    "content-length: 92\n"
    "cache-control: no-cache\n"
    "content-type: text/html\n"
    "connection: close\n"
    "\n"
    "<html><body><h1>504 Gateway Time-out</h1>\n"
    "The server didn't respond in time.\n</body></html>\n"
)

# --- vendors, as documented ------------------------------------------------------------------
# Cloudflare, "Cloudflare HTTP headers" (developers.cloudflare.com/fundamentals/reference/
# http-headers/): CF-RAY on every proxied answer, cf-cache-status, Server: cloudflare.
CLOUDFLARE_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "Date: Mon, 07 Dec 2026 08:00:00 GMT\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Connection: keep-alive\n"
    "CF-Cache-Status: DYNAMIC\n"
    "Server: cloudflare\n"
    "CF-RAY: 230b030023ae2822-SJC\n"
    "\n"
    '0{"sid":"x","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000}'
)
# A 524 page as quoted in a public paste of Cloudflare's error page (pastebin.com/5DwX804Z).
CLOUDFLARE_524 = (
    "HTTP/1.1 524 A timeout occurred\n"
    "Server: cloudflare\n"
    "CF-RAY: 6e38aaae2b924b8c-SIN\n"
    "Content-Type: text/html; charset=UTF-8\n"
    "\n"
    "<title>example.com | 524: A timeout occurred</title> ... Error 524 ... "
    "Cloudflare Ray ID: 6e38aaae2b924b8c • Performance &amp; security by Cloudflare"
)
# Amazon CloudFront developer guide ("Headers that CloudFront adds"): Via "1.1 <id>.cloudfront.net
# (CloudFront)", X-Cache, X-Amz-Cf-Pop, X-Amz-Cf-Id.
CLOUDFRONT_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "X-Cache: Miss from cloudfront\n"
    "Via: 1.1 a6d3b8d9c5e3f2ff8f8dde8e6a5a1c2e.cloudfront.net (CloudFront)\n"
    "X-Amz-Cf-Pop: SFO5-C1\n"
    "X-Amz-Cf-Id: 3qHmn8bxFyLEsRC_ItBeHe3nL9Ak3k4ls8rN3SF8lZ8eTa-Gk9Q7Wg==\n"
    "\n"
    '0{"sid":"x"}'
)
# Elastic Load Balancing user guide, "Sticky sessions for your Application Load Balancer": the
# AWSALB and AWSALBCORS cookies; ALB's own error answers carry Server: awselb/2.0.
ALB_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "Date: Mon, 07 Dec 2026 08:00:00 GMT\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Set-Cookie: AWSALB=oRb8nGe9a8...; Expires=Mon, 14 Dec 2026 08:00:00 GMT; Path=/\n"
    "Set-Cookie: AWSALBCORS=oRb8nGe9a8...; Expires=Mon, 14 Dec 2026 08:00:00 GMT; Path=/; "
    "SameSite=None; Secure\n"
    "\n"
    '0{"sid":"x"}'
)
ALB_502 = (
    "HTTP/1.1 502 Bad Gateway\n"
    "Server: awselb/2.0\n"
    "Date: Mon, 07 Dec 2026 08:00:00 GMT\n"
    "Content-Type: text/html\n"
    "Content-Length: 122\n"
    "\n"
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)
# Google Cloud load balancing docs ("Via: 1.1 google" on answers through the external
# Application Load Balancer; GENERATED_COOKIE affinity sets GCLB).
GCP_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Via: 1.1 google\n"
    'Alt-Svc: h3=":443"; ma=2592000,h3-29=":443"; ma=2592000\n'
    'Set-Cookie: GCLB="e1b3c4d5a6b7c8d9"; path=/; HttpOnly\n'
    "\n"
    '0{"sid":"x"}'
)
CLOUD_RUN_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Server: Google Frontend\n"
    "X-Cloud-Trace-Context: 105445aa7843bc8bf206b12000100000\n"
    "\n"
    '0{"sid":"x"}'
)
# Azure Front Door, "Protocol support for HTTP headers" (X-Azure-Ref example from that page) and
# X-Cache values of Azure CDN from Microsoft.
FRONT_DOOR_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "X-Azure-Ref: 0zxV+XAAAAABKMMOjBv2NT4TY6SQVjC0zV1NURURHRTA2MTkANDM3YzgyY2QtMzYwYS00YTU0LTk0YzMt"
    "NWZmNzA3NjQ3Nzgz\n"
    "X-Cache: CONFIG_NOCACHE\n"
    "\n"
    '0{"sid":"x"}'
)
# Azure Application Gateway, "Application Gateway HTTP settings configuration": affinity cookies
# ApplicationGatewayAffinity and ApplicationGatewayAffinityCORS; its 502 page names it.
APP_GATEWAY_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Set-Cookie: ApplicationGatewayAffinityCORS=5d4c3b2a1f0e; Path=/; SameSite=None; Secure\n"
    "Set-Cookie: ApplicationGatewayAffinity=5d4c3b2a1f0e; Path=/\n"
    "\n"
    '0{"sid":"x"}'
)
APP_GATEWAY_502 = (
    "HTTP/1.1 502 Bad Gateway\n"
    "Server: Microsoft-Azure-Application-Gateway/v2\n"
    "Content-Type: text/html\n"
    "\n"
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n"
    "<hr><center>Microsoft-Azure-Application-Gateway/v2</center>\r\n</body>\r\n</html>\r\n"
)
# Azure App Service: ARR affinity cookies (App Service configuration docs).
APP_SERVICE_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Set-Cookie: ARRAffinity=8c7b6a5f4e3d; Path=/; HttpOnly; Domain=example.azurewebsites.net\n"
    "Set-Cookie: ARRAffinitySameSite=8c7b6a5f4e3d; Path=/; HttpOnly; SameSite=None; Secure\n"
    "\n"
    '0{"sid":"x"}'
)
# Heroku Dev Center, "HTTP Routing" (Via on every answer; "vegur" for the legacy router).
HEROKU_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "Server: Cowboy\n"
    "Connection: keep-alive\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Via: 1.1 vegur\n"
    "\n"
    '0{"sid":"x"}'
)
# Fly.io docs, "Request headers": Via "2 fly.io" in requests and answers; Fly-Request-Id.
FLY_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Server: Fly/3b2a1c0d (2026-11-20)\n"
    "Via: 1.1 fly.io\n"
    "Fly-Request-Id: 01JEXAMPLE0000000000000000-ams\n"
    "\n"
    '0{"sid":"x"}'
)
# Vercel docs, "Response headers": server: Vercel, x-vercel-id, x-vercel-cache.
VERCEL_404 = (
    "HTTP/1.1 404 Not Found\n"
    "Server: Vercel\n"
    "X-Vercel-Id: cdg1::8bz2x-1733558400000-0a1b2c3d4e5f\n"
    "X-Vercel-Cache: MISS\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "The page could not be found\n\nNOT_FOUND\n"
)
# Fastly docs ("Checking cache", "X-Served-By"): Varnish underneath, cache node names.
FASTLY_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "Via: 1.1 varnish\n"
    "X-Served-By: cache-sjc10043-SJC\n"
    "X-Cache: MISS\n"
    "X-Cache-Hits: 0\n"
    "X-Timer: S1733558400.000000,VS0,VE12\n"
    "\n"
    '0{"sid":"x"}'
)
# Akamai: its own refusals are served by AkamaiGHost with a "Reference #" line.
AKAMAI_403 = (
    "HTTP/1.1 403 Forbidden\n"
    "Server: AkamaiGHost\n"
    "Content-Type: text/html\n"
    "\n"
    "<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n"
    "Reference&#32;&#35;18&#46;6f64d217&#46;1733558400&#46;1a2b3c4d\n</BODY>\n</HTML>\n"
)
# Istio docs (answers through the sidecar / gateway): server: istio-envoy,
# x-envoy-upstream-service-time.
ISTIO_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "content-type: text/plain; charset=UTF-8\n"
    "x-envoy-upstream-service-time: 3\n"
    "server: istio-envoy\n"
    "\n"
    '0{"sid":"x"}'
)
# Envoy's own answers when no upstream answers (Envoy docs and issues quote these bodies).
ENVOY_503 = (
    "HTTP/1.1 503 Service Unavailable\n"
    "content-length: 91\n"
    "content-type: text/plain\n"
    "server: envoy\n"
    "\n"
    "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
)
# ingress-nginx docs, "Sticky sessions" (cookie INGRESSCOOKIE) and its default backend.
INGRESS_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "Date: Mon, 07 Dec 2026 08:00:00 GMT\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Connection: keep-alive\n"
    "Set-Cookie: INGRESSCOOKIE=a9907b79b248140b56bb13723f72b67697baac3d; Expires=Wed, "
    "09-Dec-26 08:00:00 GMT; Max-Age=172800; Path=/; HttpOnly\n"
    "Strict-Transport-Security: max-age=15724800; includeSubDomains\n"
    "\n"
    '0{"sid":"x"}'
)
INGRESS_DEFAULT_BACKEND = (
    "HTTP/1.1 404 Not Found\nServer: nginx\nContent-Type: text/plain\n\ndefault backend - 404"
)
# Kong Gateway docs (proxy headers): Via kong/<version>, X-Kong-Upstream-Latency.
KONG_HANDSHAKE = (
    "HTTP/1.1 200 OK\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "X-Kong-Upstream-Latency: 2\n"
    "X-Kong-Proxy-Latency: 0\n"
    "Via: kong/3.4.2\n"
    "\n"
    '0{"sid":"x"}'
)
# A Socket.IO server reached directly: Node sets no Server header.
NODE_DIRECT = (
    "HTTP/1.1 200 OK\n"
    "Content-Type: text/plain; charset=UTF-8\n"
    "Content-Length: 118\n"
    "cache-control: no-store\n"
    "Date: Mon, 07 Dec 2026 08:00:00 GMT\n"
    "Connection: keep-alive\n"
    "Keep-Alive: timeout=5\n"
    "\n"
    '0{"sid":"x","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000}'
)
