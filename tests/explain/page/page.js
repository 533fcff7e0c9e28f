// The seed's web client in miniature: create a guest session (POST /api/guest), keep its token,
// connect with socket.io-client and the seed's options (websocket first, no tryAllTransports), then
// say what happened on the console as one "conndebug:done <json>" line for the capture driver.
//
// Query string: server (required), transports (default websocket,polling), timeout (ms, default
// 20000), attempts (reconnection attempts, default 10), token (guest | none | a literal token),
// deadline (ms after which the page reports whatever happened, default none).
"use strict";

(async function main() {
  const q = new URLSearchParams(location.search);
  const server = q.get("server");
  const transports = (q.get("transports") || "websocket,polling").split(",");
  const timeout = Number(q.get("timeout") || 20000);
  const attempts = Number(q.get("attempts") || 10);
  const tokenMode = q.get("token") || "guest";
  const deadline = Number(q.get("deadline") || 0);
  const log = [];
  const note = (obj) => log.push({ t: Math.round(performance.now()), ...obj });
  let finished = false;
  const done = () => {
    if (finished) return;
    finished = true;
    console.log("conndebug:done " + JSON.stringify(log));
  };

  if (deadline) setTimeout(done, deadline); // a case that never settles still ends
  let token = null;
  if (tokenMode === "guest") {
    try {
      const r = await fetch(server + "/api/guest", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      const body = await r.json();
      token = body && body.data ? body.data.token : null;
      note({ event: "guest", status: r.status });
    } catch (err) {
      note({ event: "guest_error", message: String(err) });
    }
  } else if (tokenMode !== "none") {
    token = tokenMode;
  }

  const socket = io(server, {
    transports,
    tryAllTransports: false,
    auth: token ? { token } : {},
    reconnection: true,
    reconnectionAttempts: attempts,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
    timeout,
    forceNew: true,
  });
  socket.on("connect", () => {
    const engine = socket.io.engine;
    note({ event: "connect", transport: engine.transport.name, id: socket.id });
    const settle = () =>
      socket.timeout(3000).emit("conndebug:ping", {}, (err) => {
        note({ event: "ack", error: err ? String(err) : null });
        setTimeout(done, 300);
      });
    if (engine.transport.name === "polling" && engine.upgrades && engine.upgrades.length) {
      let settled = false;
      const once = () => { if (!settled) { settled = true; settle(); } };
      engine.once("upgrade", (tr) => { note({ event: "upgrade", transport: tr.name }); once(); });
      engine.once("upgradeError", (err) => { note({ event: "upgrade_error", message: String(err) }); once(); });
      setTimeout(once, 3000);
    } else {
      settle();
    }
  });
  socket.on("connect_error", (err) => {
    note({ event: "connect_error", message: err.message, data: err.data || null });
    if (!socket.active) setTimeout(done, 300); // a middleware refusal: no reconnection follows
  });
  socket.on("disconnect", (reason) => note({ event: "disconnect", reason }));
  socket.io.on("reconnect_attempt", (n) => note({ event: "reconnect_attempt", attempt: n }));
  socket.io.on("reconnect_failed", () => { note({ event: "reconnect_failed" }); setTimeout(done, 300); });
})();
