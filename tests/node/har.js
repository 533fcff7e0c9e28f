// Drive a running headless Chromium through its DevTools protocol, open a page, record its network
// activity and write a HAR 1.2 file the way Chrome DevTools' "Export HAR" writes it.
//
//   node har.js --browser WS_URL --page URL --out FILE [--max-ms 30000]
//
// WS_URL is the browser's endpoint that Chromium prints ("DevTools listening on ws://..."). The
// page ends its work by logging one console line "conndebug:done <json>"; then (or after --max-ms)
// the HAR is written and one JSON line {"done": bool, "page": <json>, "entries": N} is printed.
//
// The HAR follows DevTools' own writer (front_end/models/har/Log.ts): entries with startedDateTime
// (pseudo wall time), time, timings, _initiator, _priority, _resourceType, cache, connection,
// serverIPAddress, request/response with headers as [{name, value}], response._error and
// _transferSize, content.text for XHR/fetch bodies, and for websockets _webSocketMessages:
// [{type: "send"|"receive"|"error", time (epoch seconds), opcode, data}].
"use strict";

const fs = require("fs");
const WebSocket = require("ws");

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) out[a.slice(2)] = true;
    else { out[a.slice(2)] = next; i++; }
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const maxMs = Number(args["max-ms"] || 30000);

class Cdp {
  constructor(url) {
    this.ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = [];
    this.ws.on("message", (raw) => {
      const msg = JSON.parse(raw.toString());
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(msg.error.message));
        else p.resolve(msg.result);
      } else {
        for (const l of this.listeners) l(msg);
      }
    });
  }
  open() {
    return new Promise((resolve, reject) => {
      this.ws.once("open", resolve);
      this.ws.once("error", reject);
    });
  }
  send(method, params = {}, sessionId) {
    const id = this.nextId++;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    this.ws.send(JSON.stringify(msg));
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }
}

// -- the network log, kept the way DevTools' NetworkManager keeps NetworkRequests -------------

const requests = new Map(); // requestId -> record
const order = [];

function record(requestId) {
  let r = requests.get(requestId);
  if (!r) {
    r = {
      requestId, url: "", method: "GET", resourceType: "other", requestHeaders: {},
      requestHeadersText: "", postData: null, initiator: null, priority: "High",
      issueTime: -1, wallIssueTime: -1, startTime: -1, responseReceivedTime: -1, endTime: -1,
      status: 0, statusText: "", responseHeaders: {}, responseHeadersText: "", mimeType: "",
      protocol: "", remoteIPAddress: "", remotePort: 0, connectionId: "0", timing: null,
      encodedDataLength: 0, error: null, frames: [], body: null, base64: false, finished: false,
    };
    requests.set(requestId, r);
    order.push(r);
  }
  return r;
}

const pseudoWallTime = (r, t) => (r.wallIssueTime >= 0 ? r.wallIssueTime + (t - r.issueTime) : t);

function onResponse(r, response, timestamp) {
  r.status = response.status;
  r.statusText = response.statusText || "";
  r.responseHeaders = response.headers || {};
  r.responseHeadersText = response.headersText || r.responseHeadersText;
  r.mimeType = response.mimeType || "";
  r.protocol = response.protocol || "";
  r.remoteIPAddress = response.remoteIPAddress || "";
  r.remotePort = response.remotePort || 0;
  r.connectionId = String(response.connectionId || "0");
  r.timing = response.timing || null;
  r.encodedDataLength = response.encodedDataLength || 0;
  r.responseReceivedTime = timestamp;
}

function handle(msg) {
  const p = msg.params || {};
  switch (msg.method) {
    case "Network.requestWillBeSent": {
      const r = record(p.requestId);
      if (p.redirectResponse) onResponse(r, p.redirectResponse, p.timestamp);
      r.url = p.request.url;
      r.method = p.request.method;
      r.requestHeaders = { ...p.request.headers, ...r.requestHeaders };
      r.postData = p.request.postData || null;
      r.initiator = p.initiator || null;
      r.priority = p.request.initialPriority || "High";
      r.resourceType = (p.type || "Other").toLowerCase();
      r.issueTime = p.timestamp;
      r.wallIssueTime = p.wallTime;
      r.startTime = p.timestamp;
      break;
    }
    case "Network.requestWillBeSentExtraInfo": {
      const r = record(p.requestId);
      r.requestHeaders = { ...r.requestHeaders, ...p.headers };
      break;
    }
    case "Network.responseReceived": {
      const r = record(p.requestId);
      onResponse(r, p.response, p.timestamp);
      if (p.type) r.resourceType = p.type.toLowerCase();
      break;
    }
    case "Network.responseReceivedExtraInfo": {
      const r = record(p.requestId);
      r.extraResponseHeaders = p.headers;
      if (p.headersText) r.responseHeadersText = p.headersText;
      break;
    }
    case "Network.loadingFinished": {
      const r = record(p.requestId);
      r.endTime = p.timestamp;
      r.encodedDataLength = p.encodedDataLength;
      r.finished = true;
      break;
    }
    case "Network.loadingFailed": {
      const r = record(p.requestId);
      r.endTime = p.timestamp;
      r.error = p.errorText || "net::ERR_FAILED";
      if (p.type) r.resourceType = p.type.toLowerCase();
      r.finished = true;
      break;
    }
    case "Network.webSocketCreated": {
      const r = record(p.requestId);
      r.url = p.url;
      r.resourceType = "websocket";
      r.initiator = p.initiator || null;
      break;
    }
    case "Network.webSocketWillSendHandshakeRequest": {
      const r = record(p.requestId);
      r.method = "GET";
      r.requestHeaders = p.request.headers || {};
      r.issueTime = p.timestamp;
      r.wallIssueTime = p.wallTime;
      r.startTime = p.timestamp;
      break;
    }
    case "Network.webSocketHandshakeResponseReceived": {
      const r = record(p.requestId);
      r.status = p.response.status;
      r.statusText = p.response.statusText || "";
      r.responseHeaders = p.response.headers || {};
      r.responseHeadersText = p.response.headersText || "";
      if (p.response.requestHeaders) r.requestHeaders = p.response.requestHeaders;
      if (p.response.requestHeadersText) r.requestHeadersText = p.response.requestHeadersText;
      r.responseReceivedTime = p.timestamp;
      break;
    }
    case "Network.webSocketFrameSent":
    case "Network.webSocketFrameReceived": {
      const r = record(p.requestId);
      r.frames.push({
        type: msg.method === "Network.webSocketFrameSent" ? "send" : "receive",
        time: pseudoWallTime(r, p.timestamp),
        opcode: p.response.opcode,
        data: p.response.payloadData,
      });
      r.responseReceivedTime = p.timestamp;
      break;
    }
    case "Network.webSocketFrameError": {
      const r = record(p.requestId);
      r.frames.push({ type: "error", time: pseudoWallTime(r, p.timestamp), opcode: -1, data: p.errorMessage });
      r.responseReceivedTime = p.timestamp;
      break;
    }
    case "Network.webSocketClosed": {
      const r = record(p.requestId);
      r.endTime = p.timestamp;
      r.finished = true;
      break;
    }
    default:
      break;
  }
}

// -- HAR entries, as DevTools' Log.ts builds them ------------------------------------------------

const ms = (s) => (s === -1 ? -1 : s * 1000);
const headerList = (obj) => Object.entries(obj || {}).flatMap(([name, value]) =>
  String(value).split("\n").map((v) => ({ name, value: v })));
const httpVersion = (protocol) => {
  if (!protocol) return "";
  if (protocol === "h2") return "http/2.0";
  if (protocol === "http/1.1" || protocol === "http/1.0") return protocol.toUpperCase() === "HTTP/1.1" ? "HTTP/1.1" : protocol.toUpperCase();
  return protocol;
};

function timings(r) {
  const out = { blocked: -1, dns: -1, ssl: -1, connect: -1, send: 0, wait: 0, receive: 0, _blocked_queueing: -1 };
  const queued = r.issueTime < r.startTime ? r.startTime - r.issueTime : -1;
  out.blocked = ms(queued);
  out._blocked_queueing = ms(queued);
  const t = r.timing;
  let highest = 0;
  if (t) {
    const least = [t.dnsStart, t.connectStart, t.sendStart].filter((v) => v >= 0);
    const blockedStart = least.length ? Math.min(...least) : Infinity;
    if (blockedStart !== Infinity) out.blocked += blockedStart;
    const dnsStart = t.dnsEnd >= 0 ? blockedStart : 0;
    const dnsEnd = t.dnsEnd >= 0 ? t.dnsEnd : -1;
    out.dns = dnsEnd - dnsStart;
    out.ssl = t.sslEnd > 0 ? t.sslEnd - t.sslStart : -1;
    const connectEnd = t.connectEnd >= 0 ? t.connectEnd : -1;
    const connectStart = t.connectEnd >= 0 ? Math.min(...[dnsEnd, blockedStart].filter((v) => v >= 0)) : 0;
    out.connect = connectEnd - connectStart;
    const sendStart = t.sendEnd >= 0 ? Math.max(connectEnd, dnsEnd, blockedStart) : 0;
    const sendEnd = t.sendEnd >= 0 ? t.sendEnd : 0;
    out.send = Math.max(sendEnd - sendStart, 0);
    highest = Math.max(sendEnd, connectEnd, out.ssl, dnsEnd, blockedStart === Infinity ? 0 : blockedStart, 0);
  } else if (r.responseReceivedTime === -1) {
    out.blocked = r.endTime >= 0 ? ms(r.endTime - r.issueTime) : -1;
    return out;
  }
  const requestTime = t ? t.requestTime : r.startTime;
  const waitEnd = ms(r.responseReceivedTime - requestTime);
  out.wait = waitEnd - highest;
  out.receive = r.endTime >= 0 ? Math.max(ms(r.endTime - requestTime) - waitEnd, 0) : 0;
  return out;
}

function entry(r) {
  const tm = timings(r);
  const time = [tm.blocked, tm.dns, tm.connect, tm.send, tm.wait, tm.receive].reduce((a, v) => a + Math.max(v, 0), 0);
  const url = new URL(r.url);
  const query = [...url.searchParams.entries()].map(([name, value]) => ({ name, value }));
  const request = {
    method: r.method,
    url: r.url.split("#", 2)[0],
    httpVersion: httpVersion(r.protocol) || "HTTP/1.1",
    headers: headerList(r.requestHeaders),
    queryString: query,
    cookies: [],
    headersSize: r.requestHeadersText ? r.requestHeadersText.length : -1,
    bodySize: r.postData ? Buffer.byteLength(r.postData) : 0,
  };
  if (r.postData) request.postData = { mimeType: r.requestHeaders["Content-Type"] || r.requestHeaders["content-type"] || "", text: r.postData };
  const content = { size: r.body !== null ? Buffer.byteLength(r.body, r.base64 ? "base64" : "utf8") : 0, mimeType: r.mimeType || "x-unknown" };
  if (r.body !== null) {
    content.text = r.body;
    if (r.base64) content.encoding = "base64";
  }
  const headersText = r.responseHeadersText;
  const out = {
    _initiator: r.initiator ? { type: r.initiator.type, ...(r.initiator.url ? { url: r.initiator.url } : {}) } : null,
    _priority: r.priority,
    _resourceType: r.resourceType,
    cache: {},
    request,
    response: {
      status: r.status,
      statusText: r.statusText,
      httpVersion: httpVersion(r.protocol),
      headers: headerList(r.responseHeaders),
      cookies: [],
      content,
      redirectURL: (r.responseHeaders.Location || r.responseHeaders.location || ""),
      headersSize: headersText ? headersText.length : -1,
      bodySize: headersText ? r.encodedDataLength - headersText.length : -1,
      _transferSize: r.encodedDataLength,
      _error: r.error,
    },
    serverIPAddress: (r.remoteIPAddress || "").replace(/[[\]]/g, ""),
    startedDateTime: new Date((r.wallIssueTime >= 0 ? r.wallIssueTime : 0) * 1000).toJSON(),
    time,
    timings: tm,
  };
  if (r.connectionId !== "0") out.connection = r.connectionId;
  out.pageref = "page_1";
  if (r.resourceType === "websocket") out._webSocketMessages = r.frames.map((f) => ({ ...f }));
  return out;
}

async function main() {
  const cdp = new Cdp(args.browser);
  await cdp.open();
  const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
  let pageResult = null;
  let resolveDone;
  const donePromise = new Promise((resolve) => { resolveDone = resolve; });
  let pageStarted = null;
  cdp.listeners.push((msg) => {
    if (msg.sessionId !== sessionId) return;
    if (msg.method === "Runtime.consoleAPICalled") {
      const text = (msg.params.args || []).map((a) => a.value).join(" ");
      if (text.startsWith("conndebug:done ")) {
        pageResult = JSON.parse(text.slice("conndebug:done ".length));
        resolveDone(true);
      }
      return;
    }
    if (msg.method === "Page.loadEventFired" && pageStarted === null) pageStarted = msg.params.timestamp;
    if (msg.method && msg.method.startsWith("Network.")) handle(msg);
  });
  await cdp.send("Network.enable", { maxPostDataSize: 65536 }, sessionId);
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: true }, sessionId);
  await cdp.send("Page.enable", {}, sessionId);
  await cdp.send("Runtime.enable", {}, sessionId);
  const started = Date.now();
  await cdp.send("Page.navigate", { url: args.page }, sessionId);
  const timer = new Promise((resolve) => setTimeout(() => resolve(false), maxMs));
  const done = await Promise.race([donePromise, timer]);
  await new Promise((resolve) => setTimeout(resolve, 200)); // late frames and closes
  for (const r of order) {
    if (r.resourceType === "websocket" || r.error || !r.finished) continue;
    if (!["xhr", "fetch"].includes(r.resourceType)) continue;
    try {
      const body = await cdp.send("Network.getResponseBody", { requestId: r.requestId }, sessionId);
      r.body = body.body;
      r.base64 = body.base64Encoded;
    } catch (err) {
      // no body kept for this request (as DevTools, the entry has no content.text then)
    }
  }
  const pageStart = order.length && order[0].wallIssueTime >= 0 ? order[0].wallIssueTime : started / 1000;
  const har = {
    log: {
      version: "1.2",
      creator: { name: "WebInspector", version: "537.36" },
      pages: [{
        startedDateTime: new Date(pageStart * 1000).toJSON(),
        id: "page_1",
        title: args.page,
        pageTimings: { onContentLoad: -1, onLoad: -1 },
      }],
      entries: order.filter((r) => r.url && !r.url.startsWith("data:")).map(entry),
    },
  };
  fs.writeFileSync(args.out, JSON.stringify(har, null, 2));
  process.stdout.write(JSON.stringify({ done, page: pageResult, entries: har.log.entries.length }) + "\n");
  try { await cdp.send("Target.closeTarget", { targetId }); } catch (err) { /* the browser goes anyway */ }
  cdp.ws.close();
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
