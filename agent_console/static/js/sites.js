// The service-site registry of the user's region: every station, day care centre and meal
// point with its hours, places, services, operator and status; a site's staff and photos; the
// keepers' registration and status changes; the month's day care figures per site.
import { api, el, hotlineDate, pct, showError, t, toast } from "./common.js";

const $ = (id) => document.getElementById(id);
const VOCABULARY = JSON.parse($("vocabulary").textContent);

function hoursText(site) {
  return site.opening_hours.length ? site.opening_hours.map((h) => `${h.label} ${h.opens}-${h.closes}`).join("; ") : "—";
}

async function load(e) {
  if (e) e.preventDefault();
  const query = new URLSearchParams([...new FormData($("filters"))].filter(([, v]) => v)).toString();
  try {
    const data = await api("GET", `/api/sites?${query}`);
    const body = $("site-rows");
    if (!data.sites.length) { body.replaceChildren(el("tr", {}, el("td", { colspan: 8 }, t("sites.none")))); return; }
    body.replaceChildren(...data.sites.map((s) => el("tr", { "data-site": s.id },
      el("td", {}, el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); detail(s.id); } }, s.name)),
      el("td", {}, s.kind_label), el("td", {}, s.address), el("td", {}, hoursText(s)),
      el("td", {}, s.capacity ? String(s.capacity) : "—"), el("td", {}, s.services.map((x) => x.label).join("、") || "—"),
      el("td", {}, s.provider_name || "—"), el("td", {}, `${s.status_label}${s.open_now ? ` · ${t("sites.open_now")}` : ""}`))));
  } catch (err) { showError(err); }
}

let shown = null;
async function detail(id) {
  try {
    const data = await api("GET", `/api/sites/${id}`);
    shown = id;
    const s = data.site;
    $("detail-h").textContent = `${s.name} · ${s.kind_label}`;
    const facts = [["sites.col.address", s.address], ["sites.field.phone", s.phone || "—"], ["sites.col.hours", hoursText(s)],
      ["sites.col.capacity", s.capacity ?? "—"], ["sites.col.services", s.services.map((x) => x.label).join("、") || "—"],
      ["sites.col.operator", s.provider_name || "—"], ["sites.col.status", s.status_reason ? `${s.status_label} (${s.status_reason})` : s.status_label]];
    $("detail-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, String(v))]));
    $("detail-staff").replaceChildren(...(data.staff.length ? data.staff.map((m) => el("li", {},
      `${m.name} · ${m.post_label}${m.manages ? ` · ${t("sites.manager")}` : ""}${m.phone ? ` · ${m.phone}` : ""}`)) : [el("li", {}, t("common.none"))]));
    $("detail-photos").replaceChildren(...data.photos.map((p) => el("img", { src: p.url, alt: p.caption || s.name })));
    $("status-form").hidden = !data.may_keep;
    $("site-detail").hidden = false;
  } catch (err) { showError(err); }
}

$("status-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  try {
    await api("POST", `/api/sites/${shown}/status`, { status: form.get("status"), reason: form.get("reason") });
    toast(t("sites.saved"));
    detail(shown);
    load();
  } catch (err) { showError(err); }
});

const register = $("register-form");
if (register) {
  register.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(register);
    const num = (k) => (f.get(k) === "" || f.get(k) === null ? null : Number(f.get(k)));
    const hours = Object.fromEntries(Object.keys(VOCABULARY.weekdays).map((d) => [d, [f.get("opens"), f.get("closes")]]));
    const kind = f.get("kind");
    const payload = { kind, name: f.get("name"), region_code: f.get("region_code"), address: f.get("address"),
      latitude: num("latitude"), longitude: num("longitude"), phone: f.get("phone") || null, capacity: num("capacity"),
      opening_hours: hours, services: f.getAll("services") };
    if (kind === "meal_point") { payload.meal_times = { lunch: f.get("lunch") }; payload.delivers = f.get("delivers") === "on"; }
    try {
      const res = await api("POST", "/api/sites", payload);
      toast(t("sites.registered", { name: res.site.name }));
      register.reset();
      load();
    } catch (err) { showError(err); }
  });
}

async function stats() {
  const month = $("stats-month").value || hotlineDate().slice(0, 7);
  $("stats-month").value = month;
  try {
    const data = await api("GET", `/api/sites/daycare-statistics?month=${month}`);
    $("stats-rows").replaceChildren(...data.sites.map((s) => el("tr", {}, el("td", {}, s.site_name), el("td", {}, String(s.person_days)),
      el("td", {}, String(s.elders)), el("td", {}, String(s.average_present)), el("td", {}, String(s.peak_present)), el("td", {}, pct(s.utilisation)))));
  } catch (err) { showError(err); }
}

$("filters").addEventListener("submit", load);
$("btn-stats").addEventListener("click", stats);
load();
stats();
