"""Session expiry: the web client's regeneration rule, the loop guard, and a server-side expiry.

- :func:`is_expiry_message`: the seed's rule (target-contract.md) — regenerate on
  ``Token has expired`` or ``Guest session not found or expired``, or a message containing
  ``session not found`` or ``expired`` (compared without regard to case here);
- :class:`RegenerationGuard`: at most :data:`REGENERATIONS_PER_WINDOW` fresh sessions *that fail*
  per :data:`REGENERATION_WINDOW_S` seconds, so a server that rejects its own fresh sessions cannot
  drive an endless loop; a fresh session that connected clears the count, so expiries that the
  regeneration fixes (a server expiring sessions often, the demo's ``x`` pressed again and again)
  never stop the monitor (times come from the caller's injected clock);
- :func:`expire_on_server`: the reference server's admin call ``POST /_conndebug/expire``, used by
  ``simulate_expiry()`` so that the real expiry path runs.
"""

from __future__ import annotations

from conndebug.config import Settings, effective_proxy
from conndebug.core.guest import tls_verify_setting

__all__ = [
    "REGENERATIONS_PER_WINDOW",
    "REGENERATION_WINDOW_S",
    "RegenerationGuard",
    "expire_on_server",
    "is_expiry_message",
]

REGENERATIONS_PER_WINDOW = 3
REGENERATION_WINDOW_S = 60.0

_EXPIRY_MESSAGES = ("Token has expired", "Guest session not found or expired")


def is_expiry_message(message: str) -> bool:
    """The web client's regeneration rule (matched without regard to case)."""
    lowered = message.lower()
    return message in _EXPIRY_MESSAGES or "session not found" in lowered or "expired" in lowered


class RegenerationGuard:
    """Counts fresh sessions that did not connect, in a sliding window, and says when to stop.

    :meth:`record` each regeneration, :meth:`connected` when a connection succeeded: the fresh
    sessions recorded before it worked, so they no longer count.
    """

    def __init__(
        self, limit: int = REGENERATIONS_PER_WINDOW, window_s: float = REGENERATION_WINDOW_S
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.total = 0
        """Regenerations since the start (for display)."""
        self._times: list[float] = []

    def recent(self, now: float) -> int:
        """Regenerations within the window ending at ``now``."""
        self._times = [t for t in self._times if now - t < self.window_s]
        return len(self._times)

    def allows(self, now: float) -> bool:
        """Whether one more regeneration is allowed at ``now``."""
        return self.recent(now) < self.limit

    def record(self, now: float) -> int:
        """Count a regeneration at ``now``; returns the count within the window."""
        self._times.append(now)
        self.total += 1
        return self.recent(now)

    def record_requested(self) -> None:
        """Count a regeneration the user asked for (``x``): in the total, not in the loop guard's
        window (the guard is about a server that rejects its own fresh sessions)."""
        self.total += 1

    def connected(self) -> None:
        """A connection succeeded: the fresh sessions so far did not fail; forget them."""
        self._times.clear()


async def expire_on_server(
    settings: Settings, admin_key: str, session_id: str | None, *, timeout: float = 5.0
) -> tuple[int | None, str | None]:
    """``POST /_conndebug/expire`` → (records deleted, ``None``) or (``None``, why it failed)."""
    url = settings.rest_base + "/_conndebug/expire"
    import httpx  # only for this admin call: a client start never pays for it

    try:
        async with httpx.AsyncClient(
            proxy=effective_proxy(settings, url),
            verify=tls_verify_setting(settings),
            trust_env=False,
            timeout=httpx.Timeout(timeout),
        ) as client:
            response = await client.post(
                url, json={"sessionId": session_id}, headers={"X-Admin-Key": admin_key}
            )
    except httpx.HTTPError as exc:
        return None, f"cannot reach the admin API at {url}: {exc or type(exc).__name__}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        return None, f"the admin API at {url} answered HTTP {response.status_code}"
    expired = body.get("expired")
    return (int(expired) if isinstance(expired, int) else 0), None
