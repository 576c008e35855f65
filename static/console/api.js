// The console's only way to the gateway: same-origin fetch with the signed-in bearer token.
const TOKEN = "vgw.console.token";
const PLAY_KEY = "vgw.console.playKey";

export class ApiError extends Error {
  constructor(status, type, message) { super(message); this.status = status; this.type = type; }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  set token(v) { v ? sessionStorage.setItem(TOKEN, v) : sessionStorage.removeItem(TOKEN); },
  get playKey() { return sessionStorage.getItem(PLAY_KEY) || ""; },
  set playKey(v) { v ? sessionStorage.setItem(PLAY_KEY, v) : sessionStorage.removeItem(PLAY_KEY); },
  role: null, workspaceId: null,
};

export async function request(path, { method = "GET", body, token, raw = false, headers = {} } = {}) {
  const init = { method, headers: { Authorization: `Bearer ${token || session.token}`, ...headers } };
  if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  const res = await fetch(path, init);
  if (raw && res.ok) return res;
  if (!res.ok) {
    const data = await res.json().catch(() => ({}));
    throw new ApiError(res.status, data.error?.type || "error", data.error?.message || res.statusText);
  }
  return res.status === 204 ? null : res.json();
}

export const api = (path, opts) => request(path, opts);
export const query = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
};

// Who is this token? The admin token reads /admin/workspaces; a workspace key is refused there (403) but reads /usage.
export async function identify(token) {
  try {
    await request("/admin/workspaces", { token });
    return { role: "admin", workspaceId: null };
  } catch (e) {
    if (e.status !== 403) throw e;
  }
  const usage = await request("/usage", { token });
  return { role: "workspace", workspaceId: usage.workspaceId };
}
