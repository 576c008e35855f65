// Vendors: health per capability, circuit state (global and per key), latency, error rate, recent failovers.
import { api, query } from "../api.js";
import { h, ms, pct, pill, table, when } from "../dom.js";

export default async function vendors(root, session) {
  const admin = session.role === "admin";
  const [seen, detailed, stats, failovers] = await Promise.all([
    api("/voice/providers/health"),
    admin ? api("/health/detailed") : null,
    api((admin ? "/admin/stats" : "/stats") + query({ since: Date.now() - 86400e3, bucket: "hour" })),
    admin ? api("/admin/failovers?limit=20") : null,
  ]);
  const global = detailed?.vendors || {};
  const rows = Object.entries(seen).map(([id, v]) => ({ id, ...v, global: global[id] || {}, log: stats.byVendor[id] }));
  const breakers = (r) => {
    const keys = Object.entries(r.global.breakers || {});
    return keys.length ? keys.map(([fingerprint, state]) => h("div", {}, h("code", {}, fingerprint), " ", pill(state))) : h("span", { class: "muted" }, "—");
  };
  const byKind = (r) => {
    const kinds = r.global.latencyByKind || {};
    return r.capabilities.map((c) => h("div", {}, `${c}: `, kinds[c] === undefined ? "—" : ms(kinds[c])));
  };
  root.append(h("h1", {}, "Vendors"),
    h("section", { id: "vendor-table" }, h("h2", {}, "Health"), table([
      ["vendor", (r) => h("strong", {}, r.id)],
      ["status", (r) => pill(r.status)],
      ["circuit (global)", (r) => pill(admin ? (r.global.circuit || r.circuit) : r.circuit)],
      ...(admin ? [["circuit per key", breakers]] : []),
      ["health error rate", (r) => pct(r.errorRate)],
      ["latency by capability", byKind],
      ["requests 24h", (r) => r.log?.requests ?? 0],
      ["errors 24h", (r) => (r.log ? pct(r.log.errorRate) : "—")],
      ["p50 / p95 24h", (r) => (r.log ? `${ms(r.log.latencyMs.p50)} / ${ms(r.log.latencyMs.p95)}` : "—")],
    ], rows)),
    admin ? h("section", { id: "failovers" }, h("h2", {}, "Recent failovers"), table([
      ["when", (f) => when(f.at)], ["request", (f) => h("a", { href: `#/logs?request=${f.requestId}` }, f.requestId)],
      ["from", (f) => f.from], ["to", (f) => f.to || "—"], ["error", (f) => f.errorClass], ["result", (f) => f.result],
      ["after", (f) => ms(f.elapsedMs)]], failovers.failovers)) : null);
}
