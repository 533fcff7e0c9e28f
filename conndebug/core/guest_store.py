"""Guest sessions kept between runs, one per guest endpoint, as the browser keeps its token.

The web client keeps its guest token in the browser's storage and creates a new session only when
the server says the old one expired. A tool that created a session at every start would spend the
target's guest sessions (the chat backend allows 100 per 15 minutes per client) and lock itself
out when run from a monitoring loop, so conndebug keeps the last session of each guest endpoint:

- in ``guest-sessions.json`` under the user's data folder (``platformdirs``; on Linux
  ``$XDG_DATA_HOME/conndebug``, by default ``~/.local/share/conndebug``), the folder 0700 and the
  file 0600, written whole and renamed into place;
- keyed by the guest endpoint's URL, with the token and the user the endpoint returned;
- reused while the token's ``exp`` claim (read without verifying) is more than a minute away, or
  until the server refuses it when the token carries no ``exp``;
- dropped when the server refuses it (:func:`forget`), replaced by every new session.

Tokens are secrets: they are redacted in every output like any other; only this file holds them,
readable by its owner alone. ``--new-session`` creates a new session instead of reusing one. A
store that cannot be read or written is ignored (a new session every time, as before).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conndebug.core.guest import GuestSession

__all__ = ["MARGIN_S", "forget", "load", "save", "store_path"]

FILE_NAME = "guest-sessions.json"
MARGIN_S = 60.0
"""A kept token expiring within this many seconds is not reused."""
MAX_ENTRIES = 200
"""Endpoints remembered (the oldest are dropped first)."""
MAX_BYTES = 1024 * 1024
"""A larger file is not read (200 entries take about 200 KiB)."""


def store_path() -> Path:
    """Where the kept sessions live: the user's data folder for conndebug, as ``platformdirs``
    names it. On Linux and the BSDs that is the XDG rule, applied here directly: importing
    ``platformdirs`` costs ~15 ms (pathlib, tempfile, its API classes) of every probe's start,
    for two environment lookups. macOS and Windows ask ``platformdirs``."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        base = os.environ.get("XDG_DATA_HOME", "").strip()
        root = Path(base) if base else Path(os.path.expanduser("~/.local/share"))
        return root / "conndebug" / FILE_NAME
    from platformdirs import user_data_path

    return user_data_path("conndebug", appauthor=False) / FILE_NAME


_cache: dict[Path, tuple[tuple[int, int], dict[str, Any]]] = {}
"""What this process read or wrote last, per file, with the file's (mtime, size) then: a probe
of many targets reads the file once, not once per target."""


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _read(path: Path) -> dict[str, Any]:
    stamp = _stamp(path)
    if stamp is None:
        return {}
    cached = _cache.get(path)
    if cached is not None and cached[0] == stamp:
        return dict(cached[1])
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError:
        return {}
    if len(raw) > MAX_BYTES:
        return {}
    try:
        data = json.loads(raw)  # conndebug's own file: the C decoder, bounded by its size
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    sessions = data.get("sessions") if isinstance(data, dict) else None
    if not isinstance(sessions, dict):
        return {}
    _cache[path] = (stamp, sessions)
    return dict(sessions)


def _write(path: Path, sessions: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    text = json.dumps({"version": 1, "sessions": sessions}, separators=(",", ":"))
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)  # an older file of that name kept its mode
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return
    stamp = _stamp(path)
    if stamp is not None:
        _cache[path] = (stamp, dict(sessions))


def load(guest_url: str, *, now: float | None = None) -> GuestSession | None:
    """The session kept for ``guest_url`` if its token is still good for a while, else None."""
    from conndebug.core.guest import session_from_token

    entry = _read(store_path()).get(guest_url)
    if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
        return None
    session = session_from_token(
        entry["token"],
        entry.get("user") if isinstance(entry.get("user"), dict) else None,
        source="stored",
    )
    moment = time.time() if now is None else now
    if session.expires_at is not None and session.expires_at - MARGIN_S <= moment:
        return None
    return session


def save(guest_url: str, session: GuestSession, *, now: float | None = None) -> None:
    """Keep ``session`` for ``guest_url`` (replacing the one kept before)."""
    path = store_path()
    sessions = _read(path)
    moment = time.time() if now is None else now
    sessions.pop(guest_url, None)
    sessions[guest_url] = {
        "token": session.token,
        "user": {
            "id": session.user_id,
            "username": session.username,
            "sessionId": session.session_id,
        },
        "saved_at": round(moment, 3),
    }
    for key in list(sessions)[: max(0, len(sessions) - MAX_ENTRIES)]:
        del sessions[key]
    _write(path, sessions)


def forget(guest_url: str) -> None:
    """Drop the session kept for ``guest_url`` (the server refused it)."""
    path = store_path()
    sessions = _read(path)
    if sessions.pop(guest_url, None) is not None:
        _write(path, sessions)
