// The alarm panel: the list with its clocks, the offer to a ready agent, one alarm's ladder.
import { api, config, connect, duration, el, pct, showError, t, toast } from "./common.js";

const $ = (id) => document.getElementById(id);
const state = { alarms: [], current: null, detail: null, offered: null, offeredAtList: 0 };
const canKpi = ["supervisor", "admin", "officer"].includes((config.user || {}).role);

// --- the list ------------------------------------------------------------------------------

// An alarm's clock runs from the moment it was raised, whoever holds it: taking it never resets it.
function clockOf(a) {
  return duration(a.received_at);
}

function renderList() {
  const body = $("alarm-rows");
  body.replaceChildren();
  if (!state.alarms.length) body.append(el("tr", {}, el("td", { colspan: 6 }, t("alarm.none"))));
  for (const a of state.alarms) {
    const waiting = a.status === "waiting";
    body.append(el("tr", { class: waiting ? "state-on_call" : "", "data-alarm": a.id },
      el("td", {}, el("span", { class: `badge ${a.priority <= 1 ? "state-on_call" : a.priority <= 2 ? "state-paused" : ""}` },
        t(`alarm.type.${a.alarm_type}`)), a.signal_count > 1 ? ` ×${a.signal_count}` : ""),
      el("td", {}, a.unbound ? t("alarm.unbound") : a.elder_name || "—"),
      el("td", {}, t(`alarm.status.${a.status}`), a.active ? "" : ` (${t("alarm.restored")})`),
      el("td", { class: "clock", "data-since": a.received_at }, clockOf(a)),
      el("td", {}, a.handler || ""),
      el("td", {},
        waiting ? el("button", { class: "small primary", onclick: () => take(a.id) }, t("alarm.take")) : "",
        el("button", { class: "small", onclick: () => open(a.id) }, t("alarm.open")))));
  }
}

// Lists are numbered as they are asked for: an answer older than one already shown is dropped,
// and only a list asked for after an offer arrived may withdraw it (one asked for just before the
// alarm was raised does not hold it yet).
const lists = { asked: 0, shown: 0 };

async function loadList() {
  const ticket = ++lists.asked;
  try {
    const data = await api("GET", "/api/alarms");
    if (ticket < lists.shown) return;
    lists.shown = ticket;
    state.alarms = data.alarms;
    renderList();
    const stillWaiting = state.alarms.some((a) => a.id === state.offered && a.status === "waiting");
    if (state.offered && ticket > state.offeredAtList && !stillWaiting) hideOffer();
  } catch (err) { showError(err); }
  if (canKpi) loadKpi();
}

async function loadKpi() {
  try {
    const k = await api("GET", "/api/alarms/kpi");
    $("kpi-counted").textContent = String(k.counted);
    for (const w of k.answered_within) {
      const box = $(`kpi-${w.seconds}`);
      if (!box) continue;
      $(`kpi-${w.seconds}-share`).textContent = pct(w.share);
      $(`kpi-${w.seconds}-target`).textContent = pct(w.target);
      box.className = `tile ${w.met === null ? "level-none" : w.met ? "level-green" : "level-red"}`;
    }
    const secs = (v) => (v === null || v === undefined ? "—" : `${Math.round(v)} ${t("common.seconds")}`);
    $("kpi-first").textContent = secs(k.time_to_first_action.median_s);
    $("kpi-site").textContent = secs(k.time_to_on_site.median_s);
  } catch (err) { /* supervisors only; the list works without */ }
}

setInterval(() => document.querySelectorAll("[data-since]").forEach((n) => { n.textContent = duration(n.dataset.since); }), 1000);

// --- the offer -------------------------------------------------------------------------------

// The alarm reserved for this desk (from the stream, or from the snapshot after a reload).
function offer(env) {
  showOffer(env.data || {});
}

function showOffer(d) {
  state.offered = d.alarm_id;
  state.offerId = d.offer_id;
  state.offeredAtList = lists.asked;
  $("offer-type").textContent = t(`alarm.type.${d.alarm_type}`);
  $("offer-elder").textContent = d.unbound ? t("alarm.unbound") : "";
  $("offer-clock").dataset.since = d.received_at;
  $("offer").hidden = false;
  document.title = t("alarm.offer");
}

function hideOffer() {
  $("offer").hidden = true;
  state.offered = null;
  state.offerId = null;
  document.title = t("alarm.title");
}

function offerEnded(env) {
  const d = env.data || {};
  if (d.offer_id !== state.offerId) return;
  hideOffer();
  if (d.outcome === "lapsed") toast(t("offer.lapsed"), "error");
}

function fromSnapshot(snap) {
  const held = (snap && snap.alarm_desk) || {};
  if (held.offer) showOffer(held.offer);
  else if (state.offered) hideOffer();
}

$("offer-take").addEventListener("click", () => state.offered && take(state.offered));

// --- commands --------------------------------------------------------------------------------

let taking = null;
async function take(id, takeOver = false) {
  if (taking === id) return; // a second press while the first is on its way never dials again
  taking = id;
  try {
    const res = await api("POST", `/api/alarms/${id}/take`, { take_over: takeOver });
    if (state.offered === id) hideOffer();
    if (res.paused && res.paused.ok) toast(t("alarm.paused"));
    if (res.call_back) toast(res.call_back.ok ? `${t("alarm.call_back")} ${res.call_back.dialled}` : res.call_back.message, res.call_back.ok ? "info" : "error");
    await open(id);
    loadList();
  } catch (err) { showError(err); loadList(); } finally { taking = null; }
}

async function post(path, body, done) {
  if (!state.current) return;
  try {
    const res = await api("POST", `/api/alarms/${state.current}/${path}`, body);
    if (done) done(res);
    await open(state.current);
  } catch (err) { showError(err); }
}

function dial(step, contactId = null) {
  post("dial", { step, contact_id: contactId }, (res) => toast(res.ok ? `${t("alarm.dialled")} ${res.dialled}` : res.message, res.ok ? "info" : "error"));
}

// --- one alarm -------------------------------------------------------------------------------

// What the agent revealed stays revealed while the same alarm is re-drawn (every event re-draws it).
const revealed = { alarm: null, values: {} };

function revealKey(body) { return `${body.field}:${body.contact_id || ""}`; }

function reveal(body, target) {
  const known = revealed.alarm === state.current ? revealed.values[revealKey(body)] : undefined;
  if (known !== undefined) { target.textContent = known; return ""; }
  return el("button", { class: "small", onclick: async () => {
    if (!window.confirm(t("alarm.reveal_confirm"))) return;
    try {
      const alarm = state.current;
      const res = await api("POST", `/api/alarms/${alarm}/reveal`, body);
      const v = res.value;
      const text = typeof v === "string" ? v : Object.entries(v).filter(([, x]) => x && x.length)
        .map(([k, x]) => `${k}: ${Array.isArray(x) ? x.join("、") : x}`).join("; ") || t("alarm.health_none");
      if (revealed.alarm !== alarm) { revealed.alarm = alarm; revealed.values = {}; }
      revealed.values[revealKey(body)] = text;
      if (alarm === state.current) target.textContent = text;
    } catch (err) { showError(err); }
  } }, t("alarm.reveal"));
}

function renderElder(d) {
  const p = d.elder;
  const box = $("d-elder");
  if (!p) { box.replaceChildren(); return; }
  box.replaceChildren(
    el("h3", { class: "elder-name", "data-testid": "alarm-elder" }, p.name),
    el("div", { class: "fields" },
      el("div", { class: "field" }, el("span", { class: "label" }, t("pop.age")), el("span", { class: "value" }, String(p.age))),
      el("div", { class: "field" }, el("span", { class: "label" }, t("pop.address")), el("span", { class: "value" }, p.address)),
      el("div", { class: "field" }, el("span", { class: "label" }, t("pop.living")), el("span", { class: "value" }, p.living_arrangement_label || "")),
      el("div", { class: "field" }, el("span", { class: "label" }, t("pop.phones")),
        el("span", { class: "value" }, (p.phones || []).map((x) => `${x.masked} ${x.kind_label || ""}`).join("、")))),
    el("div", { class: "risks" }, (p.risk_flags || []).map((f) => el("span", { class: "risk" }, f.label))));
  const health = $("d-health");
  const text = el("span", {}, p.has_health_notes
    ? Object.entries(p.health_masked).filter(([, v]) => v).map(([k, v]) => `${k}: ${v}`).join("; ")
    : t("alarm.health_none"));
  health.replaceChildren(text, p.has_health_notes ? reveal({ field: "health" }, text) : "");
}

function renderContacts(d) {
  const ladder = d.ladder;
  $("d-door").hidden = !ladder.door_must_open;
  const phones = Object.fromEntries(((d.elder || {}).contacts || []).map((c) => [c.id, c.phone_masked]));
  $("d-contacts").replaceChildren(...ladder.contacts.map((c) => {
    const num = el("span", {}, phones[c.id] || "");
    return el("li", {}, `${c.priority}. ${c.name} (${c.relation}) `, num, c.holds_key ? el("strong", { class: "key-holder" }, ` 【${t("alarm.key")}】`) : "",
      c.last_result ? ` · ${t(`alarm.result.${c.last_result}`)}` : "", " ",
      el("button", { class: "small primary", onclick: () => dial("call_contact", c.id) }, t("alarm.dial")), " ",
      reveal({ field: "contact_phone", contact_id: c.id }, num));
  }));
  $("step-contact").replaceChildren(el("option", { value: "" }, ""), ...ladder.contacts.map((c) => el("option", { value: c.id }, c.name)));
}

// A call placed and not yet answered keeps its rung current: its buttons record how it went.
function resultButtons(r) {
  return ["reached", "no_answer", "busy"].map((result) => el("button", {
    class: `small ${result === "reached" ? "primary" : ""}`, "data-result": result,
    onclick: () => post("steps", { step: r.dialled_step, result, contact_id: r.dialled_contact_id || undefined }),
  }, t(`alarm.result.${result}`)));
}

function renderLadder(d) {
  const l = d.ladder;
  $("d-ladder").replaceChildren(...l.rungs.map((r) => el("li", { class: r.rung === l.current ? "current" : "", "data-rung": r.rung, "data-state": r.state },
    el("strong", {}, t(`alarm.rung.${r.rung}`)), ` · ${t(`alarm.rung.${r.state}`)} `,
    ...(r.state === "dialling" ? resultButtons(r) : r.buttons.filter((b) => b !== "call_contact").map((b) => {
      if (b === "dispatch_provider") return el("button", { class: "small", onclick: dispatch }, t("alarm.step.dispatch_provider"));
      if (b === "on_site") return el("button", { class: "small", onclick: onSite }, t("alarm.step.on_site"));
      return el("button", { class: `small ${r.rung === l.current ? "primary" : ""}`, onclick: () => dial(b) }, t(`alarm.step.${b}`));
    })))));
}

// The emergency order nobody within reach took: the choices, one click each.
function renderDecision(d) {
  const x = d.dispatch_issue;
  $("d-decision").hidden = !x;
  if (!x) return;
  $("d-decision-what").textContent = `${x.label} · ${duration(x.since)}`;
  const km = (p) => (p.distance_km === null || p.distance_km === undefined ? t("alarm.decision.unknown_km") : p.distance_km);
  $("d-decision-choices").replaceChildren(
    ...x.providers.map((p) => el("button", { class: "small", onclick: () => post("dispatch-wider", { provider_id: p.provider_id }) },
      t("alarm.decision.send", { name: p.name, km: km(p) }) + (p.beyond_radius ? ` · ${t("alarm.decision.beyond")}` : ""))),
    el("button", { class: "small primary", onclick: () => dial("call_120") }, t("alarm.decision.call_120")),
    ...x.key_holders.map((c) => el("button", { class: "small", onclick: () => dial("call_contact", c.contact_id) },
      t("alarm.decision.key", { name: c.name, relation: c.relation }))));
}

function renderSteps(d) {
  $("d-steps").replaceChildren(...d.steps.map((s) => el("li", {},
    `${(s.at || "").replace("T", " ").slice(0, 19)} ${t(`alarm.step.${s.step}`)} · ${t(`alarm.result.${s.result}`)} · ${s.actor}`,
    s.note ? ` — ${s.note}` : "", s.detail && s.detail.order_no ? ` [${s.detail.order_no}]` : "")));
}

function renderDetail(d) {
  state.detail = d;
  $("detail-empty").hidden = true;
  $("detail").hidden = false;
  $("d-type").textContent = t(`alarm.type.${d.alarm_type}`);
  $("d-type").className = `badge ${d.priority <= 1 ? "state-on_call" : "state-paused"}`;
  $("d-status").textContent = t(`alarm.status.${d.status}`) + (d.outcome ? ` · ${t(`alarm.outcome.${d.outcome}`)}` : "");
  $("d-received").textContent = (d.received_at || "").replace("T", " ").slice(0, 19);
  $("d-clock").dataset.since = d.received_at;
  $("d-clock").textContent = duration(d.received_at);
  $("d-restored").hidden = d.active;
  $("d-unbound").hidden = !d.unbound;
  $("d-take").hidden = d.status !== "waiting";
  const over = $("d-take-over");
  if (over) over.hidden = d.status !== "handling" || d.handler_user_id === (config.user || {}).id;
  const pos = d.position;
  $("d-position").textContent = pos
    ? `${pos.latitude.toFixed(5)}, ${pos.longitude.toFixed(5)}${pos.accuracy_m ? ` (${t("alarm.accuracy")} ${Math.round(pos.accuracy_m)} m)` : ""} · ${t(`alarm.source.${pos.source}`)}`
    : t("alarm.position_none");
  const dev = d.device;
  $("d-device").textContent = dev
    ? `${dev.type_label} ${dev.serial} · ${t("alarm.battery")} ${dev.battery_pct ?? "—"}% · ${t("alarm.heartbeat")} ${(dev.last_heartbeat_at || "—").replace("T", " ").slice(0, 19)}`
    : "";
  $("d-notified").hidden = !d.family_notified;
  renderElder(d);
  renderContacts(d);
  renderLadder(d);
  renderDecision(d);
  renderSteps(d);
  const closed = d.status === "closed";
  for (const id of ["step-form", "close-form", "d-dispatch", "d-notify"]) $(id).hidden = closed;
}

async function open(id) {
  state.current = id;
  try {
    const data = await api("GET", `/api/alarms/${id}`);
    renderDetail(data.alarm);
  } catch (err) { showError(err); }
}

// Somebody on site is the provider's own check-in; recorded by hand only with who says so.
function onSite() {
  const note = window.prompt(t("alarm.on_site_reason"));
  if (note && note.trim()) post("steps", { step: "on_site", result: "done", note: note.trim() });
}

async function dispatch() {
  post("dispatch", { note: "" }, (res) => toast(res.detail && res.detail.provider ? `${res.detail.order_no} → ${res.detail.provider}` : res.detail.order_no));
}

$("d-take").addEventListener("click", () => state.current && take(state.current));
const overButton = $("d-take-over");
if (overButton) overButton.addEventListener("click", () => state.current && take(state.current, true));
$("d-dispatch").addEventListener("click", dispatch);
$("d-notify").addEventListener("click", () => post("notify-family", { note: "" }, (res) => toast(`${t("alarm.notified")} (${res.sent})`)));

$("step-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const form = Object.fromEntries(new FormData(e.target));
  const body = { step: form.step, result: form.result, note: form.note || "" };
  if (form.contact_id) body.contact_id = Number(form.contact_id);
  post("steps", body, () => e.target.reset());
});

$("close-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const form = Object.fromEntries(new FormData(e.target));
  post("close", { outcome: form.outcome, note: form.note || "" }, () => { toast(t("alarm.closed")); e.target.reset(); loadList(); });
});

// --- the stream ------------------------------------------------------------------------------

function prompt(env) {
  const d = env.data || {};
  const text = t(`alarm.prompt.${d.level}`, { id: d.alarm_id, rung: t(`alarm.rung.${d.rung}`) });
  $("prompts").prepend(el("p", { class: "alert", onclick: () => open(d.alarm_id) }, text));
  toast(text, "error");
}

let pending = null;
function refreshSoon() {
  if (pending) return;
  pending = setTimeout(() => {
    pending = null;
    loadList();
    if (state.current) open(state.current);
  }, 200);
}

connect("/agent", {
  onSnapshot: (snap) => { fromSnapshot(snap); loadList(); },
  on: {
    alarm_offered: (env) => { offer(env); refreshSoon(); },
    alarm_offer_ended: (env) => { offerEnded(env); refreshSoon(); },
    alarm_changed: refreshSoon,
    alarm_prompt: prompt,
    alarm_dispatch_decision: (env) => { toast(t("alarm.decision"), "error"); refreshSoon(); if ((env.data || {}).alarm_id) open(env.data.alarm_id); },
  },
});
loadList();

// Opened from the agent's desk (the offer there, F4): show that alarm at once.
const asked = Number(new URLSearchParams(window.location.search).get("alarm"));
if (asked) open(asked);
