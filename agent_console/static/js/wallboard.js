// Supervisor's wallboard: snapshot on (re)connect, then events trigger a fresh snapshot.
import { api, clockTime, connect, duration, el, monthDayTime, pct, showError, t, toast } from "./common.js";
import { announceDispatchDecision, announceLapse, renderAlarmQueue } from "./wallboard_alarms.js";

const $ = (id) => document.getElementById(id);
let agents = [];

function levelClass(level) { return `level-${level || "none"}`; }

function render(snap) {
  if (!snap || snap.error) { if (snap) toast(snap.error.message, "error"); return; }
  const k = snap.kpis || {};
  const th = snap.thresholds, levels = snap.levels || {};
  const secs = (v) => (v === null || v === undefined ? "—" : `${Number(v).toFixed(1)} ${t("common.seconds")}`);
  $("answer-rate").textContent = pct(k.answer_rate);
  $("tile-answer-rate").className = `tile ${levelClass(levels.answer_rate || snap.answer_rate_level)}`;
  $("target").textContent = pct(th.answer_rate_target);
  // every tile against its target: service level, ASA and abandonment too
  $("service-level").textContent = pct(k.service_level);
  $("tile-service-level").className = `tile ${levelClass(levels.service_level)}`;
  $("service-level-target").textContent = t("wall.sl_target", { target: pct(th.service_level_target), s: th.service_level_s });
  $("asa").textContent = secs(k.asa_s);
  $("tile-asa").className = `tile ${levelClass(levels.asa)}`;
  $("asa-target").textContent = t("wall.at_most", { target: secs(th.asa_target_s) });
  $("abandon-rate").textContent = pct(k.abandon_rate);
  $("tile-abandon-rate").className = `tile ${levelClass(levels.abandon_rate)}`;
  $("abandon-rate-target").textContent = t("wall.at_most", { target: pct(th.abandon_rate_target) });
  $("counts").textContent = `${k.offered ?? 0} / ${k.answered ?? 0} / ${k.abandoned ?? 0}`;
  $("queue-rows").replaceChildren(...(snap.queues || []).map((q) => el("tr", { class: levelClass(q.level) },
    el("td", {}, q.label || q.queue), el("td", { "data-testid": `waiting-${q.queue}` }, String(q.waiting_count ?? 0)),
    el("td", {}, q.longest_wait_s ? `${Math.round(q.longest_wait_s)} ${t("common.seconds")}` : "—"))));
  $("alerts").replaceChildren(...(snap.alerts || []).map((a) => el("p", { class: "alert" },
    t("wall.alert", { queue: a.label || a.queue, seconds: Math.round(a.longest_wait_s) }))));
  if (snap.orders) { orders = snap.orders; renderOrders(); }
  renderAlarmKpi(snap.alarm_kpi);
  renderChatKpi(snap.chat_kpi);
  if (snap.chat_queue) renderChatQueue(snap.chat_queue);
  renderAlarmQueue(snap.alarm_queue);
  agents = snap.agents || [];
  renderAgents();
  $("updated").textContent = clockTime(new Date(snap.server_time));
}

// The region's orders that moved last: the snapshot's list, then each step as it happens.
const ORDERS_SHOWN = 10;
let orders = [];
function renderOrders() {
  $("order-rows").replaceChildren(...(orders.length ? orders.map((o) => el("tr", { "data-order-no": o.order_no },
    el("td", {}, o.order_no), el("td", {}, o.service_type_name || o.service_type_code),
    el("td", { "data-testid": `order-status-${o.order_no}` }, o.status_label || o.status), el("td", {}, monthDayTime(o.updated_at))))
    : [el("tr", {}, el("td", { colspan: 4 }, t("wall.orders_none")))]));
}

function onOrderChanged(o) {
  orders = [{ ...(orders.find((x) => x.id === o.id) || {}), ...o }, ...orders.filter((x) => x.id !== o.id)].slice(0, ORDERS_SHOWN);
  renderOrders();
}

function seconds(v) {
  return v === null || v === undefined ? "—" : `${Math.round(v)} ${t("common.seconds")}`;
}

// Alarms run their own clock: the share taken within 60 s and 180 s against the telecare targets.
function renderAlarmKpi(k) {
  if (!k) return;
  $("akpi-counted").textContent = String(k.counted);
  $("akpi-waiting").textContent = String(k.waiting_now);
  for (const w of k.answered_within || []) {
    const tile = $(`akpi-${w.seconds}`);
    if (!tile) continue;
    $(`akpi-${w.seconds}-share`).textContent = pct(w.share);
    $(`akpi-${w.seconds}-target`).textContent = pct(w.target);
    tile.className = `tile ${levelClass(w.met === null ? "none" : w.met ? "green" : "red")}`;
  }
  $("akpi-first").textContent = seconds(k.time_to_first_action.median_s);
  $("akpi-site").textContent = seconds(k.time_to_on_site.median_s);
}

// The online channel on its own: conversations offered, answered within the README's target,
// withdrawn unanswered (never part of the voice answer rate).
function renderChatKpi(k) {
  if (!k) return;
  $("ckpi-waiting").textContent = String(k.waiting_now);
  $("ckpi-offered").textContent = `${k.offered} / ${k.answered}`;
  $("ckpi-within-label").textContent = t("ckpi.within", { seconds: k.target_s });
  $("ckpi-within").textContent = `${k.answered_within_target} (${pct(k.within_target_rate)})`;
  $("ckpi-abandoned").textContent = `${k.abandoned} (${pct(k.abandon_rate)})`;
  $("ckpi-asa").textContent = seconds(k.time_to_answer.mean_s);
}

function renderChatQueue(rows) {
  $("chat-queue-rows").replaceChildren(...(rows.length ? rows.map((c) => el("tr", { "data-chat": c.chat_id },
    el("td", {}, c.elder_name), el("td", {}, c.sender_relation),
    el("td", { "data-since": c.opened_at, class: "dur" }, duration(c.opened_at)),
    el("td", {}, c.offered_to || "—"), el("td", {}, String(c.lapsed))))
    : [el("tr", {}, el("td", { colspan: 5 }, t("cq.none")))]));
}

function renderAgents() {
  const monitor = $("agent-rows").dataset.monitor === "1";
  $("agent-rows").replaceChildren(...agents.map((a) => el("tr", { "data-interface": a.interface, "data-state": a.state },
    el("td", {}, `${a.member_name || a.interface} (${a.interface})`), el("td", {}, el("span", { class: `badge state-${a.state}` }, t(`state.${a.state}`))),
    el("td", {}, a.reason ? t(`pause.${a.reason}`) : ""), el("td", { class: "dur", "data-since": a.since || "" }, duration(a.since)),
    monitor ? el("td", { class: "monitor" }, a.state === "on_call" ? monitorButtons(a) : "") : "")));
}

// Listen, whisper and barge need a call to join: only an agent on a call offers them.
function monitorButtons(a) {
  return ["listen", "whisper", "barge"].map((mode) => el("button", { class: "small", "data-mode": mode, onclick: () => spy(a.interface, mode) }, t(`wall.${mode}`)));
}

setInterval(() => document.querySelectorAll("td.dur").forEach((td) => { td.textContent = duration(td.dataset.since); }), 1000);

async function spy(agentInterface, mode) {
  try { await api("POST", "/api/monitor", { agent_interface: agentInterface, mode }); toast(t("action.sent")); } catch (err) { showError(err); }
}

let pending = null;
const socket = connect("/supervisor", {
  onSnapshot: render,
  on: {
    alarm_escalated: announceLapse,
    alarm_dispatch_decision: announceDispatchDecision,
    order_changed: onOrderChanged,
    event: () => { if (!pending) pending = setTimeout(() => { pending = null; socket.refresh(); }, 300); },
  },
});
