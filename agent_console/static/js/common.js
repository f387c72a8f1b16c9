// Shared by every console page: messages, the CSRF-protected API, the Socket.IO connection.
import { io } from "/static/vendor/socket.io.esm.min.js";

const catalogue = JSON.parse(document.getElementById("i18n").textContent);
export const config = JSON.parse(document.getElementById("page-config").textContent);

export function t(key, values = {}) {
  let text = catalogue[key] ?? key;
  for (const [k, v] of Object.entries(values)) text = text.replaceAll(`{${k}}`, v);
  return text;
}

export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = `toast ${kind}`;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, kind === "error" ? 8000 : 4000);
}

export async function api(method, url, body) {
  const options = { method, headers: { "X-CSRF-Token": config.csrf, Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  let data = {};
  try { data = await response.json(); } catch { data = {}; }
  if (response.status === 401) { window.location.href = "/login"; }
  if (!response.ok) {
    const err = new Error(data.message || `${response.status}`);
    err.code = data.code;
    throw err;
  }
  return data;
}

export function showError(err) { toast(err.message || t("common.error"), "error"); }

// Connects to a namespace: the server sends a snapshot on every (re)connect, then events.
export function connect(namespace, { onSnapshot, on = {} }) {
  const conn = document.getElementById("conn");
  const socket = io(namespace, { transports: ["websocket"], withCredentials: true });
  const refresh = () => socket.emit("snapshot", {}, (ack) => { if (ack && ack.ok) onSnapshot(ack.snapshot); });
  socket.on("connect", () => { conn.textContent = t("conn.online"); conn.className = "conn ok"; });
  socket.on("disconnect", () => { conn.textContent = t("conn.offline"); conn.className = "conn bad"; });
  socket.on("connect_error", (err) => {
    conn.textContent = err.message || t("conn.offline");
    conn.className = "conn bad";
    if (err.data && (err.data.code === "not_authenticated" || err.data.code === "session_expired")) {
      socket.disconnect();
      window.location.href = "/login";
    }
  });
  socket.on("snapshot", onSnapshot);
  socket.on("resync", () => { refresh(); toast(t("conn.resync")); });
  socket.on("session_ended", () => { toast(t("conn.ended"), "error"); socket.disconnect(); window.location.href = "/login"; });
  for (const [event, fn] of Object.entries(on)) socket.on(event, fn);
  socket.refresh = refresh;
  return socket;
}

export function duration(sinceIso, now = Date.now()) {
  if (!sinceIso) return "—";
  const s = Math.max(0, Math.floor((now - Date.parse(sinceIso)) / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(sec).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

// Dates and times are the hotline's (Beijing's by default), whatever zone the browser is in.
const zone = config.timezone || "Asia/Shanghai";
const dayFormat = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" });
const partsFormat = new Intl.DateTimeFormat("en-GB", {
  timeZone: zone, month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

// The hotline's calendar date (YYYY-MM-DD) of an instant, today by default.
export function hotlineDate(at = new Date()) { return dayFormat.format(at); }

function parts(at) {
  return Object.fromEntries(partsFormat.formatToParts(at).map((p) => [p.type, p.value]));
}

// "HH:MM:SS" in the hotline's zone.
export function clockTime(at = new Date()) {
  const p = parts(at);
  return `${p.hour}:${p.minute}:${p.second}`;
}

// "M月D日 HH:MM" in the hotline's zone.
export function monthDayTime(iso) {
  if (!iso) return "—";
  const p = parts(new Date(iso));
  return `${Number(p.month)}月${Number(p.day)}日 ${p.hour}:${p.minute}`;
}

export function pct(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}
