"""The Guest session panel: who the server thinks we are, and until when."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from conndebug.core.model import SessionInfo, Snapshot, State
from conndebug.core.text import visible
from conndebug.ui.text import UNKNOWN, Now, duration
from conndebug.ui.widgets._lines import LABEL_WIDTH, kv, lines, set_content

_SOURCES = {
    "guest": "guest session created here",
    "stored": "guest session kept from an earlier run",
    "token": "the token given with --token",
}


_SHORT_SOURCES = {"guest": "created here", "stored": "kept", "token": "--token"}
"""The same, for the narrow panel (80 columns)."""


class SessionPanel(Static):
    """The guest user, the session and its token (always redacted unless --show-secrets).

    Two clocks run out: the token's ``exp`` (days on the real backend) and, where it is known,
    the server's own session lifetime (the demo's ``--session-ttl``, two minutes by default),
    which is what ends a session first.
    """

    DEFAULT_CSS = """
    SessionPanel {
        height: auto;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.compact = False
        """Small screens: shorter labels and values."""
        self.server_ttl_s: float | None = None
        """The server's session lifetime when it is known (the demo's reference server)."""

    def show(self, snap: Snapshot, now: Now) -> None:
        """Render ``snap`` as of ``now``."""
        set_content(self, self._content(snap, now))

    def _content(self, snap: Snapshot, now: Now) -> Content:
        s: SessionInfo = snap.session
        width = 8 if self.compact else LABEL_WIDTH
        if not s.session_id and not s.username and not s.token_redacted:
            return lines(
                Content.styled("❌ no session: connecting without a token", "$warning"),
                kv("user id" if not self.compact else "user", UNKNOWN, width=width),
                kv("session id" if not self.compact else "session", UNKNOWN, width=width),
                kv("token", "none", width=width),
                kv("expires in" if not self.compact else "expires", UNKNOWN, width=width),
                kv("last update" if not self.compact else "updated", UNKNOWN, width=width),
            )
        token_left = s.expires_at - now.wall if s.expires_at is not None else None
        server_left = (
            s.created_at + self.server_ttl_s - now.wall
            if s.created_at is not None and self.server_ttl_s is not None and s.source == "guest"
            else None
        )
        name = visible(s.username or UNKNOWN)
        # The words after the name: the longest that fits (a long name on a small screen), never
        # a cut one.
        if token_left is not None and token_left < 0:
            mark = Content.styled(f"❌ {name}", "$error bold")
            said, style = ["token expired", "expired"], "$error"
        elif server_left is not None and server_left < 0:
            mark = Content.styled(f"❌ {name}", "$error bold")
            said, style = ["expired on the server", "expired"], "$error"
        else:
            mark = Content.styled(f"✅ {name}", "$success bold")
            source, short = _SOURCES.get(s.source, s.source), _SHORT_SOURCES.get(s.source, "")
            if snap.state in (State.CONNECTED, State.STALLED):
                said = [f"in use · {source}", f"in use · {short}", "in use"]
            else:
                said = [source, short]
            style = "$text-muted"
        room = self.content_region.width or (30 if self.compact else 200)
        fitting = [w for w in said if w and mark.cell_length + 2 + len(w) <= room]
        head = mark + Content.styled(f"  {fitting[0]}", style) if fitting else mark
        return lines(
            head,
            kv(
                "user id" if not self.compact else "user",
                visible(s.user_id or UNKNOWN),
                width=width,
            ),
            kv(
                "session id" if not self.compact else "session",
                visible(s.session_id or UNKNOWN),
                width=width,
            ),
            kv("token", s.token_redacted or UNKNOWN, width=width),
            kv(
                "expires in" if not self.compact else "expires",
                self._expires(token_left, server_left),
                width=width,
            ),
            kv(
                "last update" if not self.compact else "updated",
                self._updated(s, now),
                width=width,
            ),
        )

    def _expires(self, token_left: float | None, server_left: float | None) -> Content | str:
        parts: list[Content] = []
        if server_left is not None:
            if server_left < 0:
                text = "now (server)"
            elif self.compact:
                text = f"{duration(server_left)} (server)"
            else:
                text = f"{duration(server_left)} on the server"
            parts.append(Content.styled(text, "$warning" if server_left < 30 else ""))
        if token_left is not None and not (self.compact and parts):
            if token_left >= 0:
                parts.append(Content(f"{duration(token_left)} (token)"))
            else:
                parts.append(
                    Content.styled(f"expired {duration(-token_left)} ago (token)", "$error")
                )
        if not parts:
            return UNKNOWN
        return Content(" · ").join(parts)

    def _updated(self, s: SessionInfo, now: Now) -> str:
        if s.created_at is None:
            return UNKNOWN
        ago = duration(now.wall - s.created_at)
        if self.compact:  # the clock time only while both fit the narrow panel
            both = f"{now.time_of(s.created_at)[:8]} · {ago} ago"
            room = (self.content_region.width or 200) - 8
            return both if len(both) <= room else f"{ago} ago"
        update = f"{now.time_of(s.created_at)}  ({ago} ago)"
        if s.regenerations:
            update += f" · regenerated {s.regenerations}×"
        return update
