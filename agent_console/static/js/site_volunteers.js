// A site's volunteers: register one after the real-name check (the card seen, the phone's
// texted code), publish activities, confirm the hours of those who checked in, redeem an
// elder's hours. Follows the site's room on /site: sign-ups and confirmations arrive live.
import { api, connect, el, showError, t, toast } from "./common.js";

const $ = (id) => document.getElementById(id);
let current = null;
let verificationId = null;

async function loadActivities() {
  if (!current) return;
  try {
    const data = await api("GET", `/api/site-desk/${current}/activities`);
    $("activities").replaceChildren(...data.activities.map((a) => el("li", { "data-activity": a.id },
      el("div", { class: "line1" }, el("span", {}, `${a.starts_at}-${a.ends_at} ${a.title}`), el("span", {}, `${a.taken}/${a.places} · ${a.hours} ${t("vol.h")}`)),
      el("ul", {}, a.signups.map((su) => el("li", { "data-signup": su.id },
        `${su.volunteer} · ${su.status_label}${su.checked_in_at ? ` · ${t("vol.checked_in_at", { at: su.checked_in_at, m: su.distance_m ?? "—" })}` : ""}${su.hours ? ` · ${su.hours} ${t("vol.h")}` : ""} `,
        su.status === "checked_in" ? el("button", { class: "small primary", "data-testid": `confirm-${su.id}`, onclick: () => confirm(su.id) }, t("sv2.confirm")) : "")))))); 
  } catch (err) { showError(err); }
}

async function loadVolunteers() {
  if (!current) return;
  try {
    const data = await api("GET", `/api/site-desk/${current}/volunteers`);
    $("volunteer-rows").replaceChildren(...data.volunteers.map((v) => el("tr", {}, el("td", {}, v.name), el("td", {}, v.id_number),
      el("td", {}, v.phone), el("td", {}, v.skills.join("、")), el("td", {}, v.balance))));
  } catch (err) { showError(err); }
}

async function confirm(signupId) {
  try { await api("POST", `/api/activity-signups/${signupId}/confirm`, {}); toast(t("sv2.confirmed")); loadActivities(); loadVolunteers(); } catch (err) { showError(err); }
}

$("btn-code").addEventListener("click", async () => {
  const phone = $("register-form").phone.value.trim();
  try {
    const res = await api("POST", `/api/site-desk/${current}/volunteers/code`, { phone });
    verificationId = res.verification_id;
    $("code-sent").textContent = t("sv2.code_sent", { phone: res.sent_to });
  } catch (err) { showError(err); }
});

$("register-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  if (!verificationId) { toast(t("sv2.code_first"), "error"); return; }
  try {
    await api("POST", `/api/site-desk/${current}/volunteers/code/${verificationId}`, { code: String(f.get("code")).trim() });
    const res = await api("POST", `/api/site-desk/${current}/volunteers`, {
      name: f.get("name"), id_number: String(f.get("id_number")).trim(), phone: f.get("phone"), skills: f.getAll("skills"),
      id_card_seen: f.get("id_card_seen") === "on", verification_id: verificationId, username: f.get("username") || null,
    });
    toast(t("sv2.registered", { name: res.volunteer.name }));
    verificationId = null;
    $("code-sent").textContent = "";
    e.target.reset();
    loadVolunteers();
  } catch (err) { showError(err); }
});

$("activity-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  try {
    await api("POST", `/api/site-desk/${current}/activities`, { title: f.get("title"), places: Number(f.get("places")),
      starts_at: f.get("starts_at"), ends_at: f.get("ends_at"), hours: f.get("hours") || null, skill: f.get("skill") || null });
    toast(t("sv2.published"));
    e.target.reset();
    loadActivities();
  } catch (err) { showError(err); }
});

$("redeem-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  try {
    const res = await api("POST", `/api/site-desk/${current}/redeem`, { id_number: String(f.get("id_number")).trim(), service_type_code: f.get("service_type_code"),
      hours: String(f.get("hours")).trim(), key: `desk-${Date.now()}` });
    toast(t("vol.redeemed", { order_no: res.order_no, hours: res.hours }));
    e.target.reset();
  } catch (err) { showError(err); }
});

$("site-choice").addEventListener("change", (e) => { current = Number(e.target.value); loadActivities(); loadVolunteers(); });

connect("/site", {
  onSnapshot: (snap) => {
    if (!snap || snap.error) return;
    const list = snap.sites || [];
    $("desk-none").hidden = list.length > 0;
    if (!list.length) return;
    if (!list.some((x) => x.site.id === current)) current = list[0].site.id;
    $("site-choice").replaceChildren(...list.map((x) => el("option", { value: x.site.id }, x.site.name)));
    $("site-choice").value = String(current);
    loadActivities();
    loadVolunteers();
  },
  on: { site_event: (env) => { if (env.data && env.data.site_id === current) { loadActivities(); loadVolunteers(); } } },
});
