"""Socket.IO packets, protocols 5 (socket.io 3/4) and 4 (socket.io 2), and their two parsers.

A Socket.IO packet travels inside Engine.IO ``MESSAGE`` packets. The **default parser** writes it
as text::

    <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]
    2["chat","hi"]   21["chat","hi"]   2/admin,["chat"]   451-["up",{"_placeholder":true,"num":0}]

followed, for ``BINARY_EVENT``/``BINARY_ACK``, by one binary Engine.IO message per attachment,
in order. The **msgpack parser** (``socket.io-msgpack-parser``) writes each packet as one binary
message: a msgpack map ``{type, nsp, data, id?}`` with binary values inline (no attachments).

Protocol 4 (socket.io 2) differs in meaning, not in syntax: packet type 4 is ``ERROR`` (a string
or an object) instead of ``CONNECT_ERROR`` (``{message, data}``), the default namespace is
connected without asking, and ``CONNECT`` carries no auth.

:class:`JsonDecoder` and :class:`MsgpackDecoder` are fed Engine.IO message data one by one and
return each packet once it is whole; both validate what a server sends (as the JavaScript
decoders do) and raise :class:`SioDecodeError` with the reason in plain words. JSON is decoded
with :func:`conndebug.client.bounds.loads` (no unbounded recursion).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from conndebug.client import bounds

__all__ = [
    "MAX_ATTACHMENTS",
    "Described",
    "JsonDecoder",
    "JsonParser",
    "MsgpackDecoder",
    "MsgpackParser",
    "Parser",
    "ParserName",
    "SioDecodeError",
    "SioPacket",
    "SioType",
    "deconstruct",
    "describe",
    "has_binary",
    "make_parser",
    "msgpack_text",
    "reconstruct",
]

MAX_ATTACHMENTS = 1000
"""The most binary attachments one packet may announce (the JavaScript decoder's default is 10)."""
_MAX_ID_DIGITS = 16

ParserName = Literal["json", "msgpack"]


class SioType(enum.IntEnum):
    """Socket.IO packet types (4 is ``ERROR`` in protocol 4, ``CONNECT_ERROR`` in protocol 5)."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


_TYPES = tuple(SioType)
_DIGITS = {str(int(t)): t for t in SioType}


class SioDecodeError(ValueError):
    """Data that is not a valid Socket.IO packet (the reason in plain words)."""


@dataclass(slots=True)
class SioPacket:
    """One Socket.IO packet; ``data`` is ``None`` when the packet has none."""

    type: SioType
    namespace: str = "/"
    data: Any = None
    id: int | None = None
    attachments: int = 0
    """Binary attachments announced (default parser); 0 once they are put back in ``data``."""
    binaries: list[bytes] = field(default_factory=list)
    """The binary attachments that came with it, in order (their sizes are true sizes)."""


# --- binary attachments --------------------------------------------------------------------------


def has_binary(data: Any) -> bool:
    """``data`` holds ``bytes`` somewhere (without recursion: any depth)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, (bytes, bytearray, memoryview)):
            return True
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return False


def deconstruct(data: Any) -> tuple[Any, list[bytes]]:
    """``data`` with each ``bytes`` value replaced by a placeholder, and the values in order.

    The order is the JavaScript encoder's: depth first, list items and dict values in order.
    """
    buffers: list[bytes] = []

    def walk(item: Any, depth: int) -> Any:
        if isinstance(item, (bytes, bytearray, memoryview)):
            buffers.append(bytes(item))
            return {"_placeholder": True, "num": len(buffers) - 1}
        if depth > bounds.JSON_DEPTH_LIMIT:
            raise ValueError(f"data nested deeper than {bounds.JSON_DEPTH_LIMIT} levels")
        if isinstance(item, (list, tuple)):
            return [walk(v, depth + 1) for v in item]
        if isinstance(item, dict):
            return {k: walk(v, depth + 1) for k, v in item.items()}
        return item

    return walk(data, 0), buffers


def reconstruct(data: Any, buffers: list[bytes]) -> Any:
    """``data`` with each placeholder replaced by its buffer (in place; without recursion).

    Raises :class:`SioDecodeError` for a placeholder whose ``num`` names no buffer.
    """

    def resolve(item: Any) -> tuple[bool, Any]:
        if type(item) is dict and item.get("_placeholder") is True:
            num = item.get("num")
            if type(num) is not int or not 0 <= num < len(buffers):
                raise SioDecodeError(
                    f"a binary placeholder names attachment {bounds.clip(repr(num), 20)} of "
                    f"{len(buffers)}"
                )
            return True, buffers[num]
        return False, item

    found, value = resolve(data)
    if found:
        return value
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if type(item) is list:
            for i, v in enumerate(item):
                if type(v) is dict or type(v) is list:
                    found, new = resolve(v)
                    if found:
                        item[i] = new
                    else:
                        stack.append(v)
        elif type(item) is dict:
            for k, v in item.items():
                if type(v) is dict or type(v) is list:
                    found, new = resolve(v)
                    if found:
                        item[k] = new
                    else:
                        stack.append(v)
    return data


# --- the default (JSON) parser -------------------------------------------------------------------


def _encode_text(
    kind: SioType, namespace: str, packet_id: int | None, data: Any, attachments: int
) -> str:
    out = str(int(kind))
    if attachments:
        out += f"{attachments}-"
    if namespace and namespace != "/":
        out += namespace + ","
    if packet_id is not None:
        out += str(packet_id)
    if data is not None:
        out += json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return out


class Parser(Protocol):
    """What the client needs of a parser."""

    name: ParserName

    def encode(self, packet: SioPacket) -> list[str | bytes]:
        """The Engine.IO message data of ``packet``, in order."""
        ...

    def decoder(self) -> Decoder:
        """A fresh decoder (one per Engine.IO session: it keeps attachment state)."""
        ...


class Decoder(Protocol):
    """Fed Engine.IO message data in order; returns each packet once whole."""

    @property
    def pending(self) -> SioPacket | None:
        """A binary packet still waiting for attachments."""
        ...

    def feed(self, data: str | bytes) -> SioPacket | None: ...


class JsonParser:
    """The default parser (``socket.io-parser``)."""

    name: ParserName = "json"

    def encode(self, packet: SioPacket) -> list[str | bytes]:
        kind = packet.type
        data = packet.data
        if kind in (SioType.EVENT, SioType.ACK, SioType.BINARY_EVENT, SioType.BINARY_ACK):
            if has_binary(data):
                data, buffers = deconstruct(data)
                kind = (
                    SioType.BINARY_ACK
                    if kind in (SioType.ACK, SioType.BINARY_ACK)
                    else (SioType.BINARY_EVENT)
                )
                head = _encode_text(kind, packet.namespace, packet.id, data, len(buffers))
                return [head, *buffers]
            if kind is SioType.BINARY_EVENT:
                kind = SioType.EVENT
            elif kind is SioType.BINARY_ACK:
                kind = SioType.ACK
        return [_encode_text(kind, packet.namespace, packet.id, data, 0)]

    def decoder(self) -> JsonDecoder:
        return JsonDecoder()


def _header(text: str) -> tuple[SioType, str, int | None, int, int]:
    """Type, namespace, ack id, attachments and where the data starts, of a text packet."""
    if not text:
        raise SioDecodeError("an empty Socket.IO packet")
    kind = _DIGITS.get(text[0])
    if kind is None:
        raise SioDecodeError(f"unknown Socket.IO packet type {bounds.clip(text[0], 8)!r}")
    i, n = 1, len(text)
    attachments = 0
    if kind is SioType.BINARY_EVENT or kind is SioType.BINARY_ACK:
        dash = text.find("-", 1, 12)
        digits = text[1:dash] if dash > 1 else ""
        if not digits.isdigit() or not digits.isascii():
            raise SioDecodeError("a binary packet without its attachment count")
        attachments = int(digits)
        if attachments < 1:
            raise SioDecodeError("a binary packet announcing no attachments")
        if attachments > MAX_ATTACHMENTS:
            raise SioDecodeError(
                f"a binary packet announcing {attachments:,} attachments (more than "
                f"{MAX_ATTACHMENTS:,})"
            )
        i = dash + 1
    namespace = "/"
    if i < n and text[i] == "/":
        comma = text.find(",", i)
        end = n if comma < 0 else comma
        namespace = text[i:end]
        query = namespace.find("?")
        if query >= 0:
            namespace = namespace[:query]
        namespace = bounds.clip(namespace)
        i = end + 1 if comma >= 0 else n
    packet_id: int | None = None
    if i < n and "0" <= text[i] <= "9":
        j = i + 1
        while j < n and "0" <= text[j] <= "9":
            j += 1
        if j - i > _MAX_ID_DIGITS:
            raise SioDecodeError(f"an ack id of {j - i:,} digits")
        packet_id = int(text[i:j])
        i = j
    return kind, namespace, packet_id, attachments, i


Described = tuple[str | None, str | None, int | None, int, str | None]
"""Type name, namespace, ack id, announced attachments, and the decoded text of a binary packet
(msgpack), as :func:`describe` gives them."""


def describe(data: str | bytes, parser: ParserName = "json") -> Described:
    """Type name, namespace, ack id and announced attachments of a packet, for the tap (never
    raises; a binary message of the default parser is an ``ATTACHMENT``); for a msgpack packet
    also its decoded text (:func:`msgpack_text`)."""
    if isinstance(data, str):
        try:
            kind, namespace, packet_id, attachments, _ = _header(data)
        except SioDecodeError:
            return None, None, None, 0, None
        return kind.name, namespace, packet_id, attachments, None
    if parser == "json":
        return "ATTACHMENT", None, None, 0, None
    try:
        packet = MsgpackDecoder().feed(data)
    except SioDecodeError:
        return None, None, None, 0, None
    if packet is None:
        return None, None, None, 0, None
    return packet.type.name, packet.namespace, packet.id, 0, msgpack_text(packet)


def msgpack_text(packet: SioPacket) -> str:
    """A decoded msgpack packet as JSON text, as ``socket.io-msgpack-parser`` builds it
    (``{"type":2,"nsp":"/","data":[...],"id":1}``); binary values as ``<binary 4 B> 0a0b0c0d``
    (bounded like a tap record's text)."""
    from conndebug.client.tap import binary_text

    obj: dict[str, Any] = {"type": int(packet.type), "nsp": packet.namespace}
    if packet.data is not None:
        obj["data"] = packet.data
    if packet.id is not None:
        obj["id"] = packet.id

    def plain(value: Any) -> Any:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return binary_text(bytes(value))
        return str(value)

    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=plain)
    except (ValueError, RecursionError):
        text = f'{{"type":{obj["type"]},"nsp":{json.dumps(packet.namespace)},"data":"…"}}'
    return bounds.text_preview(text)


def decode_text(text: str) -> SioPacket:
    """One text packet of the default parser (attachments not yet added)."""
    kind, namespace, packet_id, attachments, i = _header(text)
    n = len(text)
    data: Any = None
    if i < n:
        try:
            data = bounds.loads(text[i:] if i else text)
        except bounds.JsonTooDeep as exc:
            raise SioDecodeError(f"its data is refused: {exc}") from None
        except ValueError as exc:
            raise SioDecodeError(f"its data is not JSON ({exc})") from None
        _check_data(kind, data)
    elif kind in (SioType.EVENT, SioType.BINARY_EVENT, SioType.ACK, SioType.BINARY_ACK):
        raise SioDecodeError(f"a {kind.name} packet without data")
    return SioPacket(kind, namespace, data, packet_id, attachments)


def _check_data(kind: SioType, data: Any) -> None:
    """The JavaScript decoder's checks of a packet's data (``isPayloadValid``)."""
    if kind is SioType.EVENT or kind is SioType.BINARY_EVENT:
        if type(data) is not list or not data:
            raise SioDecodeError(f"a {kind.name} packet whose data is not a non-empty list")
        name = data[0]
        if not isinstance(name, (str, int, float)) or isinstance(name, bool):
            raise SioDecodeError(f"a {kind.name} packet whose event name is not a string")
    elif kind is SioType.ACK or kind is SioType.BINARY_ACK:
        if type(data) is not list:
            raise SioDecodeError(f"an {kind.name} packet whose data is not a list")
    elif kind is SioType.CONNECT:
        if type(data) is not dict:
            raise SioDecodeError("a CONNECT packet whose data is not an object")
    elif kind is SioType.DISCONNECT:
        raise SioDecodeError("a DISCONNECT packet with data")
    elif kind is SioType.CONNECT_ERROR and not isinstance(data, (str, dict)):
        raise SioDecodeError("a CONNECT_ERROR packet whose data is neither text nor an object")


class JsonDecoder:
    """The default parser's decoder: text packets, then their binary attachments in order."""

    def __init__(self) -> None:
        self.pending: SioPacket | None = None

    def feed(self, data: str | bytes) -> SioPacket | None:
        pending = self.pending
        if isinstance(data, str):
            if pending is not None:
                self.pending = None
                raise SioDecodeError(
                    f"a text packet arrived while {pending.attachments - len(pending.binaries)} "
                    "binary attachment(s) were still due"
                )
            packet = decode_text(data)
            if packet.attachments:
                self.pending = packet
                return None
            return packet
        if pending is None:
            raise SioDecodeError("a binary message that no binary packet announced")
        pending.binaries.append(bytes(data))
        if len(pending.binaries) < pending.attachments:
            return None
        self.pending = None
        pending.data = reconstruct(pending.data, pending.binaries)
        pending.attachments = 0
        return pending


# --- the msgpack parser --------------------------------------------------------------------------


def _ext_hook(code: int, data: bytes) -> Any:
    """notepack.io's extensions: ``undefined`` (fixext 1, type 0) and ArrayBuffers (ext type 0)."""
    if code == 0:
        return None if data == b"\x00" else data
    return data


class MsgpackParser:
    """``socket.io-msgpack-parser``: every packet one binary message (msgpack imported lazily)."""

    name: ParserName = "msgpack"

    def __init__(self) -> None:
        import msgpack  # only when this parser is asked for

        self._packb = msgpack.Packer(use_bin_type=True, datetime=False).pack

    def encode(self, packet: SioPacket) -> list[str | bytes]:
        kind = packet.type
        if kind is SioType.BINARY_EVENT:
            kind = SioType.EVENT
        elif kind is SioType.BINARY_ACK:
            kind = SioType.ACK
        obj: dict[str, Any] = {"type": int(kind), "nsp": packet.namespace}
        if packet.data is not None:
            obj["data"] = _plain(packet.data)
        if packet.id is not None:
            obj["id"] = packet.id
        return [self._packb(obj)]

    def decoder(self) -> MsgpackDecoder:
        return MsgpackDecoder()


def _plain(data: Any) -> Any:
    """Tuples as lists, bytearrays as bytes (what msgpack encodes as arrays and bin)."""
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, tuple):
        return [_plain(v) for v in data]
    if isinstance(data, list):
        return [_plain(v) for v in data]
    if isinstance(data, dict):
        return {k: _plain(v) for k, v in data.items()}
    return data


class MsgpackDecoder:
    """Decodes ``socket.io-msgpack-parser`` packets (one binary message each)."""

    pending: SioPacket | None = None

    def __init__(self) -> None:
        import msgpack  # only when this parser is asked for

        self._msgpack = msgpack

    def feed(self, data: str | bytes) -> SioPacket | None:
        if isinstance(data, str):
            raise SioDecodeError(
                f"a text message ({bounds.clip(data, 40)!r}) where the msgpack parser sends binary "
                "only: the server uses the default (JSON) parser"
            )
        mp = self._msgpack
        try:
            obj = mp.unpackb(
                data,
                raw=False,
                strict_map_key=False,
                ext_hook=_ext_hook,
            )
        except mp.StackError:
            raise SioDecodeError(
                "its msgpack data is refused: nested deeper than the msgpack decoder's stack"
            ) from None
        except (ValueError, TypeError, UnicodeDecodeError, mp.ExtraData) as exc:
            raise SioDecodeError(f"a binary message that is not msgpack ({exc})") from None
        if type(obj) is not dict:
            raise SioDecodeError("a msgpack message that is not a map (not a Socket.IO packet)")
        kind = obj.get("type")
        if type(kind) is not int or not 0 <= kind <= 4:
            raise SioDecodeError("a msgpack packet without a valid type")
        nsp = obj.get("nsp")
        if not isinstance(nsp, str):
            raise SioDecodeError("a msgpack packet without a namespace")
        packet_id = obj.get("id")
        if packet_id is not None and type(packet_id) is not int:
            raise SioDecodeError("a msgpack packet whose ack id is not an integer")
        value = obj.get("data")
        t = _TYPES[kind]
        if value is None and t in (SioType.EVENT, SioType.ACK):
            raise SioDecodeError(f"a {t.name} packet without data")
        if value is not None:
            _check_data(t, value)
        return SioPacket(t, bounds.clip(nsp), value, packet_id)


def make_parser(name: ParserName) -> Parser:
    """The parser called ``name`` (``json`` or ``msgpack``)."""
    if name == "msgpack":
        return MsgpackParser()
    return JsonParser()
