// Usage: a period's report by vendor and capability, a daily chart, CSV export.
import { api, query } from "../api.js";
import { chart, chartBox, h, table, usd } from "../dom.js";

const monthOf = (d) => `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;

export function usageCsv(report, days) {
  const lines = [["section", "key", "requests", "providerCostUsd", "finalCostUsd", "characters", "audioSeconds", "inputTokens", "outputTokens"]];
  const add = (section, by) => Object.entries(by).forEach(([k, b]) => lines.push([section, k, b.requests, b.providerCost, b.finalCost,
    b.characters, b.audioSeconds, b.inputTokens, b.outputTokens]));
  add("vendor", report.byProvider); add("capability", report.byResource);
  days.forEach((d) => lines.push(["day", new Date(d.t).toISOString().slice(0, 10), d.requests, "", d.cost, "", "", "", ""]));
  return lines.map((row) => row.map((v) => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : v)).join(",")).join("\n") + "\n";
}

export default async function usage(root, session) {
  const admin = session.role === "admin";
  const period = h("input", { id: "period", type: "month", value: monthOf(new Date()) });
  const workspace = h("select", { id: "usage-workspace" });
  if (admin) for (const w of (await api("/admin/workspaces")).workspaces) workspace.append(h("option", { value: w.id }, w.name));
  const body = h("div");
  root.append(h("h1", {}, "Usage"), h("div", { class: "row" }, admin ? h("label", {}, "Workspace", workspace) : null, h("label", {}, "Period", period)), body);
  const load = async () => {
    if (admin && !workspace.value) { body.replaceChildren(h("p", { class: "muted" }, "No workspace yet.")); return; }
    const report = await api(admin ? `/admin/usage${query({ workspaceId: workspace.value, period: period.value })}` : `/usage${query({ period: period.value })}`);
    const { start, end } = report.period;
    const stats = await api((admin ? "/admin/stats" : "/stats") + query({ workspaceId: admin ? workspace.value : "", since: start, until: end, bucket: "day" }));
    const days = stats.series;
    const rows = (by) => Object.entries(by).map(([name, b]) => ({ name, ...b }));
    const columns = [["", (r) => r.name], ["requests", (r) => r.requests], ["characters", (r) => r.characters], ["audio s", (r) => r.audioSeconds],
      ["tokens in/out", (r) => `${r.inputTokens} / ${r.outputTokens}`], ["vendor cost", (r) => usd(r.providerCost)], ["billed", (r) => usd(r.finalCost)]];
    const exportCsv = h("a", { id: "export-csv", class: "button", download: `usage-${report.workspaceId}-${period.value}.csv`,
      href: URL.createObjectURL(new Blob([usageCsv(report, days)], { type: "text/csv" })) }, "Export CSV");
    body.replaceChildren(
      h("div", { class: "cards" }, h("div", { class: "card", "data-metric": "billed" }, h("div", { class: "label" }, "Billed"), h("div", { class: "value" }, usd(report.totals.finalCost))),
        h("div", { class: "card" }, h("div", { class: "label" }, "Vendor cost"), h("div", { class: "value" }, usd(report.totals.providerCost))),
        h("div", { class: "card", "data-metric": "billedRequests" }, h("div", { class: "label" }, "Billed requests"), h("div", { class: "value" }, report.totals.requests))),
      h("section", {}, h("h2", {}, "Daily"), chartBox("chart-daily")),
      h("div", { class: "grid2" }, h("section", { id: "usage-by-vendor" }, h("h2", {}, "By vendor"), table(columns, rows(report.byProvider))),
        h("section", { id: "usage-by-capability" }, h("h2", {}, "By capability"), table(columns, rows(report.byResource)))),
      h("p", {}, exportCsv));
    chart(body.querySelector("#chart-daily"), { type: "bar", data: {
      labels: days.map((d) => new Date(d.t).toISOString().slice(5, 10)),
      datasets: [{ label: "billed (USD)", data: days.map((d) => d.cost), backgroundColor: "#2f5bea", yAxisID: "y" },
        { label: "requests", data: days.map((d) => d.requests), backgroundColor: "#7aa2ff", yAxisID: "y1" }] },
      options: { scales: { y: { position: "left" }, y1: { position: "right", grid: { drawOnChartArea: false } } } } });
  };
  period.onchange = load; workspace.onchange = load;
  await load();
}
