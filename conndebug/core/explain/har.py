"""HAR files (HTTP Archive 1.2) as Chrome DevTools and Firefox write them.

Chrome ("Export HAR", creator ``WebInspector``) marks each entry with ``_resourceType`` and keeps a
websocket's frames in ``_webSocketMessages``: ``[{type: send|receive|error, time (epoch s), opcode,
data}]``; a failed websocket handshake has status 0 and an ``error`` frame that names the cause
("Error during WebSocket handshake: Unexpected response code: 403", "Error in connection
establishment: net::ERR_CONNECTION_REFUSED", "WebSocket is closed before the connection is
established." when the client gave up). A request the browser refused the page (CORS) or could not
send has status 0 and ``response._error`` (``net::ERR_FAILED``, ``net::ERR_CONNECTION_REFUSED``).
Firefox writes the same entries without the underscored fields and without websocket frames.
conndebug's own HAR (creator ``conndebug``, :mod:`conndebug.core.har_export`) is Chrome's form,
with a refused websocket's real status and no page (so no CORS gap is said).

Entries are replayed in time order; Engine.IO requests (``EIO=`` in the query) become attempts,
packets and failures, the others (a guest session's POST) HTTP notes.
"""

from __future__ import annotations

import datetime as _dt
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from conndebug.core.events import Note
from conndebug.core.explain.timeline import EIO_ERRORS, Replay, Timeline, engine_error
from conndebug.core.redact import Redactor

__all__ = ["looks_like_har", "read_har"]

_WS_STATUS = re.compile(r"Unexpected response code: (\d{3})")
_NET_ERROR = re.compile(r"net::ERR_[A-Z_]+")


def looks_like_har(data: Any) -> bool:
    """Whether parsed JSON is a HAR: ``{"log": {"entries": [...]}}``."""
    return (
        isinstance(data, dict)
        and isinstance(data.get("log"), dict)
        and isinstance(data["log"].get("entries"), list)
    )


def _epoch(stamp: Any) -> float | None:
    if not isinstance(stamp, str):
        return None
    try:
        moment = _dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.timestamp()


def _headers(items: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                out[item["name"].lower()] = str(item.get("value", ""))
    return out


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


def _is_engineio(url: str) -> bool:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    return "EIO" in query and "transport" in query


def _is_websocket(entry: Mapping[str, Any], url: str, request_headers: Mapping[str, str]) -> bool:
    return (
        entry.get("_resourceType") == "websocket"
        or urllib.parse.urlsplit(url).scheme in ("ws", "wss")
        or request_headers.get("upgrade", "").lower() == "websocket"
    )


def read_har(data: Mapping[str, Any], path: str, redactor: Redactor) -> Timeline:
    """The timeline of a HAR's Socket.IO traffic."""
    log = data["log"]
    creator = log.get("creator") if isinstance(log.get("creator"), Mapping) else {}
    creator_name = str(creator.get("name", "")) if isinstance(creator, Mapping) else ""
    ours = creator_name == "conndebug"
    if creator_name == "WebInspector":
        source = "chrome-har"
    elif "firefox" in creator_name.lower():
        source = "firefox-har"
    elif ours:
        source = "conndebug-har"
    else:
        source = "har"
    timeline = Timeline(source=source, path=path, client="conndebug" if ours else "browser")
    replay = Replay(timeline, redactor)
    entries = [e for e in log["entries"] if isinstance(e, Mapping)]

    for entry in entries:
        page_request = entry.get("request")
        if not isinstance(page_request, Mapping):
            continue
        if entry.get("_resourceType") == "document" or (
            "text/html" in _headers(page_request.get("headers")).get("accept", "")
        ):
            timeline.origin = _origin(str(page_request.get("url", "")))
            break

    if timeline.origin is not None:
        first_start = min(
            (t for t in (_epoch(e.get("startedDateTime")) for e in entries) if t is not None),
            default=0.0,
        )
        replay.emit(
            Note,
            first_start,
            text=f"the page was loaded from {timeline.origin}",
            topic="page",
            url=timeline.origin,
        )

    # Every happening is (time, sequence, action): entries and websocket frames interleave.
    happenings: list[tuple[float, int, Callable[[], None]]] = []
    seq = 0

    def at(ts: float, action: Callable[[], None]) -> None:
        nonlocal seq
        seq += 1
        happenings.append((ts, seq, action))

    engineio = [e for e in entries if _is_engineio(str(_get(e, "request", "url")))]
    if engineio:
        first = str(_get(engineio[0], "request", "url"))
        parts = urllib.parse.urlsplit(first)
        scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
        timeline.url = redactor.text(f"{scheme}://{parts.netloc}")
    server_origin = _origin(timeline.url) if timeline.url else None
    bodies_missing = False
    frames_missing = False
    websocket_seen = False

    for entry in entries:
        request = entry.get("request") if isinstance(entry.get("request"), Mapping) else {}
        response = entry.get("response") if isinstance(entry.get("response"), Mapping) else {}
        assert isinstance(request, Mapping)
        assert isinstance(response, Mapping)
        url = str(request.get("url", ""))
        method = str(request.get("method", "GET"))
        started = _epoch(entry.get("startedDateTime"))
        if started is None or not url:
            continue
        took = entry.get("time")
        ended = started + (float(took) / 1000 if isinstance(took, (int, float)) and took > 0 else 0)
        raw_status = response.get("status")
        status: int = raw_status if isinstance(raw_status, int) else 0
        error = response.get("_error") if isinstance(response.get("_error"), str) else None
        req_headers = _headers(request.get("headers"))
        resp_headers = _headers(response.get("headers"))
        content = response.get("content") if isinstance(response.get("content"), Mapping) else {}
        body = content.get("text") if isinstance(content, Mapping) else None
        if isinstance(content, Mapping) and content.get("encoding") == "base64":
            body = None
        cross_origin = timeline.origin is not None and _origin(url) != timeline.origin

        if not _is_engineio(url):
            if server_origin is None or _origin(url) != server_origin:
                continue
            if method == "OPTIONS" and status and "access-control-allow-origin" not in resp_headers:
                at(
                    started,
                    _bind(
                        replay.cors_blocked,
                        ended,
                        "OPTIONS (preflight)",
                        url,
                        f"answered HTTP {status} without Access-Control-Allow-Origin",
                    ),
                )
                continue
            if status == 0 and error == "net::ERR_FAILED" and cross_origin:
                at(
                    started,
                    _bind(replay.cors_blocked, ended, method, url, "the answer was not allowed"),
                )
                continue
            if status == 0 and error:
                at(started, _bind(replay.http, ended, method, url, 0, level="error"))
                at(
                    started,
                    _bind(replay.note, ended, f"{method} {url} failed: {error}", level="error"),
                )
                continue
            if method != "OPTIONS":
                at(started, _bind(replay.http, ended, method, url, status))
            continue

        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        transport = query.get("transport", ["?"])[0]
        sid = query.get("sid", [None])[0]

        if _is_websocket(entry, url, req_headers) or transport == "websocket":
            websocket_seen = True
            at(started, _bind(replay.attempt, started, url, "websocket", sid=sid))
            messages = entry.get("_webSocketMessages")
            if messages is None:
                if status == 101:
                    frames_missing = True
                messages = []
            for message in messages if isinstance(messages, list) else []:
                if not isinstance(message, Mapping):
                    continue
                ts = message.get("time")
                ts = float(ts) if isinstance(ts, (int, float)) else started
                kind = message.get("type")
                text = message.get("data")
                text = text if isinstance(text, str) else ""
                if kind in ("send", "receive") and message.get("opcode") == 1:
                    direction = "out" if kind == "send" else "in"
                    at(ts, _bind(_ws_text, replay, ts, text, direction, sid))
                elif kind == "error":
                    at(ts, _bind(_ws_error, replay, ts, text, url, sid, ended - started))
            if status and status != 101:
                code, message_text = engine_error(status, body)
                at(
                    started,
                    _bind(_ws_refused, replay, ended, url, sid, status, code, message_text),
                )
            continue

        # polling
        if sid is None:
            at(started, _bind(replay.attempt, started, url, "polling"))
        if method == "POST":
            post = request.get("postData")
            text = post.get("text") if isinstance(post, Mapping) else None
            if isinstance(text, str):
                at(started, _bind(replay.polling_payload, started, text, "out"))
        if status == 200:
            if method == "GET":
                if isinstance(body, str):
                    at(started, _bind(replay.polling_payload, ended, body, "in"))
                else:
                    bodies_missing = True
            continue
        if status == 0:
            if error == "net::ERR_FAILED" and cross_origin:
                at(
                    started,
                    _bind(
                        replay.failed,
                        ended,
                        "the browser blocked the polling request (CORS)",
                        transport="polling",
                        phase="cors",
                        cause=error,
                        url=url,
                    ),
                )
            else:
                at(
                    started,
                    _bind(
                        replay.failed,
                        ended,
                        "xhr poll error",
                        transport="polling",
                        phase="network",
                        cause=error or "no answer recorded",
                        url=url,
                    ),
                )
            continue
        code, message_text = engine_error(status, body if isinstance(body, str) else None)
        if body is None:
            bodies_missing = True
        shown = message_text or (EIO_ERRORS.get(code, "") if code is not None else "")
        at(
            started,
            _bind(
                replay.failed,
                ended,
                f"HTTP {status}" + (f' "{shown}"' if shown else ""),
                transport="polling",
                phase="session" if sid else "handshake",
                status=status,
                code=code,
                url=url,
            ),
        )

    for _ts, _seq, action in sorted(happenings, key=lambda h: (h[0], h[1])):
        action()

    if not engineio:
        timeline.gap(
            "no Socket.IO request is recorded (no URL with EIO= and transport=): was the HAR "
            "saved from the tab that connects, with DevTools open before the page connected?"
        )
    else:
        if not websocket_seen:
            timeline.gap("no websocket attempt is recorded")
        if frames_missing:
            timeline.gap(
                "the HAR has no websocket messages (saved without content, or by a browser that "
                "does not export them): what went over the websocket cannot be told"
            )
        if bodies_missing:
            timeline.gap(
                "some polling responses have no body (saved without content?): their Engine.IO "
                "packets and error messages cannot be read"
            )
        first_query = urllib.parse.parse_qs(
            urllib.parse.urlsplit(str(_get(engineio[0], "request", "url"))).query
        )
        if "sid" in first_query:
            timeline.gap(
                "the HAR starts after the connection was made: its handshake is not recorded"
            )
    if timeline.origin is None and not ours:  # conndebug's own HAR has no page
        timeline.gap("the page's own address is not recorded: CORS cannot be judged")
    return timeline


def _get(entry: Mapping[str, Any], part: str, key: str) -> Any:
    inner = entry.get(part)
    return inner.get(key) if isinstance(inner, Mapping) else None


def _bind(func: Callable[..., None], *args: Any, **kwargs: Any) -> Callable[[], None]:
    return lambda: func(*args, **kwargs)


def _ws_text(replay: Replay, ts: float, text: str, direction: str, sid: str | None) -> None:
    if sid is not None:  # the upgrade of a polling session: 2probe, 3probe, then 5
        if text == "5" and direction == "out":
            replay.upgraded(ts)
            return
        if text in ("2probe", "3probe"):
            return
    replay.eio_packet(ts, text, direction, "websocket")


def _ws_error(
    replay: Replay, ts: float, text: str, url: str, sid: str | None, waited_s: float
) -> None:
    found = _WS_STATUS.search(text)
    net = _NET_ERROR.search(text)
    if found:
        status = int(found.group(1))
        if sid is not None:
            replay.upgrade_failed(ts, f"HTTP {status} ({text})", status=status)
        else:
            replay.failed(
                ts,
                "websocket error",
                transport="websocket",
                phase="handshake",
                status=status,
                cause=text,
                url=url,
            )
    elif net:
        if sid is not None:
            replay.upgrade_failed(ts, text)
        else:
            replay.failed(
                ts,
                "websocket error",
                transport="websocket",
                phase="network",
                cause=net.group(0),
                url=url,
            )
    elif "closed before the connection is established" in text:
        # The page closed a websocket that never opened: the client gave up waiting.
        if sid is not None:
            replay.upgrade_failed(ts, f"no answer to the websocket upgrade in {waited_s:.1f} s")
        else:
            replay.failed(
                ts,
                "timeout",
                transport="websocket",
                phase="timeout",
                cause=f"the websocket handshake got no answer in {waited_s:.1f} s",
                url=url,
            )
    else:
        replay.failed(ts, "websocket error", transport="websocket", cause=text, url=url)


def _ws_refused(
    replay: Replay,
    ts: float,
    url: str,
    sid: str | None,
    status: int,
    code: int | None,
    message: str | None,
) -> None:
    """A websocket handshake answered with a status (Firefox keeps it on the entry)."""
    if sid is not None:
        replay.upgrade_failed(ts, f"HTTP {status}", status=status, code=code)
    else:
        replay.failed(
            ts,
            "websocket error" + (f': "{message}"' if message else ""),
            transport="websocket",
            phase="handshake",
            status=status,
            code=code,
            url=url,
        )
