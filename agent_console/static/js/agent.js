// The agent's console: state with duration, screen pop, orders, wrap-up, recalls.
import { api, config, connect, duration, el, showError, t, toast } from "./common.js";

const $ = (id) => document.getElementById(id);
let state = { agent: null, wrapup: null, call: null, elderId: null };

function renderState() {
  const a = state.agent;
  const code = a ? a.state : "unknown";
  $("agent-state").textContent = t(`state.${code}`);
  $("agent-state").className = `badge state-${code}`;
  $("agent-reason").textContent = a && a.reason ? `(${t(`pause.${a.reason}`)})` : "";
  $("wrapup").hidden = !state.wrapup;
  $("btn-ready").disabled = Boolean(state.wrapup);
}

setInterval(() => { $("agent-duration").textContent = duration(state.agent && state.agent.since); }, 1000);

function renderRecalls(recalls) {
  const body = $("recall-rows");
  body.replaceChildren();
  if (!recalls.length) body.append(el("tr", {}, el("td", { colspan: 4 }, t("recall.none"))));
  for (const r of recalls) {
    body.append(el("tr", {},
      el("td", {}, r.number || ""), el("td", {}, t(`recall.reason.${r.reason}`)),
      el("td", {}, (r.opened_at || "").replace("T", " ").slice(0, 19)),
      el("td", {}, el("button", { onclick: () => command(`/api/recalls/${r.id}/callback`, {}) }, t("recall.callback")))));
  }
}

function applySnapshot(snap) {
  if (!snap || snap.error) { if (snap) toast(snap.error.message, "error"); return; }
  state.agent = snap.agent;
  state.wrapup = snap.wrapup;
  renderState();
  renderRecalls(snap.recalls || []);
}

async function command(url, body = {}) {
  try { await api("POST", url, body); toast(t("action.sent")); } catch (err) { showError(err); }
}

// --- screen pop -----------------------------------------------------------------------------

function field(label, value, extra) {
  return el("div", { class: "field" }, el("span", { class: "label" }, label), el("span", { class: "value" }, value ?? "—"), extra || "");
}

function revealButton(name, target) {
  return el("button", { class: "small", onclick: async () => {
    if (!window.confirm(t("pop.reveal_confirm"))) return;
    try {
      const res = await api("POST", `/api/elders/${state.elderId}/reveal`, { field: name });
      target.textContent = Array.isArray(res.value) ? res.value.join(", ") : res.value;
    } catch (err) { showError(err); }
  } }, t("pop.reveal"));
}

function list(items, fmt) {
  if (!items || !items.length) return el("p", {}, t("pop.none"));
  return el("ul", {}, items.map((i) => el("li", {}, fmt(i))));
}

function renderProfile(result) {
  const box = $("pop-profile");
  $("pop-empty").hidden = true;
  $("register-form").hidden = true;
  $("pop-ambiguous").hidden = true;
  const caller = $("pop-caller");
  caller.hidden = !result.caller;
  if (result.caller && result.caller.kind === "family") caller.textContent = t("pop.family", result.caller);
  if (result.caller && result.caller.kind === "device") caller.textContent = t("pop.device");
  const p = result.profile;
  state.elderId = p.id ?? p.elder_id;
  const idValue = el("span", {}, p.id_number_masked || p.id_number || "—");
  box.replaceChildren(
    el("h3", { class: "elder-name", "data-testid": "elder-name" }, p.name || ""),
    el("div", { class: "fields" },
      field(t("pop.age"), p.age), field(t("pop.sex"), p.sex_label || p.sex),
      field(t("pop.id_number"), idValue, revealButton("id_number", idValue)),
      field(t("pop.address"), p.address), field(t("pop.region"), p.region_name || p.region_full_name || p.region_code),
      field(t("pop.ability"), p.ability_grade), field(t("pop.living"), p.living_arrangement_label || (p.living_arrangement ? t(`living.${p.living_arrangement}`) : "")),
      field(t("pop.categories"), (p.categories || []).map((c) => c.label || c.category || c).join("、"))),
    el("h4", {}, t("pop.risks")),
    el("div", { class: "risks" }, (p.risk_flags || []).map((f) => el("span", { class: "risk" }, f.label || f))),
    el("h4", {}, t("pop.phones")),
    list(p.phones, (ph) => `${ph.masked} ${ph.kind_label || ph.kind || ""}`),
    el("h4", {}, t("pop.contacts")),
    list(p.contacts, (c) => `${c.name} (${c.relation}) ${c.phone_masked || c.phone || ""}${c.holds_key ? " 【" + t("pop.key_holder") + "】" : ""}`),
    el("h4", {}, t("pop.devices")),
    list(p.devices, (d) => `${d.type_label || d.device_type} · ${t("pop.device_status")}: ${d.status_label || d.status} · ${t("pop.heartbeat")}: ${(d.last_heartbeat_at || "—").replace("T", " ").slice(0, 19)}`),
    el("h4", {}, t("pop.open_orders")),
    list(result.open_orders || p.open_orders, (o) => `${o.order_no} ${o.service_type_code} ${t(`urgency.${o.urgency}`)} ${o.status}`),
    el("h4", {}, t("pop.recent_calls")),
    list(result.recent_calls || p.recent_calls, (c) => `${(c.started_at || "").replace("T", " ").slice(0, 16)} ${t(`outcome.${c.outcome}`)} ${c.intent ? t(`intent.${c.intent}`) : ""} ${c.agent || ""}`),
  );
  box.hidden = false;
  $("order-card").hidden = false;
  state.popShownAt = Date.now();
  box.dataset.shownAt = String(state.popShownAt);
}

function showUnknown(number) {
  $("pop-empty").hidden = true;
  $("pop-profile").hidden = true;
  $("pop-caller").hidden = true;
  $("order-card").hidden = true;
  $("register-form").hidden = false;
  $("register-phone").value = number || "";
}

function screenPop(payload) {
  const started = performance.now();
  socket.emit("screen_pop", payload, (ack) => {
    if (!ack || !ack.ok) { showError({ message: ack ? ack.message : t("common.error") }); return; }
    if (ack.unknown) showUnknown(payload.caller_number);
    else if (ack.ambiguous) {
      $("pop-ambiguous").hidden = false;
      $("pop-candidates").replaceChildren(...ack.candidates.map((c) => el("li", {},
        el("button", { onclick: () => screenPop({ elder_id: c.elder_id, linkedid: payload.linkedid }) }, c.name))));
    } else renderProfile(ack);
    document.body.dataset.popMs = String(Math.round(performance.now() - started));
  });
}

function onRinging(call) {
  state.call = call;
  $("call-none").hidden = true;
  $("call-info").hidden = false;
  $("call-status").textContent = t("call.ringing");
  $("call-number").textContent = call.caller_number || "";
  $("call-queue").textContent = call.queue || "";
  $("call-intent").textContent = call.intent ? t(`intent.${call.intent}`) : "—";
  $("call-priority").textContent = call.priority ?? "";
  $("orders-opened").replaceChildren();
  screenPop({ elder_id: call.elder_id || null, caller_number: call.caller_number || null, linkedid: call.linkedid });
}

function onAgentEvent(env) {
  const d = env.data || {};
  if (env.type === "AgentStateChanged") {
    state.agent = { ...(state.agent || {}), ...d, since: d.since || env.occurred_at };
    renderState();
  }
  if (env.type === "CallAnswered") $("call-status").textContent = t("state.on_call");
  if (env.type === "CallEnded" || env.type === "CallAbandoned") {
    $("call-info").hidden = true;
    $("call-none").hidden = false;
  }
}

const socket = connect("/agent", {
  onSnapshot: applySnapshot,
  on: {
    call_ringing: onRinging,
    agent_event: onAgentEvent,
    wrapup_required: (d) => { state.wrapup = d; renderState(); },
    recall_changed: () => socket.refresh(),
  },
});

async function loadServiceTypes() {
  try {
    const data = await api("GET", "/api/catalogue/service-types");
    $("order-type").replaceChildren(...data.service_types.map((s) => el("option", { value: s.code }, s.name)));
  } catch (err) { /* the catalogue may not be installed yet */ }
}
loadServiceTypes();

$("btn-queue-login").addEventListener("click", () => command("/api/agent/queue-login"));
$("btn-queue-logout").addEventListener("click", () => command("/api/agent/queue-logout"));
$("btn-ready").addEventListener("click", () => command("/api/agent/ready"));
$("btn-pause").addEventListener("click", () => command("/api/agent/pause", { reason: $("pause-reason").value }));
$("btn-hangup").addEventListener("click", () => state.call && command(`/api/calls/${state.call.linkedid}/hangup`));
$("btn-transfer").addEventListener("click", () => state.call && command(`/api/calls/${state.call.linkedid}/transfer`, { target: $("transfer-target").value }));
document.addEventListener("keydown", (e) => {
  if (e.key === "F2") { e.preventDefault(); $("btn-ready").click(); }
  if (e.key === "F3") { e.preventDefault(); $("btn-pause").click(); }
});

$("wrapup-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    const res = await api("POST", "/api/agent/disposition", { disposition: form.get("disposition"), notes: $("call-notes").value });
    state.wrapup = res.wrapup_pending ? state.wrapup : null;
    $("call-notes").value = "";
    renderState();
  } catch (err) { showError(err); }
});

$("order-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = Object.fromEntries(new FormData(e.target));
  form.linkedid = state.call ? state.call.linkedid : null;
  if (!form.address) delete form.address;
  try {
    const res = await api("POST", `/api/elders/${state.elderId}/orders`, form);
    $("orders-opened").append(el("li", {}, t("order.created", { order_no: res.order.order_no })));
    toast(t("order.created", { order_no: res.order.order_no }));
    e.target.reset();
  } catch (err) { showError(err); }
});

$("register-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const res = await api("POST", "/api/elders", Object.fromEntries(new FormData(e.target)));
    screenPop({ elder_id: res.elder_id, linkedid: state.call && state.call.linkedid });
  } catch (err) { showError(err); }
});

window.hotlineConsole = { config, state };
