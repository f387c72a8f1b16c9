// KPI reports: the same numbers as `hotline report kpi`, as a table, a chart and exports.
// Rows are named (the agent, the queue), and the server names the columns of each grouping.
import { api, el, hotlineDate, pct, showError, t } from "./common.js";

const form = document.getElementById("report-form");
const today = hotlineDate();
form.start.value = form.start.value || today;
form.end.value = form.end.value || today;
let chart = null;
const RATES = new Set(["answer_rate", "answer_rate_excl_short", "service_level", "abandon_rate", "occupancy"]);

function query() { return new URLSearchParams(new FormData(form)).toString(); }

function fmt(key, v) {
  if (v === null || v === undefined) return "—";
  if (RATES.has(key)) return pct(v);
  return typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) : String(v);
}

async function run(e) {
  if (e) e.preventDefault();
  document.getElementById("export-csv").href = `/reports/export.csv?${query()}`;
  document.getElementById("export-xlsx").href = `/reports/export.xlsx?${query()}`;
  try {
    const data = await api("GET", `/api/reports/kpi?${query()}`);
    const rows = data.report.rows || [];
    const cols = data.columns;
    const table = document.getElementById("report-table");
    const short = { s: data.report.short_abandon_s };
    table.tHead.replaceChildren(el("tr", {}, el("th", {}, t(`kpi.key.${data.by || "none"}`)), cols.map((c) => el("th", {}, t(`kpi.${c}`, short)))));
    const all = data.report.total ? [...rows, { ...data.report.total, label: t("report.total"), total: true }] : rows;
    table.tBodies[0].replaceChildren(...all.map((r) => el("tr", { class: r.total ? "total" : "", "data-key": r.total ? "" : r.key },
      el("th", { scope: "row" }, label(r)), cols.map((c) => el("td", {}, fmt(c, r[c]))))));
    drawChart(rows, data.by === "agent");
    renderAlarms(data.alarm_kpi);
    renderChats(data.chat_kpi);
  } catch (err) { showError(err); }
}

// Alarm KPIs of the same days: taken within 60 s / 180 s against the targets, then the times.
function renderAlarms(k) {
  const body = document.getElementById("alarm-table").tBodies[0];
  if (!k) { body.replaceChildren(); return; }
  const secs = (v) => (v === null || v === undefined ? "—" : `${Math.round(v)} ${t("common.seconds")}`);
  const rows = [[t("akpi.counted"), String(k.counted), "", null]];
  for (const w of k.answered_within) {
    rows.push([t("akpi.within", { s: w.seconds }), pct(w.share), pct(w.target), w.met]);
  }
  for (const [key, label] of [["time_to_answer", "akpi.answer"], ["time_to_first_action", "akpi.first_action"], ["time_to_on_site", "akpi.on_site"]]) {
    const d = k[key];
    rows.push([t(label), `${secs(d.median_s)} (${t("akpi.mean")} ${secs(d.mean_s)}, ${t("akpi.p90")} ${secs(d.p90_s)})`, "", null]);
  }
  body.replaceChildren(...rows.map(([name, value, target, met]) => el("tr", { class: met === null ? "" : met ? "level-green" : "level-red" },
    el("td", {}, name), el("td", {}, value), el("td", {}, target))));
}

// The online channel of the same days, its own rows.
function renderChats(k) {
  const body = document.getElementById("chat-table").tBodies[0];
  if (!k) { body.replaceChildren(); return; }
  const rows = [
    [t("ckpi.offered"), String(k.offered)],
    [t("ckpi.answered"), String(k.answered)],
    [t("ckpi.within", { seconds: k.target_s }), `${k.answered_within_target} (${pct(k.within_target_rate)})`],
    [t("ckpi.abandoned"), `${k.abandoned} (${pct(k.abandon_rate)})`],
    [t("ckpi.asa"), k.time_to_answer.mean_s === null ? "—" : `${Math.round(k.time_to_answer.mean_s)} ${t("common.seconds")}`],
  ];
  body.replaceChildren(...rows.map(([name, value]) => el("tr", {}, el("td", {}, name), el("td", {}, value))));
}

function label(r) { return String(r.label ?? r.key ?? ""); }

// By agent: rings presented against calls answered (an agent has no answer rate of its own).
function drawChart(rows, byAgent) {
  if (!window.Chart) return;
  const labels = rows.map(label);
  const datasets = byAgent ? [
    { type: "bar", label: t("kpi.rings"), data: rows.map((r) => r.rings ?? 0), backgroundColor: "#1f4e99", yAxisID: "y" },
    { type: "bar", label: t("kpi.answered"), data: rows.map((r) => r.answered ?? 0), backgroundColor: "#2e7d32", yAxisID: "y" },
    { type: "line", label: t("kpi.occupancy"), data: rows.map((r) => (r.occupancy ?? 0) * 100), borderColor: "#b00020", yAxisID: "rate" },
  ] : [
    { type: "bar", label: t("kpi.offered"), data: rows.map((r) => r.offered ?? 0), backgroundColor: "#1f4e99", yAxisID: "y" },
    { type: "bar", label: t("kpi.answered"), data: rows.map((r) => r.answered ?? 0), backgroundColor: "#2e7d32", yAxisID: "y" },
    { type: "line", label: t("kpi.answer_rate"), data: rows.map((r) => (r.answer_rate ?? 0) * 100), borderColor: "#b00020", yAxisID: "rate" },
  ];
  if (chart) chart.destroy();
  chart = new window.Chart(document.getElementById("chart"), {
    data: { labels, datasets },
    options: { animation: false, scales: { y: { beginAtZero: true }, rate: { position: "right", min: 0, max: 100 } } },
  });
}

form.addEventListener("submit", run);
run();
