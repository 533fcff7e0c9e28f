"""The Guest session panel: who the server thinks we are, and until when."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from conndebug.core.model import SessionInfo, Snapshot, State
from conndebug.core.text import visible
from conndebug.ui.text import UNKNOWN, Now, duration
from conndebug.ui.widgets._lines import kv, lines, set_content

_SOURCES = {
    "guest": "guest session created here",
    "stored": "guest session kept from an earlier run",
    "token": "the token given with --token",
}


class SessionPanel(Static):
    """The guest user, the session and its token (always redacted unless --show-secrets)."""

    DEFAULT_CSS = """
    SessionPanel {
        height: auto;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def show(self, snap: Snapshot, now: Now) -> None:
        """Render ``snap`` as of ``now``."""
        set_content(self, self._content(snap, now))

    @staticmethod
    def _content(snap: Snapshot, now: Now) -> Content:
        s: SessionInfo = snap.session
        source = Content.styled(f"  {_SOURCES.get(s.source, s.source)}", "$text-muted")
        if s.source == "none" and not s.session_id:
            head = Content.styled("❌ no session: connecting without a token", "$warning")
        elif snap.state is State.FAILED:
            head = Content.styled(f"❌ {visible(s.username or UNKNOWN)}", "$error bold") + source
        else:
            head = Content.styled(f"✅ {visible(s.username or UNKNOWN)}", "$success bold") + source
        if s.expires_at is not None:
            left = s.expires_at - now.wall
            if left >= 0:
                expires: Content | str = f"{duration(left)} (token)"
            else:
                expires = Content.styled(f"expired {duration(-left)} ago (token)", "$error")
        else:
            expires = UNKNOWN
        if s.created_at is not None:
            update = f"{now.time_of(s.created_at)}  ({duration(now.wall - s.created_at)} ago)"
            if s.regenerations:
                update += f" · regenerated {s.regenerations}×"
        else:
            update = UNKNOWN
        return lines(
            head,
            kv("user id", visible(s.user_id or UNKNOWN)),
            kv("session id", visible(s.session_id or UNKNOWN)),
            kv("token", s.token_redacted or UNKNOWN),
            kv("expires in", expires),
            kv("last update", update),
        )
