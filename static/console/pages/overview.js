// Overview: requests, error rate, p50/p95, spend and failovers over time, by vendor and capability (from the request log).
import { api, query } from "../api.js";
import { card, chart, chartBox, h, ms, pct, table, usd } from "../dom.js";

const RANGES = { "1h": [3600e3, "minute"], "24h": [86400e3, "hour"], "7d": [7 * 86400e3, "day"], "30d": [30 * 86400e3, "day"] };

export default async function overview(root, session) {
  const range = h("select", { id: "range" }, Object.keys(RANGES).map((k) => h("option", { value: k, selected: k === "24h" }, `last ${k}`)));
  const workspace = h("select", { id: "overview-workspace" }, h("option", { value: "" }, "all workspaces"));
  if (session.role === "admin") {
    for (const w of (await api("/admin/workspaces")).workspaces) workspace.append(h("option", { value: w.id }, w.name));
  }
  const body = h("div");
  root.append(h("h1", {}, "Overview"), h("div", { class: "row" }, h("label", {}, "Range", range),
    session.role === "admin" ? h("label", {}, "Workspace", workspace) : null), body);
  const load = async () => {
    const [span, bucket] = RANGES[range.value];
    const params = { since: Date.now() - span, bucket, workspaceId: workspace.value };
    const stats = await api((session.role === "admin" ? "/admin/stats" : "/stats") + query(params));
    const t = stats.totals;
    const labels = stats.series.map((p) => new Date(p.t).toLocaleString([], bucket === "day" ? { month: "short", day: "numeric" } : { hour: "2-digit", minute: "2-digit" }));
    const groups = (by) => Object.entries(by).map(([name, g]) => ({ name, ...g }));
    const breakdown = (by) => table([["", (r) => r.name], ["requests", (r) => r.requests], ["error rate", (r) => pct(r.errorRate)],
      ["p50", (r) => ms(r.latencyMs.p50)], ["p95", (r) => ms(r.latencyMs.p95)], ["spend", (r) => usd(r.cost)], ["failovers", (r) => r.failovers]], groups(by));
    body.replaceChildren(
      h("div", { class: "cards" }, card("Requests", t.requests, "requests"), card("Error rate", pct(t.errorRate), "errorRate"),
        card("p50 latency", ms(t.latencyMs.p50), "p50"), card("p95 latency", ms(t.latencyMs.p95), "p95"),
        card("Spend", usd(t.cost), "spend"), card("Failovers", t.failovers, "failovers")),
      h("div", { class: "grid2" },
        h("section", {}, h("h2", {}, "Requests and errors"), chartBox("chart-requests")),
        h("section", {}, h("h2", {}, "Spend and failovers"), chartBox("chart-spend"))),
      h("div", { class: "grid2" },
        h("section", { id: "by-vendor" }, h("h2", {}, "By vendor"), chartBox("chart-vendors"), breakdown(stats.byVendor)),
        h("section", { id: "by-capability" }, h("h2", {}, "By capability"), breakdown(stats.byCapability))),
    );
    chart(body.querySelector("#chart-requests"), { type: "line", data: { labels, datasets: [
      { label: "requests", data: stats.series.map((p) => p.requests), borderColor: "#2f5bea", tension: 0.2 },
      { label: "errors", data: stats.series.map((p) => p.errors), borderColor: "#c4320a", tension: 0.2 }] } });
    chart(body.querySelector("#chart-spend"), { type: "bar", data: { labels, datasets: [
      { label: "spend (USD)", data: stats.series.map((p) => p.cost), backgroundColor: "#7aa2ff", yAxisID: "y" },
      { label: "failovers", data: stats.series.map((p) => p.failovers), backgroundColor: "#f79009", yAxisID: "y1" }] },
      options: { scales: { y: { position: "left" }, y1: { position: "right", grid: { drawOnChartArea: false } } } } });
    const vendors = groups(stats.byVendor);
    chart(body.querySelector("#chart-vendors"), { type: "bar", data: { labels: vendors.map((v) => v.name), datasets: [
      { label: "p50 ms", data: vendors.map((v) => v.latencyMs.p50), backgroundColor: "#7aa2ff" },
      { label: "p95 ms", data: vendors.map((v) => v.latencyMs.p95), backgroundColor: "#2f5bea" }] } });
  };
  range.onchange = load; workspace.onchange = load;
  await load();
}
