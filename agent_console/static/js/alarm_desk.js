// What an agent's desk holds of the alarm queue: the alarm reserved for it (a red band with the
// alarm's own clock and the time left to take it; F4 takes it) and the alarms it is handling.
// Shown from the snapshot on every (re)connect and reload, then kept current by the stream.
import { api, duration, el, t, toast } from "./common.js";

const $ = (id) => document.getElementById(id);
const desk = { offer: null, handling: [], taking: false };

function secondsLeft(iso) {
  return Math.max(0, Math.ceil((new Date(iso).getTime() - Date.now()) / 1000));
}

function showOffer(d) {
  desk.offer = d;
  $("alarm-offer-type").textContent = t(`alarm.type.${d.alarm_type}`);
  $("alarm-offer-elder").textContent = d.unbound ? t("offer.unbound") : "";
  // the alarm's own clock: from the moment it was raised, never from the offer
  $("alarm-offer-clock").dataset.since = d.received_at;
  $("alarm-offer-left").dataset.until = d.expires_at;
  tick();
  $("alarm-offer").hidden = false;
  document.body.classList.add("alarm-offered");
  document.title = t("offer.title");
}

function hideOffer() {
  desk.offer = null;
  $("alarm-offer").hidden = true;
  document.body.classList.remove("alarm-offered");
  document.title = t("app.title");
}

function renderHandling() {
  const box = $("alarm-handling");
  box.hidden = !desk.handling.length;
  $("alarm-handling-list").replaceChildren(...desk.handling.map((a) => el("li", {},
    el("a", { href: `/alarms?alarm=${a.alarm_id}` }, `${t(`alarm.type.${a.alarm_type}`)} #${a.alarm_id}`),
    ` · ${t("offer.since_raised")} `, el("span", { class: "badge", "data-since": a.received_at }, duration(a.received_at)))));
}

function tick() {
  if (!desk.offer) return;
  $("alarm-offer-clock").textContent = duration($("alarm-offer-clock").dataset.since);
  $("alarm-offer-left").textContent = t("offer.left", { seconds: secondsLeft($("alarm-offer-left").dataset.until) });
}

export function fromSnapshot(held) {
  const h = held || {};
  if (h.offer) showOffer(h.offer);
  else if (desk.offer) hideOffer();
  desk.handling = h.handling || [];
  renderHandling();
}

function offered(env) { showOffer(env.data || {}); }

function offerEnded(env) {
  const d = env.data || {};
  if (!desk.offer || d.offer_id !== desk.offer.offer_id) return;
  hideOffer();
  if (d.outcome === "lapsed") toast(t("offer.lapsed"), "error");
  else if (d.outcome === "withdrawn") toast(t("offer.gone"));
}

function changed(env) {
  const d = env.data || {};
  if (desk.offer && d.alarm_id === desk.offer.alarm_id && ["AlarmTaken", "AlarmClosed"].includes(env.type)) hideOffer();
  if (env.type === "AlarmClosed" && desk.handling.some((a) => a.alarm_id === d.alarm_id)) {
    desk.handling = desk.handling.filter((a) => a.alarm_id !== d.alarm_id);
    renderHandling();
  }
}

export async function takeOffer() {
  const offer = desk.offer;
  if (!offer || desk.taking) return; // one take per offer: a second press never dials again
  desk.taking = true;
  try {
    await api("POST", `/api/alarms/${offer.alarm_id}/take`, {});
    window.location.href = `/alarms?alarm=${offer.alarm_id}`;
  } catch (err) {
    hideOffer();
    toast(err.code === "alarm_taken" ? t("offer.gone") : err.message, "error");
  } finally {
    desk.taking = false;
  }
}

// A rung of an alarm in this desk's hands ran out of time: the desk says so, not only /alarms.
function overdue(env) {
  const d = env.data || {};
  toast(t(`alarm.prompt.${d.level}`, { id: d.alarm_id, rung: t(`alarm.rung.${d.rung}`) }), "error");
}

function dispatchDecision(env) {
  toast(t("db.alert", { id: (env.data || {}).alarm_id }), "error");
}

export const handlers = {
  alarm_offered: offered,
  alarm_offer_ended: offerEnded,
  alarm_changed: changed,
  alarm_dispatch_decision: dispatchDecision,
  alarm_prompt: overdue,
};
export function holdsOffer() { return Boolean(desk.offer); }

setInterval(() => {
  tick();
  document.querySelectorAll("#alarm-handling [data-since]").forEach((n) => { n.textContent = duration(n.dataset.since); });
}, 1000);
$("alarm-offer-take").addEventListener("click", takeOffer);
