// A social worker's cases: the area's waiting referrals, their own cases (the visit due first,
// late ones in red) and one case's steps from intake to closing. Live on /casework: a case
// assigned, a step taken, a visit late or a new referral of the area refreshes the page.
import { api, connect, el, showError, t, toast } from "./common.js";

const $ = (id) => document.getElementById(id);
const V = JSON.parse($("vocabulary").textContent);
let shown = null;

function render(desk) {
  if (!desk || desk.error) { if (desk) toast(desk.error.message, "error"); return; }
  $("no-profile").hidden = Boolean(desk.worker);
  $("tiles").hidden = !desk.worker;
  if (!desk.worker) return;
  $("open-cases").textContent = String(desk.worker.open_cases);
  $("caseload-max").textContent = t("cw.caseload_max", { max: desk.worker.max_caseload });
  $("overdue-count").textContent = String(desk.overdue);
  $("overdue-tile").className = `tile ${desk.overdue ? "level-red" : "level-green"}`;
  $("queue").replaceChildren(...(desk.queue.length ? desk.queue.map((c) => el("li", { "data-case": c.id },
    el("div", { class: "line1" }, el("span", {}, `${c.case_no} ${c.elder_name}`), el("span", { class: `badge ${c.urgency === "urgent" ? "due" : "open"}` }, c.urgency === "urgent" ? t("cw.urgent") : c.source_label)),
    el("button", { class: "primary", "data-testid": `take-${c.id}`, onclick: () => take(c.id) }, t("cw.take")))) : [el("li", {}, t("cw.queue.none"))]));
  $("case-rows").replaceChildren(...desk.cases.map((c) => el("tr", { "data-case": c.id },
    el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); open(c.id); } }, c.case_no)),
    el("td", {}, c.elder_name), el("td", {}, el("span", { class: "badge open" }, c.status_label)),
    el("td", {}, c.next_visit_due ? el("span", { class: c.overdue ? "badge overdue" : "", "data-testid": `due-${c.id}` }, c.overdue ? t("cw.late", { date: c.next_visit_due, days: c.days_late }) : c.next_visit_due) : "—"),
    el("td", {}, c.review_due || "—"))));
}

async function reload() {
  try { render(await api("GET", "/api/casework")); } catch (err) { showError(err); }
  if (shown) open(shown, true);
}

async function take(id) {
  try { await api("POST", `/api/casework/cases/${id}/accept`, { note: "" }); toast(t("cw.taken")); shown = id; reload(); } catch (err) { showError(err); }
}

function showCase(c) {
  shown = c.id;
  $("case").hidden = false;
  $("case-h").textContent = `${c.case_no} · ${c.elder.name} · ${c.status_label}`;
  const facts = [["cw.elder_id", c.elder.id_number], ["cw.address", c.elder.address], ["cw.source", c.source_label],
    ["cw.referral", c.referral], ["cw.next_visit", c.next_visit_due || "—"], ["cw.review_due", c.review_due || "—"]];
  if (c.needs) facts.push(["cw.needs", Object.entries(c.needs).filter(([, v]) => v.level !== "none").map(([k, v]) => `${V.domains[k]}: ${V.levels[v.level]}${v.note ? ` (${v.note})` : ""}`).join("; ")]);
  if (c.plan) facts.push(["cw.plan", `${c.plan.goals.join("; ")} · ${c.plan.services.map((s) => V.services[s]).join("、")} · ${t("cw.every_days", { n: c.visit_interval_days })}`]);
  $("case-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, String(v ?? "—"))]));
  $("case-steps").replaceChildren(...c.steps.map((s) => el("li", {}, `${s.on} ${s.label} → ${s.to} · ${s.owner}${s.note ? ` · ${s.note}` : ""}`)));
  $("case-visits").replaceChildren(...c.visits.map((v) => el("li", {}, el("div", { class: "line1" }, el("span", {}, `${v.visited_at} ${v.kind_label}`), el("span", { class: "muted" }, v.author || "")), el("p", {}, v.notes))));
  const st = c.status;
  $("accept-form").hidden = st !== "referred";
  $("assess-form").hidden = !["intake", "assessed"].includes(st);
  $("plan-form").hidden = !["assessed", "in_service"].includes(st);
  $("visit-form").hidden = !["intake", "assessed", "in_service"].includes(st);
  $("review-form").hidden = st !== "in_service";
}

async function open(id, quiet) {
  try { showCase((await api("GET", `/api/casework/cases/${id}`)).case); } catch (err) { if (!quiet) showError(err); }
}

async function step(path, payload, done) {
  try {
    const res = await api("POST", `/api/casework/cases/${shown}/${path}`, payload);
    if (res.case) showCase(res.case);
    toast(done);
    reload();
    return true;
  } catch (err) { showError(err); return false; }
}

$("accept-form").addEventListener("submit", (e) => { e.preventDefault(); step("accept", { note: e.target.note.value }, t("cw.taken")); });
$("btn-decline").addEventListener("click", () => {
  const reason = window.prompt(t("cw.decline.reason"));
  if (reason) step("decline", { reason }, t("cw.declined")).then(() => { shown = null; $("case").hidden = true; });
});
$("assess-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  const needs = Object.fromEntries(Object.keys(V.domains).map((d) => [d, { level: f.get(`level-${d}`), note: f.get(`note-${d}`) || "" }]));
  step("assess", { needs }, t("cw.assessed"));
});
$("plan-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  step("plan", { goals: String(f.get("goals")).split("\n").map((g) => g.trim()).filter(Boolean), services: f.getAll("services"),
    visit_interval_days: Number(f.get("visit_interval_days")) || null }, t("cw.planned"));
});
$("visit-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  if (await step("visits", { kind: f.get("kind"), notes: f.get("notes") }, t("cw.visited"))) e.target.reset();
});
$("review-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = new FormData(e.target);
  step("review", { progress: f.get("progress"), decision: f.get("decision"), close_reason: f.get("decision") === "close" ? f.get("close_reason") : null }, t("cw.reviewed"));
});

connect("/casework", { onSnapshot: (snap) => { render(snap); if (shown) open(shown, true); }, on: { case_event: () => reload() } });
