// The supervising officer's social work: the region's waiting referrals and their assignment
// within each worker's caseload, the caseloads, the visits past due, referrals by the elder's
// ID number and the workers' profiles.
import { api, el, monthDayTime, showError, t, toast } from "./common.js";

const $ = (id) => document.getElementById(id);
let workers = [];

async function load() {
  try {
    const data = await api("GET", "/api/casework/supervision");
    workers = data.caseloads;
    $("queue-rows").replaceChildren(...data.queue.map((c) => {
      const pick = el("select", { "aria-label": t("cws.assign") }, ...workers.map((w) => el("option", { value: w.worker_id }, `${w.name} (${w.open_cases}/${w.max_caseload})`)));
      return el("tr", {}, el("td", {}, c.case_no), el("td", {}, c.elder_name), el("td", {}, c.source_label), el("td", {}, monthDayTime(c.referred_at)),
        el("td", {}, pick, " ", el("button", { class: "small primary", onclick: () => assign(c.id, Number(pick.value)) }, t("cws.assign"))));
    }));
    $("load-rows").replaceChildren(...workers.map((w) => el("tr", { class: w.open_cases >= w.max_caseload ? "level-amber" : "" },
      el("td", {}, w.name), el("td", {}, w.organisation || "—"), el("td", {}, w.qualification_label),
      el("td", {}, `${w.open_cases} / ${w.max_caseload}`), el("td", {}, String(w.overdue_visits)))));
    $("overdue-rows").replaceChildren(...data.overdue.map((c) => el("tr", { class: "level-red" }, el("td", {}, c.case_no), el("td", {}, c.elder_name),
      el("td", {}, c.worker_name || "—"), el("td", {}, t("cw.late", { date: c.next_visit_due, days: c.days_late })))));
  } catch (err) { showError(err); }
}

async function assign(caseId, workerId, override) {
  try {
    await api("POST", `/api/casework/cases/${caseId}/assign`, { worker_id: workerId, override_reason: override || null });
    toast(t("cws.assigned"));
    load();
  } catch (err) {
    if (err.code === "caseload_full") {
      const reason = window.prompt(`${err.message}\n${t("cws.override")}`);
      if (reason) assign(caseId, workerId, reason);
      return;
    }
    showError(err);
  }
}

$("refer-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  try {
    const res = await api("POST", "/api/casework/referrals", { id_number: String(f.get("id_number")).trim(), reason: f.get("reason"), urgency: f.get("urgent") ? "urgent" : "normal" });
    toast(t("cws.referred", { case_no: res.case.case_no }));
    e.target.reset();
    load();
  } catch (err) { showError(err); }
});
$("worker-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  try {
    await api("POST", "/api/casework/workers", { username: f.get("username"), organisation: f.get("organisation"), qualification: f.get("qualification"), max_caseload: Number(f.get("max_caseload")) || null });
    toast(t("sites.saved"));
    e.target.reset();
    load();
  } catch (err) { showError(err); }
});
load();
