// JS stand-ins for the parts of workerd that cannot run offline: request I/O contexts, ExecutionContext
// (waitUntil), Durable Object hosting, WebSocketPair + 101 responses, and the fetch upgrade to a vendor WebSocket.
// D1 and KV are NOT stand-ins: they are workerd's own, through miniflare; here they only gain the I/O-context check.
//
// The rules are workerd's, and a broken rule is thrown at the caller exactly where workerd would throw (and also
// recorded in `violations`, so a swallowed exception still fails the tier):
// - every I/O object (a Durable Object stub, a vendor WebSocket) belongs to the request that made it; used from
//   another request it throws "Cannot perform I/O on behalf of a different request" (workerd api/actor.c++,
//   io-context.h);
// - I/O after the request's context has ended (response sent, every waitUntil settled) is refused;
// - a waitUntil promise that rejects is a failure (workerd only logs it; the work it stood for is lost).
// The current request is tracked with AsyncLocalStorage, which follows Pyodide's event loop (setTimeout-based) and
// promise continuations, as workerd's IoContext follows its own event loop.
import { AsyncLocalStorage } from "node:async_hooks";

export const als = new AsyncLocalStorage();
export const violations = [];
export const waitUntilFailures = [];

let nextId = 1;
export class IoContext {
  constructor(label) {
    this.id = nextId++;
    this.label = label;
    this.live = true;
    this.pending = new Set();
  }
  toString() { return `#${this.id} ${this.label}`; }
}

function violation(message) {
  violations.push(message);
  return new Error(message);
}

// Throws like workerd when I/O is attempted outside a live request, or on an object owned by another request.
export function checkIo(what, owner = null) {
  const current = als.getStore();
  if (!current) throw violation(`${what}: I/O outside of any request context (global scope?)`);
  if (!current.live) throw violation(`${what}: I/O in request ${current} after its context ended (work was lost)`);
  if (owner && owner !== current) {
    throw violation(`Cannot perform I/O on behalf of a different request. ${what} was created by request ${owner}` +
      ` and used by request ${current}.`);
  }
  return current;
}

// ---- ExecutionContext: waitUntil keeps the request's context alive; a rejection is recorded as a failure.
export class ExecutionContext {
  constructor(io) { this.io = io; }
  get [Symbol.toStringTag]() { return "ExecutionContext"; }
  waitUntil(promise) {
    const io = this.io;
    if (!io.live) throw violation(`waitUntil() called in request ${io} after its context ended`);
    const tracked = Promise.resolve(promise).then(
      () => {},
      (e) => { waitUntilFailures.push(`request ${io}: ${String(e && e.message || e).split("\n")[0]}`); },
    );
    io.pending.add(tracked);
    tracked.finally(() => io.pending.delete(tracked));
  }
  passThroughOnException() {}
}

// The request ends when its response body is done AND every waitUntil promise settled: then workerd drops the
// context, and its timers with it. No grace period: Python work that was not registered with waitUntil by then
// (e.g. the rest of the app's run after a streamed body) is outside the request, as it would be on workerd.
export async function endWhenSettled(io) {
  while (io.pending.size > 0) await Promise.allSettled([...io.pending]);
  io.live = false;
}

// workerd's src/pyodide/python-entrypoint-helper.ts patchWaitUntil: the Python side hands over a borrowed proxy,
// which the patched waitUntil copies before the call returns.
const patched = new WeakSet();
export function patchWaitUntil(ctx) {
  if (Object.prototype.toString.call(ctx) !== "[object ExecutionContext]" || patched.has(ctx)) return;
  const orig = ctx.waitUntil.bind(ctx);
  ctx.waitUntil = (p) => {
    if (p && typeof p === "object" && "copy" in p) p = p.copy();
    orig((async () => { await p; if (p && typeof p === "object" && "destroy" in p) p.destroy(); })());
  };
  patched.add(ctx);
}

// `cloudflare:workers` waitUntil (what the SDK's `workers.wait_until` calls): NOT patched in workerd, so a borrowed
// proxy passed to it is destroyed when the call returns, and the promise rejects when it is awaited (workers-py#262).
export function moduleWaitUntil(p) {
  const io = als.getStore();
  if (!io) throw violation("waitUntil() outside of any request context");
  new ExecutionContext(io).waitUntil(Promise.resolve().then(() => p));
}

// ---- D1 and KV: workerd's own (miniflare), wrapped only to check the I/O context. Class names matter: the SDK's
// _EnvWrapper picks its wrappers by constructor name.
export function bindD1(raw) {
  class D1PreparedStatement {
    constructor(inner) { this.inner = inner; }
    bind(...v) { return new D1PreparedStatement(this.inner.bind(...v)); }
    all() { checkIo("D1 all()"); return this.inner.all(); }
    first(c) { checkIo("D1 first()"); return c === undefined ? this.inner.first() : this.inner.first(c); }
    run() { checkIo("D1 run()"); return this.inner.run(); }
    raw(o) { checkIo("D1 raw()"); return this.inner.raw(o); }
  }
  class D1Database {
    prepare(sql) { return new D1PreparedStatement(raw.prepare(sql)); }
    batch(stmts) { checkIo("D1 batch()"); return raw.batch(Array.from(stmts, (s) => s.inner)); }
    exec(sql) { checkIo("D1 exec()"); return raw.exec(sql); }
  }
  return new D1Database();
}

export function bindKV(raw) {
  class KvNamespace {
    get(k, o) { checkIo("KV get()"); return o === undefined ? raw.get(k) : raw.get(k, o); }
    put(k, v, o) { checkIo("KV put()"); return o === undefined ? raw.put(k, v) : raw.put(k, v, o); }
    delete(k) { checkIo("KV delete()"); return raw.delete(k); }
    list(o) { checkIo("KV list()"); return raw.list(o); }
  }
  return new KvNamespace();
}

// ---- Durable Objects: one instance per name, storage with structured-clone semantics, one event at a time (input
// gate), each event in the object's own I/O context; RPC arguments and results are structured-cloned.
class DurableObjectStorage {
  constructor() { this.m = new Map(); this.alarm = null; }
  async get(k) { return this.m.has(k) ? structuredClone(this.m.get(k)) : undefined; }
  async put(k, v) { this.m.set(k, structuredClone(v)); }
  async delete(k) { return this.m.delete(k); }
  async list() { return new Map([...this.m].map(([k, v]) => [k, structuredClone(v)])); }
  async getAlarm() { return this.alarm; }
  async setAlarm(t) {
    if (typeof t !== "number" && !(t instanceof Date)) throw new TypeError(`setAlarm(): bad time ${typeof t}`);
    this.alarm = Number(t);
  }
  async deleteAlarm() { this.alarm = null; }
}

class DurableObjectState {
  constructor(name) { this.storage = new DurableObjectStorage(); this.id = { name, toString: () => name }; }
  waitUntil(p) { return Promise.resolve(p); }
  async blockConcurrencyWhile(fn) { return await fn(); }
}

export class DurableObjectNamespace {
  // host: { construct(className, state) -> instance, call(instance, method, args, relaxed) -> promise }
  constructor(className, host) {
    this.className = className;
    this.host = host;
    this.objects = new Map();
    this.calls = [];
  }
  state(name) { return this.instance(name).state; }
  instance(name) {
    if (!this.objects.has(name)) {
      const state = new DurableObjectState(name);
      this.objects.set(name, { state, obj: this.host.construct(this.className, state), queue: Promise.resolve() });
    }
    return this.objects.get(name);
  }
  // Runs one event (RPC call, alarm) in the object: serialised, in the object's own I/O context.
  event(name, method, args, relaxed = false) {
    const entry = this.instance(name);
    const io = new IoContext(`${this.className}(${name}).${method}`);
    const run = entry.queue.then(() => als.run(io, () => this.host.call(entry.obj, method, args, relaxed)));
    entry.queue = run.then(() => {}, () => {});
    return run.finally(() => { io.live = false; });
  }
  idFromName(name) { return { name, toString: () => name }; }
  get(id) { return this.getByName(id.name); }
  getByName(name) {
    const owner = als.getStore() ?? null; // the stub belongs to the request that made it
    const ns = this;
    return new Proxy({}, {
      get(_t, prop) {
        if (typeof prop !== "string" || prop === "then") return undefined;
        return async (...args) => {
          checkIo(`${ns.className} stub "${name}" .${prop}()`, owner);
          const sent = structuredClone(args); // RPC copies (throws DataCloneError for Python proxies)
          ns.calls.push({ method: prop, name, request: String(owner) });
          const result = await ns.event(name, prop, sent);
          return structuredClone(result === undefined ? null : result);
        };
      },
    });
  }
}

// ---- WebSockets: WebSocketPair, 101 responses, and fetch() upgrades to a scripted vendor socket.
export class StandInWebSocket {
  constructor(label) {
    this.label = label; this.peer = null; this.accepted = false; this.binaryType = "blob";
    this.listeners = {}; this.closed = null; this.owner = null;
  }
  accept() { this.accepted = true; this.owner = als.getStore() ?? null; }
  addEventListener(t, f) { (this.listeners[t] ||= []).push(f); }
  removeEventListener(t, f) { this.listeners[t] = (this.listeners[t] || []).filter((x) => x !== f); }
  dispatch(t, ev) {
    const h = this["on" + t];
    if (typeof h === "function") h(ev);
    for (const f of [...(this.listeners[t] || [])]) f(ev);
  }
  send(d) {
    if (!this.accepted) throw new TypeError("You must call accept() on this WebSocket before sending messages.");
    if (this.closed) throw new TypeError("Can't call WebSocket send() after close().");
    if (this.owner) checkIo(`WebSocket(${this.label}).send()`, this.owner);
    const data = typeof d === "string" ? d
      : d instanceof ArrayBuffer ? d.slice(0) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice().buffer;
    const peer = this.peer;
    // Events are delivered in the receiver's context (the request that accepted it), as workerd does.
    setTimeout(() => runIn(peer.owner, () => peer.dispatch("message", { data })), 1);
  }
  close(code = 1000, reason = "") {
    if (this.closed) return;
    this.closed = { code, reason };
    const peer = this.peer;
    setTimeout(() => runIn(peer.owner, () => {
      if (!peer.closed) peer.closed = { code, reason };
      peer.dispatch("close", { code, reason, wasClean: true });
    }), 1);
  }
}

function runIn(io, fn) { return io ? als.run(io, fn) : fn(); }

export function socketPair(a, b) {
  const x = new StandInWebSocket(a), y = new StandInWebSocket(b);
  x.peer = y; y.peer = x;
  return [x, y];
}

export function installWebSocketGlobals() {
  globalThis.WebSocketPair = class WebSocketPair {
    constructor() { const [c, s] = socketPair("client", "server"); this[0] = c; this[1] = s; }
  };
  // workerd's Response accepts status 101 with a webSocket; Node's does not.
  const Base = globalThis.Response;
  globalThis.Response = class Response extends Base {
    constructor(body, init) {
      if (init && init.status === 101) {
        if (!init.webSocket) throw new RangeError("Responses with status 101 must carry a webSocket.");
        super(null, { ...init, status: 200 });
        this.ws101 = init.webSocket;
      } else super(body, init);
    }
    get status() { return this.ws101 ? 101 : super.status; }
    get webSocket() { return this.ws101 ?? null; }
  };
}

// fetch(): outbound I/O needs a live request; an Upgrade: websocket goes to `vendorSocket(request)` (which returns
// a socket end or null for a refusal), everything else to Node's real fetch on loopback.
export function installFetch(vendorSocket) {
  const realFetch = globalThis.fetch;
  const upgrades = [];
  globalThis.fetch = async (input, init) => {
    checkIo("fetch()");
    const req = input instanceof Request ? input : new Request(input, init);
    if ((req.headers.get("upgrade") || "").toLowerCase() !== "websocket") return realFetch(input, init);
    upgrades.push({ url: req.url, headers: Object.fromEntries(req.headers) });
    const end = vendorSocket(req);
    if (!end) return new Response("unauthorized", { status: 401 });
    return new Response(null, { status: 101, webSocket: end });
  };
  return upgrades;
}
