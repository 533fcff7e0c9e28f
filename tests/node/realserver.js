// Real Socket.IO servers as their users write them, for the matrix of tests/realservers.
//
//   node realserver.js [--io 4|3|2] [--host 127.0.0.1] [--port 0] [--path /socket.io]
//                      [--transports polling,websocket] [--parser msgpack] [--recovery]
//                      [--allow-eio3] [--disconnect-on-connect] [--reject-with-data]
//                      [--cors-origin ORIGIN | --cors-any | --cors-reflect] [--bare | --spa]
//                      [--chat] [--guest-limit N] [--binary]
//
// Every option is one line of a real server's set-up; nothing else is changed from the library's
// defaults (pingInterval, pingTimeout, maxHttpBufferSize, ... stay as the library ships them):
//   --io 3 / --io 2        socket.io 3.x / 2.x instead of 4.x
//   --transports           the server's `transports` option
//   --parser msgpack       `parser: require("socket.io-msgpack-parser")`
//   --recovery             `connectionStateRecovery: {}` (socket.io >= 4.6)
//   --allow-eio3           `allowEIO3: true`
//   --disconnect-on-connect  the connection handler does `socket.disconnect(true)`
//   --reject-with-data     a middleware rejecting with
//                          next(Object.assign(new Error("not authorized"), {data: {content: "please retry later"}}))
//   --cors-origin ORIGIN   `cors: {origin: ORIGIN, credentials: true}` (the chat backend's)
//   --cors-any             `cors: {origin: "*"}` (any origin, no credentials)
//   --cors-reflect         `cors: {origin: true, credentials: true}` (reflects any origin, with
//                          credentials: the permissive set-up)
//   --spa                  a single-page app's catch-all: every unknown path and method answers
//                          200 with the app's index.html
//   --bare                 the socket.io docs' `createServer()` without a request handler: every
//                          path that is not the Engine.IO path hangs forever (no answer)
//   --chat                 a miniature of the chat backend: POST /api/guest issues an HS256 JWT
//                          (7 days) for a server-side session; the middleware rejects with the
//                          backend's messages ("Authentication token required", "Invalid token",
//                          "Token has expired", "Guest session not found or expired")
//   --guest-limit N        POST /api/guest answers 429 with the backend's body after N sessions
//                          (express-rate-limit's answer; 0: always 429)
//   --binary               after "welcome", emits "bin" with a 4-byte Buffer [1, 2, 3, 4], then
//                          "after" {i: 1} (text): binary attachments and their order
// Without --bare or --spa, unknown paths answer 404 "Cannot METHOD /path" as Express does.
//
// Test hooks (loopback test servers only; not counted by --guest-limit):
//   POST /_test/token?kind=expired  a token whose JWT expired a minute ago (its session exists)
//   POST /_test/token?kind=orphan   a valid JWT whose session the server no longer has
//   POST /_test/drop                closes every socket's transport (a network drop; recoverable)
// Connected sockets get a "welcome" event {id} (unless recovered), so a client holds an offset for
// connection state recovery, as on any server that emits something on connect.
//
// Prints {"event":"listening","port":N,"version":"x.y.z"} when it listens, then one JSON line per
// connection ({"event":"connection","id","transport","recovered"}) and disconnection.
"use strict";

const http = require("http");
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

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
const generation = String(args.io || "4");
const packageName = { 4: "socket.io", 3: "socket.io-v3", 2: "socket.io-v2" }[generation];
if (!packageName) throw new Error(`--io must be 4, 3 or 2, not ${generation}`);
// Read the version from the file: socket.io 3's "exports" hides its package.json from require().
const version = JSON.parse(fs.readFileSync(path.join(__dirname, "node_modules", packageName, "package.json"))).version;
const log = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

// --- the chat backend's REST and token rules -----------------------------------------------------
const secret = crypto.randomBytes(32);
const sessions = new Map(); // sessionId -> user
let guestsIssued = 0;
const b64url = (buf) => Buffer.from(buf).toString("base64url");

function signToken(claims) {
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify(claims));
  const sig = b64url(crypto.createHmac("sha256", secret).update(`${head}.${body}`).digest());
  return `${head}.${body}.${sig}`;
}

function verifyToken(token) {
  const parts = String(token).split(".");
  if (parts.length !== 3) return { error: "Invalid token" };
  const sig = b64url(crypto.createHmac("sha256", secret).update(`${parts[0]}.${parts[1]}`).digest());
  if (sig.length !== parts[2].length || !crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(parts[2]))) return { error: "Invalid token" };
  let claims;
  try { claims = JSON.parse(Buffer.from(parts[1], "base64url").toString()); } catch { return { error: "Invalid token" }; }
  // jsonwebtoken's TokenExpiredError, which the backend turns into this message.
  if (typeof claims.exp === "number" && claims.exp <= Math.floor(Date.now() / 1000)) return { error: "Token has expired" };
  return { claims };
}

function newSession(ttlSeconds, keep = true) {
  const sessionId = crypto.randomUUID();
  const user = { id: `guest_${crypto.randomUUID()}`, username: `SwiftTiger${sessions.size + 1}`, isGuest: true, sessionId, location: null, gender: null, language: null };
  if (keep) sessions.set(sessionId, user);
  const now = Math.floor(Date.now() / 1000);
  const token = signToken({ userId: user.id, sessionId, username: user.username, isGuest: true, iat: now - 7200, exp: now + ttlSeconds, iss: "realtime-chat-app", aud: "realtime-chat-users" });
  return { token, user };
}

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(body));
}

function handle(req, res) {
  const [url, query = ""] = req.url.split("?");
  const params = new URLSearchParams(query);
  if (req.method === "POST" && url === "/_test/token") {
    const kind = params.get("kind");
    if (kind === "expired") return json(res, 201, newSession(-60));
    if (kind === "orphan") return json(res, 201, newSession(7 * 86400, false));
    return json(res, 400, { success: false, message: "kind must be expired or orphan" });
  }
  if (req.method === "POST" && url === "/_test/drop") {
    let dropped = 0;
    for (const socket of io.of("/").sockets.values()) { socket.conn.close(); dropped++; }
    return json(res, 200, { success: true, dropped });
  }
  if (args.chat && req.method === "POST" && url === "/api/guest") {
    const limit = args["guest-limit"] === undefined ? Infinity : Number(args["guest-limit"]);
    if (guestsIssued >= limit) return json(res, 429, { success: false, message: "Too many API requests, please try again later." });
    guestsIssued++;
    const { token, user } = newSession(7 * 86400);
    return json(res, 201, { success: true, message: "Guest session created successfully", data: { token, user } });
  }
  if (args.chat && req.method === "GET" && url === "/health") {
    return json(res, 200, { success: true, message: "Server is running", timestamp: new Date().toISOString(), uptime: process.uptime(), version: "1.0.0" });
  }
  if (args.spa) {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    return res.end(`<!DOCTYPE html><html><head><title>Chat</title></head><body><div id="root"></div><script src="/static/app.js"></script></body></html>\n`);
  }
  res.writeHead(404, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot ${req.method} ${url}</pre>\n</body>\n</html>\n`);
}

// The docs' bare server has no request handler at all; socket.io answers its own path only.
const httpServer = args.bare ? http.createServer() : http.createServer(handle);
if (args.bare) {
  // The test hooks still work on the bare server (they are not part of the case).
  httpServer.on("request", (req, res) => { if (req.url.startsWith("/_test/")) handle(req, res); });
}

// --- the Socket.IO server -------------------------------------------------------------------------
const opts = { path: args.path || "/socket.io" };
if (args.transports) opts.transports = String(args.transports).split(",");
if (args["cors-origin"]) opts.cors = { origin: args["cors-origin"], credentials: true };
if (args["cors-any"]) opts.cors = { origin: "*" };
if (args["cors-reflect"]) opts.cors = { origin: true, credentials: true };
if (args.parser === "msgpack") opts.parser = require("socket.io-msgpack-parser");
if (args.recovery) opts.connectionStateRecovery = {};
if (args["allow-eio3"]) opts.allowEIO3 = true;

let io;
if (generation === "2") {
  io = require("socket.io-v2")(httpServer, opts);
} else {
  const { Server } = require(packageName);
  io = new Server(httpServer, opts);
}

if (args["reject-with-data"]) {
  io.use((socket, next) => next(Object.assign(new Error("not authorized"), { data: { content: "please retry later" } })));
}
if (args.chat) {
  io.use((socket, next) => {
    const token = (socket.handshake.auth && socket.handshake.auth.token) || socket.handshake.query.token;
    if (!token) return next(new Error("Authentication token required"));
    const { claims, error } = verifyToken(token);
    if (error) return next(new Error(error));
    if (!sessions.has(claims.sessionId)) return next(new Error("Guest session not found or expired"));
    socket.data.user = sessions.get(claims.sessionId);
    next();
  });
}

io.on("connection", (socket) => {
  const transport = socket.conn && socket.conn.transport ? socket.conn.transport.name : null;
  log({ event: "connection", id: socket.id, transport, recovered: Boolean(socket.recovered) });
  socket.on("disconnect", (reason) => log({ event: "disconnect", id: socket.id, reason }));
  if (args["disconnect-on-connect"]) { socket.disconnect(true); return; }
  if (!socket.recovered) socket.emit("welcome", { id: socket.id });
  if (args.binary) {
    socket.emit("bin", Buffer.from([1, 2, 3, 4]));
    socket.emit("after", { i: 1 });
  }
  socket.on("echo", (...a) => {
    const ack = a[a.length - 1];
    if (typeof ack === "function") ack(...a.slice(0, -1));
  });
});

httpServer.listen(Number(args.port || 0), args.host || "127.0.0.1", () => {
  log({ event: "listening", port: httpServer.address().port, version });
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => { io.close(); httpServer.close(); process.exit(0); });
}
