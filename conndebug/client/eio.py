"""Engine.IO packets and payloads, versions 4 and 3 (sans-IO: bytes and text in, values out).

Engine.IO 4 (socket.io 3 and 4, python-engineio 4):

- a packet is its type digit and its text (``4hello``); over the websocket a binary packet is a
  binary frame holding the data alone; over polling it is ``b`` + base64;
- a polling payload joins packets with the record separator ``\\x1e``.

Engine.IO 3 (socket.io 2):

- over the websocket a binary packet is a binary frame holding the type byte and the data;
  base64 is ``b`` + type digit + base64;
- a text polling payload prefixes each packet with its length in UTF-16 code units, as
  JavaScript counts them (``97:0{"sid":...}2:40``); ``0:`` is an empty payload;
- a binary polling payload (sent when one of its packets is binary) is, per packet, a byte 0
  (text) or 1 (binary), the length as one byte per decimal digit, 255, then the packet (text as
  UTF-8, binary as type byte + data).

Also here: the open packet (:func:`parse_open`, with unusable values flagged, never raising) and
Engine.IO error bodies (:func:`parse_engine_error`: Node's ``{"code", "message"}`` and
python-engineio's JSON strings, codes 0–5 named).
"""

from __future__ import annotations

import base64
import binascii
import enum
import math
import re
from dataclasses import dataclass

from conndebug.client import bounds

__all__ = [
    "ENGINE_ERRORS",
    "EioDecodeError",
    "EioPacket",
    "EioType",
    "EngineError",
    "OpenPacket",
    "decode_packet",
    "decode_payload",
    "encode_packet",
    "encode_payload",
    "js_length",
    "parse_engine_error",
    "parse_open",
]

SEPARATOR = "\x1e"


class EioType(enum.IntEnum):
    """Engine.IO packet types."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


_TYPES = tuple(EioType)
_DIGITS = {str(int(t)): t for t in EioType}


class EioDecodeError(ValueError):
    """Bytes or text that are not an Engine.IO packet or payload (the reason in plain words)."""


@dataclass(frozen=True, slots=True)
class EioPacket:
    """One Engine.IO packet: its type and its data (text, or ``bytes`` for a binary packet)."""

    type: EioType
    data: str | bytes = ""

    @property
    def binary(self) -> bool:
        """A binary packet (only ``MESSAGE`` packets can be)."""
        return isinstance(self.data, bytes)


def encode_packet(packet: EioPacket, eio: int = 4, *, b64: bool = False) -> str | bytes:
    """The packet as one websocket message (``b64``: as one element of a text polling payload)."""
    data = packet.data
    if isinstance(data, bytes):
        if b64:
            encoded = base64.b64encode(data).decode("ascii")
            return f"b{encoded}" if eio >= 4 else f"b{int(packet.type)}{encoded}"
        return data if eio >= 4 else bytes((int(packet.type),)) + data
    return f"{int(packet.type)}{data}"


def decode_packet(raw: str | bytes, eio: int = 4) -> EioPacket:
    """One packet from a websocket message or a payload element.

    Raises :class:`EioDecodeError` for an empty message, an unknown type or broken base64.
    """
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raw = bytes(raw)
        if eio >= 4:
            return EioPacket(EioType.MESSAGE, raw)
        if not raw:
            raise EioDecodeError("an empty binary message (no Engine.IO 3 type byte)")
        if raw[0] > 6:
            raise EioDecodeError(f"unknown Engine.IO packet type {raw[0]} in a binary message")
        return EioPacket(_TYPES[raw[0]], raw[1:])
    if not raw:
        raise EioDecodeError("an empty message (no Engine.IO packet type)")
    head = raw[0]
    if head == "b":
        if eio >= 4:
            kind, encoded = EioType.MESSAGE, raw[1:]
        else:
            t = _DIGITS.get(raw[1:2])
            if t is None:
                raise EioDecodeError(f"unknown Engine.IO packet type {raw[1:2]!r} in base64 data")
            kind, encoded = t, raw[2:]
        try:
            return EioPacket(kind, base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            raise EioDecodeError("a base64 packet that is not valid base64") from None
    t = _DIGITS.get(head)
    if t is None:
        raise EioDecodeError(f"unknown Engine.IO packet type {bounds.clip(head, 8)!r}")
    return EioPacket(t, raw[1:])


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def js_length(text: str) -> int:
    """The length of ``text`` as JavaScript counts it (UTF-16 code units)."""
    n = len(text)
    if text.isascii() or _ASTRAL.search(text) is None:
        return n
    return n + len(_ASTRAL.findall(text))


def _js_take(text: str, start: int, units: int) -> int | None:
    """The index after ``units`` UTF-16 code units from ``start``, or None if that is impossible."""
    end = start + units
    chunk = text[start:end]
    if chunk.isascii() or _ASTRAL.search(chunk) is None:
        return end if len(chunk) == units else None
    i, left = start, units
    while left > 0:
        if i >= len(text):
            return None
        left -= 2 if ord(text[i]) > 0xFFFF else 1
        i += 1
    return i if left == 0 else None


def encode_payload(packets: list[EioPacket], eio: int = 4, *, binary: bool = False) -> str | bytes:
    """A polling payload of ``packets``.

    Engine.IO 4: text joined by ``\\x1e``. Engine.IO 3: length-prefixed text, or, with
    ``binary`` and at least one binary packet, the binary payload format.
    """
    if eio >= 4:
        return SEPARATOR.join(str(encode_packet(p, 4, b64=True)) for p in packets)
    if binary and any(p.binary for p in packets):
        out = bytearray()
        for p in packets:
            if isinstance(p.data, bytes):
                body = bytes((int(p.type),)) + p.data
                out.append(1)
            else:
                body = f"{int(p.type)}{p.data}".encode("utf-8", "surrogatepass")
                out.append(0)
            out.extend(int(d) for d in str(len(body)))
            out.append(255)
            out.extend(body)
        return bytes(out)
    if not packets:
        return "0:"
    parts = []
    for p in packets:
        text = str(encode_packet(p, 3, b64=True))
        parts.append(f"{js_length(text)}:{text}")
    return "".join(parts)


def decode_payload(body: bytes | str, eio: int = 4) -> list[EioPacket]:
    """The packets of one polling answer (or request body).

    Raises :class:`EioDecodeError` saying what is wrong (invalid UTF-8, a bad length prefix, an
    unknown type, broken base64).
    """
    if eio < 4 and isinstance(body, (bytes, bytearray)) and body[:1] in (b"\x00", b"\x01"):
        return _decode_binary_payload3(bytes(body))
    if isinstance(body, (bytes, bytearray)):
        try:
            text = bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EioDecodeError(
                f"a payload that is not valid UTF-8 (at byte {exc.start:,})"
            ) from None
    else:
        text = body
    if eio >= 4:
        if not text:
            return []
        return [decode_packet(p, 4) for p in text.split(SEPARATOR)]
    return _decode_text_payload3(text)


def _decode_text_payload3(text: str) -> list[EioPacket]:
    packets: list[EioPacket] = []
    i, n = 0, len(text)
    if text == "0:":
        return packets
    if not text:
        raise EioDecodeError("an empty Engine.IO 3 payload")
    while i < n:
        colon = text.find(":", i, i + 16)
        digits = text[i:colon] if colon > i else ""
        if not digits.isdigit() or not digits.isascii():
            sample = bounds.clip(text[i : i + 16], 16)
            raise EioDecodeError(
                f"an Engine.IO 3 payload without a length prefix at character {i:,} ({sample!r})"
            )
        length = int(digits)
        end = _js_take(text, colon + 1, length)
        if end is None:
            raise EioDecodeError(
                f"an Engine.IO 3 payload whose packet at character {i:,} is shorter than its "
                f"length prefix {length:,}"
            )
        if length:
            packets.append(decode_packet(text[colon + 1 : end], 3))
        i = end
    return packets


def _decode_binary_payload3(body: bytes) -> list[EioPacket]:
    packets: list[EioPacket] = []
    i, n = 0, len(body)
    while i < n:
        flag = body[i]
        if flag not in (0, 1):
            raise EioDecodeError(f"an Engine.IO 3 binary payload with a bad marker at byte {i:,}")
        j = i + 1
        while j < n and body[j] != 255:
            if body[j] > 9 or j - i > 310:
                raise EioDecodeError(
                    f"an Engine.IO 3 binary payload with a bad length at byte {i:,}"
                )
            j += 1
        if j == i + 1 or j >= n:
            raise EioDecodeError(f"an Engine.IO 3 binary payload with a bad length at byte {i:,}")
        length = int("".join(str(d) for d in body[i + 1 : j]))
        start, end = j + 1, j + 1 + length
        if end > n:
            raise EioDecodeError(
                f"an Engine.IO 3 binary payload cut short (a packet of {length:,} bytes at byte "
                f"{start:,}, {n - start:,} left)"
            )
        chunk = body[start:end]
        if flag == 0:
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError:
                raise EioDecodeError(
                    f"an Engine.IO 3 binary payload whose text packet at byte {start:,} is not UTF-8"
                ) from None
            packets.append(decode_packet(text, 3))
        else:
            packets.append(decode_packet(chunk, 3))
        i = end
    return packets


# --- the open packet -------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenPacket:
    """What the server's open packet says (every server string already clipped).

    A field the server sent with a value no client can use is ``None`` here and named in
    :attr:`problems`; nothing about it raises.
    """

    sid: str | None
    """The Engine.IO session id (clipped for display; :attr:`raw_sid` is what goes on the wire)."""
    raw_sid: str | None
    upgrades: tuple[str, ...]
    ping_interval_ms: int | None
    ping_timeout_ms: int | None
    max_payload: int | None
    problems: tuple[str, ...] = ()
    """Plain words for each unusable field (``pingInterval 0 is not a positive number``)."""

    @property
    def usable(self) -> bool:
        """A client can run a session on it: a sid and both timings usable."""
        return not self.problems


def _number(
    data: dict[str, object], key: str, problems: list[str], *, required: bool
) -> int | None:
    if key not in data:
        if required:
            problems.append(f"{key} is missing")
        return None
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        problems.append(f"{key} {bounds.clip(repr(value), 40)} is not a number")
        return None
    if not math.isfinite(value) or value <= 0:
        problems.append(f"{key} {value!r} is not a positive number")
        return None
    if value > 2**31:
        problems.append(f"{key} {value!r} is out of range (more than 24 days)")
        return None
    return int(value)


def parse_open(text: str) -> OpenPacket:
    """The open packet's JSON (the text after the ``0``); raises :class:`EioDecodeError` if it is
    not a JSON object. Unusable fields are flagged in :attr:`OpenPacket.problems`."""
    try:
        data = bounds.loads(text)
    except ValueError as exc:
        raise EioDecodeError(f"an open packet that is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise EioDecodeError(f"an open packet that is not a JSON object ({type(data).__name__})")
    problems: list[str] = []
    raw_sid = data.get("sid")
    if not isinstance(raw_sid, str) or not raw_sid:
        problems.append("sid is missing" if raw_sid is None else "sid is not a non-empty string")
        raw_sid = None
    elif not raw_sid.isprintable() or not raw_sid.isascii():
        problems.append("sid has characters that cannot go in a URL query")
    upgrades = data.get("upgrades")
    ups: tuple[str, ...] = ()
    if isinstance(upgrades, list):
        ups = tuple(bounds.clip(u, 40) for u in upgrades[:16] if isinstance(u, str))
    elif upgrades is not None:
        problems.append("upgrades is not a list")
    return OpenPacket(
        sid=bounds.clip(raw_sid) if raw_sid is not None else None,
        raw_sid=raw_sid,
        upgrades=ups,
        ping_interval_ms=_number(data, "pingInterval", problems, required=True),
        ping_timeout_ms=_number(data, "pingTimeout", problems, required=True),
        max_payload=_number(data, "maxPayload", [], required=False),
        problems=tuple(problems),
    )


# --- Engine.IO error bodies --------------------------------------------------------------------

ENGINE_ERRORS = {
    0: "Transport unknown",
    1: "Session ID unknown",
    2: "Bad handshake method",
    3: "Bad request",
    4: "Forbidden",
    5: "Unsupported protocol version",
}
"""The Engine.IO error codes, as Node's engine.io names them."""

_PY_MESSAGES: tuple[tuple[str, int], ...] = (
    ("invalid session", 1),
    ("unsupported version", 5),
    ("invalid transport", 0),
    ("invalid websocket upgrade", 3),
    ("bad request", 3),
)
"""python-engineio's 400 messages and the Node code that means the same."""


@dataclass(frozen=True)
class EngineError:
    """An Engine.IO error answer (an HTTP 400/403 body)."""

    code: int | None
    """0–5 as Node sends them; python-engineio's messages mapped; ``None`` if not known."""
    message: str
    """The server's message (clipped)."""
    origin_rejected: bool = False
    """python-engineio's CORS refusal ("... is not an accepted origin.")."""

    @property
    def name(self) -> str | None:
        """The code's name (``Session ID unknown``), if the code is known."""
        return ENGINE_ERRORS.get(self.code) if self.code is not None else None


def parse_engine_error(status: int, body: bytes) -> EngineError | None:
    """The Engine.IO error in an HTTP answer, if it is one.

    Node answers ``{"code": 0..5, "message": ...}`` (400, or 403 for code 4); python-engineio
    answers 400 with a JSON string. Other bodies (a REST API's JSON 404, HTML) are not Engine.IO.
    """
    if status not in (400, 403) or len(body) > 64 * 1024:
        return None
    try:
        data = bounds.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(data, dict) and "message" in data:
        code = data.get("code")
        message = data.get("message")
        text = bounds.clip_message(message if isinstance(message, str) else repr(message))
        if isinstance(code, int) and not isinstance(code, bool) and 0 <= code <= 5:
            return EngineError(code, text)
        return None
    if isinstance(data, str) and status == 400:
        lowered = data.lower()
        text = bounds.clip_message(data)
        if "not an accepted origin" in lowered:
            return EngineError(None, text, origin_rejected=True)
        for needle, code in _PY_MESSAGES:
            if needle in lowered:
                return EngineError(code, text)
        return EngineError(None, text)
    return None
