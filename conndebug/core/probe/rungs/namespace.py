"""9. The namespace: credentials as the web client gets them, then the Socket.IO ``CONNECT`` (auth
in it; Engine.IO 3: in the handshake's query) by :mod:`conndebug.client`.

Credentials:

- ``--token``: the user's token is used and judged as it is, never replaced (a refusal, an
  expiry included, is the verdict; the token's own ``exp`` tells "the JWT expired" from "the
  server dropped the session");
- otherwise a guest session: the one kept for this guest endpoint while it is valid
  (:mod:`conndebug.core.guest_store`), or a new one (``--new-session`` forces it). The guest
  endpoint gets a short time limit (:data:`~conndebug.core.guest.GUEST_TIMEOUT`): one that never
  answers, answers 404 or HTML is "no such API", and the connection goes on without a token, as
  the web client's would;
- a guest session the server refuses as expired is regenerated as the web client does (a new
  one, a new Engine.IO session, ``CONNECT`` again); a kept one refused for another reason is
  dropped and replaced once (a kept token must not produce a verdict of its own).

After ``connected`` the rung holds the namespace for one round trip: whatever the server sent
right after its answer (a ``DISCONNECT``: ``io server disconnect``) has arrived by then.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from conndebug.core.events import (
    Connected,
    ConnectError,
    Disconnected,
    Note,
    SessionCreated,
    SessionExpired,
    SessionRegenerated,
)
from conndebug.core.probe.context import ProbeContext
from conndebug.core.session import is_expiry_message

if TYPE_CHECKING:
    from conndebug.client import Disconnect, Failure, Namespace, SocketClient
    from conndebug.core.guest import GuestResult, GuestSession, PostAnswer

__all__ = ["credentials", "run"]


# -- credentials ----------------------------------------------------------------------------------


async def credentials(ctx: ProbeContext) -> None:
    """The token to connect with (once per probe)."""
    if ctx.credentials_done:
        return
    ctx.credentials_done = True
    s = ctx.settings
    if s.token:
        from conndebug.core.guest import session_from_token

        _use(ctx, session_from_token(s.token, source="token"))
    elif not s.no_guest:
        await _guest(ctx, reuse=True)
    if s.eio < 4 and s.namespace == "/":
        auth = _auth(ctx)
        if auth:
            extra = tuple((str(k), str(v)) for k, v in auth.items())
            ctx.target = dataclasses.replace(ctx.target, query=(*ctx.target.query, *extra))


async def _post(
    ctx: ProbeContext, url: str, headers: Mapping[str, str], body: bytes, timeout: float
) -> PostAnswer:
    """The guest POST over the probe's own client (its cookies go to the later requests, as a
    browser's would: a sticky load balancer's among them)."""
    from conndebug.core.guest import ANSWER_LIMIT, PostAnswer, PostFailed
    from conndebug.wire import WireError

    try:
        answer = await ctx.http.request(
            "POST", url, headers=headers, body=body, timeout=timeout, limit=ANSWER_LIMIT
        )
    except WireError as exc:
        raise PostFailed(exc.kind, exc.message) from None
    return PostAnswer(
        answer.status,
        answer.header("content-type") or "",
        answer.body,
        answer.header("retry-after"),
    )


async def _guest(ctx: ProbeContext, *, reuse: bool) -> GuestResult:
    from conndebug.core.guest import GUEST_TIMEOUT, guest_session

    s = ctx.settings

    async def post(url: str, headers: Mapping[str, str], body: bytes, timeout: float) -> Any:
        return await _post(ctx, url, headers, body, timeout)

    result = await guest_session(s, timeout=min(ctx.timeout, GUEST_TIMEOUT), post=post, reuse=reuse)
    if result.session is not None:
        _use(ctx, result.session)
        return result
    why = result.absent or result.error or "no session"
    ctx.guest_why = why
    ctx.bus.emit(
        Note,
        text=ctx.redactor.text(f"no guest session ({why}); connecting without a token"),
        level="warning" if result.error else "info",
        topic="guest",
        status=result.status,
        url=ctx.redactor.text(s.guest_url),
        facts=ctx.redactor.value(result.facts()),
    )
    return result


def _use(ctx: ProbeContext, session: GuestSession) -> None:
    ctx.redactor.add(session.token)
    ctx.session = session
    ctx.token = session.token
    ctx.token_source = session.source
    ctx.connection["user"] = session.username or session.user_id
    ctx.bus.emit(
        SessionCreated,
        username=session.username,
        user_id=session.user_id,
        session_id=session.session_id,
        expires_at=session.expires_at,
        token=ctx.redactor.secret(session.token, "token"),
        source=session.source,
    )
    problem = session.problem
    if problem is not None:  # unsigned, or (from a guest endpoint) not a JWT at all
        worrying = session.source != "token" or "alg: none" in problem
        who = "--token" if session.source == "token" else "guest session"
        ctx.bus.emit(
            Note,
            text=ctx.redactor.text(f"{who}: {problem}"),
            level="warning" if worrying else "info",
            topic="session",
        )


def _auth(ctx: ProbeContext) -> dict[str, Any] | None:
    auth = dict(ctx.settings.auth)
    if ctx.token:
        auth["token"] = ctx.token
    return auth or None


# -- the connect ------------------------------------------------------------------------------------


async def run(ctx: ProbeContext) -> None:
    start = ctx.now()
    await credentials(ctx)
    await _connect(ctx, start, regenerated=False, replaced=False)


async def _connect(ctx: ProbeContext, start: float, *, regenerated: bool, replaced: bool) -> None:
    from conndebug.client import ClientError

    s = ctx.settings
    client = ctx.client
    assert client is not None
    connect_start = ctx.now()
    try:
        ns = await client.connect(
            s.namespace,
            auth=_auth(ctx) if s.eio >= 4 or s.namespace != "/" else None,
            timeout=ctx.timeout,
            on_event=ctx.event_in,
            on_disconnect=lambda d: _ended(ctx, d),
        )
    except ClientError as exc:
        f = exc.failure
        if f.reason == "connect_error":
            await _refused(ctx, start, f, regenerated=regenerated, replaced=replaced)
            return
        if f.reason == "closed" and client.closed.done() and _first_packet(ctx):
            from conndebug.core.probe.rungs.session import closed_at_first_packet

            close = client.closed.result()
            await closed_at_first_packet(
                ctx, "namespace", start, client.transport or "websocket", close, connect_start
            )
        if f.reason == "no_answer":
            detail = f"no answer to the namespace connect within {ctx.timeout:g} s"
        elif f.reason == "eio3_server":
            detail = f.message
        else:
            detail = f"the session broke: {f.message}"
        raise ctx.fail("namespace", start, detail, failure=f, phase="namespace") from None
    await _connected(ctx, start, client, ns, regenerated=regenerated)


def _first_packet(ctx: ProbeContext) -> bool:
    """The CONNECT was the session's first Socket.IO packet (no round trip went before it)."""
    return ctx.websocket_only or not any(
        step.name == "session" and step.status == "ok" for step in ctx.steps
    )


async def _refused(
    ctx: ProbeContext, start: float, f: Failure, *, regenerated: bool, replaced: bool
) -> None:
    s = ctx.settings
    message = f.server_message or ""
    data: dict[str, Any] = {"message": message}
    if f.server_data is not None:
        data["data"] = f.server_data
    ctx.bus.emit(
        ConnectError,
        message=ctx.redactor.text(message),
        data=ctx.redactor.value(data),
        source="server",
        transport=f.transport,
        phase="namespace",
        failure="rejected",
        reason="connect_error",
        facts=ctx.redactor.value(
            {"namespace": s.namespace, "server_data": f.server_data, "token": ctx.token_source}
        ),
    )
    guest = ctx.token_source in ("guest", "stored")
    if guest and not regenerated and is_expiry_message(message):
        await _regenerate(ctx, start, message)
        return
    if ctx.token_source == "stored" and not replaced and not regenerated:
        await _replace_kept(ctx, start, message)
        return
    if regenerated:
        detail = f'refused "{message}" again, with the new guest session'
    else:
        detail = f'refused by the server: "{message}"'
    raise ctx.fail("namespace", start, detail, emit=False, facts={"message": message})


async def _regenerate(ctx: ProbeContext, start: float, message: str) -> None:
    """The web client's regeneration: a new guest session, a new Engine.IO session, CONNECT."""
    from conndebug.core import guest_store

    previous = ctx.session
    ctx.bus.emit(
        SessionExpired,
        message=ctx.redactor.text(message),
        session_id=previous.session_id if previous else None,
    )
    guest_store.forget(ctx.settings.guest_url)
    result = await _guest(ctx, reuse=False)
    if result.session is None:
        raise ctx.fail(
            "namespace",
            start,
            f'refused "{message}"; a new guest session failed: {ctx.guest_why}',
            emit=False,
            facts={"message": message},
        )
    session = result.session
    ctx.bus.emit(
        SessionRegenerated,
        username=session.username,
        user_id=session.user_id,
        session_id=session.session_id,
        previous_session_id=previous.session_id if previous else None,
        count=1,
    )
    await _new_session(ctx, start)
    await _connect(ctx, start, regenerated=True, replaced=True)


async def _replace_kept(ctx: ProbeContext, start: float, message: str) -> None:
    """A kept guest session refused for another reason than expiry: drop it, use a new one."""
    from conndebug.core import guest_store

    guest_store.forget(ctx.settings.guest_url)
    ctx.bus.emit(
        Note,
        text=ctx.redactor.text(
            f'the kept guest session was refused ("{message}"); creating a new one'
        ),
        level="info",
        topic="guest",
    )
    result = await _guest(ctx, reuse=False)
    if result.session is None:
        raise ctx.fail(
            "namespace",
            start,
            f'refused "{message}"; a new guest session failed: {ctx.guest_why}',
            emit=False,
            facts={"message": message},
        )
    await _new_session(ctx, start)
    await _connect(ctx, start, regenerated=False, replaced=True)


async def _new_session(ctx: ProbeContext, start: float) -> None:
    """A fresh Engine.IO session on the transport that worked before."""
    from conndebug.client import ClientError

    old, ctx.client = ctx.client, None
    if old is not None:
        old.abort()
    client = ctx.make_client()
    websocket = ctx.websocket_only
    try:
        await client.open("websocket" if websocket else "polling", ctx.timeout)
        if ctx.upgraded and not websocket:
            outcome = await client.upgrade(ctx.settings.ws_timeout)
            if not outcome.upgraded:
                ctx.upgraded = False
                ctx.connection.update(transport="polling")
    except ClientError as exc:
        client.abort()
        raise ctx.fail(
            "namespace",
            start,
            f"a new Engine.IO session after the new guest session failed: {exc.failure.message}",
            failure=exc.failure,
        ) from None
    ctx.client = client


# -- connected ---------------------------------------------------------------------------------------


async def _connected(
    ctx: ProbeContext, start: float, client: SocketClient, ns: Namespace, *, regenerated: bool
) -> None:
    s = ctx.settings
    ctx.namespace = ns
    transport = client.transport or "polling"
    ctx.connection.update(sid=ns.sid, transport=transport, engine_sid=client.engine.sid)
    op = client.open_packet
    ctx.bus.emit(
        Connected,
        transport=transport,
        sid=ns.sid,
        engine_sid=client.engine.sid,
        namespace=s.namespace,
        how="upgraded" if (transport == "websocket" and ctx.upgraded) else "direct",
        ping_interval_ms=op.ping_interval_ms if op else None,
        ping_timeout_ms=op.ping_timeout_ms if op else None,
        elapsed_ms=ctx.ms_since(start),
        upgrades=tuple(op.upgrades) if op else None,
    )
    early, ctx.early_ends = ctx.early_ends, []
    for ended_early in early:
        _ended(ctx, ended_early)
    if ns.ended is None:
        # Hold the namespace for one round trip: whatever the server sent right after its
        # CONNECT answer (a DISCONNECT) arrives before the answer to a later packet. It is
        # the round trips rung's first sample.
        ctx.held_rtt_ms = await client.round_trip(min(ctx.timeout, 2.0))
    ended = ns.ended
    if ended is not None:
        how = "the server disconnected it" if ended.kicked else "the connection ended"
        raise ctx.fail(
            "namespace",
            start,
            f"{s.namespace} connected over {transport} (socket id {ns.sid}), then {how} "
            f"({ended.reason})",
            emit=False,
            facts={"sid": ns.sid, "reason": ended.reason, "kicked": ended.kicked or None},
        )
    who = ctx.connection.get("user")
    if who:
        source = {"token": "given", "stored": "kept guest", "guest": "guest"}.get(
            ctx.token_source or "", ctx.token_source or ""
        )
        whom = f", as {who} ({source} token)"
    elif s.no_guest and not s.token:
        whom = ", no token (--no-guest)"
    elif ctx.guest_why:
        whom = f", no token (no guest session: {ctx.guest_why})"
    else:
        whom = ", no token"
    recovery = ", connection state recovery offered" if ns.pid is not None else ""
    ctx.record(
        "namespace",
        "ok",
        start,
        f"{s.namespace} connected over {transport}, socket id {ns.sid}{whom}"
        + (" after renewing the expired session" if regenerated else "")
        + recovery,
        sid=ns.sid,
        user=who,
        token_source=ctx.token_source,
        recovery_offered=(ns.pid is not None) or None,
    )


def _ended(ctx: ProbeContext, d: Disconnect) -> None:
    """The namespace ended: a server kick (``io server disconnect``) or the transport's end.

    A kick in the same read as the ``CONNECT`` answer ends the namespace before ``connect()``
    returns: it is told after ``connected``, in the order it happened on the wire."""
    if d.reason == "io client disconnect":
        return
    if ctx.namespace is None:
        ctx.early_ends.append(d)
        return
    close = d.close
    ctx.bus.emit(
        Disconnected,
        reason=d.reason,
        will_reconnect=False,
        close_code=close.ws_code if close is not None else None,
        transport=close.transport if close is not None else None,
    )
