// The real JavaScript client with the seed's connection policy, for tests and baselines.
//
//   node client.js URL [--transports websocket,polling] [--timeout 20000] [--try-all-transports]
//                      [--token T] [--path /socket.io] [--no-reconnection]
//                      [--count NAME --expect N] [--emit NAME [--emit-json JSON]]
//                      [--exit-on connect|count|never] [--max-ms MS]
//                      [--parser msgpack] [--linger MS] [--connects N] [--client v2]
//                      [--log-events]
//
// Prints one JSON line per thing that happens, with "t" = ms since the process started
// (performance.now(), which starts at process start): connect, connect_error, disconnect,
// upgrade, reconnect_attempt, reconnect_failed, count_done, timeout. Defaults follow the seed's
// SocketService: transports ["websocket","polling"], reconnection on, 10 attempts, 1 s..5 s delay,
// 20 s timeout, forceNew.
// --parser msgpack uses socket.io-msgpack-parser; --linger MS waits MS after the exit condition
// (to see what the server does right after connecting); --connects N exits on the Nth connect
// (with --exit-on connect; e.g. 2 to see a reconnection and whether it was recovered).
// connect lines carry "recovered" (connection state recovery); connect_error lines carry the
// server's "data" (a middleware's err.data). --client v2 runs socket.io-client 2.x (Engine.IO 3,
// what old web clients speak) instead of 4.x; --log-events prints an "event_in" line per event.
"use strict";

const { performance } = require("perf_hooks");

function parseArgs(argv) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) { out._.push(a); continue; }
    const key = a.slice(2);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) out[key] = true;
    else { out[key] = next; i++; }
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const url = args._[0];
const t = () => Math.round(performance.now() * 1000) / 1000;
const log = (obj) => process.stdout.write(JSON.stringify({ t: t(), ...obj }) + "\n");
const exitOn = args["exit-on"] || "connect";

// Loaded lazily: the baselines time this script from process start to connected.
const io = args.client === "v2" ? require("socket.io-client-v2") : require("socket.io-client").io;
const socket = io(url, {
  path: args.path || "/socket.io",
  auth: args.token ? { token: args.token } : {},
  // socket.io-client 2 has no `auth`: old clients sent the token in the query.
  ...(args.client === "v2" && args.token ? { query: { token: args.token } } : {}),
  transports: (args.transports || "websocket,polling").split(","),
  tryAllTransports: Boolean(args["try-all-transports"]),
  reconnection: !args["no-reconnection"],
  reconnectionAttempts: Number(args["reconnection-attempts"] || 10),
  reconnectionDelay: 1000,
  reconnectionDelayMax: 5000,
  timeout: Number(args.timeout || 20000),
  forceNew: true,
  ...(args.parser === "msgpack" ? { parser: require("socket.io-msgpack-parser") } : {}),
});

let counted = 0;
const expect = Number(args.expect || 0);
if (args.count) {
  socket.on(args.count, () => {
    counted++;
    if (counted === expect) {
      log({ event: "count_done", count: counted });
      if (exitOn === "count") finish(0);
    }
  });
}

let finishing = false;
function finish(code) {
  if (finishing) return;
  finishing = true;
  const linger = Number(args.linger || 0);
  setTimeout(() => {
    socket.close();
    process.exit(code);
  }, linger);
}
let connects = 0;
const connectsWanted = Number(args.connects || 1);

socket.on("connect", () => {
  const transport = socket.io.engine.transport.name;
  connects++;
  log({ event: "connect", id: socket.id, transport, recovered: Boolean(socket.recovered) });
  socket.io.engine.once("upgrade", (tr) => log({ event: "upgrade", transport: tr.name }));
  if (args.emit) socket.emit(args.emit, args["emit-json"] ? JSON.parse(args["emit-json"]) : {});
  if (exitOn === "connect" && connects >= connectsWanted) finish(0);
});
socket.on("connect_error", (err) => {
  // err.description: the transport's own error (an ErrorEvent from ws, whose message names the
  // cause: "connect ECONNREFUSED ...", "Unexpected server response: 403"), or a status code
  const d = err.description;
  const cause = d && typeof d === "object" ? (d.message || (d.error && d.error.message) || "") : "";
  log({ event: "connect_error", message: err.message, type: err.type || null, description: String(d || ""), cause, data: err.data === undefined ? null : err.data });
});
if (args["log-events"]) {
  const onEvent = (name) => log({ event: "event_in", name });
  if (typeof socket.onAny === "function") socket.onAny(onEvent);
}
socket.on("disconnect", (reason) => log({ event: "disconnect", reason }));
socket.io.on("reconnect_attempt", (n) => log({ event: "reconnect_attempt", attempt: n }));
socket.io.on("reconnect_failed", () => { log({ event: "reconnect_failed" }); finish(2); });

if (args["max-ms"]) {
  setTimeout(() => { log({ event: "timeout", ms: Number(args["max-ms"]) }); finish(3); }, Number(args["max-ms"]));
}
