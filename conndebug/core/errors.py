"""The one exception family of conndebug.

Every error a user can cause or meet carries a short human ``title`` and a ``hint`` (what to do),
and the exit code the CLI uses for it. The CLI prints ``title`` and ``hint`` on one or two lines and
never a traceback.

    ConndebugError              exit 3 unless stated
    ├── ConfigError             bad flag, URL, file or combination of options (exit 3)
    ├── SessionError            the guest-session endpoint failed or answered off-contract (exit 2)
    ├── ConnectFailed           the Socket.IO connection could not be made (exit 2)
    └── ServerError             the reference server could not start (port in use, bad bind) (exit 3)
"""

from __future__ import annotations

__all__ = ["ConfigError", "ConndebugError", "ConnectFailed", "ServerError", "SessionError"]


class ConndebugError(Exception):
    """An error with a human title, a hint and an exit code."""

    exit_code: int = 3

    def __init__(self, title: str, hint: str = "", *, exit_code: int | None = None) -> None:
        super().__init__(title)
        self.title = title
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.title} — {self.hint}" if self.hint else self.title

    def one_line(self) -> str:
        """The error as the CLI prints it: ``error: title (hint)``."""
        return f"error: {self.title}" + (f" — {self.hint}" if self.hint else "")


class ConfigError(ConndebugError):
    """A bad flag, URL, file or combination of options."""

    exit_code = 3


class SessionError(ConndebugError):
    """The guest-session endpoint failed or answered something that is not the contract."""

    exit_code = 2


class ConnectFailed(ConndebugError):
    """The Socket.IO connection could not be made."""

    exit_code = 2


class ServerError(ConndebugError):
    """The reference server could not start or be controlled."""

    exit_code = 3
