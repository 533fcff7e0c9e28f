// A configurable real Socket.IO server for tests and benchmarks.
//
//   node server.js [--port 0] [--host 127.0.0.1] [--path /socket.io] [--v2]
//                  [--ping-interval MS] [--ping-timeout MS] [--cors-origin ORIGIN]
//                  [--transports websocket,polling] [--require-token TOKEN]
//
// Prints one JSON line {"event":"listening","port":N,"version":"4.8.4"} when it listens, then
// one JSON line per connection/disconnection. Handlers every test may use:
//   "conndebug:ping" (ack with {"serverTime": ms}), "echo" (ack with the arguments),
//   "storm" {count, name?, size?} (emits `count` events named `name` (default "storm") to the sender,
//   each {"i": i, "pad": "x" * size}, then "storm:done" {count}).
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

const httpServer = http.createServer((req, res) => {
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
  io = new Server(httpServer, opts);
  if (args["require-token"]) {
    io.use((socket, next) => {
      const token = (socket.handshake.auth && socket.handshake.auth.token) || socket.handshake.query.token;
      if (!token) return next(new Error("Authentication token required"));
      if (token !== args["require-token"]) return next(new Error("Invalid token"));
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
  socket.on("disconnect", (reason) => log({ event: "disconnect", id: socket.id, reason }));
});

httpServer.listen(port, host, () => {
  log({ event: "listening", port: httpServer.address().port, version });
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => { io.close(); httpServer.close(); process.exit(0); });
}
