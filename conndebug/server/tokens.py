"""Guest tokens as the chat backend issues and checks them, and its guest usernames.

HS256 JWTs with ``iss="realtime-chat-app"`` and ``aud="realtime-chat-users"``. Verification pins
HS256 (``alg: none`` and other algorithms are ``Invalid token``) and reads expiry from the
injected clock, so tests can expire tokens exactly. The messages are the backend's, word for word.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt

from conndebug.core.clock import Clock

__all__ = [
    "AUDIENCE",
    "ISSUER",
    "MSG_EXPIRED",
    "MSG_INVALID",
    "MSG_NOT_GUEST",
    "MSG_RATE_LIMIT",
    "MSG_SESSION_GONE",
    "MSG_SOCKET_NO_TOKEN",
    "MSG_VERIFY_FAILED",
    "AuthRejected",
    "issue_token",
    "random_username",
    "verify_token",
]

ISSUER = "realtime-chat-app"
AUDIENCE = "realtime-chat-users"
ALGORITHM = "HS256"

MSG_SOCKET_NO_TOKEN = "Authentication token required"
MSG_REST_NO_TOKEN = "Access token is required"
MSG_NOT_GUEST = "Only guest sessions are supported"
MSG_SESSION_GONE = "Guest session not found or expired"
MSG_EXPIRED = "Token has expired"
MSG_INVALID = "Invalid token"
MSG_VERIFY_FAILED = "Token verification failed"
MSG_RATE_LIMIT = "Rate limit exceeded"

_ADJECTIVES = (
    "Swift", "Brave", "Calm", "Clever", "Bright", "Happy", "Lucky", "Quiet", "Bold", "Gentle",
    "Witty", "Sunny", "Mighty", "Noble", "Jolly", "Rapid", "Silent", "Cosmic", "Golden", "Silver",
)  # fmt: skip
_NOUNS = (
    "Tiger", "Falcon", "Panda", "Otter", "Fox", "Eagle", "Wolf", "Dolphin", "Lion", "Hawk",
    "Koala", "Badger", "Raven", "Lynx", "Bear", "Heron", "Comet", "Maple", "River", "Owl",
)  # fmt: skip


@contextmanager
def _short_secrets_allowed() -> Iterator[None]:
    """PyJWT warns about HMAC secrets under 32 bytes; the backend accepts any, so do we."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        yield


class AuthRejected(Exception):
    """A token or session check failed; ``message`` is the backend's exact wording."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def random_username(rng: random.Random) -> str:
    """``<Adjective><Noun><1..9999>``, e.g. ``SwiftTiger42``."""
    return f"{rng.choice(_ADJECTIVES)}{rng.choice(_NOUNS)}{rng.randint(1, 9999)}"


def issue_token(
    *,
    secret: str,
    clock: Clock,
    ttl: float,
    user_id: str,
    session_id: str,
    username: str,
) -> str:
    """A guest JWT with the backend's claims."""
    now = int(clock.time())
    claims = {
        "userId": user_id,
        "sessionId": session_id,
        "username": username,
        "isGuest": True,
        "iat": now,
        "exp": now + max(1, round(ttl)),
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    with _short_secrets_allowed():
        return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, *, secret: str, clock: Clock) -> dict[str, Any]:
    """The token's claims; raises :class:`AuthRejected` with the backend's message.

    Like ``jsonwebtoken.verify``: a bad signature, algorithm, audience or issuer (or a token that is
    not a JWT) is ``Invalid token``; a past ``exp`` is ``Token has expired``; a future ``nbf`` is
    ``Token verification failed``. The guest check is the caller's (it differs in order per path).
    """
    try:
        with _short_secrets_allowed():
            claims: dict[str, Any] = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={
                    "verify_exp": False,  # checked below against the injected clock
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["exp", "iat"],
                },
            )
    except jwt.InvalidTokenError as exc:
        raise AuthRejected(MSG_INVALID) from exc
    now = clock.time()
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise AuthRejected(MSG_INVALID)
    if now >= exp:
        raise AuthRejected(MSG_EXPIRED)
    nbf = claims.get("nbf")
    if isinstance(nbf, (int, float)) and not isinstance(nbf, bool) and now < nbf:
        raise AuthRejected(MSG_VERIFY_FAILED)
    return claims
