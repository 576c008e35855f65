// The edge tier's driver: the project's Worker (src/entry.py and the Durable Object modules) under the REAL Pyodide
// workerd runs (npm pyodide@314.0.6), with the REAL workers-runtime-sdk and the Worker's wheels from PyPI, D1 + KV
// from workerd through miniflare, and JS stand-ins (standins.mjs) only for what cannot run offline.
// Everything goes through entry.Default.fetch with JS Request objects, as workerd calls it.
//
// Input (environment): EDGE_CACHE (the folder scripts/edge-setup.sh filled), EDGE_INPUT (a JSON file written by the
// pytest wrapper: vendor base URLs, a key sealed by the local runtime). Output: one line `EDGE-RESULT {json}` with a
// list of named checks (ok + detail) and figures; the pytest wrapper asserts on them.
import fs from "node:fs";
import path from "node:path";
import nodeCrypto from "node:crypto";
import {
  als, IoContext, ExecutionContext, endWhenSettled, patchWaitUntil, moduleWaitUntil, bindD1, bindKV,
  DurableObjectNamespace, socketPair, installWebSocketGlobals, installFetch, violations, waitUntilFailures,
} from "./standins.mjs";

const HERE = path.dirname(new URL(import.meta.url).pathname);
const ROOT = path.resolve(HERE, "../..");
const CACHE = process.env.EDGE_CACHE;
// EDGE_IMPORT_ONLY=1: boot and `import entry` only, for bench/edge (no vendors, no input file needed).
const IMPORT_ONLY = process.env.EDGE_IMPORT_ONLY === "1";
const input = IMPORT_ONLY ? { vendorEnv: {} } : JSON.parse(fs.readFileSync(process.env.EDGE_INPUT, "utf8"));
const { loadPyodide } = await import(path.join(ROOT, "node_modules/pyodide/pyodide.mjs"));
const { Miniflare } = await import(path.join(ROOT, "node_modules/miniflare/dist/src/index.js"));

const checks = [];
const figures = {};
const check = (name, ok, detail = "") => checks.push({ name, ok: Boolean(ok), detail: String(detail).slice(0, 2000) });
const log = (...a) => console.error("[edge]", ...a);

// ---- randomness at import: workerd makes crypto.getRandomValues throw at global scope beyond the SDK's allowance.
// Under Node, Emscripten's getentropy uses node:crypto's randomFillSync; both are counted, with the Python module
// whose import made the call.
let phase = "boot";
let py = null;
const entropyCalls = [];
function countEntropy() {
  if (phase !== "import") return;
  entropyCalls.push([...(globalThis.edgeImporting || ["?"])]);
}
const realFill = nodeCrypto.randomFillSync;
nodeCrypto.randomFillSync = (view, ...rest) => { countEntropy(); return realFill.call(nodeCrypto, view, ...rest); };
const realGRV = globalThis.crypto.getRandomValues.bind(globalThis.crypto);
globalThis.crypto.getRandomValues = (view) => { countEntropy(); return realGRV(view); };

// ---- D1 + KV: workerd's own, through miniflare; the project's migrations applied as wrangler would.
const mf = new Miniflare({
  host: "127.0.0.1", modules: true, script: "export default { fetch() { return new Response('') } }",
  d1Databases: ["DB"], kvNamespaces: ["KV"], compatibilityDate: "2026-04-01",
});
const rawDB = await mf.getD1Database("DB");
const rawKV = await mf.getKVNamespace("KV");
for (const f of fs.readdirSync(path.join(ROOT, "migrations")).filter((f) => f.endsWith(".sql")).sort()) {
  const sql = fs.readFileSync(path.join(ROOT, "migrations", f), "utf8")
    .split("\n").filter((l) => !l.trim().startsWith("--")).join("\n");
  const stmts = sql.split(/;\s*\n/).map((s) => s.trim()).filter(Boolean);
  await rawDB.batch(stmts.map((s) => rawDB.prepare(s)));
}

// ---- Pyodide, the Worker's wheels, the SDK, the project's src/ (copied into the in-memory FS, never written back)
let entry, intro;
const host = {
  construct: (className, state) => entry[className](state, env), // the runtime constructs cls(ctx, env)
  call: (obj, method, args, relaxed) => intro.wrapper_func(relaxed, obj, method, ...args),
};
const env = {
  DB: bindD1(rawDB), KV: bindKV(rawKV),
  PROVIDER_HEALTH: new DurableObjectNamespace("ProviderHealthMonitor", host),
  WORKSPACE_LIMITS: new DurableObjectNamespace("WorkspaceLimiter", host),
  ENVIRONMENT: "production", DEFAULT_STRATEGY: "cost", MAX_AUDIO_BYTES: "26214400",
  ATTEMPT_TIMEOUT_SECONDS: "5", REQUEST_DEADLINE_SECONDS: "20",
  ADMIN_TOKEN: "edge-admin-token", KEY_ENCRYPTION_KEY: input.keyEncryptionKey,
  ...input.vendorEnv,
};

installWebSocketGlobals();
// A scripted Deepgram Flux peer for fetch() upgrades (Node has no fetch-upgrade): Connected, an Update after the
// first audio, EndOfTurn + close after CloseStream.
const upgrades = installFetch(() => {
  const [workerEnd, vendor] = socketPair("worker-end", "vendor");
  vendor.accepted = true;
  let audio = 0;
  vendor.addEventListener("message", (ev) => {
    if (typeof ev.data === "string") {
      if (ev.data.includes("CloseStream")) {
        vendor.send(JSON.stringify({ type: "TurnInfo", event: "EndOfTurn", turn_index: 0, audio_window_start: 0,
          audio_window_end: audio / 32000, transcript: "hello world", words: [], end_of_turn_confidence: 0.9 }));
        setTimeout(() => vendor.close(1000, ""), 5);
      }
    } else {
      audio += ev.data.byteLength;
      if (audio === ev.data.byteLength) {
        vendor.send(JSON.stringify({ type: "TurnInfo", event: "Update", turn_index: 0, audio_window_start: 0,
          audio_window_end: 0.1, transcript: "hel", words: [] }));
      }
    }
  });
  setTimeout(() => { if (workerEnd.accepted) vendor.send(JSON.stringify({ type: "Connected", request_id: "x" })); }, 2);
  return workerEnd;
});

const t0 = Date.now();
py = await loadPyodide({ indexURL: path.join(ROOT, "node_modules/pyodide") + "/" });
const pyVersion = py.runPython("import sys; sys.version.split()[0]");
check("pyodide", py.version === "314.0.6" && pyVersion.startsWith("3.14"), `pyodide ${py.version}, python ${pyVersion}`);
py.registerJsModule("_pyodide_entrypoint_helper", {
  cloudflareWorkersModule: { env, waitUntil: moduleWaitUntil },
  cloudflareSocketsModule: {},
  doAnImport: async (n) => { throw new Error("no module " + n); },
  patchWaitUntil,
});
py.registerJsModule("_cloudflare_compat_flags", {
  python_workflows_implicit_dependencies: true, python_request_headers_preserve_commas: true,
});
const wheelDir = path.join(CACHE, "wheels");
const wheels = fs.readdirSync(wheelDir).filter((f) => f.endsWith(".whl")).map((f) => path.join(wheelDir, f));
await py.loadPackage(wheels, { checkIntegrity: false, messageCallback: () => {} });
function copyTree(from, to) {
  py.FS.mkdirTree(to);
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    if (e.name === "__pycache__") continue;
    const h = path.join(from, e.name), t = to + "/" + e.name;
    if (e.isDirectory()) copyTree(h, t); else if (e.name.endsWith(".py")) py.FS.writeFile(t, fs.readFileSync(h));
  }
}
copyTree(path.join(ROOT, "src"), "/session/src");
py.FS.writeFile("/session/introspection.py", fs.readFileSync(path.join(HERE, "introspection.py")));
py.runPython(`
import sys
sys.path[:0] = ["/session/src", "/session"]
# What the SDK's _workers_sdk_package_patches does in workerd (it needs _cloudflare, absent here): no threads.
import anyio.to_thread
async def _inline(func, *args, **kwargs):
    return func(*args)
anyio.to_thread.run_sync = _inline
`);
figures.boot_ms = Date.now() - t0;

// ---- import entry: cold, measured, with its randomness counted. The stack of modules being executed is mirrored
// into a JS global (read without calling into Python, which cannot be re-entered from inside getentropy).
py.runPython(`
import importlib.machinery as _m
import js, json
_stack = []
def _tracking(exec_module):
    def wrapper(self, module):
        _stack.append(module.__name__)
        js.globalThis.edgeImporting = js.JSON.parse(json.dumps(_stack))
        try:
            exec_module(self, module)
            if module.__name__ == "pydantic_core":
                # What the SDK's exec patch for pydantic_core does in workerd, inside the module's allowance: build
                # a tiny validator so lazy hash-map seeds are drawn now, not by the next importer.
                module.SchemaValidator({"type": "any"})
        finally:
            _stack.pop()
            js.globalThis.edgeImporting = js.JSON.parse(json.dumps(_stack))
    return wrapper
for _loader in (_m.SourceFileLoader, _m.ExtensionFileLoader, _m.SourcelessFileLoader):
    _loader.exec_module = _tracking(_loader.exec_module)
`);
phase = "import";
const tImport = Date.now();
try {
  entry = py.pyimport("entry");
} catch (e) {
  check("import_entry", false, String(e).slice(-3000));
  console.log("EDGE-RESULT " + JSON.stringify({ checks, figures }));
  process.exit(0);
}
figures.cold_import_ms = Date.now() - tImport;
phase = "request";
intro = py.pyimport("introspection");
const workerPackages = py.runPython(`
import sys
sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in ("cryptography", "fastapi", "pydantic", "httpx")})`).toJs();
check("import_entry", true, `cold import ${figures.cold_import_ms} ms; top-level packages ${workerPackages}`);
check("no_cryptography", !workerPackages.includes("cryptography"), `imported: ${workerPackages}`);
figures.entropy_at_import = entropyCalls; // each: the stack of modules being imported, outermost first
if (IMPORT_ONLY) {
  console.log("EDGE-RESULT " + JSON.stringify({ checks, figures }));
  await mf.dispose();
  process.exit(0);
}
const classes = intro.collect_entrypoint_classes(entry);
check("entrypoint_classes",
  classes.durableObjects.map((c) => c.className).sort().join() === "ProviderHealthMonitor,WorkspaceLimiter",
  JSON.stringify(classes.durableObjects.map((c) => [c.className, c.methodNames])));

// ---- requests, each in its own I/O context, as workerd runs them
const BASE = "https://gw.example.workers.dev";
const ended = [];
async function request(method, url, { headers = {}, body } = {}) {
  const io = new IoContext(`${method} ${url}`);
  return als.run(io, async () => {
    const ctx = new ExecutionContext(io);
    const inst = entry.Default(ctx, env);
    const resp = await intro.wrapper_func(true, inst, "fetch", new Request(BASE + url, { method, headers, body }));
    const bytes = resp.status === 101 ? new Uint8Array() : new Uint8Array(await resp.arrayBuffer());
    ended.push(endWhenSettled(io));
    const text = new TextDecoder().decode(bytes);
    return { status: resp.status, headers: resp.headers, bytes, text, json: () => JSON.parse(text), webSocket: resp.webSocket, io };
  });
}
const settle = async () => { await Promise.allSettled(ended.splice(0)); };
const d1 = (sql, ...args) => rawDB.prepare(sql).bind(...args).all().then((r) => r.results);
const admin = { authorization: "Bearer edge-admin-token", "content-type": "application/json" };

async function step(name, fn) {
  try { await fn(); } catch (e) { check(name, false, "threw: " + (e && e.stack || e)); }
}

let apiKey, user, workspaceId;
await step("health", async () => {
  const r = await request("GET", "/health");
  check("health", r.status === 200 && r.headers.get("x-request-id"), `${r.status} ${r.text.slice(0, 200)}`);
});
await step("admin_workspace_key", async () => {
  const ws = await request("POST", "/admin/workspaces", { headers: admin,
    body: JSON.stringify({ name: "edge", limits: { concurrentStreams: 1, requestsPerMinute: 100 } }) });
  workspaceId = ws.json().id;
  const key = await request("POST", `/admin/workspaces/${workspaceId}/keys`, { headers: admin, body: "{}" });
  apiKey = key.json().key;
  user = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" };
  const rows = await d1("SELECT key_hash FROM api_keys WHERE workspace_id = ?", workspaceId);
  check("admin_workspace_key", ws.status === 201 && key.status === 201 && apiKey && rows.length === 1
    && !JSON.stringify(rows).includes(apiKey), `${ws.status} ${key.status} rows=${rows.length}`);
});

// The first vendor call: OpenAI answers 503 once (queued by the wrapper), so the gateway fails over to Deepgram.
await step("synthesize_failover", async () => {
  const r = await request("POST", "/voice/synthesize", { headers: user, body: JSON.stringify({ text: "Hello from the edge." }) });
  const rid = r.headers.get("x-request-id");
  await settle();
  const failovers = await d1("SELECT from_provider, to_provider FROM failover_logs WHERE request_id = ?", rid);
  check("synthesize_failover", r.status === 200 && r.bytes.length > 0 && r.headers.get("x-provider") === "deepgram"
    && failovers.length === 1, `${r.status} provider=${r.headers.get("x-provider")} attempts=${r.headers.get("x-attempts")}` +
    ` failover rows=${JSON.stringify(failovers)} ${r.status === 200 ? "" : r.text.slice(0, 300)}`);
});

async function usageRows(rid) { return d1("SELECT provider, resource FROM usage_records WHERE request_id = ?", rid); }

await step("chat_plain", async () => {
  const r = await request("POST", "/v1/chat/completions", { headers: user,
    body: JSON.stringify({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }) });
  await settle();
  const rows = await usageRows(r.headers.get("x-request-id"));
  check("chat_plain", r.status === 200 && r.json().choices[0].message.content && rows.length === 1,
    `${r.status} usage rows=${rows.length} ${r.text.slice(0, 200)}`);
});
await step("chat_sse_after_work", async () => {
  const r = await request("POST", "/v1/chat/completions", { headers: user,
    body: JSON.stringify({ model: "openai/gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] }) });
  await settle();
  const rows = await usageRows(r.headers.get("x-request-id"));
  check("chat_sse_after_work", r.status === 200 && (r.headers.get("content-type") || "").startsWith("text/event-stream")
    && r.text.includes("data: [DONE]") && rows.length === 1, `${r.status} usage rows=${rows.length} ${r.text.slice(-120)}`);
});
// Warm requests: the Worker's CPU per request once imported — this Node process's CPU (Pyodide running the Worker,
// the stand-ins, fetch; not the vendor fakes, nor workerd's D1) from the first request to the last response, N
// requests one after another. Their after-response work (usage flush, lease release) runs meanwhile and is counted;
// the lease's permit timeout (2 s) is waited out only once, at the end, outside the figure.
await step("warm_requests", async () => {
  const n = Number(process.env.EDGE_WARM_REQUESTS || 30);
  const body = JSON.stringify({ model: "tts-1", input: "Hello from the edge.", voice: "alloy" });
  await request("POST", "/v1/audio/speech", { headers: user, body });  // the first one imports lazily-loaded code
  await settle();
  const profile = process.env.EDGE_PROFILE;  // a file: cProfile's stats of these requests (for finding hot spots)
  if (profile) py.runPython("import cProfile; _edge_profile = cProfile.Profile(); _edge_profile.enable()");
  const cpu0 = process.cpuUsage(), t0 = performance.now();
  const statuses = [];
  for (let i = 0; i < n; i++) {
    statuses.push((await request("POST", "/v1/audio/speech", { headers: user, body })).status);
  }
  const cpu = process.cpuUsage(cpu0);
  if (profile) {
    fs.writeFileSync(profile, py.runPython(`_edge_profile.disable()
import io, pstats
_out = io.StringIO()
pstats.Stats(_edge_profile, stream=_out).sort_stats("cumulative").print_stats(80)
pstats.Stats(_edge_profile, stream=_out).sort_stats("tottime").print_stats(50)
_out.getvalue()`));
  }
  figures.warm_request_cpu_ms = Math.round(((cpu.user + cpu.system) / 1000 / n) * 100) / 100;
  figures.warm_request_wall_ms = Math.round(((performance.now() - t0) / n) * 100) / 100;
  await settle();
  const rows = await d1("SELECT COUNT(*) AS n FROM usage_records WHERE resource = 'tts'");
  check("warm_requests", statuses.every((s) => s === 200) && rows[0].n >= n + 2, `${n} requests: ${statuses.join(",")}; ` +
    `${figures.warm_request_cpu_ms} ms CPU, ${figures.warm_request_wall_ms} ms wall each; tts usage rows ${rows[0].n}`);
});

await step("transcribe_binary", async () => {
  const wav = Buffer.from(input.wavBase64, "base64");
  const r = await request("POST", "/voice/transcribe", { headers: { authorization: `Bearer ${apiKey}`, "content-type": "audio/wav" }, body: wav });
  await settle();
  const rows = await usageRows(r.headers.get("x-request-id"));
  check("transcribe_binary", r.status === 200 && typeof r.json().text === "string" && rows.length === 1,
    `${r.status} ${r.text.slice(0, 200)} usage rows=${rows.length}`);
});
// /voice/stream holds the workspace's only concurrentStreams slot until the body ends: three in a row succeed only
// if each release (after-work of a streamed response) really happens, through the limiter object.
await step("stream_release", async () => {
  const statuses = [], usage = [];
  for (let i = 0; i < 3; i++) {
    const r = await request("POST", "/voice/stream", { headers: user, body: JSON.stringify({ text: `Streamed sentence ${i}. And another one.` }) });
    statuses.push(`${r.status}:${r.bytes.length}b${r.status === 200 ? "" : " " + r.text.slice(0, 160)}`);
    await settle();
    usage.push((await usageRows(r.headers.get("x-request-id"))).length);
  }
  const limiter = env.WORKSPACE_LIMITS;
  const calls = limiter.calls.map((c) => c.method);
  check("stream_release", statuses.every((s) => s.startsWith("200:")) && usage.every((n) => n >= 1)
    && calls.filter((m) => m === "release").length >= 3,
    `statuses=${statuses} usage rows=${usage} limiter calls=${calls}`);
  const requestsUsingStubs = new Set(limiter.calls.map((c) => c.request));
  check("limiter_stub_per_request", requestsUsingStubs.size >= 3, `limiter RPCs came from ${requestsUsingStubs.size} requests`);
});
// Admission refuses a second concurrent stream while the first holds the slot (the body is not read yet).
await step("limits_admission", async () => {
  const io = new IoContext("POST /voice/stream (held open)");
  const first = await als.run(io, async () => {
    const inst = entry.Default(new ExecutionContext(io), env);
    return intro.wrapper_func(true, inst, "fetch", new Request(BASE + "/voice/stream", { method: "POST", headers: user,
      body: JSON.stringify({ text: "Hold this stream open. Please." }) }));
  });
  const second = await request("POST", "/voice/stream", { headers: user, body: JSON.stringify({ text: "Second." }) });
  await als.run(io, () => first.arrayBuffer());
  ended.push(endWhenSettled(io));
  await settle();
  const third = await request("POST", "/voice/stream", { headers: user, body: JSON.stringify({ text: "Third." }) });
  await settle();
  check("limits_admission", first.status === 200 && second.status === 429 && third.status === 200,
    `first=${first.status} second=${second.status} ${second.text.slice(0, 160)} third=${third.status}`);
});

async function realtime(label, headers) {
  const r = await request("GET", "/voice/realtime?model=flux&sample_rate=16000", { headers: { upgrade: "websocket", ...headers } });
  const client = r.webSocket;
  const got = [];
  if (!client) return { r, got, closed: null };
  client.accept();
  const closed = new Promise((res) => client.addEventListener("close", (e) => res(e)));
  client.addEventListener("message", (e) => got.push(typeof e.data === "string" ? e.data : `<${e.data.byteLength} bytes>`));
  await new Promise((res) => setTimeout(res, 150));
  if (!client.closed) { client.send(new Uint8Array(3200).buffer); await new Promise((res) => setTimeout(res, 150)); }
  if (!client.closed) client.send(JSON.stringify({ type: "CloseStream" }));
  const ev = await Promise.race([closed, new Promise((res) => setTimeout(() => res({ code: "timeout" }), 5000))]);
  await settle();
  return { r, got, closed: ev };
}
await step("realtime_header_auth", async () => {
  const { r, got, closed } = await realtime("header", { authorization: `Bearer ${apiKey}` });
  const rows = await usageRows(r.headers.get("x-request-id") || "-");
  check("realtime_header_auth", r.status === 101 && got.some((m) => m.includes("hello world")) && closed && closed.code === 1000,
    `${r.status} close=${closed && closed.code} got=${JSON.stringify(got).slice(0, 400)} usage=${rows.length}`);
});
await step("realtime_subprotocol_auth", async () => {
  const offered = `vgw-key.${apiKey}`;
  const { r, got, closed } = await realtime("subprotocol", { "sec-websocket-protocol": `${offered}, other` });
  const echoed = r.headers.get("sec-websocket-protocol");
  check("realtime_subprotocol_auth", r.status === 101 && echoed === offered && got.some((m) => m.includes("hello world")),
    `${r.status} echoed=${echoed === offered ? "the offered vgw-key" : echoed} close=${closed && closed.code} got=${JSON.stringify(got).slice(0, 300)}`);
});

// The browser path of /voice/speak-stream: only the handshake is checked here (the 101 must echo the subprotocol);
// the client then hangs up and the session must end and give its stream slot back.
await step("speak_stream_subprotocol", async () => {
  const offered = `vgw-key.${apiKey}`;
  const r = await request("GET", "/voice/speak-stream?sample_rate=24000", { headers: { upgrade: "websocket", "sec-websocket-protocol": offered } });
  const echoed = r.headers.get("sec-websocket-protocol");
  if (r.webSocket) {
    r.webSocket.accept();
    await new Promise((res) => setTimeout(res, 100));
    r.webSocket.close(1000, "bye");
  }
  await settle();
  const after = await request("POST", "/voice/stream", { headers: user, body: JSON.stringify({ text: "After the socket." }) });
  await settle();
  check("speak_stream_subprotocol", r.status === 101 && echoed === offered && after.status === 200,
    `${r.status} echoed=${echoed === offered ? "the offered vgw-key" : echoed} next stream=${after.status} ${after.status === 200 ? "" : after.text.slice(0, 160)}`);
});
await step("d1_usage_rows", async () => {
  const rows = await d1("SELECT resource, COUNT(*) AS n FROM usage_records WHERE workspace_id = ? GROUP BY resource ORDER BY resource", workspaceId);
  check("d1_usage_rows", rows.length >= 3, JSON.stringify(rows));
});

// ---- sealing across runtimes: a key sealed by the local runtime (cryptography) opens here (WebCrypto), and a key
// sealed here goes back to the wrapper, which opens it with the local runtime.
await step("seal_local_to_edge", async () => {
  py.globals.set("edge_secret", input.keyEncryptionKey);
  py.globals.set("sealed_locally", input.sealedLocally);
  const opened = await als.run(new IoContext("seal"), () => py.runPythonAsync(`
from gateway.secrets_box import SecretBox
from runtimes.workers.cipher import WebCryptoCipher
_box = SecretBox(edge_secret, WebCryptoCipher())
await _box.open(sealed_locally)`));
  check("seal_local_to_edge", opened === input.plainLocally, opened === input.plainLocally ? "opened" : "mismatch");
});
await step("seal_edge_to_local", async () => {
  // Through the admin API: the Worker seals the workspace's OpenAI key and stores it in D1.
  const r = await request("PUT", `/admin/workspaces/${workspaceId}/providers/openai`, { headers: admin,
    body: JSON.stringify({ apiKey: input.plainEdge }) });
  const rows = await d1("SELECT encrypted_api_key FROM workspace_provider_configs WHERE workspace_id = ?", workspaceId);
  figures.sealed_on_edge = rows.length ? rows[0].encrypted_api_key : null;
  check("seal_edge_to_local", [200, 201].includes(r.status) && figures.sealed_on_edge && !figures.sealed_on_edge.includes(input.plainEdge),
    `${r.status} ${r.text.slice(0, 200)}`);
});

// ---- cron + the health object's alarm
await step("scheduled_and_alarm", async () => {
  const io = new IoContext("scheduled");
  await als.run(io, async () => {
    const inst = entry.Default(new ExecutionContext(io), env);
    await intro.wrapper_func(false, inst, "scheduled", { cron: "*/5 * * * *", scheduledTime: Date.now(), noRetry() {} });
  });
  io.live = false;
  const health = env.PROVIDER_HEALTH;
  const armed = health.state("global").storage.alarm;
  await health.event("global", "alarm", [{ retryCount: 0, isRetry: false }], true);
  const rearmed = health.state("global").storage.alarm;
  check("scheduled_and_alarm", typeof armed === "number" && typeof rearmed === "number",
    `alarm after scheduled()=${armed} after alarm()=${rearmed}`);
});

await settle();
await new Promise((r) => setTimeout(r, 50));
check("no_io_violations", violations.length === 0, JSON.stringify(violations));
check("no_rejected_waituntil", waitUntilFailures.length === 0, JSON.stringify(waitUntilFailures));
figures.upgrades_to_vendor = upgrades.length;
console.log("EDGE-RESULT " + JSON.stringify({ checks, figures }));
await mf.dispose();
process.exit(0);
