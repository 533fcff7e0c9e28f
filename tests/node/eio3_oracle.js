// An oracle for the Engine.IO 3 codec tests: the real engine.io-parser 2.x (socket.io 2's).
//
//   node eio3_oracle.js      (reads one JSON request per line, answers one JSON line each)
//
// Requests: {"op": "encodePayload", "packets": [P...], "binary": bool}
//           {"op": "decodePayload", "text": "..."} or {"op": "decodePayload", "b64": "..."}
// where P is {"type": "message", "data": "text"} or {"type": "message", "b64": "..."} (binary).
// Answers: {"text": "..."} or {"b64": "..."} for an encoding; {"packets": [P...]} for a decoding
// ({"error": "..."} when the parser reports one).
"use strict";

const parser = require("socket.io-v2/node_modules/engine.io-parser");
const readline = require("readline");

const toPacket = (p) => (p.b64 !== undefined ? { type: p.type, data: Buffer.from(p.b64, "base64") } : p.data === undefined ? { type: p.type } : { type: p.type, data: p.data });
const fromPacket = (p) => (Buffer.isBuffer(p.data) ? { type: p.type, b64: p.data.toString("base64") } : p.data === undefined ? { type: p.type } : { type: p.type, data: p.data });

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const req = JSON.parse(line);
  let answer;
  if (req.op === "encodePayload") {
    parser.encodePayload(req.packets.map(toPacket), req.binary, (out) => {
      answer = typeof out === "string" ? { text: out } : { b64: out.toString("base64") };
    });
  } else {
    const data = req.b64 !== undefined ? Buffer.from(req.b64, "base64") : req.text;
    const packets = [];
    let error = null;
    parser.decodePayload(data, (packet) => {
      if (packet.type === "error") { error = packet.data; return false; }
      packets.push(fromPacket(packet));
    });
    answer = error ? { error } : { packets };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
