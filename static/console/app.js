// The console: hash routes (#/overview, ...) rendered by one module per page; sign-in keeps the token in this tab only.
import { identify, session } from "./api.js";
import { h, toast } from "./dom.js";
import logs from "./pages/logs.js";
import overview from "./pages/overview.js";
import playground from "./pages/playground.js";
import usage from "./pages/usage.js";
import vendors from "./pages/vendors.js";
import workspaces from "./pages/workspaces.js";

const PAGES = { overview, vendors, workspaces, usage, logs, playground };
const view = document.getElementById("view");

function signInForm(message) {
  const input = h("input", { type: "password", id: "token", placeholder: "admin token or vgw_… key", autocomplete: "off" });
  const error = h("p", { class: "bad", id: "signin-error" }, message || "");
  const form = h("form", {
    class: "signin section", id: "signin",
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        const who = await identify(input.value.trim());
        session.token = input.value.trim();
        Object.assign(session, who);
        start();
      } catch (e) {
        error.textContent = e.status === 401 ? "That token is not valid." : `Sign-in failed: ${e.message}`;
      }
    },
  }, h("h1", {}, "Sign in"),
    h("p", { class: "muted" }, "The admin token sees everything; a workspace API key sees its own workspace."),
    h("label", {}, "Token", input), h("button", { type: "submit" }, "Sign in"), error);
  document.getElementById("nav").hidden = true;
  document.getElementById("signout").hidden = true;
  document.getElementById("who").textContent = "";
  view.replaceChildren(form);
  input.focus();
}

async function render() {
  const name = (location.hash.replace(/^#\//, "") || "overview").split("?")[0];
  const page = PAGES[name] || overview;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.getAttribute("href") === `#/${name}`);
  const root = h("div", { id: `page-${name}`, "data-page": name });
  view.replaceChildren(root);
  try {
    await page(root, session);
    root.dataset.ready = "true";  // browser tests wait for this
  } catch (e) {
    if (e.status === 401) { session.token = null; signInForm("Your session ended: sign in again."); return; }
    root.append(h("p", { class: "bad" }, `Could not load this page: ${e.message}`));
    root.dataset.ready = "error";
    toast(e.message, true);
  }
}

async function start() {
  if (!session.token) { signInForm(); return; }
  if (!session.role) {
    try { Object.assign(session, await identify(session.token)); } catch { session.token = null; signInForm(); return; }
  }
  document.getElementById("nav").hidden = false;
  for (const a of document.querySelectorAll("#nav [data-admin]")) a.hidden = session.role !== "admin";
  document.getElementById("who").textContent = session.role === "admin" ? "admin" : `workspace ${session.workspaceId}`;
  const out = document.getElementById("signout");
  out.hidden = false;
  out.onclick = () => { session.token = null; session.role = null; session.playKey = null; signInForm(); };
  if (!location.hash) location.hash = "#/overview";
  await render();
}

window.addEventListener("hashchange", () => session.token && session.role && render());
start();
