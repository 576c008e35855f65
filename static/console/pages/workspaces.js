// Workspaces (admin): create, suspend, markup, limits, keys (created — shown once — and revoked), BYOK status, strategy.
import { api } from "../api.js";
import { h, pill, table, toast, when } from "../dom.js";

const LIMITS = ["requestsPerMinute", "requestsPerHour", "concurrentStreams", "monthlyBudgetUsd", "audioMinutesPerMonth"];
const STRATEGIES = ["cost", "latency", "priority", "weighted", "round_robin"];

export default async function workspaces(root, session) {
  if (session.role !== "admin") { root.append(h("p", { class: "muted" }, "Workspaces are managed with the admin token.")); return; }
  const list = h("div");
  const detail = h("div", { id: "workspace-detail" });
  const name = h("input", { id: "new-workspace-name", placeholder: "name", required: true });
  const markup = h("input", { id: "new-workspace-markup", type: "number", min: 0, step: "0.1", placeholder: "markup % (default)" });
  const create = h("form", { class: "inline", id: "create-workspace", onsubmit: async (e) => {
    e.preventDefault();
    const created = await api("/admin/workspaces", { method: "POST", body: { name: name.value, ...(markup.value ? { markupPercentage: Number(markup.value) } : {}) } });
    toast(`workspace ${created.name} created`); name.value = ""; await refresh(); await open(created.id);
  } }, h("label", {}, "Name", name), h("label", {}, "Markup %", markup), h("button", { type: "submit" }, "Create workspace"));
  root.append(h("h1", {}, "Workspaces"), h("section", {}, h("h2", {}, "New workspace"), create), h("section", {}, h("h2", {}, "All workspaces"), list), detail);

  async function refresh() {
    const { workspaces: rows } = await api("/admin/workspaces");
    list.replaceChildren(table([["name", (w) => h("strong", {}, w.name)], ["id", (w) => h("code", {}, w.id)], ["status", (w) => pill(w.status)],
      ["markup", (w) => (w.markupPercentage ?? "default")], ["created", (w) => when(w.createdAt)]], rows, (w) => open(w.id)));
  }

  async function open(id) {
    const [w, providers] = await Promise.all([api(`/admin/workspaces/${id}`), api(`/admin/workspaces/${id}/providers`)]);
    const patch = async (body) => { await api(`/admin/workspaces/${id}`, { method: "PATCH", body }); toast("saved"); await refresh(); await open(id); };
    const markupIn = h("input", { id: "markup", type: "number", min: 0, step: "0.1", value: w.markupPercentage ?? "" });
    const limitIns = LIMITS.map((k) => h("input", { name: k, type: "number", min: 0, step: "any", value: w.limits?.[k] ?? "" }));
    const strategy = h("select", { id: "strategy" }, STRATEGIES.map((s) => h("option", { value: s, selected: providers.strategy?.strategy === s }, s)));
    const keyName = h("input", { id: "key-name", placeholder: "key name" });
    const shown = h("div", { id: "new-key" });
    const keys = table([["name", (k) => k.name || "—"], ["prefix", (k) => h("code", {}, k.prefix)], ["created", (k) => when(k.createdAt)],
      ["status", (k) => (k.revokedAt ? pill("revoked") : pill("active"))],
      ["", (k) => (k.revokedAt ? "" : h("button", { class: "danger", "data-revoke": k.id, onclick: async (e) => {
        e.stopPropagation();
        await api(`/admin/workspaces/${id}/keys/${k.id}`, { method: "DELETE" }); toast("key revoked"); await open(id);
      } }, "Revoke"))]], w.keys);
    const byok = Object.entries(providers.providers).map(([provider, p]) => ({ provider, ...p }));
    detail.replaceChildren(h("section", { id: "workspace", "data-workspace": id },
      h("h2", {}, `${w.name} `, pill(w.status)), h("p", { class: "muted" }, h("code", {}, w.id)),
      h("div", { class: "row" },
        h("button", { id: "toggle-status", class: w.status === "active" ? "danger" : "", onclick: () => patch({ status: w.status === "active" ? "suspended" : "active" }) },
          w.status === "active" ? "Suspend" : "Activate")),
      h("h2", {}, "Markup and limits"),
      h("form", { class: "inline", id: "limits", onsubmit: (e) => {
        e.preventDefault();
        const limits = {};
        limitIns.forEach((input) => { limits[input.name] = input.value === "" ? null : Number(input.value); });
        return patch({ markupPercentage: markupIn.value === "" ? null : Number(markupIn.value), limits });
      } }, h("label", {}, "Markup %", markupIn), limitIns.map((input) => h("label", {}, input.name, input)), h("button", { type: "submit" }, "Save")),
      h("h2", {}, "Routing strategy"),
      h("form", { class: "inline", onsubmit: async (e) => {
        e.preventDefault(); await api(`/admin/workspaces/${id}/strategy`, { method: "PUT", body: { strategy: strategy.value } }); toast("strategy saved");
      } }, h("label", {}, "Strategy", strategy), h("button", { type: "submit", id: "save-strategy" }, "Save")),
      h("h2", {}, "API keys"),
      h("form", { class: "inline", id: "create-key", onsubmit: async (e) => {
        e.preventDefault();
        const made = await api(`/admin/workspaces/${id}/keys`, { method: "POST", body: { name: keyName.value || null } });
        await open(id);
        detail.querySelector("#new-key").replaceChildren(h("p", {}, "Copy this key now — it is shown only once:"), h("div", { class: "secret", id: "new-key-value" }, made.key));
      } }, h("label", {}, "Name", keyName), h("button", { type: "submit" }, "Create key")),
      shown, h("div", { id: "keys" }, keys),
      h("h2", {}, "Vendors (bring your own key)"),
      h("div", { id: "byok" }, table([["vendor", (p) => p.provider], ["enabled", (p) => (p.enabled ? "yes" : "no")],
        ["own key", (p) => (p.ownKey ? pill("stored") : "—")], ["platform key", (p) => (p.usePlatformKey ? "allowed" : "not used")]], byok)),
      h("p", { class: "muted" }, "Keys are stored encrypted and never shown. Set one with PUT /admin/workspaces/{id}/providers/{vendor}.")));
    detail.scrollIntoView?.({ block: "start" });
  }
  await refresh();
}
