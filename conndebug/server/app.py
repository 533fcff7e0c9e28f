"""The HTTP side of the reference server: REST, CORS, limits, websocket faults and the admin API.

Middlewares, outermost first:

0. ``exemption``: a connection whose first request was an admin call is exempt from the relay's
   faults only while its requests are admin calls (a refused one ends it too).
1. ``cors``: for every path but ``/_conndebug/``, the way Node's ``cors`` package answers with
   ``{origin, credentials: true}`` (``strict``: the allow-list; ``reflect``: any Origin).
   ``OPTIONS`` is a preflight, answered 204 here.
2. ``errors``: unknown routes and methods, oversized bodies: JSON bodies like the backend's; a
   failing session store (Redis down) is a 503 (the reason goes to the log), never a traceback.
   A polling POST announcing more than :data:`ENGINEIO_MAX_BYTES` is a 413 at once, as Node's
   engine.io answers (python-engineio would hold it until the session times out).
3. ``websocket_faults``: on the Engine.IO path, a websocket handshake is answered 403 (``reject``)
   or held unanswered (``blackhole``) before python-engineio sees it.
4. ``api_limits``: ``/api/`` is rate limited per client (429 with the backend's body).
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Handler

from conndebug.core.errors import ConfigError, ServerError
from conndebug.server.tokens import MSG_REST_NO_TOKEN, MSG_SESSION_GONE, AuthRejected

if TYPE_CHECKING:
    from conndebug.server.core import ReferenceServer

__all__ = ["ADMIN_PREFIX", "ENGINEIO_MAX_BYTES", "ENGINEIO_PATH", "build_app"]

log = logging.getLogger("conndebug.server.http")

ENGINEIO_PATH = "/socket.io/"
ENGINEIO_MAX_BYTES = 1_000_000
"""The largest Engine.IO message a client may send (``maxPayload``, Node's ``maxHttpBufferSize``)."""
ADMIN_PREFIX = "/_conndebug/"
_CORS_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"
_GUEST_FIELDS = ("username", "location", "gender", "language")
_FIELD_MAX = {"username": 50, "location": 100, "gender": 32, "language": 32}
_SERVER_KEY: web.AppKey[ReferenceServer] = web.AppKey("server")


def _fail(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"success": False, "message": message}, status=status, headers=headers)


def _server(request: web.Request) -> ReferenceServer:
    return request.app[_SERVER_KEY]


def _is_engineio(request: web.Request) -> bool:
    return request.path == ENGINEIO_PATH or request.path == ENGINEIO_PATH.rstrip("/")


# -- middlewares -----------------------------------------------------------------------------
@web.middleware
async def _cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    origin = request.headers.get("Origin")
    allowed = origin is not None and _server(request).origin_allowed(origin)
    if request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = _CORS_METHODS
        asked = request.headers.get("Access-Control-Request-Headers")
        if asked:
            response.headers["Access-Control-Allow-Headers"] = asked
            response.headers.add("Vary", "Access-Control-Request-Headers")
        response.headers["Content-Length"] = "0"
    else:
        response = await handler(request)
    if response.prepared:
        return response  # a websocket, or an answer already on the wire
    if allowed:
        assert origin is not None
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
    response.headers.add("Vary", "Origin")
    return response


@web.middleware
async def _exemption(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Only admin calls ride on an exempt connection: any other request ends its exemption."""
    if not request.path.startswith(ADMIN_PREFIX):
        _server(request).end_exemption(request)
    return await handler(request)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    server = _server(request)
    length = request.content_length
    if _is_engineio(request):
        if length is not None and length > ENGINEIO_MAX_BYTES:
            return web.Response(status=413)
    elif length is not None and length > server.config.max_body_bytes:
        return _fail(413, "Request entity too large")
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return _fail(404, "Route not found")
    except web.HTTPMethodNotAllowed as exc:
        return _fail(405, "Method not allowed", Allow=",".join(sorted(exc.allowed_methods)))
    except web.HTTPRequestEntityTooLarge:
        return _fail(413, "Request entity too large")
    except KeyError:
        if not _is_engineio(request):
            raise
        # python-engineio raises KeyError for a request on a session that just ended; answer as
        # the Node server does (Engine.IO error code 1) instead of a 500 and a traceback.
        return web.json_response({"code": 1, "message": "Session ID unknown"}, status=400)
    except ServerError as exc:  # the session store failed (Redis down): say so, no traceback
        log.error("%s %s: %s", request.method, request.path, exc)
        return _fail(503, "Session store unavailable, please try again later.")


@web.middleware
async def _websocket_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _is_engineio(request):
        return await handler(request)
    wants_ws = (
        request.query.get("transport") == "websocket"
        or request.headers.get("Upgrade", "").lower() == "websocket"
    )
    if not wants_ws:
        return await handler(request)
    server = _server(request)
    mode = server.faults.websocket
    if mode == "reject":
        # What a proxy that does not allow websockets answers: no handshake at all.
        return web.Response(status=403, text="Forbidden: websocket upgrades are blocked here\n")
    if mode == "blackhole":
        await server.hold_websocket(request)
        # Released (the switch changed, or the server stops): drop the connection unanswered.
        transport = request.transport
        if transport is not None:
            transport.close()
        return web.Response(status=503)  # never reaches the client: the connection is closed
    return await handler(request)


@web.middleware
async def _api_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/api/"):
        return await handler(request)
    server = _server(request)
    verdict = server.api_limiter.hit(server.client_key(request))
    headers = {
        "RateLimit-Limit": str(verdict.limit),
        "RateLimit-Remaining": str(verdict.remaining),
        "RateLimit-Reset": str(verdict.reset_s),
    }
    if not verdict.allowed:
        return _fail(
            429,
            "Too many API requests, please try again later.",
            **headers,
            **{"Retry-After": str(verdict.reset_s)},
        )
    response = await handler(request)
    if not response.prepared:
        response.headers.update(headers)
    return response


# -- REST ------------------------------------------------------------------------------------
async def _read_json_object(request: web.Request) -> dict[str, Any] | web.Response:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _fail(400, "Invalid JSON body")
    if not isinstance(body, dict):
        return _fail(400, "The request body must be a JSON object")
    return body


async def _create_guest(request: web.Request) -> web.StreamResponse:
    body = await _read_json_object(request)
    if isinstance(body, web.Response):
        return body
    fields: dict[str, str | None] = {}
    for name in _GUEST_FIELDS:
        value = body.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value) > _FIELD_MAX[name]:
            return _fail(400, f"{name} must be a string of at most {_FIELD_MAX[name]} characters")
        fields[name] = value.strip() or None
    token, user = await _server(request).create_guest(**fields)
    return web.json_response(
        {
            "success": True,
            "message": "Guest session created successfully",
            "data": {"token": token, "user": user},
        },
        status=201,
    )


async def _guest_me(request: web.Request) -> web.StreamResponse:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _fail(401, MSG_REST_NO_TOKEN)
    try:
        record = await _server(request).authenticate(token.strip())
    except AuthRejected as exc:
        return _fail(401, exc.message)
    user = {key: record[key] for key in ("id", "username", "isGuest", "sessionId")}
    return web.json_response({"success": True, "data": {"user": user}})


async def _guest_session(request: web.Request) -> web.StreamResponse:
    record = await _server(request).session_record(request.match_info["session_id"])
    if record is None:
        return _fail(404, MSG_SESSION_GONE)
    return web.json_response({"success": True, "data": {"session": record}})


async def _health(request: web.Request) -> web.StreamResponse:
    return web.json_response(_server(request).health())


# -- admin -----------------------------------------------------------------------------------
def _admin_refusal(request: web.Request) -> web.Response | None:
    given = request.headers.get("X-Admin-Key")
    if not given:
        refusal = _fail(401, "Admin key required: send it in the X-Admin-Key header")
    else:
        expected = _server(request).admin_key
        # Header bytes that are not UTF-8 arrive as surrogates: compared as the same bytes.
        raw = given.encode("utf-8", "surrogateescape")
        if hmac.compare_digest(raw, expected.encode("utf-8")):
            return None
        refusal = _fail(403, "Wrong admin key")
    # A refused call must not leave an exempt connection behind: the answer goes out (still
    # exempt, so a black hole does not swallow it) and the connection closes after it; the
    # client's next connection is classified again.
    refusal.force_close()
    return refusal


async def _admin_faults(request: web.Request) -> web.StreamResponse:
    if refusal := _admin_refusal(request):
        return refusal
    server = _server(request)
    if request.method == "PUT":
        body = await _read_json_object(request)
        if isinstance(body, web.Response):
            return body
        try:
            server.apply_faults(body)
        except ConfigError as exc:
            return _fail(400, str(exc))
    return web.json_response({"success": True, "faults": server.faults_json()})


async def _admin_kick(request: web.Request) -> web.StreamResponse:
    if refusal := _admin_refusal(request):
        return refusal
    return web.json_response({"success": True, "kicked": await _server(request).kick_all()})


async def _admin_expire(request: web.Request) -> web.StreamResponse:
    if refusal := _admin_refusal(request):
        return refusal
    body = await _read_json_object(request)
    if isinstance(body, web.Response):
        return body
    session_id = body.get("sessionId")
    if session_id is not None and not isinstance(session_id, str):
        return _fail(400, "sessionId must be a string")
    expired = await _server(request).expire(session_id)
    return web.json_response({"success": True, "expired": expired})


async def _admin_restart(request: web.Request) -> web.StreamResponse:
    if refusal := _admin_refusal(request):
        return refusal
    body = await _read_json_object(request)
    if isinstance(body, web.Response):
        return body
    down_s = body.get("down_s", 3.0)
    if isinstance(down_s, bool) or not isinstance(down_s, (int, float)) or not 0 < down_s <= 3600:
        return _fail(400, "down_s must be a number of seconds in (0, 3600]")
    response = web.json_response({"success": True, "down_s": float(down_s)})
    # Answer first: the restart drops connections, and this answer must get out.
    await response.prepare(request)
    await response.write_eof()
    await _server(request).restart(float(down_s))
    return response


async def _admin_stats(request: web.Request) -> web.StreamResponse:
    if refusal := _admin_refusal(request):
        return refusal
    stats = await _server(request).stats()
    return web.json_response({"success": True, "stats": stats.as_json()})


def build_app(server: ReferenceServer) -> web.Application:
    """The aiohttp application (Socket.IO is attached to it by the caller)."""
    app = web.Application(
        middlewares=[_exemption, _cors, _errors, _websocket_faults, _api_limits],
        client_max_size=server.config.max_body_bytes,
    )
    app[_SERVER_KEY] = server
    app.router.add_post("/api/guest", _create_guest)
    app.router.add_get("/api/guest/me", _guest_me)
    app.router.add_get("/api/guest/{session_id}", _guest_session)
    app.router.add_get("/health", _health)
    app.router.add_route("GET", ADMIN_PREFIX + "faults", _admin_faults)
    app.router.add_route("PUT", ADMIN_PREFIX + "faults", _admin_faults)
    app.router.add_post(ADMIN_PREFIX + "kick", _admin_kick)
    app.router.add_post(ADMIN_PREFIX + "expire", _admin_expire)
    app.router.add_post(ADMIN_PREFIX + "restart", _admin_restart)
    app.router.add_get(ADMIN_PREFIX + "stats", _admin_stats)
    return app
