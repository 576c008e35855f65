// Logs: the request log, filterable, newest first, with one request's detail (attempts, vendor, units, cost, timings).
import { api, query } from "../api.js";
import { h, ms, pill, table, usd, when } from "../dom.js";

const clock = (epochMs) => {
  const d = new Date(epochMs);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
};
const local = (input) => (input.value ? new Date(input.value).getTime() : "");

export default async function logs(root, session) {
  const admin = session.role === "admin";
  const f = {
    workspaceId: h("input", { name: "workspaceId", placeholder: "workspace id" }),
    status: h("select", { name: "status" }, ["", "1xx", "2xx", "4xx", "5xx"].map((s) => h("option", { value: s }, s || "any status"))),
    vendor: h("input", { name: "vendor", placeholder: "vendor" }),
    route: h("input", { name: "route", placeholder: "route, e.g. /voice/synthesize" }),
    since: h("input", { name: "since", type: "datetime-local" }),
    until: h("input", { name: "until", type: "datetime-local" }),
  };
  const rows = h("div", { id: "log-rows" });
  const more = h("button", { class: "secondary", id: "more", hidden: true }, "Older");
  const detail = h("div", { id: "log-detail" });
  let cursor = null; let seen = [];
  const params = () => ({ workspaceId: admin ? f.workspaceId.value : "", status: f.status.value, vendor: f.vendor.value,
    route: f.route.value, since: local(f.since), until: local(f.until) });
  const draw = () => rows.replaceChildren(table([
    ["time", (r) => h("span", { title: when(r.createdAt) }, clock(r.createdAt))], ["route", (r) => `${r.method} ${r.route}`], ["status", (r) => h("span", { class: r.status >= 400 ? "bad" : "ok" }, r.status)],
    ...(admin ? [["workspace", (r) => h("code", {}, r.workspaceId || "—")]] : []),
    ["vendor", (r) => r.vendor || "—"], ["attempts", (r) => r.attempts], ["latency", (r) => ms(r.latencyMs)], ["cost", (r) => usd(r.cost)],
    ["error", (r) => r.errorClass || ""], ["request id", (r) => h("code", {}, r.requestId)]], seen, (r) => show(r.requestId)));
  const load = async (append = false) => {
    const page = await api((admin ? "/admin/logs" : "/logs") + query({ ...params(), cursor: append ? cursor : "", limit: 50 }));
    seen = append ? seen.concat(page.requests) : page.requests;
    cursor = page.nextCursor; more.hidden = !cursor; draw();
  };
  async function show(requestId) {
    const d = await api(`${admin ? "/admin/logs" : "/logs"}/${encodeURIComponent(requestId)}`);
    const r = d.request;
    const units = [["characters", r.characters], ["audio seconds", r.audioSeconds], ["input tokens", r.inputTokens], ["output tokens", r.outputTokens]].filter(([, v]) => v !== null);
    detail.replaceChildren(h("section", { id: "request-detail", "data-request": requestId }, h("h2", {}, `Request ${requestId}`),
      h("table", {}, h("tbody", {}, [["time", when(r.createdAt)], ["route", `${r.method} ${r.route}`], ["status", r.status],
        ["workspace", r.workspaceId || "—"], ["key", r.apiKeyId || "—"], ["vendor", r.vendor || "—"], ["capability", r.capability || "—"],
        ["attempts", r.attempts], ["latency", ms(r.latencyMs)], ["time to first byte", ms(r.ttfbMs)],
        ...units, ["cost", usd(r.cost)], ["error", r.errorClass || "—"]].map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v))))),
      h("h2", {}, "Failovers"), table([["from", (x) => x.from], ["to", (x) => x.to || "—"], ["error", (x) => x.errorClass], ["result", (x) => pill(x.result)], ["after", (x) => ms(x.elapsedMs)]], d.failovers),
      h("h2", {}, "Usage rows"), table([["segment", (u) => u.segment], ["vendor", (u) => u.provider], ["capability", (u) => u.resource], ["model", (u) => u.model || "—"],
        ["billed", (u) => usd(u.final_cost_micros / 1e6)]], d.usage)));
    detail.scrollIntoView?.({ block: "start" });
  }
  more.onclick = () => load(true);
  root.append(h("h1", {}, "Logs"),
    h("form", { class: "inline", id: "log-filters", onsubmit: (e) => { e.preventDefault(); load(); } },
      admin ? h("label", {}, "Workspace", f.workspaceId) : null, h("label", {}, "Status", f.status), h("label", {}, "Vendor", f.vendor),
      h("label", {}, "Route", f.route), h("label", {}, "Since", f.since), h("label", {}, "Until", f.until), h("button", { type: "submit" }, "Filter")),
    detail, h("section", { class: "scroll" }, rows, more));
  await load();
  const wanted = new URLSearchParams(location.hash.split("?")[1] || "").get("request");
  if (wanted) await show(wanted);
}
