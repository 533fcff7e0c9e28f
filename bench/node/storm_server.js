// A Node socket.io 4 server that bursts events at its clients, for the storm benchmark.
//
//   NODE_PATH=tests/node/node_modules node bench/node/storm_server.js [--port 0]
//
// The same burst, two triggers (a client without an emit option asks with its handshake query):
//   - a connection whose handshake query has storm=N gets N events at once;
//   - a client that emits "storm" {count} gets `count` events.
// Each event is "storm" {"i": i, "pad": ""}, then "storm:done" {count}, as tests/node/server.js.
// Prints {"event":"listening","port":N} when it listens.
"use strict";

const http = require("http");
const { Server } = require("socket.io");

const argv = process.argv.slice(2);
const portAt = argv.indexOf("--port");
const port = portAt >= 0 ? Number(argv[portAt + 1]) : 0;

const httpServer = http.createServer((req, res) => {
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("not found");
});
const io = new Server(httpServer, { pingInterval: 25000, pingTimeout: 20000 });

function burst(socket, count) {
  for (let i = 0; i < count; i++) socket.emit("storm", { i, pad: "" });
  socket.emit("storm:done", { count });
}

io.on("connection", (socket) => {
  const asked = Number(socket.handshake.query.storm || 0);
  socket.on("storm", (spec) => burst(socket, Number((spec && spec.count) || 1000)));
  socket.on("conndebug:ping", (...a) => {
    const ack = a[a.length - 1];
    if (typeof ack === "function") ack({ serverTime: Date.now() });
  });
  if (asked > 0) burst(socket, asked);
});

httpServer.listen(port, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ event: "listening", port: httpServer.address().port }) + "\n");
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => { io.close(); httpServer.close(); process.exit(0); });
}
