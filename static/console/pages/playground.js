// Playground: type → hear it; speak → live transcript and turn events over /voice/realtime; chat with an LLM.
// Voice routes need a workspace key: the signed-in key, or (signed in as admin) one pasted here for this tab.
import { ApiError, api, request, session } from "../api.js";
import { h, toast, usd } from "../dom.js";

const verdict = (res, extra = "") => {
  const attempts = Number(res.headers.get("x-attempts") || 1);
  return h("p", { class: "verdict" }, "answered by ", h("strong", { class: "vendor" }, res.headers.get("x-provider") || "?"),
    " · cost ", h("strong", { class: "cost" }, usd(Number(res.headers.get("x-cost") || 0))),
    " · ", attempts > 1 ? h("span", { class: "bad failover" }, `failover: ${attempts} attempts`) : "no failover", extra);
};

function vendorSelect(id, health, capability) {
  return h("select", { id }, h("option", { value: "" }, "strategy decides"),
    Object.entries(health).filter(([, v]) => v.capabilities.includes(capability) && v.status !== "unconfigured")
      .map(([name]) => h("option", { value: name }, name)));
}

export default async function playground(root) {
  const keyInput = h("input", { id: "play-key", type: "password", placeholder: "vgw_… workspace key", value: session.playKey, size: 40 });
  const key = () => (session.role === "workspace" ? session.token : keyInput.value.trim());
  keyInput.onchange = () => { session.playKey = keyInput.value.trim(); };
  const health = await api("/voice/providers/health");
  root.append(h("h1", {}, "Playground"),
    session.role === "admin" ? h("section", {}, h("label", {}, "Workspace key used by the playground (create one under Workspaces)", keyInput)) : null);

  // -- text → speech --------------------------------------------------------------------------------------------
  const text = h("textarea", { id: "tts-text" }, "Hello from the Voice AI Gateway.");
  const ttsVendor = vendorSelect("tts-vendor", health, "tts");
  const format = h("select", { id: "tts-format" }, ["mp3", "wav", "opus"].map((f) => h("option", { value: f }, f)));
  const player = h("audio", { id: "tts-audio", controls: true });
  const ttsOut = h("div", { id: "tts-result" });
  const speak = h("button", { id: "tts-speak", onclick: async () => {
    speak.disabled = true;
    try {
      const res = await request("/voice/synthesize", { method: "POST", token: key(), raw: true,
        body: { text: text.value, voiceConfig: { format: format.value }, ...(ttsVendor.value ? { provider: ttsVendor.value } : {}) } });
      player.src = URL.createObjectURL(await res.blob());
      ttsOut.replaceChildren(verdict(res));
      await player.play().catch(() => {});
    } catch (e) { ttsOut.replaceChildren(h("p", { class: "bad" }, e.message)); } finally { speak.disabled = false; }
  } }, "Speak it");
  root.append(h("section", { id: "tts" }, h("h2", {}, "Text to speech"), text,
    h("div", { class: "row" }, h("label", {}, "Vendor", ttsVendor), h("label", {}, "Format", format), speak), player, ttsOut));

  // -- live transcription over a browser WebSocket (subprotocol auth) ----------------------------------------------
  const sttVendor = vendorSelect("stt-vendor", health, "stt");
  const model = h("select", { id: "stt-model" }, ["flux", "nova-3"].map((m) => h("option", { value: m }, m)));
  const finals = h("span", { id: "transcript-final" });
  const interim = h("span", { id: "transcript-interim", class: "muted" });
  const events = h("div", { id: "rt-events", class: "events" });
  const state = h("span", { id: "rt-state", class: "muted" }, "idle");
  const start = h("button", { id: "rt-start" }, "Start talking");
  const stop = h("button", { id: "rt-stop", class: "secondary", disabled: true }, "Stop");
  let live = null;
  const log = (line, cls = "") => events.prepend(h("div", { class: cls }, line));
  start.onclick = async () => {
    start.disabled = true;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const q = new URLSearchParams({ model: model.value, encoding: "linear16", sample_rate: "16000", ...(sttVendor.value ? { provider: sttVendor.value } : {}) });
    const ws = new WebSocket(`${scheme}://${location.host}/voice/realtime?${q}`, [`vgw-key.${key()}`]);
    ws.binaryType = "arraybuffer";
    live = { ws };
    ws.onmessage = (m) => {
      if (typeof m.data !== "string") return;
      const e = JSON.parse(m.data);
      if (e.type === "transcript") {
        if (e.is_final) { finals.textContent = `${finals.textContent} ${e.text}`.trim(); interim.textContent = ""; } else interim.textContent = ` ${e.text}`;
        if (e.is_final) log(`transcript (${e.provider}): ${e.text}`);
      } else if (e.type === "turn") {
        if (e.transcript && e.event !== "EndOfTurn") interim.textContent = ` ${e.transcript}`;  // the final text comes as a transcript event
        log(`turn ${e.turn_index ?? ""} ${e.event}: ${e.transcript || ""}`, "turn");
      } else if (e.type === "provider_switch") log(`failover: ${e.from} → ${e.to} (replayed ${e.replayed_seconds}s)`, "bad failover");
      else if (e.type === "session_end") log(`session ended: ${e.duration}s, cost ${usd(Number(e.cost || 0))}`, "session-end");
      else if (e.type === "error") log(`error: ${e.error?.type}: ${e.error?.message}`, "bad");
      else log(JSON.stringify(e));
    };
    ws.onclose = (c) => { state.textContent = `closed (${c.code})`; cleanup(); };
    ws.onopen = async () => {
      state.textContent = "listening";
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
        const ctx = new AudioContext({ sampleRate: 16000 });
        const source = ctx.createMediaStreamSource(stream);
        const proc = ctx.createScriptProcessor(2048, 1, 1);
        proc.onaudioprocess = (ev) => {
          const f = ev.inputBuffer.getChannelData(0);
          const pcm = new Int16Array(f.length);
          for (let i = 0; i < f.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(f[i] * 32768)));
          if (ws.readyState === WebSocket.OPEN) ws.send(pcm.buffer);
        };
        source.connect(proc); proc.connect(ctx.destination);
        Object.assign(live, { stream, ctx, proc });
        stop.disabled = false;
      } catch (err) { log(`microphone: ${err.message}`, "bad"); ws.close(); }
    };
  };
  function cleanup() {
    if (!live) return;
    live.proc?.disconnect(); live.ctx?.close(); live.stream?.getTracks().forEach((t) => t.stop());
    live = null; start.disabled = false; stop.disabled = true;
  }
  stop.onclick = () => {
    if (live?.ws.readyState === WebSocket.OPEN) live.ws.send(JSON.stringify({ type: "CloseStream" }));
    live?.proc?.disconnect(); live?.stream?.getTracks().forEach((t) => t.stop());
    stop.disabled = true; state.textContent = "closing";
  };
  root.append(h("section", { id: "realtime" }, h("h2", {}, "Speak → live transcript"),
    h("div", { class: "row" }, h("label", {}, "Vendor", sttVendor), h("label", {}, "Model", model), start, stop, state),
    h("div", { class: "transcript", id: "transcript" }, finals, interim), h("h2", {}, "Events"), events));

  // -- chat -----------------------------------------------------------------------------------------------------
  const prompt = h("textarea", { id: "chat-prompt" }, "Say hello in five words.");
  const llmVendor = vendorSelect("llm-vendor", health, "llm");
  const answer = h("div", { id: "chat-result" });
  const send = h("button", { id: "chat-send", onclick: async () => {
    send.disabled = true;
    try {
      const res = await request("/llm/generate", { method: "POST", token: key(), raw: true,
        body: { messages: [{ role: "user", content: prompt.value }], ...(llmVendor.value ? { provider: llmVendor.value } : {}) } });
      const data = await res.json();
      answer.replaceChildren(h("pre", { id: "chat-text" }, data.text), verdict(res));
    } catch (e) { answer.replaceChildren(h("p", { class: "bad" }, e instanceof ApiError ? `${e.type}: ${e.message}` : e.message)); } finally { send.disabled = false; }
  } }, "Send");
  root.append(h("section", { id: "chat" }, h("h2", {}, "Chat"), prompt, h("div", { class: "row" }, h("label", {}, "Vendor", llmVendor), send), answer));
  if (session.role === "admin" && !key()) toast("Paste a workspace key to use the playground");
}
