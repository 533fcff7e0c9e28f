// A configurable real Socket.IO server for tests and benchmarks.
//
//   node server.js [--port 0] [--host 127.0.0.1] [--path /socket.io] [--v2]
//                  [--ping-interval MS] [--ping-timeout MS] [--cors-origin ORIGIN]
//                  [--transports websocket,polling] [--require-token TOKEN] [--guest]
//                  [--recovery MS] [--msgpack] [--allow-eio3] [--reject-data JSON]
//
// --recovery MS: connectionStateRecovery with maxDisconnectionDuration MS (socket.io 4 only).
// --msgpack: the server uses socket.io-msgpack-parser. --allow-eio3: allowEIO3 (socket.io 2
// clients accepted by a socket.io 4 server). --reject-data JSON: with --require-token, the
// middleware's error carries this as its `data` (sent in CONNECT_ERROR).
//
// --guest: a miniature of the chat backend: POST /api/guest creates a session and answers the
// contract's 201 body with an HS256 JWT; the middleware rejects with the backend's messages
// ("Authentication token required", "Invalid token", "Guest session not found or expired").
// Test hooks (no auth, loopback only): POST /_test/kick disconnects every socket (server side),
// POST /_test/expire forgets every session record (tokens stay valid, as on the real backend),
// POST /_test/broadcast?count=N emits "news" 0..N-1 to every socket.
//
// Prints one JSON line {"event":"listening","port":N,"version":"4.8.4"} when it listens, then
// one JSON line per connection/disconnection. Handlers every test may use:
//   "conndebug:ping" (ack with {"serverTime": ms}), "echo" (ack with the arguments),
//   "storm" {count, name?, size?} (emits `count` events named `name` (default "storm") to the sender,
//   each {"i": i, "pad": "x" * size}, then "storm:done" {count}),
//   "mixed" {count} (emits, in order, "bin" i Buffer[4] and "text" i, `count` times each, then
//   "mixed:done" {count}), "kick-me" (acks, then disconnects the socket server side),
//   "ask" (emits "question" asking for an ack, then "answered" with what the client answered),
//   "upload" (acks with the sizes of the Buffers it received, in order).
"use strict";

const http = require("http");

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) continue;
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) out[key] = true;
    else { out[key] = next; i++; }
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const v2 = Boolean(args.v2);
const host = args.host || "127.0.0.1";
const port = Number(args.port || 0);
const path = args.path || "/socket.io";
const log = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const crypto = require("crypto");
const secret = crypto.randomBytes(32);
const sessions = new Map(); // sessionId -> user
const b64url = (buf) => Buffer.from(buf).toString("base64url");

function signToken(claims) {
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify(claims));
  const sig = b64url(crypto.createHmac("sha256", secret).update(`${head}.${body}`).digest());
  return `${head}.${body}.${sig}`;
}

function verifyToken(token) {
  const parts = String(token).split(".");
  if (parts.length !== 3) return null;
  const sig = b64url(crypto.createHmac("sha256", secret).update(`${parts[0]}.${parts[1]}`).digest());
  if (sig.length !== parts[2].length || !crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(parts[2]))) return null;
  try { return JSON.parse(Buffer.from(parts[1], "base64url").toString()); } catch { return null; }
}

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

const httpServer = http.createServer((req, res) => {
  const url = req.url.split("?")[0];
  if (args.guest && req.method === "POST" && url === "/api/guest") {
    const sessionId = crypto.randomUUID();
    const user = { id: `guest_${crypto.randomUUID()}`, username: `NodeTiger${sessions.size + 1}`, isGuest: true, sessionId, location: null, gender: null, language: null };
    sessions.set(sessionId, user);
    const now = Math.floor(Date.now() / 1000);
    const token = signToken({ userId: user.id, sessionId, username: user.username, isGuest: true, iat: now, exp: now + 7 * 86400, iss: "realtime-chat-app", aud: "realtime-chat-users" });
    return json(res, 201, { success: true, message: "Guest session created successfully", data: { token, user } });
  }
  if (req.method === "POST" && url === "/_test/kick") {
    const count = io.of("/").sockets.size;
    io.disconnectSockets(true);
    return json(res, 200, { success: true, kicked: count });
  }
  if (req.method === "POST" && url === "/_test/broadcast") {
    // Emits "news" i for i in 0..count-1 to every socket of "/" (stored for recovery, if on).
    const query = new URLSearchParams(req.url.split("?")[1] || "");
    const count = Number(query.get("count") || 1);
    for (let i = 0; i < count; i++) io.emit("news", i);
    return json(res, 200, { success: true, sent: count });
  }
  if (req.method === "POST" && url === "/_test/expire") {
    const count = sessions.size;
    sessions.clear();
    return json(res, 200, { success: true, expired: count });
  }
  res.writeHead(404, { "content-type": "text/html" });
  res.end("<html><body><h1>404 Not Found</h1></body></html>");
});

let io;
let version;
if (v2) {
  const ioV2 = require("socket.io-v2");
  version = require("socket.io-v2/package.json").version;
  io = ioV2(httpServer, {
    path,
    pingInterval: Number(args["ping-interval"] || 25000),
    pingTimeout: Number(args["ping-timeout"] || 5000),
  });
  if (args["require-token"]) {
    io.use((socket, next) => {
      const token = socket.handshake.query.token;
      if (!token) return next(new Error("Authentication token required"));
      if (token !== args["require-token"]) {
        const err = new Error("Invalid token");
        if (args["reject-data"]) err.data = JSON.parse(args["reject-data"]);
        return next(err);
      }
      next();
    });
  }
} else {
  const { Server } = require("socket.io");
  version = require("socket.io/package.json").version;
  const opts = {
    path,
    pingInterval: Number(args["ping-interval"] || 25000),
    pingTimeout: Number(args["ping-timeout"] || 20000),
    transports: (args.transports || "polling,websocket").split(","),
  };
  if (args["cors-origin"]) opts.cors = { origin: args["cors-origin"], credentials: true };
  if (args.recovery) opts.connectionStateRecovery = { maxDisconnectionDuration: Number(args.recovery), skipMiddlewares: true };
  if (args.msgpack) opts.parser = require("socket.io-msgpack-parser");
  if (args["allow-eio3"]) opts.allowEIO3 = true;
  io = new Server(httpServer, opts);
  if (args.guest) {
    io.use((socket, next) => {
      const token = (socket.handshake.auth && socket.handshake.auth.token) || socket.handshake.query.token;
      if (!token) return next(new Error("Authentication token required"));
      const claims = verifyToken(token);
      if (!claims) return next(new Error("Invalid token"));
      if (!sessions.has(claims.sessionId)) return next(new Error("Guest session not found or expired"));
      next();
    });
  }
  if (args["require-token"]) {
    io.use((socket, next) => {
      const token = (socket.handshake.auth && socket.handshake.auth.token) || socket.handshake.query.token;
      if (!token) return next(new Error("Authentication token required"));
      if (token !== args["require-token"]) {
        const err = new Error("Invalid token");
        if (args["reject-data"]) err.data = JSON.parse(args["reject-data"]);
        return next(err);
      }
      next();
    });
  }
}

io.on("connection", (socket) => {
  const transport = socket.conn && socket.conn.transport ? socket.conn.transport.name : null;
  log({ event: "connection", id: socket.id, transport });
  socket.on("conndebug:ping", (...a) => {
    const ack = a[a.length - 1];
    if (typeof ack === "function") ack({ serverTime: Date.now() });
  });
  socket.on("echo", (...a) => {
    const ack = a[a.length - 1];
    if (typeof ack === "function") ack(...a.slice(0, -1));
  });
  socket.on("storm", (spec) => {
    const count = Number((spec && spec.count) || 1000);
    const name = (spec && spec.name) || "storm";
    const pad = "x".repeat(Number((spec && spec.size) || 0));
    for (let i = 0; i < count; i++) socket.emit(name, { i, pad });
    socket.emit("storm:done", { count });
  });
  socket.on("mixed", (spec) => {
    const count = Number((spec && spec.count) || 10);
    for (let i = 0; i < count; i++) {
      socket.emit("bin", i, Buffer.from([i & 255, 1, 2, 3]));
      socket.emit("text", i);
    }
    socket.emit("mixed:done", { count });
  });
  socket.on("kick-me", (...a) => {
    const ack = a[a.length - 1];
    if (typeof ack === "function") ack("bye");
    setTimeout(() => socket.disconnect(true), 10);
  });
  socket.on("ask", () => {
    socket.emit("question", "what?", (...answer) => socket.emit("answered", ...answer));
  });
  socket.on("upload", (...a) => {
    const ack = a[a.length - 1];
    const sizes = a.slice(0, -1).map((x) => (Buffer.isBuffer(x) ? x.length : typeof x));
    if (typeof ack === "function") ack(sizes);
  });
  if (args.recovery) log({ event: "recovered", id: socket.id, recovered: socket.recovered });
  socket.on("disconnect", (reason) => log({ event: "disconnect", id: socket.id, reason }));
});

httpServer.listen(port, host, () => {
  log({ event: "listening", port: httpServer.address().port, version });
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => { io.close(); httpServer.close(); process.exit(0); });
}
