"""Oracles for the codec tests: the JavaScript engine.io-parser 2.x, run once per test module."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from typing import Any

from conndebug.client.eio import EioPacket, EioType
from tests.conftest import NODE_DIR

NAMES = {t: t.name.lower() for t in EioType}
TYPES = {name: t for t, name in NAMES.items()}


class NodeEio3:
    """A ``node eio3_oracle.js`` process answering one JSON line per request."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            ["node", str(NODE_DIR / "eio3_oracle.js")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=NODE_DIR,
            text=True,
            encoding="utf-8",
            errors="surrogatepass",
        )

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the oracle ended"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def encode_payload(self, packets: list[EioPacket], *, binary: bool) -> str | bytes:
        answer = self.ask(
            {"op": "encodePayload", "packets": [to_js(p) for p in packets], "binary": binary}
        )
        return answer["text"] if "text" in answer else base64.b64decode(answer["b64"])

    def decode_payload(self, body: str | bytes) -> list[EioPacket] | str:
        request: dict[str, Any] = {"op": "decodePayload"}
        if isinstance(body, bytes):
            request["b64"] = base64.b64encode(body).decode()
        else:
            request["text"] = body
        answer = self.ask(request)
        if "error" in answer:
            return str(answer["error"])
        return [from_js(p) for p in answer["packets"]]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def to_js(packet: EioPacket) -> dict[str, Any]:
    if isinstance(packet.data, bytes):
        return {"type": NAMES[packet.type], "b64": base64.b64encode(packet.data).decode()}
    return {"type": NAMES[packet.type], "data": packet.data}


def from_js(packet: dict[str, Any]) -> EioPacket:
    if "b64" in packet:
        return EioPacket(TYPES[packet["type"]], base64.b64decode(packet["b64"]))
    return EioPacket(TYPES[packet["type"]], packet.get("data", ""))


def node_eio3() -> Iterator[NodeEio3]:
    oracle = NodeEio3()
    try:
        yield oracle
    finally:
        oracle.close()
