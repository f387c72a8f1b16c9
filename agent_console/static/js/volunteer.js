// The volunteer's phone page: hours and their movements, activities to join and the check-in
// with the phone's position, hours given to family or spent on a family member's service.
// Live on /volunteer: hours confirmed by the organiser and new activities appear by themselves.
import { api, connect, el, showError, t, toast } from "./common.js";

const $ = (id) => document.getElementById(id);

function render(p) {
  if (!p || p.error) { if (p) toast(p.error.message, "error"); return; }
  $("vol-name").textContent = `${t("vol.title")} · ${p.volunteer.name}`;
  $("balance").textContent = p.balance;
  $("cap").textContent = t("vol.cap", { cap: p.cap });
  $("statement").replaceChildren(...p.statement.map((e) => el("li", {},
    el("div", { class: "line1" }, el("span", {}, `${e.at} ${e.kind_label}`), el("span", {}, `${Number(e.amount) > 0 ? "+" : ""}${e.amount}`)),
    el("p", { class: "muted" }, `${e.memo} · ${t("vol.balance")} ${e.balance}`))));
  $("no-activities").hidden = p.activities.length > 0;
  $("activities").replaceChildren(...p.activities.map((a) => {
    const su = a.signup;
    const actions = el("div", { class: "pair" });
    if (!su && a.status === "published") actions.append(el("button", { class: "primary", "data-testid": `join-${a.id}`, onclick: () => act(`/api/volunteer/activities/${a.id}/sign-up`, {}, t("vol.joined")) }, t("vol.join")));
    if (su && su.status === "signed_up") {
      actions.append(el("button", { class: "primary", "data-testid": `check-in-${a.id}`, onclick: () => checkIn(a.id) }, t("vol.check_in")),
        el("button", { onclick: () => act(`/api/volunteer/activities/${a.id}/cancel`, {}, t("vol.cancelled")) }, t("vol.cancel")));
    }
    return el("li", { "data-activity": a.id },
      el("div", { class: "line1" }, el("span", {}, a.title), el("span", { "data-testid": `activity-state-${a.id}` }, su ? su.status_label : `${a.taken}/${a.places}`)),
      el("p", {}, `${a.starts_at}-${a.ends_at} · ${a.site_name} · ${a.hours} ${t("vol.h")}${su && su.hours ? ` · ${t("vol.earned", { h: su.hours })}` : ""}`),
      actions);
  }));
  $("family").replaceChildren(...p.family.map((f) => el("li", {}, `${f.relation} ${f.name} · ${f.balance} ${t("vol.h")}`)));
  $("give-to").replaceChildren(...p.family.map((f) => el("option", { value: f.elder_id }, `${f.relation} ${f.name}`)));
  $("give-form").hidden = p.family.length === 0;
}

async function act(url, payload, done) {
  try { render(await api("POST", url, payload)); toast(done); } catch (err) { showError(err); }
}

function checkIn(activityId) {
  if (!navigator.geolocation) { toast(t("vol.no_position"), "error"); return; }
  navigator.geolocation.getCurrentPosition(
    (pos) => act(`/api/volunteer/activities/${activityId}/check-in`, { latitude: pos.coords.latitude, longitude: pos.coords.longitude }, t("vol.checked_in")),
    () => toast(t("vol.no_position"), "error"),
    { enableHighAccuracy: true, timeout: 15000 },
  );
}

$("give-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  await act("/api/volunteer/transfer", { elder_id: Number(f.get("elder_id")), hours: String(f.get("hours")).trim(), key: `give-${Date.now()}` }, t("vol.given"));
  e.target.hours.value = "";
});
$("btn-redeem").addEventListener("click", async () => {
  const f = new FormData($("give-form"));
  try {
    const res = await api("POST", "/api/volunteer/redeem", { elder_id: Number(f.get("elder_id")), service_type_code: f.get("service_type_code"),
      hours: String(f.get("hours")).trim(), key: `redeem-${Date.now()}` });
    render(res.page);
    toast(t("vol.redeemed", { order_no: res.order_no, hours: res.hours }));
  } catch (err) { showError(err); }
});

const socket = connect("/volunteer", { onSnapshot: render, on: { volunteer_event: () => socket.refresh() } });
