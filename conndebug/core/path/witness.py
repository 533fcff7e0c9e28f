"""The probe's side of path identification: collect the answers it reads, then say what they name.

    witness = PathWitness()
    witness.http("GET", url, status, headers, body, set_cookie)   # every HTTP answer
    witness.websocket(101, headers)                               # the upgrade's answer
    status, detail, evidence = witness.summary(ping_interval_ms=25000, ping_timeout_ms=20000)

The summary is one ladder line: the boxes named with their evidence, their documented limits,
what those limits mean for this server's heartbeat when they are defaults, and the affinity
cookies seen — e.g. ``nginx (Server: nginx/1.22.1 on 5 answers) → server; nginx: idle 60 s
(proxy_read_timeout, a default)``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from conndebug.core.path.catalogue import Box
from conndebug.core.path.identify import Answer, PathReport, identify

__all__ = ["PathWitness", "WitnessedHttp", "heartbeat_notes", "where_of"]

_MAX_ANSWERS = 64
"""Answers kept (a probe reads about ten; a hostile server cannot make the list grow)."""
_MAX_LATE_ERRORS = 16
"""Error answers kept after the first :data:`_MAX_ANSWERS` (a monitor reads answers for hours;
the boxes' own error pages, a 502 or a 504, say most, and come late)."""


def where_of(method: str, url: str) -> str:
    """What a request was, in words, from its URL."""
    query = url.partition("#")[0].partition("?")[2]
    if "transport=" in query:
        if "%" in query or "+" in query:
            parsed = urllib.parse.parse_qs(query)
            transport = (parsed.get("transport") or [""])[0]
            has_sid = "sid" in parsed
        else:  # an Engine.IO URL as clients write it: nothing to decode (parse_qs's result)
            transport, has_sid = "", False
            for pair in query.split("&"):
                name, _, value = pair.partition("=")
                if not value:
                    continue  # parse_qs drops blank values
                if name == "transport" and not transport:
                    transport = value
                elif name == "sid":
                    has_sid = True
        if transport == "websocket":
            return "websocket"
        if transport == "polling":
            return "polling" if has_sid else "handshake"
    return f"{method} {urllib.parse.urlsplit(url).path or '/'}"


def heartbeat_notes(
    box: Box, ping_interval_s: float | None, ping_timeout_s: float | None
) -> list[str]:
    """What ``box``'s documented limits mean for a server with this heartbeat."""
    notes = []
    for lim in box.limits:
        if lim.seconds is None:
            continue
        figure = f"{lim.seconds:g} s"
        how = "by default" if lim.default else "(fixed)"
        if lim.kind == "lifetime" and lim.seconds < 3600:
            notes.append(f"{box.name} ends every websocket after {figure} {how}")
        elif (
            lim.kind == "idle"
            and ping_interval_s is not None
            and ping_timeout_s is not None
            and lim.seconds <= ping_interval_s + ping_timeout_s
        ):
            notes.append(
                f"{box.name}'s idle timeout {figure} {how} is not above pingInterval + "
                f"pingTimeout = {ping_interval_s + ping_timeout_s:g} s"
            )
        elif (
            lim.kind in ("request", "first_byte")
            and ping_interval_s is not None
            and lim.seconds <= ping_interval_s
        ):
            notes.append(
                f"{box.name}'s {lim.setting} {figure} {how} is not above pingInterval = "
                f"{ping_interval_s:g} s: held long-polls are cut"
            )
    return notes


class PathWitness:
    """Collects the answers one probe reads."""

    def __init__(self) -> None:
        self.answers: list[Answer] = []
        self._late = 0

    def wants(self, status: int | None) -> bool:
        """Whether an answer with this status would be kept (the rest need not be built)."""
        if len(self.answers) < _MAX_ANSWERS:
            return True
        return (status is None or status >= 400) and self._late < _MAX_LATE_ERRORS

    def _add(self, answer: Answer) -> None:
        if len(self.answers) < _MAX_ANSWERS:
            self.answers.append(answer)
        elif (answer.status is None or answer.status >= 400) and self._late < _MAX_LATE_ERRORS:
            self._late += 1
            self.answers.append(answer)

    def http(
        self,
        method: str,
        url: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        set_cookie: Iterable[str] = (),
    ) -> None:
        """One HTTP answer (``headers`` as a mapping with repeated headers joined;
        ``set_cookie``: the separate ``Set-Cookie`` lines)."""
        self._add(Answer.of(where_of(method, url), status, headers, body, set_cookie=set_cookie))

    def websocket(self, status: int, headers: Mapping[str, str], body: bytes = b"") -> None:
        """The websocket upgrade's answer (101, or the refusal)."""
        self._add(Answer.of("websocket", status, headers, body))

    def report(self) -> PathReport:
        return identify(self.answers)

    def summary(
        self, *, ping_interval_ms: int | None = None, ping_timeout_ms: int | None = None
    ) -> tuple[Literal["ok", "skip"], str, dict[str, Any]]:
        """The ladder line: status, detail, evidence."""
        if not self.answers:
            return "skip", "no HTTP answer to read", {}
        report = self.report()
        pi = ping_interval_ms / 1000 if ping_interval_ms else None
        pt = ping_timeout_ms / 1000 if ping_timeout_ms else None
        parts = [report.text]
        notes: list[str] = []
        for hop in report.proxies:
            limits = [lim.text for lim in hop.box.limits]
            if limits:
                parts.append(f"{hop.box.name}: {', '.join(limits)}")
            notes += heartbeat_notes(hop.box, pi, pt)
            if hop.box.note:
                parts.append(f"{hop.box.name}: {hop.box.note}")
        for name, owner in report.affinity_cookies:
            parts.append(f"affinity cookie {name} ({owner.name})")
        if report.engineio_cookie:
            parts.append("the server sets Engine.IO's io cookie (a proxy can stick on it)")
        if notes:
            parts.append("check: " + "; ".join(notes) + " (probe --hold measures it)")
        evidence = report.to_evidence()
        evidence["path_text"] = report.text
        evidence["path_names"] = report.names
        if notes:
            evidence["heartbeat_notes"] = notes
        return "ok", "; ".join(parts), evidence


class WitnessedHttp:
    """An HTTP client (:class:`conndebug.wire.HttpClient`) whose answers a :class:`PathWitness`
    reads: what the monitor's Engine.IO client is given, so that ``watch`` and the live panel
    name the path as the probe does. Only ``request`` and ``websocket`` are passed on (all the
    client uses)."""

    def __init__(self, http: Any, witness: PathWitness) -> None:
        self.http = http
        self.witness = witness

    async def request(self, method: str, url: str, **kwargs: Any) -> Any:
        answer = await self.http.request(method, url, **kwargs)
        if self.witness.wants(answer.status):  # a monitor's thousandth poll is not read again
            self.witness.http(
                method, url, answer.status, _joined(answer.headers), answer.body, answer.set_cookies
            )
        return answer

    async def websocket(self, url: str, **kwargs: Any) -> Any:
        from conndebug.wire import WsRefused

        try:
            ws = await self.http.websocket(url, **kwargs)
        except WsRefused as exc:
            self.witness.websocket(exc.status, _joined(exc.headers), exc.body)
            raise
        self.witness.websocket(101, _joined(ws.response_headers))
        return ws


def _joined(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out
