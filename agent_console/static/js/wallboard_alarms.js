// The wallboard's alarm queue: every waiting alarm with its age (from the moment it was raised),
// whom it is offered to and how often an offer lapsed; a supervisor assigns it to a desk or
// takes it. A lapsed offer is announced at once.
import { api, duration, el, showError, t, toast } from "./common.js";

const $ = (id) => document.getElementById(id);
const canAssign = () => $("alarm-queue-rows").dataset.assign === "1";

function stateLabel(d) {
  return `${t(`state.${d.state}`)}${d.reason ? ` · ${t(`pause.${d.reason}`)}` : ""}`;
}

function assignCell(a, desks) {
  if (!canAssign()) return "";
  const pick = el("select", { "aria-label": t("aq.assign_to") },
    ...desks.map((d) => el("option", { value: d.user_id }, `${d.name} (${stateLabel(d)})`)));
  return el("span", {}, pick, " ",
    el("button", { class: "small", onclick: () => assign(a.alarm_id, Number(pick.value)) }, t("aq.assign")), " ",
    el("button", { class: "small primary", onclick: () => take(a.alarm_id) }, t("aq.take")));
}

// The dispatch board: emergency orders nobody within reach took, waiting for a person's decision.
function renderDispatchBoard(rows) {
  const body = $("dispatch-rows");
  if (!rows.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 6 }, t("db.none"))));
    return;
  }
  body.replaceChildren(...rows.map((a) => el("tr", { class: "level-red", "data-alarm": a.alarm_id },
    el("td", {}, t(`alarm.type.${a.alarm_type}`)),
    el("td", {}, a.elder_name || "—"),
    el("td", {}, `${a.label}${a.order_no ? ` (${a.order_no})` : ""}`),
    el("td", { class: "dur", "data-since": a.since }, duration(a.since)),
    el("td", {}, a.handler || "—"),
    el("td", {}, el("a", { class: "button small primary", href: `/alarms?alarm=${a.alarm_id}` }, t("db.decide"))))));
}

export function renderAlarmQueue(board) {
  const body = $("alarm-queue-rows");
  if (!board) return;
  renderDispatchBoard(board.dispatch || []);
  const alarms = board.alarms || [];
  if (!alarms.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 6 }, t("aq.none"))));
    return;
  }
  body.replaceChildren(...alarms.map((a) => el("tr", { class: a.priority <= 1 ? "level-red" : "level-amber", "data-alarm": a.alarm_id },
    el("td", {}, t(`alarm.type.${a.alarm_type}`)),
    el("td", {}, a.unbound ? t("offer.unbound") : a.elder_name || "—"),
    el("td", { class: "dur", "data-since": a.received_at }, duration(a.received_at)),
    el("td", {}, a.offered_to || t("aq.nobody_ready")),
    el("td", {}, a.lapsed ? t("aq.lapsed", { n: a.lapsed }) : ""),
    el("td", {}, assignCell(a, board.desks || [])))));
}

async function assign(alarmId, userId) {
  try {
    const res = await api("POST", `/api/alarms/${alarmId}/assign`, { user_id: userId });
    toast(t("aq.assigned", { agent: res.agent }));
  } catch (err) { showError(err); }
}

async function take(alarmId) {
  try {
    await api("POST", `/api/alarms/${alarmId}/take`, {});
    window.location.href = `/alarms?alarm=${alarmId}`;
  } catch (err) { showError(err); }
}

export function announceLapse(env) {
  const d = env.data || {};
  const text = t("aq.lapse_alert", { id: d.alarm_id, agent: d.agent_name, seconds: Math.round(d.waited_s || 0) });
  $("alerts").prepend(el("p", { class: "alert" }, text));
  toast(text, "error");
}

export function announceDispatchDecision(env) {
  const d = env.data || {};
  const text = t("db.alert", { id: d.alarm_id });
  $("alerts").prepend(el("p", { class: "alert" }, text));
  toast(text, "error");
}
