// A site's desk: today's day care roster, checking elders in and out by ID card or the family's
// code, the capacity against the places, enrolling an elder, and the month's statistics.
// The desk follows its sites live: every check-in or check-out at the site (this desk's or a
// colleague's) arrives as an event and the roster is read again; a reconnect sends a snapshot.
import { api, connect, el, hotlineDate, pct, showError, t, toast } from "./common.js";

const $ = (id) => document.getElementById(id);
let sites = [];
let current = null;
let roster = null;

function siteEntry() { return sites.find((s) => s.site.id === current); }

function applySnapshot(snap) {
  if (!snap || snap.error) { if (snap) toast(snap.error.message, "error"); return; }
  sites = snap.sites || [];
  $("desk-none").hidden = sites.length > 0;
  $("desk").hidden = sites.length === 0;
  if (!sites.length) return;
  if (!sites.some((s) => s.site.id === current)) current = sites[0].site.id;
  $("site-choice").replaceChildren(...sites.map((s) => el("option", { value: s.site.id }, s.site.name)));
  $("site-choice").value = String(current);
  renderRoster(siteEntry().roster);
}

function renderRoster(r) {
  roster = r;
  $("daycare-card").hidden = !r;
  if (!r) return;
  $("present-count").textContent = String(r.present);
  $("capacity-part").hidden = !r.capacity;
  $("capacity-count").textContent = r.capacity ? String(r.capacity) : "—";
  $("expected-count").textContent = String(r.expected);
  $("left-count").textContent = String(r.left);
  $("roster-day").textContent = r.day;
  const band = $("capacity-band");
  band.hidden = !r.warning;
  band.className = `band ${r.warning || ""}`;
  if (r.warning) band.textContent = t(`desk.${r.warning}`, { present: r.present, capacity: r.capacity });
  const body = $("roster-rows");
  if (!r.rows.length) { body.replaceChildren(el("tr", {}, el("td", { colspan: 8 }, t("desk.roster.empty")))); return; }
  body.replaceChildren(...r.rows.map((row) => el("tr", { "data-elder": row.elder_id, "data-state": row.state },
    el("td", {}, row.name), el("td", {}, row.id_number), el("td", {}, `${row.age} ${t("common.years")}`),
    el("td", {}, el("span", { class: `badge ${row.state}`, "data-testid": `state-${row.elder_id}` }, row.state_label)),
    el("td", {}, row.checked_in_at || "—"), el("td", {}, row.checked_out_at || "—"), el("td", {}, row.check_in_method || "—"),
    el("td", {}, row.state === "expected" && row.enrolled
      ? el("button", { class: "small", onclick: () => checkIn({ elder_id: row.elder_id }, row.name) }, t("desk.check_in"))
      : row.state === "present"
        ? el("button", { class: "small", onclick: () => checkOut({ elder_id: row.elder_id }, row.name) }, t("desk.check_out"))
        : ""))));
}

async function reload() {
  if (!current) return;
  try { renderRoster(await api("GET", `/api/site-desk/${current}/roster`)); } catch (err) { showError(err); }
}

// One box for both: eight digits are a family's code, otherwise an ID number from the reader.
function identity() {
  const raw = $("identity").value.trim();
  if (!raw) return null;
  return /^[0-9]{8}$/.test(raw) ? { family_code: raw } : { id_number: raw };
}

function nameOf(res) {
  const row = (res.roster.rows || []).find((r) => r.elder_id === res.elder_id);
  return row ? row.name : "";
}

async function checkIn(who, label, reason) {
  const payload = { ...who };
  if (reason) payload.over_capacity_reason = reason;
  try {
    const res = await api("POST", `/api/site-desk/${current}/check-in`, payload);
    renderRoster(res.roster);
    toast(t("desk.checked_in", { name: label || nameOf(res) }));
    $("identity").value = "";
    $("over").hidden = true;
    $("over-reason").value = "";
    $("identity").focus();
  } catch (err) {
    if (err.code === "daycare_full") {
      $("over").hidden = false;
      $("over").dataset.who = JSON.stringify(who);
      $("over-reason").focus();
    }
    showError(err);
  }
}

async function checkOut(who, label) {
  try {
    const res = await api("POST", `/api/site-desk/${current}/check-out`, who);
    renderRoster(res.roster);
    toast(t("desk.checked_out", { name: label || nameOf(res) }));
    $("identity").value = "";
    $("identity").focus();
  } catch (err) { showError(err); }
}

$("identity-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const who = identity();
  if (who) checkIn(who);
});
$("btn-check-out").addEventListener("click", () => { const who = identity(); if (who) checkOut(who); });
$("btn-over").addEventListener("click", () => {
  const reason = $("over-reason").value.trim();
  if (!reason) { $("over-reason").focus(); return; }
  checkIn(JSON.parse($("over").dataset.who || "{}"), "", reason);
});
$("site-choice").addEventListener("change", (e) => { current = Number(e.target.value); renderRoster(siteEntry().roster); reload(); loadStats(); });

$("enrol-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    const res = await api("POST", `/api/site-desk/${current}/enrolments`, { id_number: String(form.get("id_number")).trim(), weekdays: form.getAll("weekdays") });
    const box = $("enrolled");
    box.replaceChildren(el("p", {}, t("desk.enrol.code", { name: res.name })), el("p", { class: "code-once", "data-testid": "family-code" }, res.family_code),
      el("p", {}, res.sms_to ? t("desk.enrol.sms", { phone: res.sms_to }) : t("desk.enrol.no_sms")));
    box.hidden = false;
    e.target.reset();
    reload();
  } catch (err) { showError(err); }
});

async function loadStats() {
  if (!current) return;
  const month = $("stats-month").value || hotlineDate().slice(0, 7);
  $("stats-month").value = month;
  try {
    const s = await api("GET", `/api/site-desk/${current}/statistics?month=${month}`);
    const facts = [["sites.stats.person_days", s.person_days], ["sites.stats.elders", s.elders], ["sites.stats.average", s.average_present],
      ["sites.stats.peak", s.peak_present], ["sites.stats.utilisation", pct(s.utilisation)], ["sites.stats.open_days", s.open_days],
      ["sites.stats.hours", s.hours], ["sites.stats.over", s.over_capacity_check_ins]];
    $("stats-site").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, String(v ?? "—"))]));
    $("stats-rows").replaceChildren(...s.per_elder.map((r) => el("tr", {}, el("td", {}, r.name), el("td", {}, String(r.days)),
      el("td", {}, String(r.expected_days)), el("td", {}, pct(r.attendance_rate)), el("td", {}, String(r.hours)), el("td", {}, String(r.without_check_out)))));
  } catch (err) { if (err.code !== "not_day_care") showError(err); }
}
$("btn-stats").addEventListener("click", loadStats);

connect("/site", {
  onSnapshot: (snap) => { applySnapshot(snap); loadStats(); },
  on: {
    site_event: (env) => {
      if (!env.data || env.data.site_id !== current) return;
      if (env.type === "DayCareCapacityWarning") toast(t(`desk.${env.data.level}`, env.data), "error");
      reload();
    },
  },
});
