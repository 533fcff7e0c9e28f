"""Who cut it: an idle timeout, a lifetime cap, a request timeout — told apart, with the limit.

Pure functions over what a test saw; the measuring (connections held side by side, a held
long-poll, requests with and without cookies) is done elsewhere and handed over.

- :func:`judge_hold`: two connections held side by side, one **quiet** (no round trips; only the
  server's heartbeat crosses it) and one **chatty** (a round trip every second). Both cut at the
  same time → a **lifetime cap** (traffic does not help); only the quiet one cut → an **idle
  timeout** (traffic keeps a connection). The measured limit is the quiet connection's lifetime
  (±1 s). A regular drop at ``pingInterval + pingTimeout`` with a client and server of different
  Engine.IO generations is the old heartbeat mismatch, not a proxy.
- :func:`judge_long_poll`: one polling GET held for a full ``pingInterval`` (the server answers it
  with a ping). Cut before that → a **request timeout** below ``pingInterval``: polling fails
  while the websocket may work.
- :func:`judge_drops`: the drops ``watch`` saw, at about the same age again and again, with the
  traffic that crossed the connections (its round trips, the server's ping): cut later than the
  longest quiet stretch → a lifetime cap, within it → an idle timeout.
- :func:`judge_stickiness`: follow-up requests of one session, with and without the cookies the
  path set. Only with them → **cookie** affinity; without them too → **IP** affinity (or one
  node); never → none.

Each verdict names the rule broken and, when the path (:mod:`.identify`) names a box that has
such a limit, that box, its documented figure and its fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from conndebug.core.path.catalogue import (
    IDLE_RULE,
    LIFETIME_RULE,
    REQUEST_RULE,
    Box,
    CutKind,
    Limit,
)
from conndebug.core.path.identify import PathReport

__all__ = [
    "TOLERANCE_S",
    "CutVerdict",
    "Heartbeat",
    "Held",
    "HoldFacts",
    "HoldJudgement",
    "LongPollFacts",
    "StickyVerdict",
    "judge_drops",
    "judge_hold",
    "judge_long_poll",
    "judge_stickiness",
]

TOLERANCE_S = 1.0
"""Two cuts this close (seconds) are "at the same time"; a measured limit is good to this."""

LIFETIME_NEED_S = 3600
"""What a lifetime cap should at least be raised to (an hour: clients reconnect once an hour)."""

VerdictKind = Literal["lifetime", "idle", "request", "heartbeat_mismatch", "none", "unclear"]


@dataclass(frozen=True)
class Heartbeat:
    """The server's heartbeat, as its open packet told it."""

    ping_interval_s: float
    ping_timeout_s: float
    eio: int = 4
    """The server's Engine.IO protocol (3: Socket.IO v2, 4: Socket.IO v3/v4)."""

    @property
    def total_s(self) -> float:
        return self.ping_interval_s + self.ping_timeout_s


@dataclass(frozen=True)
class Held:
    """One connection held open during the test."""

    role: Literal["quiet", "chatty"]
    lived_s: float | None
    """Seconds from open to cut; None: still open when the test ended."""
    reason: str = ""
    """How it ended (``transport close``, ``HTTP 504``...), when it did."""


@dataclass(frozen=True)
class CutVerdict:
    """What cut the connections, in plain words."""

    kind: VerdictKind
    limit_s: float | None
    """The measured limit (seconds, one decimal), when something was cut."""
    title: str
    explanation: str
    rule: str
    """The rule the limit breaks (empty when none is broken)."""
    fix: str
    box: Box | None = None
    """The box in the path that most likely cut, when the path names one."""
    documented: Limit | None = None
    """That box's documented limit of this kind."""

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "limit_s": self.limit_s,
            "title": self.title,
            "explanation": self.explanation,
            "rule": self.rule,
            "fix": self.fix,
            "box": self.box.key if self.box else None,
            "box_name": self.box.name if self.box else None,
            "documented": {
                "setting": self.documented.setting,
                "seconds": self.documented.seconds,
                "default": self.documented.default,
            }
            if self.documented is not None
            else None,
        }


@dataclass(frozen=True)
class StickyVerdict:
    """How the path keeps a session on one node."""

    mechanism: Literal["cookie", "ip", "none", "unknown"]
    cookie: str | None
    box: Box | None
    text: str
    warnings: tuple[str, ...] = field(default_factory=tuple)
    fix: str = ""


def _s(seconds: float) -> str:
    return f"{seconds:.1f}".rstrip("0").rstrip(".")


def _need(kind: CutKind, heartbeat: Heartbeat | None) -> float:
    if kind == "lifetime":
        return LIFETIME_NEED_S
    if heartbeat is None:
        return 60
    return max(60, math.floor(heartbeat.total_s) + 1)


def _matches(lim: Limit | None, limit_s: float) -> bool:
    """Whether a documented figure is the measured one (±1 s, or ±5 % of long ones)."""
    if lim is None or lim.seconds is None:
        return False
    return abs(lim.seconds - limit_s) <= max(TOLERANCE_S, 0.05 * lim.seconds)


def _suspect(
    path: PathReport | None, kind: CutKind, limit_s: float | None
) -> tuple[Box | None, Limit | None]:
    """The box of the path most likely to cut this way: one whose documented figure matches
    the measured limit first, then one that has such a limit or fix, innermost first."""
    if path is None:
        return None, None
    kinds: tuple[CutKind, ...] = (kind,)
    if kind == "request":
        kinds = ("request", "first_byte", "lifetime")  # each bounds a held GET
    candidates = list(reversed(path.proxies))
    if limit_s is not None:
        for hop in candidates:
            for k in kinds:
                lim = hop.box.limit(k)
                if _matches(lim, limit_s):
                    return hop.box, lim
    for hop in candidates:
        for k in kinds:
            lim = hop.box.limit(k)
            if lim is not None or k in hop.box.fixes:
                return hop.box, lim
    return None, None


_GENERIC_FIX: dict[str, str] = {
    "idle": (
        "Raise the idle/read timeout of the proxy or load balancer in front above {need} s: "
        "nginx proxy_read_timeout {need}s; ingress-nginx annotation "
        'nginx.ingress.kubernetes.io/proxy-read-timeout: "{need}"; HAProxy timeout tunnel 1h; '
        "AWS ALB attribute idle_timeout.timeout_seconds={need}."
    ),
    "lifetime": (
        "Find the box that ends every connection after a fixed time and raise that limit above "
        "your longest session (an hour or more): a GCP load balancer's backend service timeout "
        "(default 30 s), an Azure Application Gateway's request timeout (default 20 s), a "
        "proxy's connection max age."
    ),
    "request": (
        "Raise the request timeout of the box in front above pingInterval ({need} s): nginx "
        "proxy_read_timeout {need}s; HAProxy timeout server {need}s; Envoy route timeout 0s; "
        "Azure Application Gateway request timeout {need}; or connect with websocket only."
    ),
}


def _fix(box: Box | None, kind: CutKind, need: float) -> str:
    if box is not None:
        text = box.fix(kind, need)
        if not text and kind == "request":
            text = box.fix("first_byte", need) or box.fix("lifetime", need)
        if text:
            return text
    return _GENERIC_FIX.get(kind, "").replace("{need}", f"{int(need)}")


def _who(box: Box | None, documented: Limit | None, limit_s: float) -> str:
    if box is None:
        return ""
    if documented is not None and documented.seconds is not None:
        how = "the default" if documented.default else "the fixed limit"
        if _matches(documented, limit_s):
            return (
                f" It matches {box.name}'s {documented.setting}: {how} of "
                f"{_s(documented.seconds)} s."
            )
        return (
            f" The path goes through {box.name}, whose {documented.setting} is "
            f"{_s(documented.seconds)} s by {'default' if documented.default else 'design'}; "
            "here it was set lower."
        )
    if documented is not None:
        return f" The path goes through {box.name}: check its {documented.setting}."
    return f" The path goes through {box.name}."


def _heartbeat_text(heartbeat: Heartbeat | None) -> str:
    if heartbeat is None:
        return ""
    return (
        f" (the server pings every {_s(heartbeat.ping_interval_s)} s, pingInterval + pingTimeout "
        f"= {_s(heartbeat.total_s)} s)"
    )


def judge_hold(
    quiet: Held,
    chatty: Held,
    *,
    held_s: float,
    heartbeat: Heartbeat | None = None,
    path: PathReport | None = None,
    client_eio: int = 4,
    tolerance_s: float = TOLERANCE_S,
) -> CutVerdict:
    """Tell an idle timeout from a lifetime cap from two connections held side by side for up
    to ``held_s`` seconds (``lived_s`` None: still open at the end)."""
    q, c = quiet.lived_s, chatty.lived_s
    hb = _heartbeat_text(heartbeat)
    mismatch = heartbeat is not None and heartbeat.eio != client_eio
    if q is not None and mismatch:
        # Engine.IO 3 servers wait for the client's pings; an Engine.IO 4 client sends none. Any
        # packet counts as a sign of life there, so the chatty connection may survive: the quiet
        # one is cut after pingInterval + pingTimeout either way.
        assert heartbeat is not None
        both = c is not None and abs(q - c) <= tolerance_s
        limit = round((q + c) / 2, 1) if both and c is not None else round(q, 1)
        seen = (
            "Both connections were cut"
            if both
            else "The quiet connection was cut"
            + (
                " (the chatty one stayed open)"
                if c is None
                else f" (the chatty one after {_s(c)} s)"
            )
        )
        return CutVerdict(
            "heartbeat_mismatch",
            limit,
            f"Cut after {_s(limit)} s: a heartbeat mismatch, not a proxy",
            f"{seen} after {_s(limit)} s, and the server speaks Engine.IO {heartbeat.eio} while "
            f"this client speaks Engine.IO {client_eio}: the two sides disagree on who pings{hb}, "
            "so the server gives up on a quiet client after pingInterval + pingTimeout.",
            "client and server must speak the same Socket.IO generation",
            "Use a client of the server's generation (socket.io-client 2.x for a Socket.IO 2 "
            "server), or upgrade the server to Socket.IO 4 (it accepts v2 clients with "
            "allowEIO3: true).",
        )
    if q is not None and c is not None and abs(q - c) <= tolerance_s:
        limit = round((q + c) / 2, 1)
        box, documented = _suspect(path, "lifetime", limit)
        return CutVerdict(
            "lifetime",
            limit,
            f"A lifetime cap of {_s(limit)} s: every connection is cut, whatever its traffic",
            f"The quiet connection lived {_s(q)} s and the chatty one (a round trip every "
            f"second) {_s(c)} s: traffic did not keep it open, so something in between ends "
            f"every connection {_s(limit)} s after it opened{hb}."
            + _who(box, documented, limit)
            + " Every session longer than that is cut and must reconnect.",
            LIFETIME_RULE,
            _fix(box, "lifetime", LIFETIME_NEED_S),
            box,
            documented,
        )
    if q is not None and (c is None or c > q + tolerance_s):
        limit = round(q, 1)
        box, documented = _suspect(path, "idle", limit)
        later = (
            f" The chatty one was cut too, after {_s(c)} s: there may also be a lifetime cap."
            if c is not None
            else f" The chatty one (a round trip every second) was still open after {_s(held_s)} s."
        )
        broken = heartbeat is None or limit < heartbeat.total_s
        need = _need("idle", heartbeat)
        return CutVerdict(
            "idle",
            limit,
            f"An idle timeout of {_s(limit)} s: quiet connections are cut",
            f"The quiet connection (no round trips, only the server's heartbeat) was cut after "
            f"{_s(limit)} s{hb}.{later} Traffic keeps a connection open: an idle (read) "
            "timeout in between is shorter than the heartbeat, so every idle client is cut."
            + _who(box, documented, limit),
            f"{IDLE_RULE}; {_s(limit)} s is below it" if broken else IDLE_RULE,
            _fix(box, "idle", need),
            box,
            documented,
        )
    if c is not None:
        return CutVerdict(
            "unclear",
            round(c, 1),
            f"Only the busy connection was cut, after {_s(c)} s",
            f"The chatty connection was cut after {_s(c)} s while the quiet one stayed open "
            f"{_s(held_s)} s: not a timeout (a size or rate limit on messages, or a server "
            "kick), or chance. Hold again to see whether it repeats.",
            "",
            "Look at the proxy's limits on message size and rate, and at the server's log.",
        )
    longest = f"{_s(held_s)} s"
    idle_bound = (
        f"no idle timeout below pingInterval ({_s(heartbeat.ping_interval_s)} s, the server's "
        "heartbeat resets idle timers)"
        if heartbeat
        else "no idle timeout shorter than the hold"
    )
    return CutVerdict(
        "none",
        None,
        f"No cut in {longest}",
        f"Both connections stayed open {longest}: {idle_bound}, and no lifetime cap below "
        f"{longest}.",
        "",
        "Nothing to fix within this time; hold longer (--max) to look for a longer lifetime cap.",
    )


def judge_drops(
    *,
    every_s: float,
    count: int,
    heartbeat: Heartbeat,
    rtt_interval_s: float | None,
    reason: str = "transport close",
    path: PathReport | None = None,
    tolerance_s: float = TOLERANCE_S,
) -> CutVerdict:
    """What cuts connections that ``watch`` saw drop ``count`` times in a row after about
    ``every_s`` seconds, knowing the traffic that crossed them: a round trip every
    ``rtt_interval_s`` (None: none, ``--rtt-interval 0``) and the server's ping every
    ``pingInterval``.

    The longest quiet stretch on such a connection is the shorter of the two. Cut later than that
    (by more than ``tolerance_s``): traffic crossed it and it was cut at the same age anyway, a
    **lifetime cap**. Cut within it: an **idle timeout** shorter than the quiet stretch (with round
    trips off, a lifetime cap of that length looks the same: ``probe --hold`` tells them apart).
    """
    pi = heartbeat.ping_interval_s
    quiet_s = min(rtt_interval_s, pi) if rtt_interval_s else pi
    limit = round(every_s, 1)
    hb = _heartbeat_text(heartbeat)
    seen = (
        f"Connections dropped after about {_s(limit)} s, {count} times in a row "
        f"({reason.split(' (')[0]})"
    )
    if every_s > quiet_s + tolerance_s:
        box, documented = _suspect(path, "lifetime", limit)
        traffic = (
            f"a round trip crossed each of them every {_s(rtt_interval_s)} s"
            if rtt_interval_s
            else f"the server's ping crossed each of them every {_s(pi)} s"
        )
        return CutVerdict(
            "lifetime",
            limit,
            f"A lifetime cap of {_s(limit)} s: every connection is cut, whatever its traffic",
            f"{seen}, although {traffic}: traffic did not keep them open, so something in "
            f"between ends every connection {_s(limit)} s after it opened{hb}."
            + _who(box, documented, limit)
            + " Every session longer than that is cut and must reconnect.",
            LIFETIME_RULE,
            _fix(box, "lifetime", LIFETIME_NEED_S),
            box,
            documented,
        )
    box, documented = _suspect(path, "idle", limit)
    quiet = (
        f"between watch's round trips (every {_s(rtt_interval_s)} s) a connection carries nothing"
        if rtt_interval_s
        else "watch sent no round trips (--rtt-interval 0), as an idle browser sends none, so "
        "between the server's pings a connection carries nothing"
    )
    alike = (
        ""
        if rtt_interval_s
        else " A lifetime cap of the same length would look the same here: `conndebug probe URL "
        "--hold` tells them apart."
    )
    broken = limit < heartbeat.total_s
    return CutVerdict(
        "idle",
        limit,
        f"An idle timeout of {_s(limit)} s: quiet connections are cut",
        f"{seen}; {quiet}{hb}. An idle (read) timeout in between, shorter than the heartbeat, "
        "cuts every quiet connection." + _who(box, documented, limit) + alike,
        f"{IDLE_RULE}; {_s(limit)} s is below it" if broken else IDLE_RULE,
        _fix(box, "idle", _need("idle", heartbeat)),
        box,
        documented,
    )


def judge_long_poll(
    *,
    ended_s: float,
    answered: bool,
    ping_interval_s: float,
    status: int | None = None,
    path: PathReport | None = None,
    tolerance_s: float = TOLERANCE_S,
) -> CutVerdict:
    """One polling GET held open: ``answered`` with the server's data (a ping) after
    ``ended_s`` seconds, or cut then (``status``: the answer that cut it, e.g. 504; None: the
    connection closed)."""
    pi = ping_interval_s
    if answered:
        return CutVerdict(
            "none",
            None,
            f"A held long-poll got through ({_s(ended_s)} s)",
            f"A polling GET held by the server was answered after {_s(ended_s)} s (the server "
            f"pings every {_s(pi)} s): nothing in between cuts held requests sooner.",
            "",
            "Nothing to fix.",
        )
    limit = round(ended_s, 1)
    how = f"answered HTTP {status}" if status else "closed"
    if ended_s >= pi - tolerance_s:
        return CutVerdict(
            "unclear",
            limit,
            f"A held long-poll ended after {_s(limit)} s without the server's ping",
            f"A polling GET was {how} after {_s(limit)} s, about when the server's ping was "
            f"due ({_s(pi)} s): the server itself may have failed to answer.",
            "",
            "Look at the server's log around that time.",
        )
    box, documented = _suspect(path, "request", limit)
    need = max(60.0, math.floor(pi) + 5)
    return CutVerdict(
        "request",
        limit,
        f"A request timeout of {_s(limit)} s cuts held long-polls",
        f"A polling GET held by the server (it answers with a ping after {_s(pi)} s) was "
        f"{how} after {_s(limit)} s: a request timeout in between is below pingInterval, so "
        "every long-poll is cut and polling clients keep reconnecting, while a websocket may "
        "still work." + _who(box, documented, limit),
        f"{REQUEST_RULE}; {_s(limit)} s is below {_s(pi)} s",
        _fix(box, "request", need),
        box,
        documented,
    )


_COOKIE_WARNINGS = (
    "Cookie affinity needs the cookie on every request: a browser page on another origin sends "
    "it only with withCredentials: true in the client options (and the server must answer with "
    "Access-Control-Allow-Credentials: true and its exact origin).",
    "The Node.js client keeps no cookies by default (socket.io-client 4.7+ keeps them only with "
    "withCredentials: true; older ones never): behind cookie affinity its polling requests "
    "land on other nodes. Give it websocket-only transports, or use IP affinity.",
)


def judge_stickiness(
    path: PathReport,
    *,
    with_cookies_ok: bool | None,
    without_cookies_ok: bool | None,
) -> StickyVerdict:
    """Which stickiness the path uses: ``with_cookies_ok`` / ``without_cookies_ok`` say whether
    a session's follow-up requests reached its node with the cookies the path set, and without
    them (None: not tried)."""
    known = path.affinity_cookies
    cookie, owner = known[0] if known else (None, None)
    if owner is None:
        hop = next(iter(reversed(path.proxies)), None)
        owner_fix = hop.box if hop is not None else None
    else:
        owner_fix = owner
    fix = owner_fix.fix("sticky", 0) if owner_fix else ""
    if with_cookies_ok and without_cookies_ok is False:
        name = cookie or (", ".join(path.cookies) if path.cookies else "a cookie")
        who = f" ({owner.name})" if owner else ""
        return StickyVerdict(
            "cookie",
            cookie,
            owner,
            f"Sticky by cookie: a session stays on its node only while the client sends back "
            f"{name}{who}; without it the next request landed on another node.",
            _COOKIE_WARNINGS,
        )
    if with_cookies_ok and without_cookies_ok:
        seen = f" ({cookie} is set, but not needed)" if cookie else ""
        return StickyVerdict(
            "ip",
            cookie,
            owner,
            "Sticky by client address (or one node): a session's requests reached its node "
            f"with and without cookies{seen}. IP affinity breaks when a client's address "
            "changes (mobile networks) and piles clients behind one NAT onto one node.",
        )
    if with_cookies_ok is False:
        return StickyVerdict(
            "none",
            cookie,
            owner,
            "Not sticky: a session's follow-up requests landed on another node even with the "
            'cookies the path set ("Session ID unknown"). Polling cannot work; websocket-only '
            "clients can, but need an adapter (Redis) for broadcasts.",
            fix=fix or "Turn on affinity in the load balancer (a cookie, or the client's address).",
        )
    if cookie is not None:
        who = owner.name if owner else "the path"
        return StickyVerdict(
            "cookie",
            cookie,
            owner,
            f"{who} sets the affinity cookie {cookie}: sticky by cookie (not tested by behaviour).",
            _COOKIE_WARNINGS,
        )
    return StickyVerdict(
        "unknown", None, None, "No affinity cookie set; stickiness not tested by behaviour."
    )


# -- a hold's facts, as one probe step's evidence ---------------------------------------------------


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class LongPollFacts:
    """One polling GET held open (:func:`judge_long_poll`'s input)."""

    ended_s: float
    answered: bool
    ping_interval_s: float
    status: int | None = None
    reason: str = ""
    """How it ended, when it was cut (``HTTP 504 …``, ``the connection closed``)."""

    def to_evidence(self) -> dict[str, object]:
        return {
            "ended_s": round(self.ended_s, 2),
            "answered": self.answered,
            "ping_interval_s": self.ping_interval_s,
            "status": self.status,
            "reason": self.reason or None,
        }

    @classmethod
    def from_evidence(cls, x: object) -> LongPollFacts | None:
        if not isinstance(x, dict):
            return None
        ended, pi = _num(x.get("ended_s")), _num(x.get("ping_interval_s"))
        if ended is None or pi is None:
            return None
        status = x.get("status")
        return cls(
            ended,
            x.get("answered") is True,
            pi,
            status if isinstance(status, int) and not isinstance(status, bool) else None,
            str(x.get("reason") or ""),
        )


@dataclass(frozen=True)
class HoldJudgement:
    """What a hold found: the pair's verdict and the long-poll's (when one was held)."""

    pair: CutVerdict
    long_poll: CutVerdict | None

    @property
    def main(self) -> CutVerdict | None:
        """The cut to report first: the pair's, else a cut long-poll's; None when nothing was
        cut."""
        if self.pair.kind not in ("none",):
            return self.pair
        if self.long_poll is not None and self.long_poll.kind == "request":
            return self.long_poll
        return None


@dataclass(frozen=True)
class HoldFacts:
    """Everything ``probe --hold`` measured, as facts a rule can judge again (the hold step's
    evidence is :meth:`to_evidence`; the diagnosis reads it back with :meth:`from_evidence`)."""

    quiet: Held
    chatty: Held
    held_s: float
    max_s: float
    heartbeat: Heartbeat | None = None
    client_eio: int = 4
    transport: str | None = None
    long_poll: LongPollFacts | None = None
    interrupted: bool = False
    """Ended early by the user (Ctrl-C): what was learnt so far."""
    round_trips: int = 0
    """Round trips the chatty connection made."""

    def judge(self, path: PathReport | None = None) -> HoldJudgement:
        pair = judge_hold(
            self.quiet,
            self.chatty,
            held_s=self.held_s,
            heartbeat=self.heartbeat,
            path=path,
            client_eio=self.client_eio,
        )
        lp = self.long_poll
        long_poll = (
            judge_long_poll(
                ended_s=lp.ended_s,
                answered=lp.answered,
                ping_interval_s=lp.ping_interval_s,
                status=lp.status,
                path=path,
            )
            if lp is not None
            else None
        )
        return HoldJudgement(pair, long_poll)

    def to_evidence(self) -> dict[str, object]:
        hb = self.heartbeat
        return {
            "quiet_lived_s": None if self.quiet.lived_s is None else round(self.quiet.lived_s, 2),
            "quiet_reason": self.quiet.reason or None,
            "chatty_lived_s": None
            if self.chatty.lived_s is None
            else round(self.chatty.lived_s, 2),
            "chatty_reason": self.chatty.reason or None,
            "held_s": round(self.held_s, 2),
            "max_s": self.max_s,
            "ping_interval_s": hb.ping_interval_s if hb else None,
            "ping_timeout_s": hb.ping_timeout_s if hb else None,
            "server_eio": hb.eio if hb else None,
            "client_eio": self.client_eio,
            "transport": self.transport,
            "long_poll": self.long_poll.to_evidence() if self.long_poll else None,
            "interrupted": self.interrupted,
            "round_trips": self.round_trips,
        }

    @classmethod
    def from_evidence(cls, x: object) -> HoldFacts | None:
        """The facts back from a step's evidence; None when they are not a hold's."""
        if not isinstance(x, dict):
            return None
        held, max_s = _num(x.get("held_s")), _num(x.get("max_s"))
        if held is None:
            return None
        pi, pt = _num(x.get("ping_interval_s")), _num(x.get("ping_timeout_s"))
        eio = x.get("server_eio")
        heartbeat = (
            Heartbeat(pi, pt, eio if isinstance(eio, int) else 4)
            if pi is not None and pt is not None
            else None
        )
        client_eio = x.get("client_eio")
        rounds = x.get("round_trips")
        return cls(
            Held("quiet", _num(x.get("quiet_lived_s")), str(x.get("quiet_reason") or "")),
            Held("chatty", _num(x.get("chatty_lived_s")), str(x.get("chatty_reason") or "")),
            held,
            max_s if max_s is not None else held,
            heartbeat,
            client_eio if isinstance(client_eio, int) else 4,
            str(x["transport"]) if x.get("transport") else None,
            LongPollFacts.from_evidence(x.get("long_poll")),
            x.get("interrupted") is True,
            rounds if isinstance(rounds, int) else 0,
        )
