// The agent's console: state with duration, screen pop with the care processes, orders,
// wrap-up, recalls, and alarms offered to this desk.
import { api, config, connect, duration, el, showError, t, toast } from "./common.js";
import * as alarmDesk from "./alarm_desk.js";
import * as chatDesk from "./chat_desk.js";
import { initRegister, showRegister } from "./register.js";

const $ = (id) => document.getElementById(id);
const QUEUE_NAMES = JSON.parse($("queue-names").textContent);
const queueName = (code) => QUEUE_NAMES[code] || code || "—";
const PRESETS = JSON.parse($("intent-presets").textContent);
let state = { agent: null, wrapup: null, call: null, elderId: null, elderName: "", popSeq: 0, orders: new Map(), presetCode: "", userId: null, myOrders: new Map() };

function renderState() {
  const a = state.agent;
  const code = a ? a.state : "unknown";
  $("agent-state").textContent = t(`state.${code}`);
  $("agent-state").className = `badge state-${code}`;
  $("agent-reason").textContent = a && a.reason ? `(${t(`pause.${a.reason}`)})` : "";
  $("wrapup").hidden = !state.wrapup;
  $("btn-ready").disabled = Boolean(state.wrapup);
  // the result is recorded and the desk still rests after the call: say how to go on
  const resting = a && (a.state === "wrap_up" || (a.state === "paused" && a.reason === "wrap_up"));
  $("next-hint").hidden = Boolean(state.wrapup) || !resting;
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
  state.userId = snap.user ? snap.user.id : null;
  state.myOrders = new Map((snap.my_orders || []).map((o) => [o.id, o]));
  renderMyOrders();
  alarmDesk.fromSnapshot(snap.alarm_desk);
  chatDesk.fromSnapshot(snap.chat_desk);
  reconcileCall(snap.call);
  if (state.elderId) refreshOrders(state.elderId); // events missed while away are in the list
}

// After a (re)connect or a reload: the card shows the call ringing at this desk or on its line,
// and a card for a call that stopped ringing here meanwhile goes.
function reconcileCall(call) {
  if (call) {
    if (!state.call || state.call.linkedid !== call.linkedid) onRinging(call);
    if (call.status === "on_call") markAnswered();
  } else if (state.call && !state.call.answered) {
    clearCall();
  }
}

async function command(url, body = {}) {
  try { await api("POST", url, body); toast(t("action.sent")); } catch (err) {
    showError(err);
    // a wrap-up this screen does not show is open: read the state again, the form appears
    if (err.code === "wrapup_pending") socket.refresh();
  }
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
  state.elderName = p.name || "";
  const idValue = el("span", {}, p.id_number_masked || p.id_number || "—");
  box.replaceChildren(
    el("h3", { class: "elder-name", "data-testid": "elder-name" }, p.name || ""),
    el("div", { class: "fields" },
      field(t("pop.age"), p.age), field(t("pop.sex"), p.sex_label || p.sex),
      field(t("pop.id_number"), idValue, revealButton("id_number", idValue)),
      field(t("pop.address"), p.address), field(t("pop.region"), p.region_name || p.region_full_name || p.region_code),
      field(t("pop.ability"), p.ability_grade ? t(`grade.${p.ability_grade}`) : null), field(t("pop.living"), p.living_arrangement_label || (p.living_arrangement ? t(`living.${p.living_arrangement}`) : "")),
      field(t("pop.categories"), (p.categories || []).map((c) => c.label || c.category || c).join("、"))),
    el("h4", {}, t("pop.risks")),
    el("div", { class: "risks" }, (p.risk_flags || []).map((f) => el("span", { class: "risk" }, f.label || f))),
    el("h4", {}, t("pop.phones")),
    list(p.phones, (ph) => `${ph.masked} ${ph.kind_label || ph.kind || ""}`),
    el("h4", {}, t("pop.contacts")),
    list(p.contacts, (c) => `${c.name} (${c.relation}) ${c.phone_masked || c.phone || ""}${c.holds_key ? " 【" + t("pop.key_holder") + "】" : ""}`),
    el("a", { href: `/elders/${state.elderId}/family`, target: "_blank", rel: "noopener", "data-testid": "pop-family" }, t("pop.family_accounts")),
    el("h4", {}, t("pop.devices")),
    list(p.devices, (d) => `${d.type_label || d.device_type} · ${t("pop.device_status")}: ${d.status_label || d.status} · ${t("pop.heartbeat")}: ${(d.last_heartbeat_at || "—").replace("T", " ").slice(0, 19)}`),
    el("h4", {}, t("pop.open_orders")),
    el("div", { id: "pop-orders", "data-testid": "pop-orders" }),
    el("h4", {}, t("pop.recent_calls")),
    list(result.recent_calls || p.recent_calls, (c) => `${(c.started_at || "").replace("T", " ").slice(0, 16)} ${t(`outcome.${c.outcome}`)} ${c.intent ? t(`intent.${c.intent}`) : ""} ${c.agent || ""}`),
  );
  box.hidden = false;
  state.orders = new Map((result.open_orders || p.open_orders || []).map((o) => [o.id, o]));
  renderOrders();
  presetOrderForm(result.open_orders || []);
  loadSites(state.elderId);
  $("order-card").hidden = false;
  if (state.careFor !== state.elderId) loadCare(state.elderId);
  state.popShownAt = Date.now();
  box.dataset.shownAt = String(state.popShownAt);
}

// The service sites of the elder's 盟市 where the order's service may happen instead of at
// home (a day care centre's bath, a station's clinic), nearest first.
async function loadSites(elderId) {
  const select = $("order-site");
  select.replaceChildren(el("option", { value: "" }, t("order.site.home")));
  try {
    const data = await api("GET", `/api/elders/${elderId}/sites`);
    if (elderId !== state.elderId) return;
    select.append(...data.sites.map((s) => el("option", { value: s.id },
      `${s.name} (${s.kind_label}${s.distance_km !== null ? ` ${s.distance_km} km` : ""})`)));
  } catch (err) { /* the order opens at home */ }
}

// --- care processes from the call: where each stands, and start one in two clicks ---------------

async function loadCare(elderId) {
  state.careFor = elderId;
  const seq = ++state.popSeq;
  $("pop-care").hidden = false;
  $("care-loading").hidden = false;
  $("care-rows").replaceChildren();
  try {
    const data = await api("GET", `/api/elders/${elderId}/care`);
    if (seq !== state.popSeq) return; // another caller popped meanwhile
    $("care-rows").replaceChildren(...data.modules.map((m) => careRow(m, elderId)));
  } catch (err) {
    if (seq !== state.popSeq) return;
    $("care-rows").replaceChildren(el("li", { class: "warn" }, err.message || t("common.error")));
  } finally {
    if (seq === state.popSeq) $("care-loading").hidden = true;
  }
}

function hideCare() {
  state.popSeq += 1; // a care status still on its way is for a pop no longer shown
  state.careFor = null;
  $("pop-care").hidden = true;
}

function careDetail(m) {
  const parts = [];
  if (m.grade_label) parts.push(m.grade_label);
  if (m.next_due_on) parts.push(`${t("care.next_due")} ${m.next_due_on}`);
  if (m.since) parts.push(`${t("care.since")} ${m.since}`);
  if (m.owner) parts.push(m.owner);
  // the booking code is read to the caller: said at the meal point's counter
  for (const u of m.upcoming || []) parts.push(`${u.served_on} ${u.meal} ${u.mode}${u.code ? ` ${t("care.booking_code")} ${u.code}` : ""}`);
  return parts.join(" · ");
}

// Rows are bound to the elder they were read for: the care status may arrive before the pop.
function careRow(m, elderId) {
  const row = el("li", { class: "care-row", "data-process": m.process, "data-state": m.state },
    el("span", { class: "care-label" }, t(`care.${m.process}`)),
    el("span", { class: `badge care-state state-${m.state}`, "data-testid": `care-state-${m.process}` }, m.state_label || m.state),
    el("span", { class: "hint" }, careDetail(m)));
  const actions = el("span", { class: "care-actions" });
  if (m.can_start) actions.append(startButton(m, row, elderId));
  else if (m.why_not) actions.append(el("span", { class: "why-not" }, m.why_not));
  if (m.process === "assessment" && ["agent", "supervisor"].includes((config.user || {}).role)) {
    actions.append(" ", el("a", { class: "button small", href: `/elders/${elderId}/assessment` }, t("care.fill_form")));
  }
  row.append(actions);
  return row;
}

function startButton(m, row, elderId) {
  const action = t(`care.start.${m.process}`);
  const button = el("button", { class: "small primary", "data-testid": `care-start-${m.process}`, onclick: () => {
    // the second click: nothing is started before the agent confirms
    const confirm = el("span", { class: "care-confirm", role: "group" },
      el("strong", {}, t("care.confirm", { name: state.elderName, action })), " ",
      el("button", { class: "small primary", "data-testid": `care-confirm-${m.process}`, onclick: () => startCare(m, row, action, elderId) }, t("care.yes")), " ",
      el("button", { class: "small", onclick: () => { confirm.replaceWith(button); button.focus(); } }, t("care.no")));
    button.replaceWith(confirm);
    confirm.querySelector("button").focus();
  } }, action);
  return button;
}

async function startCare(m, row, action, elderId) {
  try {
    const res = await api("POST", `/api/elders/${elderId}/care/${m.process}`, { linkedid: state.call ? state.call.linkedid : null });
    toast(t("care.started", { action }));
    if (elderId === state.careFor) row.replaceWith(careRow(res.status, elderId));
  } catch (err) {
    showError(err);
    if (elderId === state.careFor) loadCare(elderId);
  }
}

// --- orders: why dispatch chose the provider, and cancelling one ---------------------------------

// The pop's open orders, kept live: each order event of the elder shown arrives here (the
// connection follows that elder), and a reconnect reads the list again.
function renderOrders() {
  const box = $("pop-orders");
  if (!box) return;
  const orders = [...state.orders.values()];
  box.replaceChildren(orders.length ? el("ul", { class: "orders" }, orders.map(orderItem)) : el("p", {}, t("pop.none")));
}

// An order event reaches this desk for the elder on its pop and for the orders it opened.
function onOrderChanged(o) {
  if (state.userId !== null && o.opened_by_user_id === state.userId) {
    state.myOrders.set(o.id, { ...(state.myOrders.get(o.id) || {}), ...o });
    renderMyOrders();
  }
  const opened = document.querySelector(`#orders-opened li[data-order="${o.id}"] .order-text`);
  if (opened) opened.textContent = orderText(o);
  if (o.elder_id !== state.elderId) return;
  if (o.open) state.orders.set(o.id, { ...(state.orders.get(o.id) || {}), ...o });
  else state.orders.delete(o.id);
  renderOrders();
}

// The orders this agent opened, the latest first: each step the provider takes shows here.
const MY_ORDERS_SHOWN = 10;
function renderMyOrders() {
  const rows = [...state.myOrders.values()].sort((a, b) => b.id - a.id).slice(0, MY_ORDERS_SHOWN);
  const body = $("my-order-rows");
  body.replaceChildren(...(rows.length ? rows.map((o) => el("tr", { "data-order-no": o.order_no },
    el("td", {}, o.order_no), el("td", {}, o.service_type_name || o.service_type_code),
    el("td", { "data-testid": `my-order-${o.order_no}` }, o.status_label || o.status)))
    : [el("tr", {}, el("td", { colspan: 3 }, t("myorders.none")))]));
}

function refreshOrders(elderId) {
  socket.emit("elder_orders", { elder_id: elderId }, (ack) => {
    if (!ack || !ack.ok || elderId !== state.elderId) return;
    state.orders = new Map(ack.open_orders.map((o) => [o.id, o]));
    renderOrders();
  });
}

// The order form starts from what the caller asked for: the service chosen in the IVR's menu
// (its draft order on this call), else the IVR's intent; otherwise the agent chooses.
function presetOrderForm(openOrders) {
  const call = state.call;
  const intent = call && call.intent;
  const draft = call && openOrders.find((o) => o.source === "ivr" && o.source_ref === call.linkedid);
  const code = draft ? draft.service_type_code : (PRESETS.service_types[intent] || "");
  const select = $("order-type");
  state.presetCode = code;
  select.value = [...select.options].some((o) => o.value === code) ? code : "";
  $("order-form").elements.urgency.value = PRESETS.emergency.includes(intent) ? "emergency" : "normal";
  const hint = $("order-preset");
  hint.hidden = !code;
  hint.textContent = !code ? "" : draft
    ? t("order.preset_menu", { order_no: draft.order_no })
    : t("order.preset_intent", { intent: t(`intent.${intent}`) });
}

function orderText(o) {
  return `${o.order_no} ${o.service_type_name || o.service_type_code} ${t(`urgency.${o.urgency}`)} ${o.status_label || o.status}`;
}

function orderItem(o) {
  const text = el("span", { class: "order-text" }, orderText(o));
  const detail = el("div", { class: "order-detail", hidden: true });
  const li = el("li", { "data-order": o.id }, text, " ",
    el("button", { class: "small", "aria-expanded": "false", onclick: (e) => toggleDispatch(o, detail, e.target) }, t("order.why")), " ",
    el("button", { class: "small", onclick: () => askCancel(o, detail, text) }, t("order.cancel")),
    detail);
  return li;
}

function fmtAt(iso) { return (iso || "").replace("T", " ").slice(0, 16); }

function explanation(x) {
  const parts = Object.entries(x.parts || {}).map(([k, v]) => `${t(`order.part.${k}`)} ${v}`).join(" · ");
  const where = [
    x.distance_km !== null && x.distance_km !== undefined ? t("order.distance_km", { km: x.distance_km }) : "",
    x.capacity ? t("order.load", { load: x.load, capacity: x.capacity }) : "",
  ].filter(Boolean).join(" · ");
  return [
    el("p", { class: "big" }, t("order.dispatched_to", { provider: x.provider_name, rank: x.rank, score: x.score })),
    el("p", {}, `${t("order.parts")}: ${parts}${where ? ` · ${where}` : ""}`),
    el("h5", {}, t("order.candidates")),
    el("ol", {}, (x.candidates || []).map((c) => el("li", {}, `${c.provider_name} · ${c.score} · ${Object.entries(c.parts || {}).map(([k, v]) => `${t(`order.part.${k}`)} ${v}`).join(" / ")}`))),
    ...((x.excluded || []).length ? [el("h5", {}, t("order.excluded")),
      el("ul", {}, x.excluded.map((e) => el("li", {}, `${e.provider_name}: ${e.label}`)))] : []),
  ];
}

async function toggleDispatch(o, detail, button) {
  if (!detail.hidden && detail.dataset.kind === "why") { detail.hidden = true; button.setAttribute("aria-expanded", "false"); return; }
  try {
    const data = await api("GET", `/api/orders/${o.id}/dispatch`);
    const history = data.history || [];
    detail.dataset.kind = "why";
    detail.replaceChildren(...(history.length ? history.slice().reverse().flatMap((h) => [
      el("p", { class: "hint" }, t("order.dispatch_by", { at: fmtAt(h.at), by: h.by || "", reason: h.reason || "" })),
      ...(h.explanation && h.explanation.provider_name ? explanation(h.explanation) : [el("p", {}, h.provider_name || "")]),
    ]) : [el("p", {}, t("order.not_dispatched"))]));
    detail.hidden = false;
    button.setAttribute("aria-expanded", "true");
  } catch (err) { showError(err); }
}

function askCancel(o, detail, text) {
  const reason = el("input", { maxlength: 2000, "aria-label": t("order.cancel_reason"), placeholder: t("order.cancel_reason") });
  detail.dataset.kind = "cancel";
  detail.replaceChildren(el("label", {}, t("order.cancel_reason"), reason),
    el("button", { class: "small danger", onclick: async () => {
      try {
        const res = await api("POST", `/api/orders/${o.id}/cancel`, { reason: reason.value });
        text.textContent = orderText(res.order);
        detail.hidden = true;
        toast(t("order.cancelled", { order_no: res.order.order_no }));
        if (state.elderId) loadCare(state.elderId); // a cancelled order gives its allowance back
      } catch (err) { showError(err); }
    } }, t("order.cancel_confirm")));
  detail.hidden = false;
  reason.focus();
}

function showUnknown(number) {
  $("pop-empty").hidden = true;
  $("pop-profile").hidden = true;
  hideCare();
  $("pop-caller").hidden = true;
  $("order-card").hidden = true;
  showRegister(number);
}

function screenPop(payload) {
  const started = performance.now();
  state.careFor = null;
  // the care status is read in a request of its own, alongside the pop, so the profile shows first
  if (payload.elder_id) loadCare(payload.elder_id);
  socket.emit("screen_pop", payload, (ack) => {
    // the call stopped ringing here while its pop was on the way: show nothing of it
    if (payload.linkedid && (!state.call || state.call.linkedid !== payload.linkedid)) return;
    if (!ack || !ack.ok) {
      hideCare();
      showError({ message: ack ? ack.message : t("common.error") });
      return;
    }
    if (ack.unknown) showUnknown(payload.caller_number);
    else if (ack.ambiguous) {
      hideCare();
      $("pop-ambiguous").hidden = false;
      $("pop-candidates").replaceChildren(...ack.candidates.map((c) => el("li", {},
        el("button", { onclick: () => screenPop({ elder_id: c.elder_id, linkedid: payload.linkedid }) }, c.name))));
    } else renderProfile(ack);
    document.body.dataset.popMs = String(Math.round(performance.now() - started));
  });
}

function onRinging(call) {
  state.call = { ...call, answered: false };
  state.chatId = null; // the pop is the caller's now: an order comes from the call
  $("call-none").textContent = t("call.none");
  $("call-none").hidden = true;
  $("call-info").hidden = false;
  $("call-status").textContent = t("call.ringing");
  $("call-number").textContent = call.caller_number || "";
  $("call-queue").textContent = queueName(call.queue);
  $("call-intent").textContent = call.intent ? t(`intent.${call.intent}`) : "—";
  $("call-priority").textContent = t(Number(call.priority) > 0 ? "call.priority.high" : "call.priority.normal");
  $("orders-opened").replaceChildren();
  screenPop({ elder_id: call.elder_id || null, caller_number: call.caller_number || null, linkedid: call.linkedid });
}

function onAgentEvent(env) {
  const d = env.data || {};
  if (env.type === "AgentStateChanged") {
    state.agent = { ...(state.agent || {}), ...d, since: d.since || env.occurred_at };
    renderState();
  }
  if (env.type === "CallAnswered" && state.call && d.linkedid === state.call.linkedid) markAnswered();
  if ((env.type === "CallEnded" || env.type === "CallAbandoned") && state.call && d.linkedid === state.call.linkedid) {
    $("call-info").hidden = true;
    $("call-none").hidden = false;
  }
}

// Answered at this desk: the call is the agent's own (orders and care processes attach to it).
function markAnswered() {
  if (!state.call) return;
  state.call.answered = true;
  $("call-status").textContent = t("state.on_call");
}

// The caller no longer rings at this desk (rang out, a colleague answered, the caller hung up):
// the card, the pop and the order form go at once, so nothing is opened on someone else's call.
function onRingEnded(d) {
  if (!state.call || state.call.linkedid !== d.linkedid || state.call.answered) return;
  clearCall(t(`call.ring_ended.${d.reason}`));
}

function clearCall(note) {
  state.call = null;
  state.elderId = null;
  state.elderName = "";
  hideCare();
  $("call-info").hidden = true;
  $("call-none").hidden = false;
  $("call-none").textContent = note || t("call.none");
  $("pop-profile").hidden = true;
  $("pop-profile").replaceChildren();
  $("pop-caller").hidden = true;
  $("pop-ambiguous").hidden = true;
  $("register-form").hidden = true;
  $("pop-empty").hidden = false;
  $("order-card").hidden = true;
  $("orders-opened").replaceChildren();
  state.orders = new Map();
  state.presetCode = "";
}

const socket = connect("/agent", {
  onSnapshot: applySnapshot,
  on: {
    call_ringing: onRinging,
    ring_ended: onRingEnded,
    agent_event: onAgentEvent,
    order_changed: onOrderChanged,
    wrapup_required: (d) => { state.wrapup = d; renderState(); },
    recall_changed: () => socket.refresh(),
    ...alarmDesk.handlers,
    ...chatDesk.handlers,
  },
});

// A conversation taken or chosen pops its elder; orders opened then come from it.
chatDesk.init({
  onPop: (elderId, chatId) => {
    state.chatId = elderId ? chatId : null;
    if (elderId && elderId !== state.elderId) {
      $("orders-opened").replaceChildren();
      screenPop({ elder_id: elderId });
    }
  },
  refresh: () => socket.refresh(),
});

async function loadServiceTypes() {
  try {
    const data = await api("GET", "/api/catalogue/service-types");
    $("order-type").replaceChildren(el("option", { value: "" }, t("order.choose_type")),
      ...data.service_types.map((s) => el("option", { value: s.code }, s.name)));
    $("order-type").value = state.presetCode; // a pop that came first keeps its preset
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
  if (e.key === "F4" && alarmDesk.holdsOffer()) { e.preventDefault(); alarmDesk.takeOffer(); }
});

$("wrapup-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    const res = await api("POST", "/api/agent/disposition", { disposition: form.get("disposition"), notes: $("call-notes").value });
    state.wrapup = res.wrapup_pending ? state.wrapup : null;
    $("call-notes").value = "";
    renderState();
    if (!state.wrapup) { toast(t("wrapup.recorded")); $("btn-ready").focus(); }
  } catch (err) { showError(err); }
});

$("order-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = Object.fromEntries(new FormData(e.target));
  if (state.chatId) form.chat_id = state.chatId;
  else {
    if (state.call && !state.call.answered) { toast(t("order.answer_first"), "error"); return; }
    form.linkedid = state.call ? state.call.linkedid : null;
  }
  if (!form.address) delete form.address;
  if (form.site_id) form.site_id = Number(form.site_id); else delete form.site_id;
  try {
    const res = await api("POST", `/api/elders/${state.elderId}/orders`, form);
    if (res.order.already_open) {
      // this call has that service's order already (a second click): point at it, add nothing
      toast(t("order.already_open", { order_no: res.order.order_no }));
      e.target.reset();
      return;
    }
    const drawn = Number(res.order.allowance || 0) > 0 ? ` · ${t("order.allowance", { amount: res.order.allowance })}` : "";
    const item = orderItem(res.order);
    item.prepend(`${t("order.created", { order_no: res.order.order_no })}${drawn} — `);
    $("orders-opened").append(item);
    toast(t("order.created", { order_no: res.order.order_no }) + drawn);
    if (drawn) loadCare(state.elderId);
    e.target.reset();
  } catch (err) { showError(err); }
});

initRegister((elderId) => screenPop({ elder_id: elderId, linkedid: state.call && state.call.linkedid }));

window.hotlineConsole = { config, state };
