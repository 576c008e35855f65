// Tiny DOM helpers: h("tag", {attrs, onclick}, ...children). Text is always set as text (never innerHTML).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k in el && k !== "list") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export function table(columns, rows, onRow) {
  return h("table", {}, h("thead", {}, h("tr", {}, columns.map(([label]) => h("th", {}, label)))),
    h("tbody", {}, rows.length ? rows.map((r) => h("tr", { class: onRow ? "clickable" : "", onclick: onRow && (() => onRow(r)) },
      columns.map(([, cell]) => h("td", {}, cell(r))))) : h("tr", {}, h("td", { colSpan: columns.length, class: "muted" }, "nothing yet"))));
}

export const pill = (text) => h("span", { class: `pill ${text}` }, text);
export const usd = (v) => (v === null || v === undefined) ? "—" : `$${Number(v).toFixed(v !== 0 && Math.abs(v) < 0.01 ? 6 : 4)}`;
export const ms = (v) => (v === null || v === undefined) ? "—" : `${Math.round(v)} ms`;
export const pct = (v) => `${(100 * (v || 0)).toFixed(1)}%`;
export const when = (epochMs) => epochMs ? new Date(epochMs).toLocaleString() : "—";

export function card(label, value, id) {
  return h("div", { class: "card", "data-metric": id }, h("div", { class: "label" }, label), h("div", { class: "value" }, value));
}

export function toast(text, bad = false) {
  const el = document.getElementById("toast");
  el.textContent = text; el.hidden = false; el.className = bad ? "bad" : "";
  clearTimeout(toast.timer); toast.timer = setTimeout(() => { el.hidden = true; }, 4000);
}

const charts = new WeakMap();
// Chart.js (vendored, global `Chart`): one chart per canvas, replaced on re-render.
export function chart(canvas, config) {
  charts.get(canvas)?.destroy();
  const made = new window.Chart(canvas, { ...config, options: { responsive: true, maintainAspectRatio: false, animation: false, ...(config.options || {}) } });
  charts.set(canvas, made);
  return made;
}
export const chartBox = (id) => h("div", { class: "chart" }, h("canvas", { id }));
